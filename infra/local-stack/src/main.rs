//! `sikurd-local`: Sikurd on one machine, on embedded adapters. No AWS account, no Docker.
//!
//! - `run [--demo]` serves the API on `SIKURD_LISTEN` and polls every active instance each
//!   minute, printing each cycle; `--demo` also starts a simulated fleet of 3CX systems (healthy
//!   and failing) under a demo tenant.
//! - `fleet` prints the fleet's current state from the store.
//! - `register` adds a real 3CX; its password is read without echo, or from standard input.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use sikurd::config::{ApiConfig, Deployment, Env};
use sikurd::domain::{GroupName, Instance, InstanceName, InstanceStatus, PbxAddress, PbxCredentials};
use sikurd::polling::{InstancePolled, POLL_INTERVAL, slot_of};
use sikurd_local::demo;
use sikurd_local::stack::LocalStack;

#[derive(Parser)]
#[command(name = "sikurd-local", version, about = "Sikurd on one machine, on embedded adapters")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// Where the table, the master key and blobs are kept.
    #[arg(long, env = "SIKURD_DATA_DIR", default_value = "sikurd-data", global = true)]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and poll every active instance each minute, printing what each cycle polled.
    Run {
        /// Where the API listens.
        #[arg(long, env = "SIKURD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Also start a simulated fleet of 3CX systems (healthy and failing) under a demo tenant.
        #[arg(long)]
        demo: bool,
        /// Stop after this many poll cycles (default: run until interrupted).
        #[arg(long)]
        cycles: Option<u32>,
    },
    /// Print the fleet's current state from the store.
    Fleet,
    /// Export everything held on a tenant (support staff): a zip under <data dir>/blobs, with a
    /// download link served by `run` for 7 days.
    Export {
        /// The tenant's id (`ten_…`; the demo tenant's is in <data dir>/demo-tenant).
        #[arg(long)]
        tenant: String,
        /// Who asks (a support person's name, kept in the tenant's audit log).
        #[arg(long)]
        by: String,
    },
    /// Ask for a tenant's deletion (support staff): its owner gets a confirmation link by e-mail
    /// (locally: <data dir>/outbox). Once confirmed, `retention` (hourly in `run`) deletes it.
    DeleteTenant {
        /// The tenant's id (`ten_…`).
        #[arg(long)]
        tenant: String,
        /// Who asks (a support person's name, kept in the deletion ledger).
        #[arg(long)]
        by: String,
    },
    /// Run the nightly retention job once (roll-ups for reports, purges of instances deleted
    /// more than 30 days ago, expired items) and print what it did. `run` does this every hour.
    Retention,
    /// Register a real 3CX under the local tenant. The password or client secret is read
    /// without echo from the terminal, or from standard input with --secret-stdin; never from
    /// the command line.
    Register {
        /// A name for this 3CX.
        #[arg(long)]
        name: String,
        /// Its web address, e.g. https://pbx.example.com:5001
        #[arg(long)]
        url: String,
        /// A fleet group (usually the customer).
        #[arg(long)]
        group: Option<String>,
        /// Log in as this administrator (extension number or user name).
        #[arg(long, conflicts_with = "client_id", required_unless_present = "client_id")]
        username: Option<String>,
        /// Log in with this API client id (3CX Admin > Integrations > API).
        #[arg(long)]
        client_id: Option<String>,
        /// Read the secret from the first line of standard input.
        #[arg(long)]
        secret_stdin: bool,
    },
}

/// How often due notifications (retries, reminders, ends of maintenance) are looked for.
const NOTIFICATION_SWEEP: Duration = Duration::from_secs(15);
/// How often the retention job runs (the cloud runs it nightly; here a stack may not run at
/// night). A run with nothing to do writes nothing.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How long one retention run may take.
const RETENTION_RUN: Duration = Duration::from_secs(600);

#[tokio::main]
async fn main() -> ExitCode {
    match run_cli().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sikurd-local: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_cli() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SIKURD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { listen, demo, cycles } => run(&cli.common, listen, demo, cycles).await,
        Command::Fleet => fleet(&cli.common).await,
        Command::Retention => retention(&cli.common).await,
        Command::Export { tenant, by } => export(&cli.common, &tenant, &by).await,
        Command::DeleteTenant { tenant, by } => delete_tenant(&cli.common, &tenant, &by).await,
        Command::Register { name, url, group, username, client_id, secret_stdin } => {
            register(&cli.common, &name, &url, group.as_deref(), username, client_id, secret_stdin).await
        }
    }
}

