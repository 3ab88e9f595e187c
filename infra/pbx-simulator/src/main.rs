//! `sikurd-pbx-sim`: runs the 3CX simulator as a process.
//!
//! Prints one line to stdout, `listening on <scheme>://127.0.0.1:<port>`, once it serves. Runs until
//! killed, or until its stdin closes when stdin is a pipe (so a parent can tie the simulator's
//! life to its own).

use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::Parser;
use sikurd_pbx_sim::{SimConfig, Simulator};
use tokio::sync::oneshot;

/// Serves many virtual 3CX v20 PBXs on one socket; PBX `<name>` answers at `<name>.localhost:<port>`.
/// The control API is under `/_sim/` (see the library docs).
#[derive(Parser)]
#[command(name = "sikurd-pbx-sim", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a CA made at start.
    #[arg(long)]
    tls: bool,
    /// Write the CA certificate (PEM) to this file.
    #[arg(long, value_name = "PATH", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Add this many PBXs, named `<prefix>-00001` ... with admin `admin` and password `pw-<name>`.
    #[arg(long, default_value_t = 0)]
    fleet: usize,
    /// Percentage (0-100) of the fleet that gets faults, in rotation.
    #[arg(long, default_value_t = 0.0)]
    faulty_percent: f64,
    /// Delay on every fleet request, drawn from MIN..MAX milliseconds (or exactly MS).
    #[arg(long, value_name = "MIN..MAX")]
    latency_ms: Option<LatencyRange>,
    /// Name prefix of the fleet's PBXs.
    #[arg(long, default_value = "pbx")]
    prefix: String,
}

#[derive(Clone, Copy)]
struct LatencyRange(u64, u64);

impl FromStr for LatencyRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |text: &str| text.trim().parse::<u64>().map_err(|_| format!("'{s}' is not MIN..MAX or MS"));
        match s.split_once("..") {
            Some((min, max)) => {
                let (min, max) = (number(min)?, number(max)?);
                if min > max { Err(format!("{min} is more than {max}")) } else { Ok(LatencyRange(min, max)) }
            }
            None => number(s).map(|ms| LatencyRange(ms, ms)),
        }
    }
}

// One thread: it serves thousands of requests a second and spends a third less CPU than a
// multi-threaded runtime (fewer cross-thread wake-ups), leaving the other core to the client.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sikurd-pbx-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    if !(0.0..=100.0).contains(&args.faulty_percent) {
        return Err("--faulty-percent must be between 0 and 100".to_owned());
    }
    let config = SimConfig { listen: args.listen, tls: args.tls };
    let simulator = Simulator::start(config).await.map_err(|error| report(&error))?;
    if args.fleet > 0 {
        let latency = args.latency_ms.map(|LatencyRange(min, max)| (min, max));
        simulator
            .add_fleet(&args.prefix, args.fleet, args.faulty_percent / 100.0, latency)
            .map_err(|error| report(&error))?;
    }
    if let (Some(path), Some(pem)) = (&args.ca_out, simulator.ca_pem()) {
        fs::write(path, pem).map_err(|error| format!("could not write {}: {error}", path.display()))?;
    }
    println!("listening on {}", simulator.url());
    std::io::stdout().flush().map_err(|error| format!("could not write to stdout: {error}"))?;
    if args.fleet > 0 {
        eprintln!(
            "{} PBXs: {} ... {} (admin / pw-<name>); control API at {}",
            args.fleet,
            simulator.base_url_for(&format!("{}-{:05}", args.prefix, 1)),
            simulator.base_url_for(&format!("{}-{:05}", args.prefix, args.fleet)),
            simulator.control_url(),
        );
    }
    match stdin_closed() {
        Some(closed) => {
            let _ = closed.await;
        }
        None => std::future::pending::<()>().await,
    }
    simulator.shutdown().await;
    Ok(())
}

/// When stdin is a pipe: a signal fired once it reaches end of file.
fn stdin_closed() -> Option<oneshot::Receiver<()>> {
    let is_pipe = fs::metadata("/dev/stdin").is_ok_and(|meta| meta.file_type().is_fifo());
    if !is_pipe {
        return None;
    }
    let (closed, on_close) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    Some(on_close)
}

fn report(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}
