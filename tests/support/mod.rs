//! The integration-test harness: one moto server per test binary (started on first use, on a
//! free port, gone when the binary exits), and fresh AWS resources per test.

pub mod api;
pub mod browser;
pub mod lambda;
pub mod receiver;

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

/// A table under test, with the clock it reads and what keeps it alive.
pub struct TableFixture {
    pub table: Arc<dyn sikurd::table::Table>,
    pub clock: Arc<sikurd::clock::ManualClock>,
    /// The embedded table's file (None on DynamoDB).
    pub file: Option<PathBuf>,
    /// The DynamoDB table's name (None for the embedded table).
    pub dynamo_name: Option<String>,
    /// The embedded table itself, for its own maintenance methods.
    pub embedded: Option<sikurd::table::EmbeddedTable>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh embedded table in a temporary directory.
pub fn embedded_table() -> TableFixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("table.redb");
    let clock = Arc::new(sikurd::clock::ManualClock::starting_now());
    let table = sikurd::table::EmbeddedTable::open(&file, clock.clone()).expect("open embedded table");
    TableFixture {
        table: Arc::new(table.clone()),
        clock,
        file: Some(file),
        dynamo_name: None,
        embedded: Some(table),
        _dir: Some(dir),
    }
}

/// A fresh DynamoDB table on this binary's moto server.
pub async fn dynamo_table() -> TableFixture {
    let clock = Arc::new(sikurd::clock::ManualClock::starting_now());
    let (table, name) = moto().fresh_table(clock.clone()).await;
    TableFixture { table: Arc::new(table), clock, file: None, dynamo_name: Some(name), embedded: None, _dir: None }
}

/// Runs each listed case (an `async fn(TableFixture)` in the calling module's `cases`) once
/// per table adapter, as tests named `<adapter>::<case>`.
#[macro_export]
macro_rules! for_each_table {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case($crate::embedded_table()).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case($crate::dynamo_table().await).await
                }
            )*
        }
    };
}

/// The repositories over a fresh table, with envelope encryption by the matching key service
/// (local master key for the embedded table, KMS on moto for DynamoDB). Table access goes
/// through a counter.
pub struct StoreFixture {
    pub store: sikurd::store::Store,
    pub counting: sikurd::table::CountingTable,
    pub tables: TableFixture,
    keys: Arc<dyn sikurd::crypto::KeyService>,
    _keys_dir: Option<tempfile::TempDir>,
}

fn store_over(
    tables: TableFixture,
    keys: Arc<dyn sikurd::crypto::KeyService>,
    keys_dir: Option<tempfile::TempDir>,
) -> StoreFixture {
    let counting = sikurd::table::CountingTable::new(tables.table.clone());
    let envelope = sikurd::crypto::Envelope::new(Arc::clone(&keys));
    let store = sikurd::store::Store::new(Arc::new(counting.clone()), envelope, tables.clock.clone());
    StoreFixture { store, counting, tables, keys, _keys_dir: keys_dir }
}

pub fn embedded_store() -> StoreFixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = sikurd::crypto::LocalKeys::open_or_create(&dir.path().join("master.key")).expect("master key");
    store_over(embedded_table(), Arc::new(keys), Some(dir))
}

pub async fn dynamo_store() -> StoreFixture {
    let key_id = moto().fresh_kms_key().await;
    let keys = sikurd::crypto::KmsKeys::new(moto().kms().await, key_id);
    store_over(dynamo_table().await, Arc::new(keys), None)
}

impl StoreFixture {
    /// The key service the store seals with (the local master key, or KMS on moto).
    pub fn key_service(&self) -> Arc<dyn sikurd::crypto::KeyService> {
        Arc::clone(&self.keys)
    }

    /// Every stored item, expired or not, one per line: the embedded table's items, or a
    /// DynamoDB scan in the wire form.
    pub async fn raw_items(&self) -> Vec<u8> {
        match &self.tables.embedded {
            Some(table) => table
                .all_items()
                .await
                .expect("the items")
                .iter()
                .flat_map(|item| format!("{item:?}\n").into_bytes())
                .collect(),
            None => self.raw_contents().await,
        }
    }

    /// Everything the table holds, as raw bytes: the embedded table's file, or a DynamoDB scan
    /// of every item in its wire form.
    pub async fn raw_contents(&self) -> Vec<u8> {
        if let Some(file) = &self.tables.file {
            return std::fs::read(file).expect("read table file");
        }
        let name = self.tables.dynamo_name.as_deref().expect("a table");
        let client = moto().dynamodb().await;
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = client.scan().table_name(name).set_exclusive_start_key(start).send().await.expect("scan");
            for item in page.items() {
                out.extend_from_slice(format!("{item:?}\n").as_bytes());
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }
}

/// Like [`for_each_table!`], with a [`StoreFixture`] per case.
#[macro_export]
macro_rules! for_each_store {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case($crate::embedded_store()).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case($crate::dynamo_store().await).await
                }
            )*
        }
    };
}
