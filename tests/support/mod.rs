//! The integration-test harness: one moto server per test binary (started on first use, on a
//! free port, gone when the binary exits), and fresh AWS resources per test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use sikurd::clock::Clock;
use sikurd::table::{DynamoTable, create_dynamo_table};

/// A running moto server.
pub struct Moto {
    pub endpoint: String,
    // Holding the child keeps its stdin open; the server stops when the pipe closes.
    _child: Mutex<Child>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The virtual environment the test command installs moto into.
pub fn venv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv")
}

/// A name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The moto server of this test binary, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let python = venv().join("bin/python");
        assert!(
            python.exists(),
            "moto is not installed at {}: run the README's test command (infra/scripts/test), which installs it",
            python.display()
        );
        let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/moto_launcher.py");
        let mut child = Command::new(python)
            .arg(launcher)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start moto: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("moto has no stdout"));
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("moto did not report its port: {e}"));
        let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("moto printed {line:?} instead of its port"));
        Moto { endpoint: format!("http://127.0.0.1:{port}"), _child: Mutex::new(child) }
    })
}

impl Moto {
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }

    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config().await)
    }

    pub async fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config().await)
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        sikurd::aws::s3_client(&self.sdk_config().await)
    }

    pub async fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.sdk_config().await)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    /// A new, empty table with the production schema; returns its name too.
    pub async fn fresh_table(&self, clock: Arc<dyn Clock>) -> (DynamoTable, String) {
        let client = self.dynamodb().await;
        let name = unique_name("sikurd");
        create_dynamo_table(&client, &name).await.unwrap_or_else(|e| panic!("create table: {e:?}"));
        (DynamoTable::new(client, name.clone(), clock), name)
    }

    /// A new symmetric KMS key; returns its id.
    pub async fn fresh_kms_key(&self) -> String {
        let out = self.kms().await.create_key().send().await.unwrap_or_else(|e| panic!("create key: {e:?}"));
        out.key_metadata().map(|m| m.key_id().to_owned()).unwrap_or_else(|| panic!("key without metadata"))
    }

    /// A new, empty bucket; returns its name.
    pub async fn fresh_bucket(&self) -> String {
        let name = unique_name("sikurd");
        self.s3().await.create_bucket().bucket(&name).send().await.unwrap_or_else(|e| panic!("create bucket: {e:?}"));
        name
    }
}
