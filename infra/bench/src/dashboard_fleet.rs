//! The dashboard's fleet page over a large tenant in headless Chromium: time to the first
//! render of every row, and how fast it answers typing, sorting, filtering, scrolling and its
//! own refresh (Event Timing and Long Tasks, as the browser measures them).
//!
//! The API is served in this process by the local stack on a fresh data directory, seeded
//! straight into the store: instances of every status with a latest snapshot, groups, versions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Duration as Span;
use clap::Args;
use serde::Deserialize;
use serde_json::Value;
use sikurd::api::ApiState;
use sikurd::config::{ApiConfig, Deployment, Env};
use sikurd::domain::{
    Email, GroupName, Instance, InstanceName, InstanceStatus, MetricSnapshot, PasswordHash, PbxAddress, PbxVersion,
    PersonName, PollOutcome, Role, User, UserId,
};
use sikurd_local::stack::LocalStack;
use sikurd_tests::browser::{Browser, Page};

#[derive(Args, Debug)]
pub struct Options {
    /// Instances in the tenant.
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    /// Page loads measured (the first with an empty cache).
    #[arg(long, default_value_t = 5)]
    loads: usize,
    /// Also wait for the page's own 30-second refresh and measure it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    refresh: bool,
}

const EMAIL: &str = "owner@bench.example";
const PASSWORD: &str = "bench-password-123";
const GROUPS: usize = 100;
/// Rows on the fleet page's first page (its default page size).
const FIRST_PAGE: usize = 100;

/// Installed in every document before the page's scripts: what the browser reports, kept for
/// the benchmark to read.
const OBSERVE: &str = r"
window.__bench = { longTasks: [], events: [], rendered: null, painted: null, rows: null };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) __bench.longTasks.push({ start: e.startTime, duration: e.duration });
}).observe({ type: 'longtask', buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.interactionId) __bench.events.push({ name: e.name, id: e.interactionId, start: e.startTime, duration: e.duration });
  }
}).observe({ type: 'event', durationThreshold: 16, buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.name !== 'sikurd:fleet-rendered' || __bench.rendered !== null) continue;
    __bench.rendered = e.startTime;
    __bench.rows = e.detail && e.detail.rows;
    __bench.instances = e.detail && e.detail.instances;
    requestAnimationFrame(() => setTimeout(() => { __bench.painted = performance.now(); }));
  }
}).observe({ type: 'mark' });
";

/// The statuses of a realistic fleet: mostly fine.
fn status_of(i: usize) -> InstanceStatus {
    match i % 50 {
        0..=2 => InstanceStatus::Degraded,
        3 | 4 => InstanceStatus::Unreachable,
        5 => InstanceStatus::LoginFailing,
        6 => InstanceStatus::Unsupported,
        7 => InstanceStatus::NeverPolled,
        _ => InstanceStatus::Ok,
    }
}

async fn seed(stack: &LocalStack, instances: usize) -> anyhow::Result<()> {
    let tenant = stack.local_tenant("bench-tenant", "Bench MSP").await?;
    let now = stack.clock.now();
    let owner = User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        name: PersonName::parse("Bench Owner")?,
        email: Email::parse(EMAIL)?,
        password_hash: PasswordHash::from_bcrypt(bcrypt_hash()?)?,
        role: Role::Owner,
        created_at: now,
    };
    stack.store.users.create(&tenant, &owner).await?;
    for i in 0..instances {
        let status = status_of(i);
        let mut instance = Instance::new(
            tenant.clone(),
            InstanceName::parse(&format!("pbx-{i:05}"))?,
            PbxAddress::parse_url(&format!("https://pbx-{i:05}.example.net:5001"))?,
            Some(GroupName::parse(&format!("Customer {:03}", i % GROUPS))?),
            now,
        );
        instance.status = status;
        if status != InstanceStatus::NeverPolled {
            instance.version = Some(PbxVersion::parse(&format!("20.0.{}.{}", i % 8, 900 + i % 300))?);
        }
        instance.status_reason = match status {
            InstanceStatus::Unreachable => Some("connection timed out".into()),
            InstanceStatus::LoginFailing => Some("the 3CX refused the credentials".into()),
            InstanceStatus::Degraded => Some("trunk Primary SIP is down".into()),
            _ => None,
        };
        stack.store.instances.create(&instance).await?;
        if status == InstanceStatus::NeverPolled {
            continue;
        }
        let outcome = match status {
            InstanceStatus::Unreachable => PollOutcome::Unreachable,
            InstanceStatus::LoginFailing => PollOutcome::LoginFailed,
            InstanceStatus::Unsupported => PollOutcome::Unsupported,
            _ => PollOutcome::Ok,
        };
        let at = now - Span::seconds((i % 60) as i64);
        let snapshot = if outcome == PollOutcome::Ok {
            let n = u32::try_from(i % 97).unwrap_or(0);
            MetricSnapshot {
                calls_active: Some(n % 16),
                max_sim_calls: Some(16),
                extensions_registered: Some(20 + n),
                extensions_total: Some(24 + n),
                trunks_registered: Some(if status == InstanceStatus::Degraded { 1 } else { 2 }),
                trunks_total: Some(2),
                disk_usage_percent: Some(u8::try_from(30 + n % 60).unwrap_or(50)),
                licence_active: Some(true),
                ..MetricSnapshot::failed(at, outcome, 80 + n)
            }
        } else {
            MetricSnapshot::failed(at, outcome, 10_000)
        };
        stack.store.metrics.record(&tenant, &instance.id, &snapshot).await?;
    }
    Ok(())
}

