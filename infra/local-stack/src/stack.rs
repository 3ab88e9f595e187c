//! The local stack: the embedded adapters under one data directory, and the scheduler and
//! poller wired to an in-process bus exactly as the Lambda functions are wired to EventBridge.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sikurd::clock::{Clock, SystemClock};
use sikurd::crypto::{Envelope, LocalKeys};
use sikurd::domain::{Plan, Tenant, TenantId, TenantName};
use sikurd::events::{DetailType, EventPublisher, InProcessBus, handler_fn};
use sikurd::pbx::{PbxClient, PbxClientConfig};
use sikurd::polling::{InstancePolled, Poller, Recorder, Scheduler};
use sikurd::store::Store;
use sikurd::table::EmbeddedTable;

/// Polls in flight per batch; at least the batch size.
const POLL_CONCURRENCY: usize = 64;
/// Polls in flight across all batches (one process polls the whole fleet).
const POLLS_IN_FLIGHT: usize = 1000;

pub struct LocalStack {
    pub data_dir: PathBuf,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub bus: InProcessBus,
    pub scheduler: Scheduler,
    /// The poller the bus calls, also behind the API's "poll now".
    pub poller: Poller,
    /// `InstancePolled` events since last taken.
    polled: Arc<Mutex<Vec<InstancePolled>>>,
}

impl LocalStack {
    /// Opens (or creates) the data directory: the table file, the master key file (0600) and
    /// the blob directory. Fails clearly if another process holds the table.
    pub fn open(data_dir: &Path, extra_root_certificates: Vec<String>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let table_file = data_dir.join("table.redb");
        let table = EmbeddedTable::open(&table_file, Arc::clone(&clock)).with_context(|| {
            format!("cannot open {} (is another sikurd-local running on this data directory?)", table_file.display())
        })?;
        let keys = LocalKeys::open_or_create(&data_dir.join("master.key"))?;
        let store = Store::new(Arc::new(table), Envelope::new(Arc::new(keys)), Arc::clone(&clock));

        let bus = InProcessBus::new();
        let events: Arc<dyn EventPublisher> = Arc::new(bus.clone());
        let config = PbxClientConfig { extra_root_certificates, ..PbxClientConfig::local() };
        let client = Arc::new(PbxClient::new(config)?);
        let recorder = Recorder::new(store.clone(), Arc::clone(&clock));
        let poller = Poller::new(store.clone(), client, recorder, Arc::clone(&events), POLL_CONCURRENCY)
            .with_in_flight_limit(POLLS_IN_FLIGHT);
        bus.subscribe(DetailType::POLL_BATCH, Arc::new(poller.clone()));

        let polled = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&polled);
        bus.subscribe(
            DetailType::INSTANCE_POLLED,
            handler_fn(move |event| {
                let sink = Arc::clone(&sink);
                async move {
                    let polled: InstancePolled = event.payload().map_err(|e| e.to_string())?;
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(polled);
                    Ok(())
                }
            }),
        );

        let scheduler = Scheduler::new(store.instances.clone(), events);
        Ok(Self { data_dir: data_dir.to_owned(), store, clock, bus, scheduler, poller, polled })
    }

    /// The `InstancePolled` events seen since the last call.
    pub fn take_polled(&self) -> Vec<InstancePolled> {
        std::mem::take(&mut *self.polled.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The tenant named by `<data dir>/<file>`, created with `name` on first use.
    pub async fn local_tenant(&self, file: &str, name: &str) -> anyhow::Result<TenantId> {
        let path = self.data_dir.join(file);
        if let Ok(raw) = std::fs::read_to_string(&path) {
            let id = TenantId::parse(raw.trim()).with_context(|| format!("{} holds no tenant id", path.display()))?;
            if self.store.tenants.get(&id).await?.is_some() {
                return Ok(id);
            }
        }
        let tenant = Tenant::new(TenantName::parse(name)?, Plan::Trial, self.clock.now());
        self.store.tenants.create(&tenant).await?;
        std::fs::write(&path, tenant.id.as_str()).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(tenant.id)
    }
}
