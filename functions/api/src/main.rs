//! The `api` Lambda function: the HTTP API behind API Gateway (HTTP API, payload format 2.0).

use lambda_http::request::RequestContext;
use lambda_http::{Error, RequestExt};
use sikurd::api::ClientAddr;
use sikurd::config::Env;
use sikurd::functions::api;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = api::Config::from_env(&Env::from_process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = sikurd::aws::load_sdk_config().await;
    let app = api::app(config, &sdk).await?.layer(axum::middleware::map_request(client_addr));
    lambda_http::run(app).await
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`), for the audit
/// log and the login throttle.
async fn client_addr(mut request: axum::extract::Request) -> axum::extract::Request {
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        _ => None,
    };
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientAddr(ip));
    }
    request
}
