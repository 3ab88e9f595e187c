//! Extractors that turn bad input into [`ApiError`]s in the one error shape, and find the
//! caller's source address.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiState;
use super::error::ApiError;
use crate::config::Deployment;

/// A JSON body, parsed strictly (request types deny unknown fields). Extraction never fails:
/// the handler gets the error and decides when it counts, so that a refused request is still
/// audited and a role or tenant check answers before the body is judged.
pub struct Body<T>(pub Result<T, ApiError>);

fn json_error(rejection: &JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Invalid(match rejection {
            JsonRejection::JsonDataError(e) => {
                // "Failed to deserialize the JSON body into the target type: <field>: <why>"
                let text = e.body_text();
                text.split_once("target type: ").map_or(text.clone(), |(_, why)| why.to_owned())
            }
            other => other.body_text(),
        }),
        _ => ApiError::BadRequest { code: "malformed_json", message: "the body is not valid JSON".into() },
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(value),
            Err(rejection) => Err(json_error(&rejection)),
        }))
    }
}

/// Query parameters, parsed strictly; a bad one is a 400 `invalid_query`.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let why = text.split_once("query string: ").map_or(text.as_str(), |(_, why)| why);
                Err(ApiError::bad_query(why.to_owned()))
            }
        }
    }
}

/// The client's IP address as the transport saw it. Whatever adapts a transport to the router
/// inserts it as a request extension: the Lambda function from API Gateway's request context
/// (`requestContext.http.sourceIp`), which a client cannot forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Where a request came from, for the audit log and the login throttle, in this order: a
/// [`ClientAddr`] extension; the socket's peer (`ConnectInfo`, the local stack); in the cloud,
/// the last address of `X-Forwarded-For` (the one API Gateway appended: earlier ones are the
/// client's to write); otherwise unknown. Never fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceIp(pub Option<IpAddr>);

fn forwarded_for(parts: &Parts) -> Option<IpAddr> {
    let mut last = None;
    for value in parts.headers.get_all("x-forwarded-for") {
        last = value.to_str().ok()?.rsplit(',').next().map(str::trim).and_then(|s| s.parse().ok());
    }
    last
}

impl FromRequestParts<ApiState> for SourceIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        if let Some(ClientAddr(ip)) = parts.extensions.get::<ClientAddr>() {
            return Ok(Self(Some(*ip)));
        }
        if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(Self(Some(addr.ip())));
        }
        Ok(Self(match state.config().deployment {
            Deployment::Cloud => forwarded_for(parts),
            Deployment::Local => None,
        }))
    }
}
