//! A full tenant export from the local stack, by `sikurd-local export` in its own process:
//! wall time, rows/s, archive size and the exporting process's peak RSS, over a tenant seeded
//! with `--rows` metric rows (plus its instances' other data).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Duration as Span;
use clap::Args;
use sikurd::clock::{Clock, SystemClock};
use sikurd::crypto::{Envelope, LocalKeys};
use sikurd::domain::{
    Email, Instance, InstanceName, MetricSnapshot, PasswordHash, PbxAddress, PersonName, PollOutcome, Role, User,
    UserId,
};
use sikurd::domain::{Plan, Tenant, TenantName};
use sikurd::store::Store;
use sikurd::table::EmbeddedTable;

#[derive(Args, Debug)]
pub struct Options {
    /// Metric rows in the tenant, spread over `--instances`.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    #[arg(long, default_value_t = 100)]
    instances: usize,
    /// The local stack binary (default: next to this one).
    #[arg(long)]
    local_stack: Option<PathBuf>,
}

/// Rows written per batch while seeding.
const SEED_BATCH: usize = 5_000;

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tenant = {
        // The store alone (the whole local stack would keep the table open in this process).
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let table = EmbeddedTable::open(&dir.path().join("table.redb"), Arc::clone(&clock))?;
        let keys = LocalKeys::open_or_create(&dir.path().join("master.key"))?;
        let store = Store::new(Arc::new(table), Envelope::new(Arc::new(keys)), Arc::clone(&clock));
        let now = clock.now();
        let bench = Tenant::new(TenantName::parse("Bench MSP")?, Plan::Trial, now);
        store.tenants.create(&bench).await?;
        let tenant = bench.id;
        let owner = User {
            id: UserId::generate(),
            tenant_id: tenant.clone(),
            name: PersonName::parse("Bench Owner")?,
            email: Email::parse("owner@bench.example")?,
            password_hash: PasswordHash::from_bcrypt(bcrypt::hash("bench-password-123", 4)?)?,
            role: Role::Owner,
            created_at: now,
        };
        store.users.create(&tenant, &owner).await?;
        let seeding = Instant::now();
        let per_instance = o.rows.div_ceil(o.instances.max(1));
        let mut left = o.rows;
        for i in 0..o.instances.max(1) {
            let instance = Instance::new(
                tenant.clone(),
                InstanceName::parse(&format!("pbx-{i:04}"))?,
                PbxAddress::parse_url(&format!("https://pbx-{i:04}.example.net:5001"))?,
                None,
                now - Span::days(90),
            );
            store.instances.create(&instance).await?;
            let rows = per_instance.min(left);
            left -= rows;
            let mut at = now - Span::minutes(i64::try_from(rows)?);
            let mut batch = Vec::with_capacity(SEED_BATCH);
            for n in 0..rows {
                let mut s = MetricSnapshot::failed(at, PollOutcome::Ok, 80 + u32::try_from(n % 50)?);
                s.calls_active = Some(u32::try_from(n % 16)?);
                s.max_sim_calls = Some(16);
                s.extensions_registered = Some(40);
                s.extensions_total = Some(42);
                s.trunks_registered = Some(2);
                s.trunks_total = Some(2);
                s.disk_usage_percent = Some(55);
                s.licence_active = Some(true);
                batch.push(s);
                at += Span::minutes(1);
                if batch.len() == SEED_BATCH {
                    store.metrics.record_batch(&tenant, &instance.id, &batch).await?;
                    batch.clear();
                }
            }
            store.metrics.record_batch(&tenant, &instance.id, &batch).await?;
        }
        eprintln!(
            "seeded {} metric rows over {} instances in {:.1} s",
            o.rows,
            o.instances,
            seeding.elapsed().as_secs_f64()
        );
        tenant
    };

    let binary = match &o.local_stack {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("sikurd-local"),
    };
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["export", "--tenant", tenant.as_str(), "--by", "sikurd-bench"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let pid = child.id();
    let stdout = child.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut peak = 0;
    while child.try_wait()?.is_none() {
        peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let status = child.wait()?;
    let lines = reader.join().map_err(|_| anyhow::anyhow!("the output reader failed"))?;
    if !status.success() {
        bail!("the export failed: {status}\n{}", lines.join("\n"));
    }
    for line in &lines {
        println!("{line}");
    }
    let size: u64 = lines
        .first()
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let metric_rows = lines
        .iter()
        .find(|l| l.trim_start().starts_with("metrics.jsonl"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    if metric_rows != o.rows {
        bail!("the manifest counts {metric_rows} metric rows, the store holds {}", o.rows);
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = o.rows as f64 / elapsed;
    println!(
        "export of {} metric rows ({} instances): {elapsed:.1} s, {rate:.0} rows/s, archive {:.1} MiB, \
         peak RSS of the exporting process {:.1} MiB (target under 128 MiB); manifest counts match the store",
        o.rows,
        o.instances,
        size as f64 / 1048576.0,
        peak as f64 / 1024.0,
    );
    Ok(())
}
