use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use sikurd::clock::{Clock, ManualClock};
use sikurd::domain::{InstanceId, MetricSnapshot, PollOutcome, TenantId};
use sikurd::store::Metrics;
use sikurd::table::EmbeddedTable;

use crate::process::{peak_rss_mib, rss_mib};

#[derive(Args, Debug)]
pub struct Options {
    /// Metric rows to write.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Instances the rows are spread over (one row per instance per minute).
    #[arg(long, default_value_t = 10_000)]
    instances: usize,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::starting_now());
    let table = Arc::new(EmbeddedTable::open(&dir.path().join("table.redb"), clock.clone())?);
    let metrics = Metrics::new(table, clock.clone());
    let tenant = TenantId::generate();
    let instances: Vec<InstanceId> = (0..o.instances.max(1)).map(|_| InstanceId::generate()).collect();
    println!("{:>9} {:>9} {:>9} {:>14}", "rows", "rows/s", "RSS MiB", "peak RSS MiB");
    let started = Instant::now();
    let mut written = 0;
    while written < o.rows {
        for instance in &instances {
            if written == o.rows {
                break;
            }
            let snapshot = MetricSnapshot::failed(clock.now(), PollOutcome::Ok, 42);
            metrics.record(&tenant, instance, &snapshot).await?;
            written += 1;
            if written % 20_000 == 0 {
                println!(
                    "{:>9} {:>9.0} {:>9.1} {:>14.1}",
                    written,
                    written as f64 / started.elapsed().as_secs_f64(),
                    rss_mib(),
                    peak_rss_mib()
                );
            }
        }
        clock.advance(chrono::Duration::minutes(1));
    }
    Ok(())
}