async fn run(common: &Common, listen: SocketAddr, demo: bool, cycles: Option<u32>) -> anyhow::Result<()> {
    let api_config = ApiConfig::from_env(&Env::from_process(), Deployment::Local)?;
    let simulator = if demo { Some(demo::start_simulator().await?) } else { None };
    let certs = simulator.iter().filter_map(|s| s.ca_pem()).collect();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (SIKURD_LISTEN)"))?;
    let api_address = listener.local_addr()?;
    let stack = LocalStack::open(&common.data_dir, certs, Some(format!("http://{api_address}")))?;
    if let Some(sim) = &simulator {
        demo::seed(&stack, sim, api_config.bcrypt_cost).await?;
    }
    let api = stack.app(api_config);
    let dispatcher = stack.dispatcher.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(NOTIFICATION_SWEEP).await;
            let report = dispatcher.sweep().await;
            if report != sikurd::alerts::SweepReport::default() {
                tracing::info!(?report, "notification sweep");
            }
        }
    });
    let retention = stack.retention.clone();
    let clock = stack.clock.clone();
    tokio::spawn(async move {
        loop {
            match retention.run(clock.now(), std::time::Instant::now() + RETENTION_RUN).await {
                Ok(report) => tracing::info!(?report, "retention run"),
                Err(e) => eprintln!("the retention run failed (the next one resumes): {e}"),
            }
            tokio::time::sleep(RETENTION_EVERY).await;
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, api.into_make_service_with_connect_info::<SocketAddr>()).await {
            eprintln!("the API server stopped: {e}");
        }
    });
    println!("sikurd-local: API on http://{api_address} (OpenAPI: http://{api_address}/api/v1/openapi.json)");
    println!(
        "sikurd-local: data in {}; polling every {} s (Ctrl-C stops)",
        common.data_dir.display(),
        POLL_INTERVAL.num_seconds()
    );
    let mut done = 0;
    loop {
        let started = std::time::Instant::now();
        let now = stack.clock.now();
        match stack.scheduler.tick(now).await {
            Ok(report) => {
                stack.bus.idle().await;
                print_cycle(slot_of(now), report.instances, started.elapsed(), stack.take_polled());
            }
            Err(e) => eprintln!("poll cycle failed: {e}"),
        }
        done += 1;
        if cycles.is_some_and(|c| done >= c) {
            return Ok(());
        }
        let next = slot_of(now) + POLL_INTERVAL;
        let wait = (next - stack.clock.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => {
                println!("stopping");
                return Ok(());
            }
        }
    }
}

fn status_word(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::NeverPolled => "never polled",
        InstanceStatus::Ok => "ok",
        InstanceStatus::Degraded => "degraded",
        InstanceStatus::Unreachable => "unreachable",
        InstanceStatus::LoginFailing => "login failing",
        InstanceStatus::Unsupported => "unsupported",
    }
}

fn ratio(a: Option<u32>, b: Option<u32>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{a}/{b}"),
        _ => "-".into(),
    }
}

fn print_cycle(slot: chrono::DateTime<chrono::Utc>, scheduled: usize, took: Duration, mut polled: Vec<InstancePolled>) {
    polled.sort_by(|a, b| a.instance_name.cmp(&b.instance_name));
    let mut counts = std::collections::BTreeMap::new();
    for p in &polled {
        *counts.entry(status_word(p.status)).or_insert(0) += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "[{}] polled {}/{} instances in {:.1} s: {}",
        slot.format("%Y-%m-%d %H:%M UTC"),
        polled.len(),
        scheduled,
        took.as_secs_f64(),
        if summary.is_empty() { "nothing to poll".into() } else { summary.join(", ") }
    );
    for p in &polled {
        let s = &p.snapshot;
        println!(
            "  {:<24} {:<13} calls {:<7} trunks {:<7} {:>5} ms  {}",
            p.instance_name,
            status_word(p.status),
            ratio(s.calls_active, s.max_sim_calls),
            ratio(s.trunks_registered, s.trunks_total),
            s.latency_ms,
            p.reason.as_deref().unwrap_or("")
        );
    }
}

