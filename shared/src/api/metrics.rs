//! Metric history of one instance, downsampled for charts.
//!
//! `GET /api/v1/instances/{id}/metrics?from&to` reads the snapshots in `[from, to]` (RFC 3339,
//! e.g. `2026-11-29T08:00:00Z`; default the last 24 hours; at most 90 days) and answers with at
//! most about 500 points. Snapshots are grouped into buckets of equal width (a whole number of
//! minutes, at least one, aligned to the Unix epoch): averages and extremes per bucket, so a
//! 24-hour chart has 3-minute points and a 90-day chart 5-hour points.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::Params;
use super::instances::visible_instance;
use crate::domain::{MetricSnapshot, PollOutcome};

/// The most points a series has (one more when the range straddles bucket edges).
pub const MAX_POINTS: i64 = 500;
/// The longest range one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 90;
/// The range when none is given.
pub const DEFAULT_RANGE_HOURS: i64 = 24;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// Start, RFC 3339 (default: `to` minus 24 hours).
    pub from: Option<String>,
    /// End, RFC 3339 (default: now).
    pub to: Option<String>,
}

/// One bucket of snapshots.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct MetricPoint {
    /// The bucket's start.
    pub at: DateTime<Utc>,
    /// Snapshots in the bucket.
    pub samples: u32,
    /// Of those, polls that did not answer (unreachable, login failed, unsupported).
    pub polls_failed: u32,
    pub latency_ms_avg: f64,
    pub calls_active_avg: Option<f64>,
    pub calls_active_max: Option<u32>,
    pub max_sim_calls: Option<u32>,
    pub extensions_registered_avg: Option<f64>,
    pub extensions_registered_min: Option<u32>,
    pub extensions_total: Option<u32>,
    pub trunks_registered_avg: Option<f64>,
    pub trunks_registered_min: Option<u32>,
    pub trunks_total: Option<u32>,
    pub disk_usage_percent_max: Option<u8>,
    /// False if any snapshot in the bucket found the licence inactive.
    pub licence_active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricSeries {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The width of each point's bucket.
    pub bucket_seconds: i64,
    pub points: Vec<MetricPoint>,
}

#[derive(Default)]
struct Stat {
    sum: f64,
    n: u32,
    min: Option<u32>,
    max: Option<u32>,
}

impl Stat {
    fn add(&mut self, value: Option<u32>) {
        if let Some(v) = value {
            self.sum += f64::from(v);
            self.n += 1;
            self.min = Some(self.min.map_or(v, |m| m.min(v)));
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
        }
    }

    fn avg(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / f64::from(self.n))
    }
}

#[derive(Default)]
struct Bucket {
    samples: u32,
    failed: u32,
    latency: Stat,
    calls: Stat,
    max_sim_calls: Stat,
    extensions: Stat,
    extensions_total: Stat,
    trunks: Stat,
    trunks_total: Stat,
    disk: Stat,
    licence_active: Option<bool>,
}

impl Bucket {
    fn add(&mut self, s: &MetricSnapshot) {
        self.samples += 1;
        if s.outcome != PollOutcome::Ok {
            self.failed += 1;
        }
        self.latency.add(Some(s.latency_ms));
        self.calls.add(s.calls_active);
        self.max_sim_calls.add(s.max_sim_calls);
        self.extensions.add(s.extensions_registered);
        self.extensions_total.add(s.extensions_total);
        self.trunks.add(s.trunks_registered);
        self.trunks_total.add(s.trunks_total);
        self.disk.add(s.disk_usage_percent.map(u32::from));
        if let Some(active) = s.licence_active {
            self.licence_active = Some(self.licence_active.unwrap_or(true) && active);
        }
    }

    fn point(&self, at: DateTime<Utc>) -> MetricPoint {
        MetricPoint {
            at,
            samples: self.samples,
            polls_failed: self.failed,
            latency_ms_avg: self.latency.avg().unwrap_or(0.0),
            calls_active_avg: self.calls.avg(),
            calls_active_max: self.calls.max,
            max_sim_calls: self.max_sim_calls.max,
            extensions_registered_avg: self.extensions.avg(),
            extensions_registered_min: self.extensions.min,
            extensions_total: self.extensions_total.max,
            trunks_registered_avg: self.trunks.avg(),
            trunks_registered_min: self.trunks.min,
            trunks_total: self.trunks_total.max,
            disk_usage_percent_max: self.disk.max.and_then(|d| u8::try_from(d).ok()),
            licence_active: self.licence_active,
        }
    }
}

