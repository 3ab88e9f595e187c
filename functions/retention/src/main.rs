//! The `retention` Lambda function: every night, roll-ups for reports, purges of instances
//! deleted more than 30 days ago, within the invocation's deadline.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sikurd::config::Env;
use sikurd::functions::invocation_deadline;
use sikurd::functions::retention::{Config, Handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(&Env::from_process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = sikurd::aws::load_sdk_config().await;
    let handler = Arc::new(Handler::new(&config, &sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.run(invocation_deadline(event.context.deadline)).await.map_err(Error::from) }
    }))
    .await
}
