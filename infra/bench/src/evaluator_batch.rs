//! The `alert-evaluator` function's billed duration: its release binary under the Lambda
//! Runtime API emulator, aimed at moto (table, KMS), evaluating `InstancePolled` events of 25
//! instances as the poller publishes them. Round 1 is each instance's first event (its state is
//! written); later rounds change nothing (one read, no write per instance).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use sikurd::domain::{InstanceId, TenantId};
use sikurd::polling::{BATCH_SIZE, slot_of};
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};

#[derive(Args, Debug)]
pub struct Options {
    /// Instances, evaluated in events of 25.
    #[arg(long, default_value_t = 250)]
    instances: usize,
    /// Tenants the instances belong to.
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Rounds over the instances (at most 9: events older than 10 minutes are stale).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Memory of the function (MB), for GB-seconds.
    #[arg(long, default_value_t = 256)]
    memory_mb: u32,
    /// The directory of the function binaries (default: this binary's).
    #[arg(long)]
    binaries: Option<PathBuf>,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.instances == 0 || o.tenants == 0 || !(1..=9).contains(&o.rounds) {
        bail!("--instances and --tenants must be at least 1, --rounds 1 to 9");
    }
    let dir = match o.binaries {
        Some(dir) => dir,
        None => std::env::current_exe()?.parent().context("no binary directory")?.to_owned(),
    };
    let cloud = CloudResources::create().await;
    let tenants: Vec<TenantId> = (0..o.tenants).map(|_| TenantId::generate()).collect();
    let fleet: Vec<(TenantId, InstanceId)> =
        (0..o.instances).map(|i| (tenants[i % tenants.len()].clone(), InstanceId::generate())).collect();
    let template = sample_event("instance-polled.json")["detail"]["polled"][1].clone();
    let mut function =
        LambdaFunction::start(&dir.join("alert-evaluator"), "alert-evaluator", &cloud.environment(&[])).await;
    println!(
        "alert-evaluator function: {} instances of {} tenants in events of {BATCH_SIZE}, moto on loopback",
        o.instances, o.tenants
    );
    println!(
        "{:>5} {:>8} {:>12} {:>12} {:>12} {:>14}",
        "round", "events", "mean ms", "median ms", "max ms", "GB-s per poll"
    );
    let first = slot_of(chrono::Utc::now()) - chrono::Duration::minutes(i64::from(o.rounds));
    for round in 1..=o.rounds {
        let slot = first + chrono::Duration::minutes(i64::from(round));
        let mut durations = Vec::new();
        for chunk in fleet.chunks(BATCH_SIZE) {
            let polled: Vec<Value> = chunk
                .iter()
                .map(|(tenant, instance)| {
                    let mut one = template.clone();
                    one["tenant_id"] = json!(tenant);
                    one["instance_id"] = json!(instance);
                    one["slot"] = json!(slot);
                    one["snapshot"]["at"] = json!(slot);
                    one
                })
                .collect();
            let event = json!({
                "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "InstancePolled",
                "source": "sikurd", "account": "123456789012", "time": slot, "region": "us-east-1",
                "resources": [], "detail": { "polled": polled },
            });
            let started = Instant::now();
            function.invoke(event, Duration::from_secs(60)).await.response();
            durations.push(started.elapsed());
        }
        crate::poller_batch::print_round(round, durations, o.memory_mb, fleet.len());
    }
    Ok(())
}
