//! `alert-evaluation`: the alert evaluator over `InstancePolled` events, on the embedded store
//! behind a counting table, with a route per tenant to a notifier that only counts. Three
//! phases: the first event of each instance (its state is written once), steady minutes where
//! nothing changes, and minutes where some instances' trunks break and recover.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use chrono::Duration;
use clap::Args;
use futures_util::StreamExt;
use sikurd::alerts::{ChannelId, Dispatcher, Evaluated, Evaluator, Route};
use sikurd::clock::{Clock, ManualClock};
use sikurd::crypto::{Envelope, LocalKeys};
use sikurd::domain::{InstanceId, TenantId};
use sikurd::notify::{Delivery, Notifier, SendError, WebhookFormat, WebhookTarget};
use sikurd::pbx::TargetPolicy;
use sikurd::polling::slot_of;
use sikurd::store::{Channel, Store, StoreError};
use sikurd::table::{CountingTable, EmbeddedTable, TableCounts};

use sikurd_tests::receiver::instance_polled;

use crate::process::peak_rss_mib;

#[derive(Args, Debug)]
pub struct Options {
    /// Events per measured phase.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Instances the events are spread over (one event per instance per minute).
    #[arg(long, default_value_t = 1_000)]
    instances: usize,
    /// Tenants the instances are spread over.
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Evaluations in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Percent of instances whose trunk breaks (and later recovers) in the changing phase.
    #[arg(long, default_value_t = 5)]
    breaking_percent: usize,
}

/// Counts notices; sends nothing.
#[derive(Debug, Default)]
struct CountingNotifier(AtomicU64);

#[async_trait]
impl Notifier for CountingNotifier {
    async fn send(&self, _delivery: &Delivery<'_>) -> Result<(), SendError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

struct Phase {
    name: &'static str,
    events: usize,
    seconds: f64,
    counts: TableCounts,
    changed: usize,
}

fn report(p: &Phase) {
    let per = |n: u64| n as f64 / p.events.max(1) as f64;
    println!(
        "{:<10} {:>7} {:>10.0} {:>11.3} {:>12.3} {:>12.3} {:>9}",
        p.name,
        p.events,
        p.events as f64 / p.seconds,
        per(p.counts.read_calls),
        per(p.counts.items_read),
        per(p.counts.items_written),
        p.changed
    );
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(slot_of(chrono::Utc::now())));
    let table = EmbeddedTable::open(&dir.path().join("table.redb"), clock.clone())?;
    let counting = CountingTable::new(Arc::new(table));
    let keys = LocalKeys::open_or_create(&dir.path().join("master.key"))?;
    let store = Store::new(Arc::new(counting.clone()), Envelope::new(Arc::new(keys)), clock.clone());
    let notifier = Arc::new(CountingNotifier::default());
    let dispatcher = Dispatcher::new(store.clone(), notifier.clone(), clock.clone());
    let evaluator = Evaluator::new(store.clone(), clock.clone(), dispatcher, None);

    let tenants: Vec<TenantId> = (0..o.tenants.max(1)).map(|_| TenantId::generate()).collect();
    for tenant in &tenants {
        route_to_webhook(&store, tenant).await?;
    }
    let fleet: Vec<(TenantId, InstanceId)> =
        (0..o.instances.max(1)).map(|i| (tenants[i % tenants.len()].clone(), InstanceId::generate())).collect();
    let breaking = fleet.len() * o.breaking_percent / 100;
    let start = clock.now();

    println!(
        "{} instances of {} tenants, {} evaluations in flight; per event:",
        fleet.len(),
        tenants.len(),
        o.concurrency
    );
    println!(
        "{:<10} {:>7} {:>10} {:>11} {:>12} {:>12} {:>9}",
        "phase", "events", "events/s", "read calls", "items read", "items written", "changed"
    );
    let mut minute = 0_i64;
    let mut evaluate_minutes = |name: &'static str, events: usize, offline: &dyn Fn(i64, usize) -> bool| {
        let mut batch = Vec::with_capacity(events);
        while batch.len() < events {
            let slot = start + Duration::minutes(minute);
            for (i, (tenant, instance)) in fleet.iter().enumerate() {
                if batch.len() == events {
                    break;
                }
                batch.push((slot, instance_polled(tenant, instance, slot, !offline(minute, i))));
            }
            minute += 1;
        }
        (name, batch)
    };
    let phases = [
        evaluate_minutes("first", fleet.len(), &|_, _| false),
        evaluate_minutes("steady", o.events, &|_, _| false),
        // Instances below `breaking` go offline for 3 minutes in every 6: one alert opened and
        // one resolved per instance and cycle.
        evaluate_minutes("changing", o.events, &|m, i| i < breaking && m % 6 < 3),
    ];
    for (name, batch) in phases {
        counting.reset();
        let mut changed = 0;
        let started = Instant::now();
        let events = batch.len();
        let mut minutes = batch.chunk_by(|a, b| a.0 == b.0);
        for chunk in &mut minutes {
            clock.set(chunk[0].0 + Duration::seconds(5));
            let results: Vec<Result<Evaluated, StoreError>> = futures_util::stream::iter(chunk)
                .map(|(_, e)| evaluator.evaluate(e))
                .buffer_unordered(o.concurrency.max(1))
                .collect()
                .await;
            for result in results {
                if let Evaluated::Changed(c) = result? {
                    changed += c.len();
                }
            }
        }
        report(&Phase { name, events, seconds: started.elapsed().as_secs_f64(), counts: counting.counts(), changed });
    }
    println!("notices sent: {}; peak RSS {:.1} MiB", notifier.0.load(Ordering::Relaxed), peak_rss_mib());
    Ok(())
}

async fn route_to_webhook(store: &Store, tenant: &TenantId) -> anyhow::Result<()> {
    let id = ChannelId::generate();
    let target =
        WebhookTarget::new("https://hooks.bench.example/sikurd", WebhookFormat::Generic, TargetPolicy::PublicOnly)?;
    let secret = secrecy::SecretString::from("whsec_bench");
    let kind = store.channels.webhook_kind(tenant, &id, target, &secret).await?;
    let channel = Channel {
        id: id.clone(),
        tenant_id: tenant.clone(),
        name: "bench".into(),
        kind,
        created_at: chrono::Utc::now(),
    };
    store.channels.create(&channel).await?;
    let route = Route::new("everything", vec![id]);
    store.alerts.update_settings(tenant, |s| Ok(s.add_route(route.clone())?)).await?;
    Ok(())
}
