//! The `tenant-delete` Lambda function: support asks for a tenant's deletion
//! (`{"action": "request", "tenant_id", "requested_by"}`: the owner gets the confirmation link)
//! or carries out the confirmed ones now (`{"action": "purge"}`, and the bus's
//! `TenantDeletionConfirmed` event when an owner confirms).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sikurd::config::Env;
use sikurd::functions::invocation_deadline;
use sikurd::functions::tenant_delete::{Config, DeleteRequest, Handler};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(&Env::from_process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = sikurd::aws::load_sdk_config().await;
    let handler = Arc::new(Handler::new(&config, &sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        async move {
            // The bus's TenantDeletionConfirmed event: carry out the confirmed deletions now.
            if event.payload.get("detail-type").and_then(|d| d.as_str()) == Some("TenantDeletionConfirmed") {
                return handler.handle(DeleteRequest::Purge, invocation_deadline(event.context.deadline)).await.map_err(Error::from);
            }
            let request: DeleteRequest = serde_json::from_value(event.payload).map_err(|e| {
                Error::from(format!(
                    "the request must be {{\"action\": \"request\", \"tenant_id\", \"requested_by\"}} or {{\"action\": \"purge\"}}: {e}"
                ))
            })?;
            handler.handle(request, invocation_deadline(event.context.deadline)).await.map_err(Error::from)
        }
    }))
    .await
}
