//! The `poll-scheduler` Lambda function: every minute, the due instances in `PollBatch` events.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sikurd::config::Env;
use sikurd::functions::poll_scheduler::{Config, Handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(&Env::from_process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = sikurd::aws::load_sdk_config().await;
    let handler = Arc::new(Handler::new(&config, &sdk));
    lambda_runtime::run(service_fn(move |_tick: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.tick().await.map_err(Error::from) }
    }))
    .await
}