/// The bucket width for a range: whole minutes, at least one, so that it has at most
/// [`MAX_POINTS`] buckets.
pub fn bucket_seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let span = (to - from).num_seconds().max(1);
    let minutes = (span + MAX_POINTS * 60 - 1) / (MAX_POINTS * 60);
    minutes.max(1) * 60
}

/// Groups snapshots into buckets of `bucket` seconds aligned to the epoch.
pub struct Downsampler {
    bucket: i64,
    buckets: BTreeMap<i64, Bucket>,
}

impl Downsampler {
    pub fn new(bucket_seconds: i64) -> Self {
        Self { bucket: bucket_seconds.max(1), buckets: BTreeMap::new() }
    }

    pub fn add(&mut self, snapshot: &MetricSnapshot) {
        let ts = snapshot.at.timestamp();
        self.buckets.entry(ts - ts.rem_euclid(self.bucket)).or_default().add(snapshot);
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<MetricPoint> {
        self.buckets.iter().filter_map(|(start, b)| DateTime::from_timestamp(*start, 0).map(|at| b.point(at))).collect()
    }
}

fn time(raw: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_query(format!("{name} must be an RFC 3339 time such as 2026-11-29T08:00:00Z")))
}

/// The instance's snapshots in a time range, downsampled to at most about 500 points.
#[utoipa::path(get, path = "/api/v1/instances/{id}/metrics", tag = "instances",
    params(("id" = String, Path, description = "`ins_…`"), MetricsParams),
    responses((status = 200, body = MetricSeries), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn metrics(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(params): Params<MetricsParams>,
) -> Result<Json<MetricSeries>, ApiError> {
    let instance = visible_instance(&state, &caller, &id).await?;
    let to = params.to.as_deref().map(|t| time(t, "to")).transpose()?.unwrap_or_else(|| state.now());
    let from = params
        .from
        .as_deref()
        .map(|f| time(f, "from"))
        .transpose()?
        .unwrap_or(to - Duration::hours(DEFAULT_RANGE_HOURS));
    if from > to {
        return Err(ApiError::bad_query("from must not be after to"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::bad_query(format!("the range must be at most {MAX_RANGE_DAYS} days")));
    }
    let bucket = bucket_seconds(from, to);
    let mut downsampler = Downsampler::new(bucket);
    let mut cursor = None;
    loop {
        let page = state.store().metrics.range(caller.tenant_id(), &instance.id, from, to, 1000, cursor).await?;
        page.items.iter().for_each(|s| downsampler.add(s));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(Json(MetricSeries { from, to, bucket_seconds: bucket, points: downsampler.points() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap_or_default()
    }

    fn snap(minute: i64, calls: u32, outcome: PollOutcome) -> MetricSnapshot {
        let mut s = MetricSnapshot::failed(at(minute), outcome, 100);
        s.calls_active = Some(calls);
        s.licence_active = Some(calls != 7);
        s
    }

    #[test]
    fn buckets_are_whole_minutes_and_at_most_500_per_range() {
        let from = at(0);
        assert_eq!(bucket_seconds(from, from + Duration::hours(1)), 60);
        assert_eq!(bucket_seconds(from, from + Duration::hours(24)), 180);
        assert_eq!(bucket_seconds(from, from + Duration::days(7)), 1260);
        assert_eq!(bucket_seconds(from, from + Duration::days(90)), 15_600);
        for days in [1, 7, 30, 90] {
            let b = bucket_seconds(from, from + Duration::days(days));
            assert!(Duration::days(days).num_seconds() / b <= MAX_POINTS, "{days} days in {b} s buckets");
        }
    }

    #[test]
    fn a_bucket_averages_its_snapshots_and_keeps_their_extremes() {
        let mut d = Downsampler::new(180);
        for (minute, calls, outcome) in [
            (0, 2, PollOutcome::Ok),
            (1, 4, PollOutcome::Ok),
            (2, 7, PollOutcome::Unreachable),
            (3, 1, PollOutcome::Ok),
        ] {
            d.add(&snap(minute, calls, outcome));
        }
        let points = d.points();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].at, at(0));
        assert_eq!((points[0].samples, points[0].polls_failed), (3, 1));
        assert_eq!(points[0].calls_active_avg, Some(13.0 / 3.0));
        assert_eq!(points[0].calls_active_max, Some(7));
        assert_eq!(points[0].licence_active, Some(false));
        assert_eq!((points[1].samples, points[1].calls_active_max, points[1].licence_active), (1, Some(1), Some(true)));
    }
}