fn bcrypt_hash() -> anyhow::Result<String> {
    Ok(bcrypt::hash(PASSWORD, 4)?)
}

#[derive(Debug, Deserialize)]
struct Task {
    start: f64,
    duration: f64,
}

#[derive(Debug, Deserialize)]
struct EventEntry {
    name: String,
    id: u64,
    start: f64,
    duration: f64,
}

#[derive(Debug, Deserialize)]
struct Observed {
    #[serde(rename = "longTasks")]
    long_tasks: Vec<Task>,
    events: Vec<EventEntry>,
}

async fn observed(page: &Page) -> anyhow::Result<Observed> {
    Ok(serde_json::from_value(page.eval("window.__bench").await)?)
}

/// The longest event of each interaction since `from` (ms on the page's clock).
fn interactions(o: &Observed, from: f64) -> Vec<(String, f64)> {
    let mut by_id: Vec<(u64, String, f64)> = Vec::new();
    for e in o.events.iter().filter(|e| e.start >= from) {
        match by_id.iter_mut().find(|(id, _, _)| *id == e.id) {
            Some(entry) if e.duration > entry.2 => *entry = (e.id, e.name.clone(), e.duration),
            Some(_) => {}
            None => by_id.push((e.id, e.name.clone(), e.duration)),
        }
    }
    by_id.into_iter().map(|(_, name, d)| (name, d)).collect()
}

fn long_tasks(o: &Observed, from: f64) -> (usize, f64) {
    let tasks: Vec<&Task> = o.long_tasks.iter().filter(|t| t.start >= from).collect();
    (tasks.len(), tasks.iter().map(|t| t.duration).fold(0.0, f64::max))
}

async fn now(page: &Page) -> f64 {
    page.eval("performance.now()").await.as_f64().unwrap_or(0.0)
}

