//! The `alert-evaluator` Lambda function: `InstancePolled` events from the bus, and the
//! minute's schedule tick that sends notifications as they come due.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sikurd::config::Env;
use sikurd::events::Event;
use sikurd::functions::alert_evaluator::{Config, Handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(&Env::from_process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = sikurd::aws::load_sdk_config().await;
    let handler = Arc::new(Handler::new(&config, &sdk).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(&event.payload).await.map_err(Error::from) }
    }))
    .await
}
