//! The API's one error shape, `{"error": {"code", "message"}}`, mapped once here. A 4xx names
//! a stable `code` and says what was wrong with the request; a 5xx says nothing and its cause
//! goes to the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::ValueError;
use crate::store::StoreError;
use crate::table::TableError;

/// Every error response's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthenticated`, `invalid_credentials`, `csrf_failed`,
    /// `forbidden`, `not_found`, `conflict`, `invalid_input`, `malformed_json`, `invalid_query`,
    /// `invalid_cursor`, `payload_too_large`, `unsupported_media_type`, `method_not_allowed`,
    /// `too_many_attempts`, `signup_disabled`, `internal`.
    pub code: String,
    /// For people; never carries a secret.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    #[error("missing or wrong X-CSRF-Token header")]
    CsrfFailed,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("sign-up is turned off")]
    SignupDisabled,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("send a JSON body with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    Invalid(String),
    #[error("too many failed attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::CsrfFailed | Self::Forbidden(_) | Self::SignupDisabled => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code; also what a failed action's audit entry gives as its reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Conflict { code, .. } => code,
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::CsrfFailed => "csrf_failed",
            Self::Forbidden(_) => "forbidden",
            Self::SignupDisabled => "signup_disabled",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Invalid(_) => "invalid_input",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::Internal(_) => "internal",
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub(crate) fn bad_query(message: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_query", message: message.into() }
    }
}

/// A response in the error shape, for errors raised outside a handler (fallbacks, layers).
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.to_owned() } };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, source = ?std::error::Error::source(cause.as_ref()), "request failed");
                "something went wrong on our side".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = error_response(status, self.code(), &message);
        if let Self::TooManyAttempts { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        response
    }
}

impl From<ValueError> for ApiError {
    fn from(e: ValueError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(message) => Self::Conflict { code: "conflict", message: message.to_owned() },
            StoreError::Invalid(v) => Self::Invalid(v.to_string()),
            StoreError::Table(TableError::InvalidCursor) => {
                Self::BadRequest { code: "invalid_cursor", message: "the cursor does not continue this list".into() }
            }
            other => Self::internal(other),
        }
    }
}
