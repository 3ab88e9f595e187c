use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use secrecy::SecretString;
use sikurd::clock::{Clock, ManualClock};
use sikurd::crypto::{Envelope, LocalKeys};
use sikurd::domain::{Instance, InstanceName, PbxAddress, PbxCredentials, Plan, Tenant, TenantName};
use sikurd::events::{DetailType, EventPublisher, InProcessBus};
use sikurd::pbx::{PbxClient, PbxClientConfig};
use sikurd::polling::{POLL_INTERVAL, Poller, Recorder, Scheduler};
use sikurd::store::Store;
use sikurd::table::{CountingTable, EmbeddedTable, Table};

use crate::process::{cpu_time, peak_rss_mib, rss_mib};

#[derive(Args, Debug)]
pub struct Options {
    /// Simulated 3CX systems in the fleet.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) instances: usize,
    /// Percent of them with a fault (hanging, 5xx, wrong password, garbage, ...).
    #[arg(long, default_value_t = 3.0)]
    pub(crate) faulty_percent: f64,
    /// Latency of every simulated request, a random value in this range (ms).
    #[arg(long, default_value = "30..150")]
    pub(crate) latency_ms: String,
    /// Serve the simulated fleet over HTTPS (the client verifies the simulator's CA).
    #[arg(long)]
    pub(crate) tls: bool,
    /// Poll cycles to run; the first includes every login, later ones reuse tokens.
    #[arg(long, default_value_t = 3)]
    pub(crate) cycles: u32,
    /// Seconds between the end of one cycle and the start of the next (production polls every
    /// 60 s; any gap longer than the client's keep-alive behaves the same).
    #[arg(long, default_value_t = 20)]
    pub(crate) gap_secs: u64,
    /// Polls in flight at once in this process.
    #[arg(long, default_value_t = 1000)]
    pub(crate) in_flight: usize,
    /// The simulator binary (default: next to this one).
    #[arg(long)]
    pub(crate) simulator: Option<PathBuf>,
}

pub(crate) struct Simulator {
    child: Child,
    base_port: u16,
    scheme: &'static str,
    ca_pem: Option<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_simulator(o: &Options) -> anyhow::Result<Simulator> {
    let binary = match &o.simulator {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("sikurd-pbx-sim"),
    };
    let dir = tempfile::tempdir()?;
    let ca_path = dir.path().join("ca.pem");
    let mut command = Command::new(&binary);
    command
        .args(["--listen", "127.0.0.1:0", "--prefix", "pbx"])
        .args(["--fleet", &o.instances.to_string()])
        .args(["--faulty-percent", &o.faulty_percent.to_string()])
        .args(["--latency-ms", &o.latency_ms])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if o.tls {
        command.arg("--tls").arg("--ca-out").arg(&ca_path);
    }
    let mut child = command.spawn().with_context(|| format!("cannot start {}", binary.display()))?;
    let stdout = child.stdout.take().context("simulator has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line
        .trim()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .with_context(|| format!("simulator printed {line:?}"))?;
    let ca_pem = if o.tls { Some(std::fs::read_to_string(&ca_path).context("simulator wrote no CA")?) } else { None };
    Ok(Simulator { child, base_port: port, scheme: if o.tls { "https" } else { "http" }, ca_pem, _dir: dir })
}

/// Registers the simulated fleet: `pbx-00001` … with admin `admin` / `pw-<name>`.
pub(crate) async fn register_fleet(
    store: &Store,
    sim: &Simulator,
    count: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let tenant = Tenant::new(TenantName::parse("Bench MSP")?, Plan::Enterprise, now);
    store.tenants.create(&tenant).await?;
    for i in 1..=count {
        let name = format!("pbx-{i:05}");
        let url = format!("{}://{name}.localhost:{}", sim.scheme, sim.base_port);
        let mut instance =
            Instance::new(tenant.id.clone(), InstanceName::parse(&name)?, PbxAddress::parse_url(&url)?, None, now);
        let credentials = PbxCredentials::admin("admin", SecretString::from(format!("pw-{name}")))?;
        instance.credential_kind = Some(credentials.kind());
        store.instances.create(&instance).await?;
        store.credentials.put(&tenant.id, &instance.id, &credentials).await?;
    }
    Ok(())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.instances == 0 || o.cycles == 0 {
        bail!("--instances and --cycles must be at least 1");
    }
    let sim = start_simulator(&o)?;
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::starting_now());
    let embedded: Arc<dyn Table> = Arc::new(EmbeddedTable::open(&dir.path().join("table.redb"), clock.clone())?);
    let counting = CountingTable::new(embedded);
    let keys = LocalKeys::open_or_create(&dir.path().join("master.key"))?;
    let store = Store::new(Arc::new(counting.clone()), Envelope::new(Arc::new(keys)), clock.clone());

    let setup = Instant::now();
    register_fleet(&store, &sim, o.instances, clock.now()).await?;
    eprintln!("registered {} instances in {:.1} s", o.instances, setup.elapsed().as_secs_f64());

    let bus = InProcessBus::new();
    let events: Arc<dyn EventPublisher> = Arc::new(bus.clone());
    let config =
        PbxClientConfig { extra_root_certificates: sim.ca_pem.iter().cloned().collect(), ..PbxClientConfig::local() };
    let client = Arc::new(PbxClient::new(config)?);
    let recorder = Recorder::new(store.clone(), clock.clone());
    let poller =
        Poller::new(store.clone(), client.clone(), recorder, events.clone(), 25).with_in_flight_limit(o.in_flight);
    bus.subscribe(DetailType::POLL_BATCH, Arc::new(poller));
    let scheduler = Scheduler::new(store.instances.clone(), events).watching(store.poll_log.clone());

    println!(
        "poll cycle: {} instances, {}% faulty, latency {} ms, {}",
        o.instances,
        o.faulty_percent,
        o.latency_ms,
        if o.tls { "TLS" } else { "plain HTTP" }
    );
    println!(
        "{:>5} {:>9} {:>9} {:>12} {:>13} {:>14} {:>7}",
        "cycle", "wall s", "polls/s", "CPU ms/poll", "writes/poll", "peak RSS MiB", "logins"
    );
    for cycle in 1..=o.cycles {
        counting.reset();
        let logins_before = client.logins();
        let cpu_before = cpu_time();
        let started = Instant::now();
        let tick = scheduler.tick(clock.now()).await?;
        bus.idle().await;
        let wall = started.elapsed();
        let cpu = cpu_time().saturating_sub(cpu_before);
        let polls = tick.instances.max(1) as f64;
        let counts = counting.counts();
        println!(
            "{:>5} {:>9.2} {:>9.0} {:>12.3} {:>13.3} {:>14.1} {:>9.1} {:>7}",
            cycle,
            wall.as_secs_f64(),
            polls / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0 / polls,
            counts.items_written as f64 / polls,
            peak_rss_mib(),
            rss_mib(),
            client.logins() - logins_before
        );
        clock.advance(POLL_INTERVAL);
        if cycle < o.cycles {
            tokio::time::sleep(Duration::from_secs(o.gap_secs)).await;
        }
    }
    let dead = bus.dead_letters().len();
    if dead > 0 {
        println!("dead-lettered batches: {dead}");
    }
    Ok(())
}
