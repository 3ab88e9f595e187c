//! The `export` Lambda function: a support person's full export of one tenant, invoked directly
//! with `{"tenant_id": "ten_…", "requested_by": "…"}`; answers the archive's link and manifest.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sikurd::config::Env;
use sikurd::functions::export::{Config, ExportRequest, Handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(&Env::from_process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = sikurd::aws::load_sdk_config().await;
    let handler = Arc::new(Handler::new(&config, &sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        async move {
            let request: ExportRequest = serde_json::from_value(event.payload)
                .map_err(|e| Error::from(format!("the request must be {{\"tenant_id\", \"requested_by\"}}: {e}")))?;
            handler.export(&request).await.map_err(Error::from)
        }
    }))
    .await
}
