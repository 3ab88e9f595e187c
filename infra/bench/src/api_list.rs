//! Load on `GET /api/v1/instances` of a tenant with many instances, served by `sikurd-local`
//! (a separate process, so only its own CPU and memory are in its numbers).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

#[derive(Args, Debug)]
pub struct Options {
    /// Instances in the tenant.
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to load the server; more than a minute includes at least one poll cycle of the
    /// local stack (every instance polled, and its state written).
    #[arg(long, default_value_t = 70)]
    seconds: u64,
    /// Page size requested (`?limit=`).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// The local stack binary (default: next to this one).
    #[arg(long)]
    local_stack: Option<PathBuf>,
}

struct Server {
    child: Child,
    api: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

fn start(o: &Options) -> anyhow::Result<Server> {
    let binary = match &o.local_stack {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("sikurd-local"),
    };
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(&binary)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["run", "--listen", "127.0.0.1:0"])
        .env("SIKURD_BCRYPT_COST", "4")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let api = loop {
        let line = lines.next().context("the local stack exited")??;
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, api, _dir: dir })
}

async fn post(
    http: &reqwest::Client,
    url: String,
    cookie: &str,
    csrf: &str,
    body: serde_json::Value,
) -> anyhow::Result<String> {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status();
    let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{status}: {text}");
    }
    Ok(cookie.unwrap_or(text))
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let server = start(&o)?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.connections).build()?;

    let signup = serde_json::json!({
        "tenant_name": "Bench MSP", "name": "Bench Owner", "email": "owner@bench.example", "password": "bench-password-123"
    });
    let response = http
        .post(format!("{}/api/v1/signup", server.api))
        .header("content-type", "application/json")
        .body(signup.to_string())
        .send()
        .await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("sign-up set no cookie")?
        .to_owned();
    let session: serde_json::Value = serde_json::from_str(&response.text().await?)?;
    let csrf = session["csrf_token"].as_str().context("no csrf token")?.to_owned();

    let setup = Instant::now();
    for i in 0..o.instances {
        let body = serde_json::json!({
            "name": format!("pbx-{i:05}"),
            "url": format!("https://pbx-{i:05}.invalid:5001"),
            "group": format!("customer-{:03}", i % 100),
            "credentials": { "kind": "admin", "username": "admin", "password": "not-a-real-password" },
        });
        post(&http, format!("{}/api/v1/instances", server.api), &cookie, &csrf, body).await?;
    }
    eprintln!("created {} instances in {:.1} s", o.instances, setup.elapsed().as_secs_f64());

    let url = format!("{}/api/v1/instances?limit={}", server.api, o.limit);
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let (http, url, cookie) = (http.clone(), url.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match http.get(&url).header("cookie", &cookie).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "GET /api/v1/instances?limit={}: {} instances, {} connections, {} s",
        o.limit, o.instances, o.connections, o.seconds
    );
    println!(
        "requests {}  errors {}  throughput {:.0} req/s  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  server peak RSS {:.1} MiB",
        latencies.len(),
        errors,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        server.peak_rss_mib()
    );
    Ok(())
}