async fn export(common: &Common, tenant: &str, by: &str) -> anyhow::Result<()> {
    let tenant = sikurd::domain::TenantId::parse(tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
    let stack = LocalStack::open(&common.data_dir, Vec::new(), None)?;
    let exporter = sikurd::lifecycle::Exporter::new(stack.store.clone(), stack.blobs.clone(), stack.clock.clone());
    let done = exporter.export(&tenant, by).await?;
    println!("export {}: {} bytes, SHA-256 {}", done.export_id, done.size_bytes, done.sha256);
    for file in &done.manifest.files {
        println!("  {:<16} {:>10} rows {:>12} bytes", file.name, file.rows, file.bytes);
    }
    let key = sikurd::blobs::BlobKey::parse(&done.key)?;
    println!("file: {}", stack.blobs.blob_path(&key).display());
    println!("link (while `sikurd-local run` serves, until {}): {}", done.link_expires_at, done.download_url);
    Ok(())
}

async fn delete_tenant(common: &Common, tenant: &str, by: &str) -> anyhow::Result<()> {
    let tenant = sikurd::domain::TenantId::parse(tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
    let stack = LocalStack::open(&common.data_dir, Vec::new(), None)?;
    let outbox = common.data_dir.join("outbox");
    let mailer = sikurd::notify::OutboxMailer::new(&outbox, sikurd::domain::Email::parse("support@sikurd.example")?);
    let listen = sikurd::config::local_listen_address(&Env::from_process())?;
    let asked = stack.deletions.request(&tenant, by, &mailer, &format!("http://{listen}/#/confirm-deletion/")).await?;
    println!(
        "the confirmation link went to {} (see {}); it works until {}",
        asked.sent_to,
        outbox.display(),
        asked.link_expires_at
    );
    Ok(())
}

async fn retention(common: &Common) -> anyhow::Result<()> {
    let stack = LocalStack::open(&common.data_dir, Vec::new(), None)?;
    let report = stack.retention.run(stack.clock.now(), std::time::Instant::now() + RETENTION_RUN).await?;
    println!(
        "retention: {} days rolled up, {} deleted instances purged, {} expired items deleted, {} old exports deleted, \
         {} tenants deleted{}",
        report.days_rolled_up,
        report.instances_purged,
        report.expired_items_deleted,
        report.exports_deleted,
        report.tenants_deleted,
        if report.finished { "" } else { " (stopped at its deadline; run it again to finish)" }
    );
    Ok(())
}

async fn fleet(common: &Common) -> anyhow::Result<()> {
    let stack = LocalStack::open(&common.data_dir, Vec::new(), None)?;
    let mut instances: Vec<Instance> = stack.store.instances.all_due_for_polling_across_tenants().await?;
    instances.sort_by(|a, b| (a.tenant_id.as_str(), a.name.as_str()).cmp(&(b.tenant_id.as_str(), b.name.as_str())));
    println!("{} active instances", instances.len());
    println!(
        "{:<24} {:<13} {:<12} {:<9} {:<7} {:<20} ADDRESS",
        "NAME", "STATUS", "VERSION", "CALLS", "TRUNKS", "LAST POLL"
    );
    for i in &instances {
        let last = stack.store.metrics.latest(&i.tenant_id, &i.id).await?;
        println!(
            "{:<24} {:<13} {:<12} {:<9} {:<7} {:<20} {}",
            i.name.as_str(),
            status_word(i.status),
            i.version.as_ref().map_or("-", |v| v.as_str()),
            last.as_ref().map_or("-".into(), |s| ratio(s.calls_active, s.max_sim_calls)),
            last.as_ref().map_or("-".into(), |s| ratio(s.trunks_registered, s.trunks_total)),
            last.as_ref().map_or("never".into(), |s| s.at.format("%Y-%m-%d %H:%M").to_string()),
            i.address
        );
        if let Some(reason) = &i.status_reason {
            println!("{:<24} {reason}", "");
        }
    }
    Ok(())
}

fn read_secret(prompt: &str, from_stdin: bool) -> anyhow::Result<SecretString> {
    let secret = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the secret from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password(prompt).context("cannot read the secret from the terminal")?
    };
    if secret.is_empty() {
        bail!("the secret is empty");
    }
    Ok(SecretString::from(secret))
}

async fn register(
    common: &Common,
    name: &str,
    url: &str,
    group: Option<&str>,
    username: Option<String>,
    client_id: Option<String>,
    secret_stdin: bool,
) -> anyhow::Result<()> {
    let name = InstanceName::parse(name)?;
    let address = PbxAddress::parse_url(url)?;
    let group = group.map(GroupName::parse).transpose()?;
    let credentials = match (username, client_id) {
        (Some(user), None) => PbxCredentials::admin(&user, read_secret("3CX password: ", secret_stdin)?)?,
        (None, Some(id)) => PbxCredentials::client_credentials(&id, read_secret("API client secret: ", secret_stdin)?)?,
        _ => bail!("give either --username or --client-id"),
    };
    let stack = LocalStack::open(&common.data_dir, Vec::new(), None)?;
    let tenant = stack.local_tenant("local-tenant", "Local").await?;
    let mut instance = Instance::new(tenant.clone(), name, address, group, stack.clock.now());
    instance.credential_kind = Some(credentials.kind());
    stack.store.instances.create(&instance).await?;
    stack.store.credentials.put(&tenant, &instance.id, &credentials).await?;
    println!(
        "registered {} ({}) as {}; `sikurd-local run` polls it every minute",
        instance.name, instance.address, instance.id
    );
    Ok(())
}
