//! The `poller` function's billed duration: its release binary under the Lambda Runtime API
//! emulator, aimed at moto (table, KMS, bus), polling a simulated fleet in `PollBatch` events of
//! 25, as EventBridge delivers them. The per-poll figures of the cost model come from here.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use sikurd::domain::Instance;
use sikurd::polling::{BATCH_SIZE, slot_of};
use sikurd_tests::lambda::{CloudResources, LambdaFunction};

use crate::poll_cycle;

#[derive(Args, Debug)]
pub struct Options {
    /// Simulated 3CX systems, polled in batches of 25.
    #[arg(long, default_value_t = 250)]
    instances: usize,
    /// Percent of them with a fault.
    #[arg(long, default_value_t = 3.0)]
    faulty_percent: f64,
    /// Latency of every simulated request, a random value in this range (ms).
    #[arg(long, default_value = "30..150")]
    latency_ms: String,
    /// Rounds over the fleet; the first logs in everywhere.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Memory of the function (MB), for GB-seconds.
    #[arg(long, default_value_t = 512)]
    memory_mb: u32,
    /// The directory of the function binaries (default: this binary's).
    #[arg(long)]
    binaries: Option<PathBuf>,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.instances == 0 || o.rounds == 0 {
        bail!("--instances and --rounds must be at least 1");
    }
    let dir = match o.binaries {
        Some(dir) => dir,
        None => std::env::current_exe()?.parent().context("no binary directory")?.to_owned(),
    };
    let sim = poll_cycle::start_simulator(&poll_cycle::Options {
        instances: o.instances,
        faulty_percent: o.faulty_percent,
        latency_ms: o.latency_ms.clone(),
        tls: false,
        cycles: 1,
        gap_secs: 0,
        in_flight: 1,
        simulator: Some(dir.join("sikurd-pbx-sim")),
    })?;
    let cloud = CloudResources::create().await;
    poll_cycle::register_fleet(&cloud.store, &sim, o.instances, chrono::Utc::now()).await?;
    let fleet: Vec<Instance> = cloud.store.instances.all_due_for_polling_across_tenants().await?;
    let env = cloud.environment(&[("SIKURD_PBX_TARGETS", "any")]);
    let mut function = LambdaFunction::start(&dir.join("poller"), "poller", &env).await;
    println!(
        "poller function: {} instances in batches of {BATCH_SIZE}, {}% faulty, latency {} ms, moto on loopback",
        o.instances, o.faulty_percent, o.latency_ms
    );
    println!(
        "{:>5} {:>8} {:>12} {:>12} {:>12} {:>14}",
        "round", "batches", "mean ms", "median ms", "max ms", "GB-s per poll"
    );
    let mut slot = slot_of(chrono::Utc::now());
    for round in 1..=o.rounds {
        let mut durations = Vec::new();
        for batch in fleet.chunks(BATCH_SIZE) {
            let targets: Vec<_> =
                batch.iter().map(|i| json!({ "tenant_id": i.tenant_id, "instance_id": i.id })).collect();
            let event = json!({
                "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "PollBatch", "source": "sikurd",
                "account": "123456789012", "time": slot, "region": "us-east-1", "resources": [],
                "detail": { "slot": slot, "targets": targets },
            });
            let started = Instant::now();
            function.invoke(event, Duration::from_secs(120)).await.response();
            durations.push(started.elapsed());
        }
        print_round(round, durations, o.memory_mb, fleet.len());
        slot += chrono::Duration::minutes(1);
    }
    Ok(())
}

/// One round of invocations of a function: count, mean, median and longest duration in ms, and
/// the GB-seconds per poll at `memory_mb` over `polls` polls.
pub fn print_round(round: u32, mut durations: Vec<Duration>, memory_mb: u32, polls: usize) {
    if durations.is_empty() {
        return;
    }
    durations.sort();
    let total: Duration = durations.iter().sum();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let gb_s = total.as_secs_f64() * f64::from(memory_mb) / 1024.0 / polls.max(1) as f64;
    println!(
        "{:>5} {:>8} {:>12.1} {:>12.1} {:>12.1} {:>14.6}",
        round,
        durations.len(),
        ms(total) / durations.len() as f64,
        ms(durations[durations.len() / 2]),
        ms(durations[durations.len() - 1]),
        gb_s
    );
}
