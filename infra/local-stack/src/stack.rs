//! The local stack: the embedded adapters under one data directory, and the scheduler and
//! poller wired to an in-process bus exactly as the Lambda functions are wired to EventBridge.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sikurd::alerts::{Dispatcher, Evaluator};
use sikurd::api::ApiState;
use sikurd::blobs::LocalDirBlobs;
use sikurd::clock::{Clock, SystemClock};
use sikurd::config::ApiConfig;
use sikurd::crypto::{Envelope, LocalKeys};
use sikurd::domain::{Email, Plan, Tenant, TenantId, TenantName};
use sikurd::events::{DetailType, EventPublisher, InProcessBus, handler_fn};
use sikurd::lifecycle::{Retention, TenantDeletion};
use sikurd::notify::{HttpNotifier, OutboxMailer};
use sikurd::pbx::{PbxClient, PbxClientConfig, TargetPolicy};
use sikurd::polling::{InstancePolled, InstancesPolled, Poller, Recorder, Scheduler};
use sikurd::store::Store;
use sikurd::table::{EmbeddedTable, Table};

/// Polls in flight per batch; at least the batch size.
const POLL_CONCURRENCY: usize = 64;
/// Polls in flight across all batches (one process polls the whole fleet).
const POLLS_IN_FLIGHT: usize = 1000;
/// The sender of e-mail notifications written to the outbox.
const LOCAL_SENDER: &str = "alerts@sikurd.example";

pub struct LocalStack {
    pub data_dir: PathBuf,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub bus: InProcessBus,
    pub scheduler: Scheduler,
    /// The poller the bus calls, also behind the API's "poll now".
    pub poller: Poller,
    /// Sends notifications; [`Dispatcher::sweep`] sends those that came due.
    pub dispatcher: Dispatcher,
    /// The nightly job (roll-ups, purges, expired items), run every hour here.
    pub retention: Retention,
    /// Tenant exports, under `<data dir>/blobs`; their links are served by [`crate::downloads`].
    pub blobs: Arc<LocalDirBlobs>,
    /// The store's table (the lifecycle jobs reach every partition).
    pub table: Arc<dyn Table>,
    /// Tenant deletions: asked for by `sikurd-local delete-tenant`, carried out when confirmed.
    pub deletions: Arc<TenantDeletion>,
    /// `InstancePolled` events since last taken.
    polled: Arc<Mutex<Vec<InstancePolled>>>,
}

impl LocalStack {
    /// Opens (or creates) the data directory: the table file, the master key file (0600), the
    /// blob directory and the e-mail outbox (`outbox/`: one JSON file per e-mail notification).
    /// Fails clearly if another process holds the table. `public_url` is the dashboard's
    /// address, for links in notifications.
    pub fn open(
        data_dir: &Path,
        extra_root_certificates: Vec<String>,
        public_url: Option<String>,
    ) -> anyhow::Result<Self> {
        Self::open_with_clock(data_dir, extra_root_certificates, public_url, Arc::new(SystemClock))
    }

    /// [`Self::open`] on another clock (tests move a manual one instead of waiting).
    pub fn open_with_clock(
        data_dir: &Path,
        extra_root_certificates: Vec<String>,
        public_url: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let table_file = data_dir.join("table.redb");
        let table = EmbeddedTable::open(&table_file, Arc::clone(&clock)).with_context(|| {
            format!("cannot open {} (is another sikurd-local running on this data directory?)", table_file.display())
        })?;
        let keys = LocalKeys::open_or_create(&data_dir.join("master.key"))?;
        let table: Arc<dyn Table> = Arc::new(table);
        // Links name the API's address: the one given, else where `run` listens by default.
        let links = match &public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", sikurd::config::local_listen_address(&sikurd::config::Env::from_process())?),
        };
        let blobs = Arc::new(LocalDirBlobs::open(data_dir.join("blobs"), links)?);
        let store = Store::new(Arc::clone(&table), Envelope::new(Arc::new(keys)), Arc::clone(&clock));
        let deletions =
            Arc::new(TenantDeletion::new(store.clone(), Arc::clone(&table), blobs.clone(), Arc::clone(&clock)));
        let retention = Retention::new(store.clone(), Arc::clone(&table))
            .expiring_exports_in(blobs.clone())
            .deleting_tenants(Arc::clone(&deletions));
        let purging = Arc::clone(&deletions);

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
                    let batch: InstancesPolled = event.payload().map_err(|e| e.to_string())?;
                    sink.lock().unwrap_or_else(|e| e.into_inner()).extend(batch.polled);
                    Ok(())
                }
            }),
        );

        let sender = Email::parse(LOCAL_SENDER)?;
        let mailer = Arc::new(OutboxMailer::new(data_dir.join("outbox"), sender));
        let notifier = Arc::new(HttpNotifier::new(TargetPolicy::AllowPrivate, mailer, Arc::clone(&clock))?);
        let dispatcher = Dispatcher::new(store.clone(), notifier, Arc::clone(&clock));
        let evaluator = Evaluator::new(store.clone(), Arc::clone(&clock), dispatcher.clone(), public_url);
        let evaluator = Arc::new(evaluator);
        bus.subscribe(DetailType::INSTANCE_POLLED, evaluator.clone());
        bus.subscribe(DetailType::INSTANCE_NOT_POLLED, evaluator);

        // An owner's confirmation carries the deletion out at once, as the function does in the cloud.
        bus.subscribe(
            DetailType::TENANT_DELETION_CONFIRMED,
            handler_fn(move |_event| {
                let deletions = Arc::clone(&purging);
                async move {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
                    deletions.purge_confirmed(deadline).await.map(drop).map_err(|e| e.to_string().into())
                }
            }),
        );

        let scheduler = Scheduler::new(store.instances.clone(), events).watching(store.poll_log.clone());
        Ok(Self {
            data_dir: data_dir.to_owned(),
            store,
            clock,
            bus,
            scheduler,
            poller,
            dispatcher,
            retention,
            blobs,
            table,
            deletions,
            polled,
        })
    }

    /// Everything the local stack serves over HTTP: the API (and dashboard) with notifications,
    /// and the download links of the blob store.
    pub fn app(&self, config: ApiConfig) -> axum::Router {
        let state = ApiState::new(self.store.clone(), self.clock.clone(), config, Arc::new(self.poller.clone()))
            .with_dispatcher(self.dispatcher.clone())
            .with_events(Arc::new(self.bus.clone()));
        sikurd::api::router(state).merge(crate::downloads::routes(self.blobs.clone()))
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
