//! `sikurd-bench`: Sikurd's benchmarks. Each subcommand runs a workload and prints its numbers.
//!
//! `poll-cycle` polls a simulated fleet (the `sikurd-pbx-sim` binary, a separate process so
//! that its CPU and memory are not counted) through the real scheduler, in-process bus, poller,
//! 3CX client, recorder and embedded store.

mod alert_evaluation;
mod api_list;
mod cold_start;
mod dashboard_fleet;
mod evaluator_batch;
mod export;
mod poll_cycle;
mod poller_batch;
mod process;
mod store_writes;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sikurd-bench", about = "Sikurd's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll cycles over a simulated fleet: wall time, polls/s, CPU ms per poll, peak RSS,
    /// store writes per poll.
    PollCycle(poll_cycle::Options),
    /// The alert evaluator over `InstancePolled` events: events/s, table reads and writes per
    /// event (first event of each instance, steady minutes, minutes with alerts changing).
    AlertEvaluation(alert_evaluation::Options),
    /// `GET /api/v1/instances` under concurrent load on loopback against a running local stack:
    /// throughput, p50/p99 latency, server RSS.
    ApiList(api_list::Options),
    /// Cold-start init time of each Lambda function binary under the Runtime API emulator, and
    /// its size zipped.
    ColdStart(cold_start::Options),
    /// The `poller` function binary under the Runtime API emulator over a simulated fleet:
    /// billed duration per batch and GB-seconds per poll.
    PollerBatch(poller_batch::Options),
    /// The `alert-evaluator` function binary under the Runtime API emulator: billed duration per
    /// `InstancePolled` event of 25 and GB-seconds per poll.
    EvaluatorBatch(evaluator_batch::Options),
    /// The dashboard's fleet page over 1,000 instances in headless Chromium: first render,
    /// interaction and scrolling jank, the page's own refresh.
    DashboardFleet(dashboard_fleet::Options),
    /// A full tenant export (`sikurd-local export`, its own process) of a tenant with many
    /// metric rows: time, rows/s, archive size, peak RSS; the manifest's count checked.
    Export(export::Options),
    /// Metric rows written one poll at a time into the embedded table: rows/s and memory.
    StoreWrites(store_writes::Options),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::PollCycle(options) => poll_cycle::run(options).await,
        Command::AlertEvaluation(options) => alert_evaluation::run(options).await,
        Command::ApiList(options) => api_list::run(options).await,
        Command::StoreWrites(options) => store_writes::run(options).await,
        Command::DashboardFleet(options) => dashboard_fleet::run(options).await,
        Command::Export(options) => export::run(options).await,
        Command::ColdStart(options) => cold_start::run(options).await,
        Command::PollerBatch(options) => poller_batch::run(options).await,
        Command::EvaluatorBatch(options) => evaluator_batch::run(options).await,
    }
}