/// Lets the page finish what the last input started (a frame and a bit).
async fn settle(page: &Page) {
    page.eval("new Promise((done) => requestAnimationFrame(() => setTimeout(() => done(true), 50)))").await;
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let stack = LocalStack::open(data.path(), Vec::new(), Some(url.clone()))?;
    let seeding = std::time::Instant::now();
    seed(&stack, o.instances).await?;
    eprintln!("seeded {} instances in {:.1} s", o.instances, seeding.elapsed().as_secs_f64());
    let config = ApiConfig::from_env(&Env::from_pairs([("SIKURD_BCRYPT_COST", "4")]), Deployment::Local)?;
    let state = ApiState::new(stack.store.clone(), stack.clock.clone(), config, Arc::new(stack.poller.clone()));
    let app = sikurd::api::router(state);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
    });

    let browser = Browser::launch("dashboard_fleet").await;
    let page = browser.open(&format!("{url}/healthz")).await;
    let login = serde_json::json!({ "email": EMAIL, "password": PASSWORD });
    let status = page
        .eval(&format!(
            "fetch('/api/v1/auth/login', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }}, \
             body: JSON.stringify({login}) }}).then(r => r.status)"
        ))
        .await;
    anyhow::ensure!(status == 200, "signing in answered {status}");
    page.on_new_document(OBSERVE).await;

    // First render: navigation start to every row in the table, then to the next frame.
    let mut rendered = Vec::new();
    let mut painted = Vec::new();
    for load in 0..o.loads.max(1) {
        if load == 0 {
            page.goto(&format!("{url}/#/fleet")).await;
        } else {
            page.reload().await;
        }
        page.wait_until("window.__bench && window.__bench.painted !== null", "the fleet to render").await;
        let b = page.eval("window.__bench").await;
        let rows = b["rows"].as_u64().unwrap_or(0);
        let instances = b["instances"].as_u64().unwrap_or(0);
        anyhow::ensure!(instances as usize == o.instances, "the fleet loaded {instances} instances of {}", o.instances);
        anyhow::ensure!(rows as usize == o.instances.min(FIRST_PAGE), "the fleet's first page has {rows} rows");
        let (r, p) = (b["rendered"].as_f64().context("no render mark")?, b["painted"].as_f64().context("no paint")?);
        let cache = if load == 0 { " (empty cache)" } else { "" };
        println!(
            "load {}: {instances} instances loaded and counted, {rows} rows rendered at {r:.0} ms, painted at {p:.0} ms{cache}",
            load + 1
        );
        rendered.push(r);
        painted.push(p);
    }
    println!(
        "first render of {} instances: median {:.0} ms (painted {:.0} ms), slowest {:.0} ms (painted {:.0} ms); target under 1000 ms",
        o.instances,
        median(&mut rendered.clone()),
        median(&mut painted.clone()),
        rendered.iter().copied().fold(0.0, f64::max),
        painted.iter().copied().fold(0.0, f64::max),
    );

    // Interactions with real input events.
    let start = now(&page).await;
    let mut actions = 0usize;
    for _ in 0..3 {
        page.click("#fleet-next").await;
        actions += 1;
        settle(&page).await;
    }
    page.fill("#fleet-search", "pbx-004").await;
    actions += "pbx-004".len();
    settle(&page).await;
    for _ in 0.."pbx-004".len() {
        page.press("#fleet-search", "Backspace").await;
        actions += 1;
    }
    settle(&page).await;
    for column in ["status", "calls", "last_poll", "alerts", "name", "name"] {
        page.click(&format!("button.sort[data-sort=\"{column}\"]")).await;
        actions += 1;
        settle(&page).await;
    }
    for status in ["degraded", "unreachable"] {
        page.click(&format!("#status-counts .count.status-{status}")).await;
        actions += 1;
        settle(&page).await;
    }
    page.click("#status-counts .count:not([class*=\"status-\"])").await;
    actions += 1;
    settle(&page).await;
    let after = observed(&page).await?;
    let slow = interactions(&after, start);
    let (tasks, longest_task) = long_tasks(&after, start);
    let mut durations: Vec<f64> = slow.iter().map(|(_, d)| *d).collect();
    let worst = durations.iter().copied().fold(0.0, f64::max);
    let over = |ms: f64| durations.iter().filter(|d| **d > ms).count();
    let (over_50, over_100) = (over(50.0), over(100.0));
    println!(
        "interactions: {actions} (3 page turns, typing, deleting, 6 sorts, 3 filters); time to the next paint \
         (those of 16 ms or more: {}): median {:.0} ms, slowest {worst:.0} ms, {over_50} over 50 ms, {over_100} over 100 ms; \
         long tasks (> 50 ms): {tasks}, longest {longest_task:.0} ms",
        durations.len(),
        median(&mut durations),
    );
    for (name, d) in slow.iter().filter(|(_, d)| *d > 50.0) {
        println!("  over 50 ms: {name} {d:.0} ms");
    }

    // Scrolling the whole table: frames longer than 50 ms on the main thread.
    let frames = page
        .eval(
            "new Promise((done) => { const gaps = []; let last = performance.now(); \
             const step = () => { const t = performance.now(); gaps.push(t - last); last = t; \
             if (window.scrollY + innerHeight >= document.body.scrollHeight - 2 || gaps.length > 600) { done(gaps); return; } \
             window.scrollBy(0, 120); requestAnimationFrame(step); }; window.scrollTo(0, 0); requestAnimationFrame(step); })",
        )
        .await;
    let gaps: Vec<f64> = frames.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
    println!(
        "scrolling to the end: {} frames, longest {:.0} ms, {} over 50 ms",
        gaps.len(),
        gaps.iter().skip(1).copied().fold(0.0, f64::max),
        gaps.iter().skip(1).filter(|g| **g > 50.0).count()
    );

    if o.refresh {
        let before = now(&page).await;
        tokio::time::sleep(Duration::from_secs(32)).await;
        let after = observed(&page).await?;
        let (tasks, longest) = long_tasks(&after, before);
        println!("the page's own refresh (every 30 s): long tasks {tasks}, longest {longest:.0} ms");
    }

    drop(browser);
    server.abort();
    Ok(())
}
