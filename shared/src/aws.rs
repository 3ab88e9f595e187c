//! Building AWS SDK clients: one `SdkConfig` per process, loaded from the environment
//! (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` to aim at moto).

use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration from the environment, as Lambda provides it.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client; path-style addressing when an endpoint override (moto) is configured.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build())
}
