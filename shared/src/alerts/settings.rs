//! A tenant's alert settings: rule overrides, maintenance windows and notification routes.
//!
//! [`AlertSettings`] is stored as one item per tenant, so one read gives the evaluator everything
//! it needs; its limits keep that item under DynamoDB's 400 KB. Everything here is pure: no clock,
//! no store. The mutators check the whole settings after the change and leave them untouched on
//! error, so settings changed only through them always pass [`AlertSettings::validate`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::{AlertKind, Severity, Thresholds};
use crate::domain::{GroupName, InstanceId, ValueError};

crate::domain::prefixed_id!(
    /// A rule override: `ov_…`.
    OverrideId, "ov", "override id"
);
crate::domain::prefixed_id!(
    /// A maintenance window: `mw_…`.
    WindowId, "mw", "maintenance window id"
);
crate::domain::prefixed_id!(
    /// A notification route: `rt_…`.
    RouteId, "rt", "route id"
);
crate::domain::prefixed_id!(
    /// A notification channel (e-mail, webhook…): `ch_…`. Channels are stored elsewhere; routes
    /// only name them.
    ChannelId, "ch", "channel id"
);

/// Consecutive polls, for `unreachable_polls` and `trunk_down_polls`: polls run every minute, so
/// up to an hour.
const POLLS: std::ops::RangeInclusive<u32> = 1..=60;
const BACKUP_STALE_DAYS: std::ops::RangeInclusive<i64> = 1..=365;
const EXPIRY_DAYS: std::ops::RangeInclusive<i64> = 1..=365;
/// A weekly occurrence lasts at most a week.
const WEEKLY_MINUTES: std::ops::RangeInclusive<u32> = 1..=7 * 24 * 60;
/// Real UTC offsets run from -12:00 to +14:00.
const UTC_OFFSET_MINUTES: std::ops::RangeInclusive<i32> = -12 * 60..=14 * 60;
const MUTE_HOURS: std::ops::RangeInclusive<u32> = 1..=7 * 24;
const REMIND_MINUTES: std::ops::RangeInclusive<u32> = 15..=7 * 24 * 60;
const ESCALATE_MINUTES: std::ops::RangeInclusive<u32> = 5..=7 * 24 * 60;
const ROUTE_CHANNELS: usize = 5;
const NAME_CHARS: usize = 100;
const REASON_CHARS: usize = 100;
/// Long enough for any e-mail address.
const CREATED_BY_BYTES: usize = 254;
/// How far [`AlertSettings::silenced_until`] follows a chain of windows. Stopping early is safe:
/// asking again at the returned end gives the rest.
const CHAIN_HORIZON: Duration = Duration::days(31);
const CHAIN_STEPS: usize = 1000;

/// What a rule override or a maintenance window applies to. Serialized as `"tenant"`,
/// `{"group": "Acme"}` or `{"instance": "ins_…"}`. Groups match ignoring case, as the fleet
/// filter does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every instance of the tenant.
    Tenant,
    /// The instances of one group.
    #[schema(value_type = String)]
    Group(GroupName),
    /// One instance.
    #[schema(value_type = String)]
    Instance(InstanceId),
}

impl Scope {
    /// Whether this scope includes `instance`, a member of `group`.
    pub fn covers(&self, instance: &InstanceId, group: Option<&GroupName>) -> bool {
        match self {
            Scope::Tenant => true,
            Scope::Group(g) => group.is_some_and(|group| same_group(g, group)),
            Scope::Instance(i) => i == instance,
        }
    }

    /// Whether both name the same scope (groups ignoring case).
    pub fn same_as(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Tenant, Scope::Tenant) => true,
            (Scope::Group(a), Scope::Group(b)) => same_group(a, b),
            (Scope::Instance(a), Scope::Instance(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Tenant => f.write_str("the tenant"),
            Scope::Group(g) => write!(f, "group \"{g}\""),
            Scope::Instance(i) => write!(f, "instance {i}"),
        }
    }
}

fn same_group(a: &GroupName, b: &GroupName) -> bool {
    a.as_str().to_lowercase() == b.as_str().to_lowercase()
}

/// Changes to [`Thresholds`] at one scope; an absent value inherits from the wider scope. Only
/// what a user may sensibly change is here (the flapping window is not).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ThresholdPatch {
    /// Consecutive unreachable polls before `instance_unreachable` (1 to 60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_polls: Option<u32>,
    /// Consecutive offline polls before `trunk_down` (1 to 60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trunk_down_polls: Option<u32>,
    /// Age of the last successful backup that opens `backup_stale` (1 to 365 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_stale_days: Option<u32>,
    /// Disk use that opens `disk_high` (1 to 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_open_percent: Option<u8>,
    /// Disk use below which `disk_high` resolves: below the open percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_recover_percent: Option<u8>,
    /// Days before licence or maintenance end for info, warning and critical: descending, 1 to 365.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<u32>>, min_items = 3, max_items = 3)]
    pub expiry_days: Option<[u32; 3]>,
    /// Share of licensed simultaneous calls that warns: above the recover percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_warning_percent: Option<u32>,
    /// Share that is critical: above the warning percent, at most 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_critical_percent: Option<u32>,
    /// Share below which `calls_near_limit` resolves: at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_recover_percent: Option<u32>,
}

/// The rules whose thresholds are checked together.
#[derive(Clone, Copy)]
enum Rule {
    Unreachable,
    TrunkDown,
    BackupStale,
    Disk,
    Expiry,
    Calls,
}

const RULES: [Rule; 6] = [Rule::Unreachable, Rule::TrunkDown, Rule::BackupStale, Rule::Disk, Rule::Expiry, Rule::Calls];

impl Rule {
    fn set(self, p: &ThresholdPatch, t: &mut Thresholds) {
        match self {
            Rule::Unreachable => set(&mut t.unreachable_polls, p.unreachable_polls),
            Rule::TrunkDown => set(&mut t.trunk_down_polls, p.trunk_down_polls),
            Rule::BackupStale => {
                set(&mut t.backup_stale_after, p.backup_stale_days.map(|d| Duration::days(i64::from(d))));
            }
            Rule::Disk => {
                set(&mut t.disk_open_percent, p.disk_open_percent);
                set(&mut t.disk_recover_percent, p.disk_recover_percent);
            }
            Rule::Expiry => set(&mut t.expiry_days, p.expiry_days.map(|days| days.map(i64::from))),
            Rule::Calls => {
                set(&mut t.calls_warning_percent, p.calls_warning_percent);
                set(&mut t.calls_critical_percent, p.calls_critical_percent);
                set(&mut t.calls_recover_percent, p.calls_recover_percent);
            }
        }
    }

    fn check(self, t: &Thresholds) -> Result<(), ValueError> {
        let polls = |what, n: u32| {
            if POLLS.contains(&n) {
                Ok(())
            } else {
                Err(ValueError::new(what, format!("must be between 1 and 60 polls, not {n}")))
            }
        };
        match self {
            Rule::Unreachable => polls("unreachable polls", t.unreachable_polls),
            Rule::TrunkDown => polls("trunk down polls", t.trunk_down_polls),
            Rule::BackupStale => {
                let stale = t.backup_stale_after;
                if stale.num_days() < *BACKUP_STALE_DAYS.start() || stale > Duration::days(*BACKUP_STALE_DAYS.end()) {
                    return Err(ValueError::new(
                        "backup stale days",
                        format!("must be between 1 and 365 days, not {}", stale.num_days()),
                    ));
                }
                Ok(())
            }
            Rule::Disk => {
                let what = "disk thresholds";
                let (open, recover) = (t.disk_open_percent, t.disk_recover_percent);
                if !(1..=100).contains(&open) {
                    return Err(ValueError::new(what, format!("open percent must be between 1 and 100, not {open}")));
                }
                if recover == 0 {
                    return Err(ValueError::new(what, "recover percent must be at least 1"));
                }
                if recover >= open {
                    return Err(ValueError::new(
                        what,
                        format!("recover percent ({recover}) must be below open percent ({open})"),
                    ));
                }
                Ok(())
            }
            Rule::Expiry => {
                let days = t.expiry_days;
                if days.iter().any(|d| !EXPIRY_DAYS.contains(d)) {
                    return Err(ValueError::new(
                        "expiry days",
                        format!("must each be between 1 and 365, not {days:?}"),
                    ));
                }
                if !days.is_sorted_by(|a, b| a > b) {
                    return Err(ValueError::new(
                        "expiry days",
                        format!("must descend from info to warning to critical, not {days:?}"),
                    ));
                }
                Ok(())
            }
            Rule::Calls => {
                let what = "calls thresholds";
                let (warning, critical, recover) =
                    (t.calls_warning_percent, t.calls_critical_percent, t.calls_recover_percent);
                if critical > 100 {
                    return Err(ValueError::new(what, format!("critical percent must be at most 100, not {critical}")));
                }
                if recover == 0 {
                    return Err(ValueError::new(what, "recover percent must be at least 1"));
                }
                if recover >= warning {
                    return Err(ValueError::new(
                        what,
                        format!("recover percent ({recover}) must be below warning percent ({warning})"),
                    ));
                }
                if warning >= critical {
                    return Err(ValueError::new(
                        what,
                        format!("warning percent ({warning}) must be below critical percent ({critical})"),
                    ));
                }
                Ok(())
            }
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

impl ThresholdPatch {
    /// `base` with this patch's values, checked as a whole: polls 1 to 60, disk recover below
    /// open, calls recover below warning below critical at most 100, expiry days descending and
    /// above 0. The error names the first value that does not hold.
    pub fn apply(&self, base: &Thresholds) -> Result<Thresholds, ValueError> {
        let mut t = base.clone();
        for rule in RULES {
            rule.set(self, &mut t);
        }
        for rule in RULES {
            rule.check(&t)?;
        }
        Ok(t)
    }

    /// `base` with this patch's values, rule by rule, skipping a rule whose values would not
    /// hold together (stored settings can combine a group's and an instance's patches that were
    /// never checked together; the evaluator must still get sound thresholds).
    fn overlay(&self, base: &mut Thresholds) {
        for rule in RULES {
            let mut next = base.clone();
            rule.set(self, &mut next);
            if rule.check(&next).is_ok() {
                *base = next;
            }
        }
    }
}

/// Rule changes at one scope. At most one override per scope; an instance's override wins over
/// its group's, which wins over the tenant's, which wins over the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleOverride {
    pub id: OverrideId,
    pub scope: Scope,
    /// Kinds switched off (`false`) or back on (`true`) at this scope; an absent kind inherits.
    /// A disabled kind never opens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enabled: BTreeMap<AlertKind, bool>,
    #[serde(default)]
    pub thresholds: ThresholdPatch,
}

impl RuleOverride {
    /// An override that changes nothing yet, with a new id.
    pub fn new(scope: Scope) -> Self {
        Self { id: OverrideId::generate(), scope, enabled: BTreeMap::new(), thresholds: ThresholdPatch::default() }
    }
}

/// A time of day, `HH:MM` on a 24-hour clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// Accepts exactly `HH:MM`, from `00:00` to `23:59`.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::new("time of day", format!("must be HH:MM from 00:00 to 23:59, not {s:?}"));
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || !digits(m) {
            return Err(bad());
        }
        let (hour, minute) = (h.parse::<u16>().map_err(|_| bad())?, m.parse::<u16>().map_err(|_| bad())?);
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(Self { minutes: hour * 60 + minute })
    }

    pub fn hour(self) -> u32 {
        u32::from(self.minutes / 60)
    }

    pub fn minute(self) -> u32 {
        u32::from(self.minutes % 60)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        t.to_string()
    }
}

impl utoipa::PartialSchema for TimeOfDay {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A time of day, `HH:MM` on a 24-hour clock."))
            .pattern(Some("^([01][0-9]|2[0-3]):[0-5][0-9]$"))
            .examples(["22:00"])
            .into()
    }
}

impl utoipa::ToSchema for TimeOfDay {}

/// When a maintenance window silences alerts. Serialized with `"type": "once"` or
/// `"type": "weekly"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WindowSchedule {
    /// From `starts_at` (included) to `ends_at` (excluded).
    Once { starts_at: DateTime<Utc>, ends_at: DateTime<Utc> },
    /// Every listed day at `start` local time, for `duration_minutes` (at most a week; an
    /// occurrence may run past midnight and past Sunday). Local time is UTC plus a fixed
    /// `utc_offset_minutes` (from -720 to +840): there is no time-zone database, so a window does
    /// not follow daylight saving time; change the offset when the clocks change.
    Weekly {
        /// `"mon"` to `"sun"`, each at most once.
        #[serde(with = "day_names")]
        #[schema(schema_with = day_names::schema)]
        days: Vec<Weekday>,
        start: TimeOfDay,
        duration_minutes: u32,
        #[serde(default)]
        utc_offset_minutes: i32,
    },
}

impl WindowSchedule {
    /// The end of the occurrence covering `t` (the latest, if occurrences overlap); `None` when
    /// no occurrence covers `t`.
    pub fn active_at(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.occurrences_near(t).into_iter().filter(|(start, end)| *start <= t && t < *end).map(|(_, end)| end).max()
    }

    /// The earliest end after `t` of an occurrence, running or to come; `None` when none ends
    /// after `t` (a past once window, a weekly window without days).
    pub fn next_end_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.occurrences_near(t).into_iter().map(|(_, end)| end).filter(|end| *end > t).min()
    }

    /// The occurrences that start within 8 days of `t`, either way: every occurrence covering `t`
    /// and the next one to start.
    fn occurrences_near(&self, t: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        match self {
            WindowSchedule::Once { starts_at, ends_at } => vec![(*starts_at, *ends_at)],
            WindowSchedule::Weekly { days, start, duration_minutes, utc_offset_minutes } => {
                let offset = Duration::minutes(i64::from(*utc_offset_minutes));
                let Some(local) = t.checked_add_signed(offset) else { return Vec::new() };
                let today = local.date_naive();
                (-8..=8)
                    .filter_map(|k| today.checked_add_signed(Duration::days(k)))
                    .filter(|date| days.contains(&chrono::Datelike::weekday(date)))
                    .filter_map(|date| occurrence(date, *start, offset, *duration_minutes))
                    .collect()
            }
        }
    }

    fn validate(&self) -> Result<(), ValueError> {
        match self {
            WindowSchedule::Once { starts_at, ends_at } => {
                if ends_at <= starts_at {
                    return Err(ValueError::new("maintenance window", "must end after it starts"));
                }
            }
            WindowSchedule::Weekly { days, duration_minutes, utc_offset_minutes, .. } => {
                if days.is_empty() {
                    return Err(ValueError::new("days", "must name at least one day"));
                }
                let mut seen = [false; 7];
                for day in days {
                    let slot = &mut seen[day.num_days_from_monday() as usize];
                    if *slot {
                        return Err(ValueError::new("days", format!("must not repeat {}", day_names::name(*day))));
                    }
                    *slot = true;
                }
                if !WEEKLY_MINUTES.contains(duration_minutes) {
                    return Err(ValueError::new(
                        "duration",
                        format!("must be between 1 and 10080 minutes (a week), not {duration_minutes}"),
                    ));
                }
                if !UTC_OFFSET_MINUTES.contains(utc_offset_minutes) {
                    return Err(ValueError::new(
                        "UTC offset",
                        format!("must be between -720 and 840 minutes, not {utc_offset_minutes}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The occurrence of a weekly window on local `date`, in UTC.
fn occurrence(
    date: NaiveDate,
    start: TimeOfDay,
    offset: Duration,
    duration_minutes: u32,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local = date.and_hms_opt(start.hour(), start.minute(), 0)?;
    let starts = local.and_utc().checked_sub_signed(offset)?;
    let ends = starts.checked_add_signed(Duration::minutes(i64::from(duration_minutes)))?;
    Some((starts, ends))
}

/// Weekdays as `"mon"` to `"sun"`.
mod day_names {
    use chrono::Weekday;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    pub(super) fn name(day: Weekday) -> &'static str {
        match day {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    fn parse(name: &str) -> Option<Weekday> {
        match name {
            "mon" => Some(Weekday::Mon),
            "tue" => Some(Weekday::Tue),
            "wed" => Some(Weekday::Wed),
            "thu" => Some(Weekday::Thu),
            "fri" => Some(Weekday::Fri),
            "sat" => Some(Weekday::Sat),
            "sun" => Some(Weekday::Sun),
            _ => None,
        }
    }

    pub(super) fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(days.iter().map(|d| name(*d)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|n| parse(n).ok_or_else(|| D::Error::custom(format!("unknown day {n:?}: expected mon, tue, … sun"))))
            .collect()
    }

    pub(super) fn schema() -> utoipa::openapi::schema::Array {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(NAMES)))
            .min_items(Some(1))
            .max_items(Some(7))
            .unique_items(true)
            .examples([serde_json::json!(["sat", "sun"])])
            .build()
    }
}

/// A time when alerts of a scope are silenced: they still open and resolve, but nobody is
/// notified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MaintenanceWindow {
    pub id: WindowId,
    pub scope: Scope,
    /// Why, for the people who see the silence (at most 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub schedule: WindowSchedule,
    /// Who made it (at most 254 bytes: an e-mail address fits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

impl MaintenanceWindow {
    /// A window with a new id, no reason and no author.
    pub fn new(scope: Scope, schedule: WindowSchedule) -> Self {
        Self { id: WindowId::generate(), scope, reason: None, schedule, created_by: None }
    }

    /// "Mute for `hours` hours": a once window from `now`, with the reason `muted`. From 1 hour to
    /// a week; longer silences are maintenance windows, or a rule disabled.
    pub fn mute(scope: Scope, now: DateTime<Utc>, hours: u32, actor: impl Into<String>) -> Result<Self, ValueError> {
        if !MUTE_HOURS.contains(&hours) {
            return Err(ValueError::new("mute", format!("must last between 1 and 168 hours (a week), not {hours}")));
        }
        let ends_at = now
            .checked_add_signed(Duration::hours(i64::from(hours)))
            .ok_or_else(|| ValueError::new("mute", "ends after the last representable time"))?;
        Ok(Self {
            reason: Some("muted".to_owned()),
            created_by: Some(actor.into()),
            ..Self::new(scope, WindowSchedule::Once { starts_at: now, ends_at })
        })
    }

    /// Checks the schedule and the texts.
    pub fn validate(&self) -> Result<(), ValueError> {
        self.schedule.validate()?;
        if let Some(reason) = &self.reason {
            check_text("reason", reason, REASON_CHARS)?;
        }
        if let Some(by) = &self.created_by {
            check_text("created by", by, CREATED_BY_BYTES)?;
            if by.len() > CREATED_BY_BYTES {
                return Err(ValueError::new("created by", format!("must be at most {CREATED_BY_BYTES} bytes")));
            }
        }
        Ok(())
    }
}

fn check_text(what: &'static str, s: &str, max_chars: usize) -> Result<(), ValueError> {
    if s.trim().is_empty() {
        return Err(ValueError::new(what, "must not be blank"));
    }
    if s.chars().count() > max_chars {
        return Err(ValueError::new(what, format!("must be at most {max_chars} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(ValueError::new(what, "must not contain control characters"));
    }
    Ok(())
}

/// Who is told about which alerts: alerts of `kinds` (all when empty) at `min_severity` or above
/// go to `channels`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Route {
    pub id: RouteId,
    /// At most 100 characters.
    pub name: String,
    /// The kinds routed; empty routes every kind.
    #[serde(default)]
    pub kinds: Vec<AlertKind>,
    pub min_severity: Severity,
    /// 1 to 5 channels, each once.
    #[schema(min_items = 1, max_items = 5)]
    pub channels: Vec<ChannelId>,
    /// Notify again while the alert stays open, every so many minutes (15 to 10080).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_every_minutes: Option<u32>,
    /// Notify `escalate_to` once the alert has been open this long (5 to 10080 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after_minutes: Option<u32>,
    /// Up to 5 channels; required exactly when `escalate_after_minutes` is set.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub escalate_to: Vec<ChannelId>,
    /// Whether to tell the channels when the alert resolves.
    #[serde(default = "yes")]
    pub notify_resolved: bool,
}

fn yes() -> bool {
    true
}

impl Route {
    /// A route of every kind at any severity to `channels`, with a new id, no reminder and no
    /// escalation, notifying resolutions.
    pub fn new(name: impl Into<String>, channels: Vec<ChannelId>) -> Self {
        Self {
            id: RouteId::generate(),
            name: name.into(),
            kinds: Vec::new(),
            min_severity: Severity::Info,
            channels,
            remind_every_minutes: None,
            escalate_after_minutes: None,
            escalate_to: Vec::new(),
            notify_resolved: true,
        }
    }

    /// Whether an alert of `kind` at `severity` goes through this route.
    pub fn matches(&self, kind: AlertKind, severity: Severity) -> bool {
        severity >= self.min_severity && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }

    pub fn validate(&self) -> Result<(), ValueError> {
        check_text("route name", &self.name, NAME_CHARS)?;
        if has_repeats(&self.kinds) {
            return Err(ValueError::new("kinds", "must not name a kind twice"));
        }
        if self.channels.is_empty() || self.channels.len() > ROUTE_CHANNELS {
            return Err(ValueError::new("channels", "must name 1 to 5 channels"));
        }
        if has_repeats(&self.channels) {
            return Err(ValueError::new("channels", "must not name a channel twice"));
        }
        if let Some(m) = self.remind_every_minutes.filter(|m| !REMIND_MINUTES.contains(m)) {
            return Err(ValueError::new("reminder", format!("must be every 15 to 10080 minutes, not {m}")));
        }
        match (self.escalate_after_minutes, self.escalate_to.is_empty()) {
            (Some(m), _) if !ESCALATE_MINUTES.contains(&m) => {
                return Err(ValueError::new("escalation", format!("must come after 5 to 10080 minutes, not {m}")));
            }
            (Some(_), true) => {
                return Err(ValueError::new(
                    "escalation",
                    "escalate_to must name a channel when escalate_after_minutes is set",
                ));
            }
            (None, false) => {
                return Err(ValueError::new("escalation", "escalate_to needs escalate_after_minutes"));
            }
            _ => {}
        }
        if self.escalate_to.len() > ROUTE_CHANNELS {
            return Err(ValueError::new("escalation", "escalate_to must name at most 5 channels"));
        }
        if has_repeats(&self.escalate_to) {
            return Err(ValueError::new("escalation", "escalate_to must not name a channel twice"));
        }
        Ok(())
    }
}

fn has_repeats<T: PartialEq>(items: &[T]) -> bool {
    items.iter().enumerate().any(|(i, a)| items[..i].contains(a))
}

/// Why a change to the settings was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error(transparent)]
    Invalid(#[from] ValueError),
    #[error("at most {max} {what} per tenant")]
    TooMany { what: &'static str, max: usize },
}

/// What [`AlertSettings::remove_channel_references`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelReferencesRemoved {
    /// Routes that still have channels.
    pub updated: Vec<RouteId>,
    /// Routes removed because the channel was their only one.
    pub removed: Vec<RouteId>,
}

/// A tenant's alert settings, stored as one item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AlertSettings {
    /// Raised by the store on each write, which is conditional on the revision read (optimistic
    /// concurrency); the mutators here leave it alone.
    pub revision: u64,
    pub overrides: Vec<RuleOverride>,
    pub windows: Vec<MaintenanceWindow>,
    pub routes: Vec<Route>,
}

impl AlertSettings {
    // The limits keep the largest settings allowed (every text at its longest, in 4-byte
    // characters) at about 285 KB as the table adapters measure an item (tested), so they fit in
    // one 400 KB DynamoDB item with room to spare.
    /// At most this many rule overrides (one per scope).
    pub const MAX_OVERRIDES: usize = 100;
    /// At most this many maintenance windows, mutes included; prune the ended ones.
    pub const MAX_WINDOWS: usize = 100;
    /// At most this many routes.
    pub const MAX_ROUTES: usize = 50;

    /// Checks every element, the limits, that ids and override scopes are unique, and that each
    /// override's thresholds hold over what it inherits (a group's or an instance's over the
    /// tenant's; an instance's group is not known here, so those two are not checked together,
    /// and [`AlertSettings::thresholds_for`] skips a rule whose combined values do not hold).
    pub fn validate(&self) -> Result<(), SettingsError> {
        limit("rule overrides", self.overrides.len(), Self::MAX_OVERRIDES)?;
        limit("maintenance windows", self.windows.len(), Self::MAX_WINDOWS)?;
        limit("routes", self.routes.len(), Self::MAX_ROUTES)?;
        unique_ids("override id", self.overrides.iter().map(|o| &o.id))?;
        unique_ids("maintenance window id", self.windows.iter().map(|w| &w.id))?;
        unique_ids("route id", self.routes.iter().map(|r| &r.id))?;
        for (i, o) in self.overrides.iter().enumerate() {
            if self.overrides[..i].iter().any(|other| other.scope.same_as(&o.scope)) {
                return Err(ValueError::new("rule override", format!("{} already has one", o.scope)).into());
            }
        }
        let defaults = Thresholds::default();
        let tenant = match self.overrides.iter().find(|o| o.scope == Scope::Tenant) {
            Some(o) => o.thresholds.apply(&defaults).map_err(|e| in_override(e, &o.scope))?,
            None => defaults,
        };
        for o in self.overrides.iter().filter(|o| o.scope != Scope::Tenant) {
            o.thresholds.apply(&tenant).map_err(|e| in_override(e, &o.scope))?;
        }
        for w in &self.windows {
            w.validate()?;
        }
        for r in &self.routes {
            r.validate()?;
        }
        Ok(())
    }

    /// The thresholds for `instance`, a member of `group`: the defaults, then the tenant's
    /// override, the group's, the instance's. A rule whose values would not hold together keeps
    /// the wider scope's values. `disabled` holds the kinds that are not
    /// [`enabled`](AlertSettings::enabled).
    pub fn thresholds_for(&self, instance: &InstanceId, group: Option<&GroupName>) -> Thresholds {
        let mut t = Thresholds::default();
        for o in self.chain(instance, group) {
            o.thresholds.overlay(&mut t);
            for (kind, on) in &o.enabled {
                if *on {
                    t.disabled.remove(kind);
                } else {
                    t.disabled.insert(*kind);
                }
            }
        }
        t
    }

    /// Whether alerts of `kind` may open for `instance`: the narrowest scope that says wins;
    /// enabled when none does. A disabled kind never opens.
    pub fn enabled(&self, kind: AlertKind, instance: &InstanceId, group: Option<&GroupName>) -> bool {
        self.chain(instance, group).rev().find_map(|o| o.enabled.get(&kind).copied()).unwrap_or(true)
    }

    /// The overrides that apply to `instance`, widest first.
    fn chain<'a>(
        &'a self,
        instance: &InstanceId,
        group: Option<&GroupName>,
    ) -> impl DoubleEndedIterator<Item = &'a RuleOverride> {
        let tenant = self.overrides.iter().find(|o| o.scope == Scope::Tenant);
        let group =
            group.and_then(|g| self.overrides.iter().find(|o| matches!(&o.scope, Scope::Group(s) if same_group(s, g))));
        let instance = self.overrides.iter().find(|o| matches!(&o.scope, Scope::Instance(i) if i == instance));
        [tenant, group, instance].into_iter().flatten()
    }

    /// Until when `instance`, a member of `group`, is silenced at `at`: the latest end among the
    /// windows covering `at` (the instance's, its group's, the tenant's), followed through windows
    /// that cover that end, so overlapping and adjacent windows make one silence. `None` when
    /// not silenced. A chain is followed for 31 days at most; ask again at its end for the rest.
    pub fn silenced_until(
        &self,
        instance: &InstanceId,
        group: Option<&GroupName>,
        at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let schedules: Vec<&WindowSchedule> =
            self.windows.iter().filter(|w| w.scope.covers(instance, group)).map(|w| &w.schedule).collect();
        let covering = |t: DateTime<Utc>| schedules.iter().filter_map(|s| s.active_at(t)).max();
        let mut end = covering(at)?;
        let horizon = at.checked_add_signed(CHAIN_HORIZON).unwrap_or(DateTime::<Utc>::MAX_UTC);
        for _ in 0..CHAIN_STEPS {
            if end >= horizon {
                break;
            }
            // Every window covering `end` ends after it.
            match covering(end) {
                Some(next) => end = next,
                None => break,
            }
        }
        Some(end)
    }

    /// Removes the once windows that ended at or before `now` and returns them.
    pub fn prune_ended(&mut self, now: DateTime<Utc>) -> Vec<MaintenanceWindow> {
        let (ended, kept) = std::mem::take(&mut self.windows)
            .into_iter()
            .partition(|w| matches!(w.schedule, WindowSchedule::Once { ends_at, .. } if ends_at <= now));
        self.windows = kept;
        ended
    }

    /// The routes an alert of `kind` at `severity` goes through, in their stored order. For a
    /// resolution, pass the alert's last severity and keep the routes that `notify_resolved`.
    pub fn routes_for(&self, kind: AlertKind, severity: Severity) -> Vec<&Route> {
        self.routes.iter().filter(|r| r.matches(kind, severity)).collect()
    }

    /// The routes that name `channel`, to notify or escalate: a channel in use may be refused
    /// deletion, or detached with [`AlertSettings::remove_channel_references`].
    pub fn routes_using(&self, channel: &ChannelId) -> Vec<&Route> {
        self.routes.iter().filter(|r| r.channels.contains(channel) || r.escalate_to.contains(channel)).collect()
    }

    /// Takes `channel` out of every route, for a deleted channel. A route whose escalation is left
    /// without channels stops escalating; a route left without channels is removed.
    pub fn remove_channel_references(&mut self, channel: &ChannelId) -> ChannelReferencesRemoved {
        let mut outcome = ChannelReferencesRemoved::default();
        for route in &mut self.routes {
            let before = (route.channels.len(), route.escalate_to.len());
            route.channels.retain(|c| c != channel);
            route.escalate_to.retain(|c| c != channel);
            if route.escalate_to.is_empty() {
                route.escalate_after_minutes = None;
            }
            if route.channels.is_empty() {
                outcome.removed.push(route.id.clone());
            } else if (route.channels.len(), route.escalate_to.len()) != before {
                outcome.updated.push(route.id.clone());
            }
        }
        self.routes.retain(|r| !r.channels.is_empty());
        outcome
    }

    /// The override of exactly `scope` (groups ignoring case).
    pub fn override_for(&self, scope: &Scope) -> Option<&RuleOverride> {
        self.overrides.iter().find(|o| o.scope.same_as(scope))
    }

    pub fn add_override(&mut self, o: RuleOverride) -> Result<(), SettingsError> {
        self.change(|s| s.overrides.push(o))
    }

    /// Replaces the override with `o`'s id; returns the old one.
    pub fn replace_override(&mut self, o: RuleOverride) -> Result<RuleOverride, SettingsError> {
        let i = position(&self.overrides, |x| x.id == o.id, "rule override", &o.id)?;
        self.change(|s| std::mem::replace(&mut s.overrides[i], o))
    }

    /// Removes an override; refused when an override that inherited from it would no longer hold.
    pub fn remove_override(&mut self, id: &OverrideId) -> Result<RuleOverride, SettingsError> {
        let i = position(&self.overrides, |x| x.id == *id, "rule override", id)?;
        self.change(|s| s.overrides.remove(i))
    }

    pub fn add_window(&mut self, w: MaintenanceWindow) -> Result<(), SettingsError> {
        self.change(|s| s.windows.push(w))
    }

    /// Replaces the window with `w`'s id; returns the old one.
    pub fn replace_window(&mut self, w: MaintenanceWindow) -> Result<MaintenanceWindow, SettingsError> {
        let i = position(&self.windows, |x| x.id == w.id, "maintenance window", &w.id)?;
        self.change(|s| std::mem::replace(&mut s.windows[i], w))
    }

    pub fn remove_window(&mut self, id: &WindowId) -> Result<MaintenanceWindow, SettingsError> {
        let i = position(&self.windows, |x| x.id == *id, "maintenance window", id)?;
        Ok(self.windows.remove(i))
    }

    pub fn add_route(&mut self, r: Route) -> Result<(), SettingsError> {
        self.change(|s| s.routes.push(r))
    }

    /// Replaces the route with `r`'s id; returns the old one.
    pub fn replace_route(&mut self, r: Route) -> Result<Route, SettingsError> {
        let i = position(&self.routes, |x| x.id == r.id, "route", &r.id)?;
        self.change(|s| std::mem::replace(&mut s.routes[i], r))
    }

    pub fn remove_route(&mut self, id: &RouteId) -> Result<Route, SettingsError> {
        let i = position(&self.routes, |x| x.id == *id, "route", id)?;
        Ok(self.routes.remove(i))
    }

    /// Applies `f` to a copy, and keeps the copy only if it passes [`AlertSettings::validate`].
    fn change<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Result<T, SettingsError> {
        let mut next = self.clone();
        let out = f(&mut next);
        next.validate()?;
        *self = next;
        Ok(out)
    }
}

fn in_override(e: ValueError, scope: &Scope) -> ValueError {
    ValueError::new(e.what, format!("{} (override for {scope})", e.reason))
}

fn limit(what: &'static str, len: usize, max: usize) -> Result<(), SettingsError> {
    if len > max { Err(SettingsError::TooMany { what, max }) } else { Ok(()) }
}

fn unique_ids<'a, T: PartialEq + fmt::Display + 'a>(
    what: &'static str,
    ids: impl Iterator<Item = &'a T>,
) -> Result<(), SettingsError> {
    let ids: Vec<&T> = ids.collect();
    match ids.iter().enumerate().find(|(i, id)| ids[..*i].contains(id)) {
        Some((_, id)) => Err(ValueError::new(what, format!("{id} is used twice")).into()),
        None => Ok(()),
    }
}

fn position<T>(
    items: &[T],
    is: impl Fn(&T) -> bool,
    what: &'static str,
    id: &impl fmt::Display,
) -> Result<usize, SettingsError> {
    items.iter().position(is).ok_or_else(|| SettingsError::NotFound { what, id: id.to_string() })
}

#[cfg(test)]
mod tests {
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Wed};

    use super::*;

    const KINDS: [AlertKind; 11] = [
        AlertKind::InstanceUnreachable,
        AlertKind::LoginFailing,
        AlertKind::TrunkDown,
        AlertKind::ServicesNotRunning,
        AlertKind::BackupFailed,
        AlertKind::BackupStale,
        AlertKind::DiskHigh,
        AlertKind::LicenseExpiring,
        AlertKind::MaintenanceExpiring,
        AlertKind::CallsNearLimit,
        AlertKind::NoData,
    ];

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ins(name: &str) -> InstanceId {
        let body = match name {
            "a" => "01JDQ70A1B2C3D4E5F6G7H8J9A",
            "b" => "01JDQ70A1B2C3D4E5F6G7H8J9B",
            _ => "01JDQ70A1B2C3D4E5F6G7H8J9C",
        };
        InstanceId::parse(&format!("ins_{body}")).unwrap()
    }

    fn group(name: &str) -> GroupName {
        GroupName::parse(name).unwrap()
    }

    fn override_of(scope: Scope, patch: ThresholdPatch, enabled: &[(AlertKind, bool)]) -> RuleOverride {
        RuleOverride { enabled: enabled.iter().copied().collect(), thresholds: patch, ..RuleOverride::new(scope) }
    }

    fn weekly(days: &[Weekday], start: &str, duration_minutes: u32, utc_offset_minutes: i32) -> WindowSchedule {
        WindowSchedule::Weekly {
            days: days.to_vec(),
            start: TimeOfDay::parse(start).unwrap(),
            duration_minutes,
            utc_offset_minutes,
        }
    }

    fn once(starts_at: &str, ends_at: &str) -> WindowSchedule {
        WindowSchedule::Once { starts_at: at(starts_at), ends_at: at(ends_at) }
    }

    fn with_overrides(overrides: Vec<RuleOverride>) -> AlertSettings {
        let mut settings = AlertSettings::default();
        for o in overrides {
            settings.add_override(o).unwrap();
        }
        settings
    }

    fn error(result: Result<impl fmt::Debug, SettingsError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn overrides_apply_instance_over_group_over_tenant_over_defaults() {
        let settings = with_overrides(vec![
            override_of(
                Scope::Tenant,
                ThresholdPatch {
                    unreachable_polls: Some(3),
                    disk_open_percent: Some(95),
                    expiry_days: Some([60, 14, 3]),
                    ..Default::default()
                },
                &[],
            ),
            override_of(
                Scope::Group(group("Acme")),
                ThresholdPatch { disk_open_percent: Some(97), calls_warning_percent: Some(85), ..Default::default() },
                &[],
            ),
            override_of(
                Scope::Instance(ins("a")),
                ThresholdPatch { disk_open_percent: Some(99), unreachable_polls: Some(5), ..Default::default() },
                &[],
            ),
            override_of(
                Scope::Instance(ins("b")),
                ThresholdPatch { trunk_down_polls: Some(4), ..Default::default() },
                &[],
            ),
        ]);
        // (unreachable polls, trunk down polls, disk open, disk recover, calls warning, expiry info)
        let cases = [
            ("an instance with its own override, in the group", "a", Some("Acme"), (5, 2, 99, 85, 85, 60)),
            ("an instance with its own override, in no group", "a", None, (5, 2, 99, 85, 80, 60)),
            ("a member of the group without its own override", "c", Some("Acme"), (3, 2, 97, 85, 85, 60)),
            ("the group matched ignoring case", "c", Some("ACME"), (3, 2, 97, 85, 85, 60)),
            ("a member of another group", "c", Some("Other"), (3, 2, 95, 85, 80, 60)),
            ("another instance's override", "b", None, (3, 4, 95, 85, 80, 60)),
        ];
        for (case, instance, group_name, expected) in cases {
            let g = group_name.map(group);
            let t = settings.thresholds_for(&ins(instance), g.as_ref());
            let got = (
                t.unreachable_polls,
                t.trunk_down_polls,
                t.disk_open_percent,
                t.disk_recover_percent,
                t.calls_warning_percent,
                t.expiry_days[0],
            );
            assert_eq!(got, expected, "{case}");
            assert_eq!(t.flap_window, Thresholds::default().flap_window, "{case}");
        }
        assert_eq!(AlertSettings::default().thresholds_for(&ins("a"), Some(&group("Acme"))), Thresholds::default());
    }

    #[test]
    fn a_kind_is_enabled_as_the_narrowest_scope_that_says_so_decides() {
        use AlertKind::{BackupStale, CallsNearLimit, DiskHigh, TrunkDown};
        let settings = with_overrides(vec![
            override_of(Scope::Tenant, ThresholdPatch::default(), &[(BackupStale, false), (DiskHigh, false)]),
            override_of(Scope::Group(group("Acme")), ThresholdPatch::default(), &[(BackupStale, true)]),
            override_of(Scope::Instance(ins("a")), ThresholdPatch::default(), &[(DiskHigh, true), (TrunkDown, false)]),
        ]);
        let cases = [
            (BackupStale, "c", None, false),
            (BackupStale, "c", Some("Acme"), true),
            (DiskHigh, "c", Some("Acme"), false),
            (DiskHigh, "a", Some("Acme"), true),
            (TrunkDown, "a", None, false),
            (TrunkDown, "c", Some("Acme"), true),
            (CallsNearLimit, "a", Some("Acme"), true),
        ];
        for (kind, instance, group_name, expected) in cases {
            let g = group_name.map(group);
            assert_eq!(
                settings.enabled(kind, &ins(instance), g.as_ref()),
                expected,
                "{kind:?} {instance} {group_name:?}"
            );
        }
        let disabled = |instance: &str, g: Option<&str>| {
            settings.thresholds_for(&ins(instance), g.map(group).as_ref()).disabled.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(disabled("a", Some("Acme")), vec![TrunkDown]);
        assert_eq!(disabled("c", None), vec![BackupStale, DiskHigh]);
        assert!(KINDS.iter().all(|k| AlertSettings::default().enabled(*k, &ins("a"), None)));
    }

    #[test]
    fn a_patch_that_does_not_hold_over_what_it_inherits_is_refused_with_a_clear_message() {
        let p = ThresholdPatch::default;
        let tenant_disk = override_of(
            Scope::Tenant,
            ThresholdPatch { disk_open_percent: Some(80), disk_recover_percent: Some(70), ..p() },
            &[],
        );
        let acme = || Scope::Group(group("Acme"));
        let cases: Vec<(Scope, ThresholdPatch, Result<(), &str>)> = vec![
            (
                Scope::Tenant,
                ThresholdPatch { disk_open_percent: Some(95), disk_recover_percent: Some(90), ..p() },
                Ok(()),
            ),
            (Scope::Tenant, ThresholdPatch { unreachable_polls: Some(60), trunk_down_polls: Some(1), ..p() }, Ok(())),
            (
                Scope::Tenant,
                ThresholdPatch { disk_recover_percent: Some(92), ..p() },
                Err("invalid disk thresholds: recover percent (92) must be below open percent (90) \
                     (override for the tenant)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { disk_open_percent: Some(101), ..p() },
                Err("invalid disk thresholds: open percent must be between 1 and 100, not 101 \
                     (override for the tenant)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { unreachable_polls: Some(0), ..p() },
                Err("invalid unreachable polls: must be between 1 and 60 polls, not 0 (override for the tenant)"),
            ),
            (
                Scope::Instance(ins("a")),
                ThresholdPatch { trunk_down_polls: Some(61), ..p() },
                Err("invalid trunk down polls: must be between 1 and 60 polls, not 61 \
                     (override for instance ins_01JDQ70A1B2C3D4E5F6G7H8J9A)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { backup_stale_days: Some(0), ..p() },
                Err("invalid backup stale days: must be between 1 and 365 days, not 0 (override for the tenant)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { expiry_days: Some([7, 30, 1]), ..p() },
                Err("invalid expiry days: must descend from info to warning to critical, not [7, 30, 1] \
                     (override for the tenant)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { expiry_days: Some([30, 7, 0]), ..p() },
                Err("invalid expiry days: must each be between 1 and 365, not [30, 7, 0] (override for the tenant)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { calls_critical_percent: Some(120), ..p() },
                Err(
                    "invalid calls thresholds: critical percent must be at most 100, not 120 (override for the tenant)",
                ),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { calls_warning_percent: Some(96), ..p() },
                Err("invalid calls thresholds: warning percent (96) must be below critical percent (95) \
                     (override for the tenant)"),
            ),
            (
                Scope::Tenant,
                ThresholdPatch { calls_recover_percent: Some(80), ..p() },
                Err("invalid calls thresholds: recover percent (80) must be below warning percent (80) \
                     (override for the tenant)"),
            ),
            (
                acme(),
                ThresholdPatch { disk_recover_percent: Some(85), ..p() },
                Err("invalid disk thresholds: recover percent (85) must be below open percent (80) \
                     (override for group \"Acme\")"),
            ),
            (acme(), ThresholdPatch { disk_recover_percent: Some(75), ..p() }, Ok(())),
        ];
        for (scope, patch, expected) in cases {
            let mut settings = with_overrides(vec![tenant_disk.clone()]);
            let o = override_of(scope, patch, &[]);
            let result = if o.scope == Scope::Tenant {
                settings.replace_override(RuleOverride { id: tenant_disk.id.clone(), ..o.clone() }).map(|_| ())
            } else {
                settings.add_override(o.clone())
            };
            assert_eq!(result.map_err(|e| e.to_string()), expected.map_err(str::to_owned), "{:?}", o.thresholds);
        }
    }

    #[test]
    fn a_change_to_the_tenant_override_that_breaks_a_group_override_is_refused_and_changes_nothing() {
        let tenant = override_of(
            Scope::Tenant,
            ThresholdPatch { disk_open_percent: Some(80), disk_recover_percent: Some(70), ..Default::default() },
            &[],
        );
        let acme = override_of(
            Scope::Group(group("Acme")),
            ThresholdPatch { disk_open_percent: Some(75), ..Default::default() },
            &[],
        );
        let mut settings = with_overrides(vec![tenant.clone(), acme]);
        let before = settings.clone();
        assert_eq!(
            error(settings.remove_override(&tenant.id)),
            "invalid disk thresholds: recover percent (85) must be below open percent (75) \
             (override for group \"Acme\")"
        );
        let lower = RuleOverride {
            thresholds: ThresholdPatch {
                disk_open_percent: Some(80),
                disk_recover_percent: Some(78),
                ..Default::default()
            },
            ..tenant
        };
        assert!(settings.replace_override(lower).is_err());
        assert_eq!(settings, before);
    }

    #[test]
    fn thresholds_for_keeps_the_wider_values_of_a_rule_whose_combined_values_do_not_hold() {
        // Each holds over the tenant's values; together, the instance's recover is above the
        // group's open.
        let settings = with_overrides(vec![
            override_of(
                Scope::Group(group("Acme")),
                ThresholdPatch { disk_open_percent: Some(70), disk_recover_percent: Some(60), ..Default::default() },
                &[],
            ),
            override_of(
                Scope::Instance(ins("a")),
                ThresholdPatch { disk_recover_percent: Some(80), unreachable_polls: Some(5), ..Default::default() },
                &[],
            ),
        ]);
        let t = settings.thresholds_for(&ins("a"), Some(&group("Acme")));
        assert_eq!((t.disk_open_percent, t.disk_recover_percent, t.unreachable_polls), (70, 60, 5));
        let t = settings.thresholds_for(&ins("a"), None);
        assert_eq!((t.disk_open_percent, t.disk_recover_percent, t.unreachable_polls), (90, 80, 5));
    }

    #[test]
    fn the_default_thresholds_pass_their_own_checks() {
        assert_eq!(ThresholdPatch::default().apply(&Thresholds::default()), Ok(Thresholds::default()));
    }

    #[test]
    fn a_once_window_covers_its_start_but_not_its_end() {
        let schedule = once("2026-11-30T10:00:00Z", "2026-11-30T12:00:00Z");
        let end = Some(at("2026-11-30T12:00:00Z"));
        let cases = [
            ("2026-11-30T09:59:59Z", None, end),
            ("2026-11-30T10:00:00Z", end, end),
            ("2026-11-30T11:59:59Z", end, end),
            ("2026-11-30T12:00:00Z", None, None),
        ];
        for (t, active, next_end) in cases {
            assert_eq!(schedule.active_at(at(t)), active, "active at {t}");
            assert_eq!(schedule.next_end_after(at(t)), next_end, "next end after {t}");
        }
    }

    #[test]
    fn a_weekly_window_covers_each_occurrence_in_its_local_time() {
        // 2026-11-30 is a Monday.
        let weekend = weekly(&[Sat, Sun], "02:00", 180, 0);
        let cases = [
            ("weekend, before", &weekend, "2026-12-05T01:59:00Z", None),
            ("weekend, at the start", &weekend, "2026-12-05T02:00:00Z", Some("2026-12-05T05:00:00Z")),
            ("weekend, second day", &weekend, "2026-12-06T04:59:00Z", Some("2026-12-06T05:00:00Z")),
            ("weekend, not on monday", &weekend, "2026-11-30T03:00:00Z", None),
            ("past midnight", &weekly(&[Fri], "22:00", 240, 0), "2026-12-05T01:30:00Z", Some("2026-12-05T02:00:00Z")),
            ("past midnight, before", &weekly(&[Fri], "22:00", 240, 0), "2026-12-04T21:59:00Z", None),
            ("past midnight, at the end", &weekly(&[Fri], "22:00", 240, 0), "2026-12-05T02:00:00Z", None),
            (
                "sunday into monday",
                &weekly(&[Sun], "23:00", 120, 0),
                "2026-11-30T00:30:00Z",
                Some("2026-11-30T01:00:00Z"),
            ),
            (
                "sunday into monday, a week on",
                &weekly(&[Sun], "23:00", 120, 0),
                "2026-12-06T23:30:00Z",
                Some("2026-12-07T01:00:00Z"),
            ),
            (
                "UTC+2: 22:00 local is 20:00 UTC",
                &weekly(&[Mon], "22:00", 120, 120),
                "2026-11-30T20:30:00Z",
                Some("2026-11-30T22:00:00Z"),
            ),
            ("UTC+2: ended at 22:00 UTC", &weekly(&[Mon], "22:00", 120, 120), "2026-11-30T22:30:00Z", None),
            (
                "UTC-5: sunday 22:00 local is monday 03:00 UTC",
                &weekly(&[Sun], "22:00", 180, -300),
                "2026-11-30T04:00:00Z",
                Some("2026-11-30T06:00:00Z"),
            ),
            ("UTC-5: not at sunday 22:00 UTC", &weekly(&[Sun], "22:00", 180, -300), "2026-11-29T22:30:00Z", None),
            (
                "UTC+3: monday 01:00 local is sunday 22:00 UTC",
                &weekly(&[Mon], "01:00", 60, 180),
                "2026-11-29T22:15:00Z",
                Some("2026-11-29T23:00:00Z"),
            ),
            (
                "a week long every day: the latest end",
                &weekly(&[Mon, Sat, Wed, Sun, Fri], "00:00", 10080, 0),
                "2026-12-02T12:00:00Z",
                Some("2026-12-09T00:00:00Z"),
            ),
        ];
        for (case, schedule, t, expected) in cases {
            assert_eq!(schedule.active_at(at(t)), expected.map(at), "{case}");
        }
    }

    #[test]
    fn the_next_end_of_a_weekly_window_is_that_of_the_running_or_next_occurrence() {
        let weekend = weekly(&[Sat, Sun], "02:00", 180, 0);
        let cases = [
            ("2026-11-30T12:00:00Z", Some("2026-12-05T05:00:00Z")),
            ("2026-12-05T03:00:00Z", Some("2026-12-05T05:00:00Z")),
            ("2026-12-05T05:00:00Z", Some("2026-12-06T05:00:00Z")),
            ("2026-12-06T05:00:00Z", Some("2026-12-12T05:00:00Z")),
        ];
        for (t, expected) in cases {
            assert_eq!(weekend.next_end_after(at(t)), expected.map(at), "after {t}");
        }
        assert_eq!(weekly(&[], "02:00", 180, 0).next_end_after(at("2026-11-30T12:00:00Z")), None);
    }

    #[test]
    fn overlapping_and_adjacent_windows_chain_into_one_silence() {
        let mut settings = AlertSettings::default();
        let windows = [
            (Scope::Instance(ins("a")), once("2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z")),
            (Scope::Group(group("Acme")), once("2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z")),
            (Scope::Tenant, weekly(&[Mon], "10:30", 60, 0)),
            (Scope::Instance(ins("b")), once("2026-11-30T11:30:00Z", "2026-11-30T13:00:00Z")),
            (Scope::Group(group("Other")), once("2026-11-30T11:30:00Z", "2026-11-30T14:00:00Z")),
        ];
        for (scope, schedule) in windows {
            settings.add_window(MaintenanceWindow::new(scope, schedule)).unwrap();
        }
        let cases = [
            (
                "instance, then its group, then the tenant",
                "a",
                Some("acme"),
                "2026-11-30T09:30:00Z",
                Some("2026-11-30T11:30:00Z"),
            ),
            (
                "without the group the chain breaks at 10:00",
                "a",
                None,
                "2026-11-30T09:30:00Z",
                Some("2026-11-30T10:00:00Z"),
            ),
            ("a group member", "c", Some("Acme"), "2026-11-30T10:45:00Z", Some("2026-11-30T11:30:00Z")),
            ("before any window", "a", Some("Acme"), "2026-11-30T08:59:00Z", None),
            ("after the last", "a", Some("Acme"), "2026-11-30T11:30:00Z", None),
            (
                "the tenant's, then another instance's own",
                "b",
                None,
                "2026-11-30T11:00:00Z",
                Some("2026-11-30T13:00:00Z"),
            ),
        ];
        for (case, instance, group_name, t, expected) in cases {
            let g = group_name.map(group);
            assert_eq!(settings.silenced_until(&ins(instance), g.as_ref(), at(t)), expected.map(at), "{case}");
        }
    }

    #[test]
    fn a_silence_without_gaps_is_followed_for_a_month_then_reported_as_far_as_followed() {
        let mut settings = AlertSettings::default();
        settings.add_window(MaintenanceWindow::new(Scope::Tenant, weekly(&KINDS_DAYS, "00:00", 1440, 0))).unwrap();
        let until = settings.silenced_until(&ins("a"), None, at("2026-11-30T12:00:00Z"));
        assert_eq!(until, Some(at("2027-01-01T00:00:00Z")));
    }

    const KINDS_DAYS: [Weekday; 7] = [Mon, chrono::Weekday::Tue, Wed, chrono::Weekday::Thu, Fri, Sat, Sun];

    #[test]
    fn mute_silences_from_now_for_the_hours_asked() {
        let now = at("2026-11-30T09:17:00Z");
        let mute = MaintenanceWindow::mute(Scope::Instance(ins("a")), now, 4, "ana@example.com").unwrap();
        assert_eq!(mute.reason.as_deref(), Some("muted"));
        assert_eq!(mute.created_by.as_deref(), Some("ana@example.com"));
        let mut settings = AlertSettings::default();
        settings.add_window(mute).unwrap();
        assert_eq!(settings.silenced_until(&ins("a"), None, now), Some(at("2026-11-30T13:17:00Z")));
        assert_eq!(settings.silenced_until(&ins("b"), None, now), None);
        assert_eq!(settings.silenced_until(&ins("a"), None, at("2026-11-30T13:17:00Z")), None);
        for hours in [0, 169] {
            assert_eq!(
                MaintenanceWindow::mute(Scope::Tenant, now, hours, "ana").map(|_| ()).map_err(|e| e.to_string()),
                Err(format!("invalid mute: must last between 1 and 168 hours (a week), not {hours}"))
            );
        }
    }

    #[test]
    fn pruning_removes_only_once_windows_that_ended() {
        let mut settings = AlertSettings::default();
        let ended = MaintenanceWindow::new(Scope::Tenant, once("2026-11-29T10:00:00Z", "2026-11-30T10:00:00Z"));
        let running = MaintenanceWindow::new(Scope::Tenant, once("2026-11-30T09:00:00Z", "2026-11-30T11:00:00Z"));
        let recurring = MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 60, 0));
        for w in [ended.clone(), running.clone(), recurring.clone()] {
            settings.add_window(w).unwrap();
        }
        assert_eq!(settings.prune_ended(at("2026-11-30T10:00:00Z")), vec![ended]);
        assert_eq!(settings.windows, vec![running, recurring]);
    }

    #[test]
    fn a_maintenance_window_that_does_not_make_sense_is_refused_with_a_clear_message() {
        let ok = || MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 60, 0));
        let cases: Vec<(MaintenanceWindow, &str)> = vec![
            (
                MaintenanceWindow::new(Scope::Tenant, once("2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z")),
                "invalid maintenance window: must end after it starts",
            ),
            (
                MaintenanceWindow::new(Scope::Tenant, weekly(&[], "02:00", 60, 0)),
                "invalid days: must name at least one day",
            ),
            (
                MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat, Sun, Sat], "02:00", 60, 0)),
                "invalid days: must not repeat sat",
            ),
            (
                MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 0, 0)),
                "invalid duration: must be between 1 and 10080 minutes (a week), not 0",
            ),
            (
                MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 10081, 0)),
                "invalid duration: must be between 1 and 10080 minutes (a week), not 10081",
            ),
            (
                MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 60, 900)),
                "invalid UTC offset: must be between -720 and 840 minutes, not 900",
            ),
            (MaintenanceWindow { reason: Some("  ".into()), ..ok() }, "invalid reason: must not be blank"),
            (
                MaintenanceWindow { reason: Some("x".repeat(101)), ..ok() },
                "invalid reason: must be at most 100 characters",
            ),
            (
                MaintenanceWindow { created_by: Some("a\nb".into()), ..ok() },
                "invalid created by: must not contain control characters",
            ),
            (
                MaintenanceWindow { created_by: Some("é".repeat(128)), ..ok() },
                "invalid created by: must be at most 254 bytes",
            ),
        ];
        for (window, expected) in cases {
            assert_eq!(error(AlertSettings::default().add_window(window)), expected);
        }
        assert!(AlertSettings::default().add_window(ok()).is_ok());
    }

    #[test]
    fn times_of_day_are_exactly_hh_mm() {
        for good in ["00:00", "07:05", "23:59"] {
            assert_eq!(TimeOfDay::parse(good).map(|t| t.to_string()), Ok(good.to_owned()));
        }
        for bad in ["", "7:00", "07:0", "24:00", "12:60", "12-00", "12:00:00", " 12:00", "+1:00"] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    fn routes() -> (AlertSettings, [ChannelId; 3]) {
        let channels = [ChannelId::generate(), ChannelId::generate(), ChannelId::generate()];
        let mut settings = AlertSettings::default();
        let on_call = Route { min_severity: Severity::Critical, ..Route::new("on call", vec![channels[0].clone()]) };
        let disk = Route {
            kinds: vec![AlertKind::DiskHigh, AlertKind::BackupStale],
            min_severity: Severity::Warning,
            escalate_after_minutes: Some(60),
            escalate_to: vec![channels[0].clone()],
            ..Route::new("storage", vec![channels[1].clone()])
        };
        let everything = Route::new("everything", vec![channels[1].clone(), channels[2].clone()]);
        for route in [on_call, disk, everything] {
            settings.add_route(route).unwrap();
        }
        (settings, channels)
    }

    #[test]
    fn alerts_are_routed_by_kind_and_minimum_severity() {
        use AlertKind::{BackupStale, DiskHigh, InstanceUnreachable, LicenseExpiring};
        let (settings, _) = routes();
        let cases = [
            (InstanceUnreachable, Severity::Critical, vec!["on call", "everything"]),
            (DiskHigh, Severity::Warning, vec!["storage", "everything"]),
            (DiskHigh, Severity::Critical, vec!["on call", "storage", "everything"]),
            (BackupStale, Severity::Info, vec!["everything"]),
            (LicenseExpiring, Severity::Warning, vec!["everything"]),
        ];
        for (kind, severity, expected) in cases {
            let names: Vec<&str> = settings.routes_for(kind, severity).iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, expected, "{kind:?} {severity:?}");
        }
    }

    #[test]
    fn a_route_that_does_not_make_sense_is_refused_with_a_clear_message() {
        let ch = || ChannelId::generate();
        let ok = || Route::new("on call", vec![ChannelId::generate()]);
        let same = ch();
        let cases: Vec<(Route, &str)> = vec![
            (Route { channels: vec![], ..ok() }, "invalid channels: must name 1 to 5 channels"),
            (Route { channels: (0..6).map(|_| ch()).collect(), ..ok() }, "invalid channels: must name 1 to 5 channels"),
            (
                Route { channels: vec![same.clone(), same.clone()], ..ok() },
                "invalid channels: must not name a channel twice",
            ),
            (Route { name: " ".into(), ..ok() }, "invalid route name: must not be blank"),
            (Route { name: "x".repeat(101), ..ok() }, "invalid route name: must be at most 100 characters"),
            (
                Route { kinds: vec![AlertKind::DiskHigh, AlertKind::DiskHigh], ..ok() },
                "invalid kinds: must not name a kind twice",
            ),
            (
                Route { remind_every_minutes: Some(10), ..ok() },
                "invalid reminder: must be every 15 to 10080 minutes, not 10",
            ),
            (
                Route { escalate_after_minutes: Some(30), ..ok() },
                "invalid escalation: escalate_to must name a channel when escalate_after_minutes is set",
            ),
            (Route { escalate_to: vec![ch()], ..ok() }, "invalid escalation: escalate_to needs escalate_after_minutes"),
            (
                Route { escalate_after_minutes: Some(2), escalate_to: vec![ch()], ..ok() },
                "invalid escalation: must come after 5 to 10080 minutes, not 2",
            ),
            (
                Route { escalate_after_minutes: Some(30), escalate_to: (0..6).map(|_| ch()).collect(), ..ok() },
                "invalid escalation: escalate_to must name at most 5 channels",
            ),
        ];
        for (route, expected) in cases {
            assert_eq!(error(AlertSettings::default().add_route(route)), expected);
        }
        let full =
            Route { remind_every_minutes: Some(15), escalate_after_minutes: Some(30), escalate_to: vec![ch()], ..ok() };
        assert!(AlertSettings::default().add_route(full).is_ok());
    }

    #[test]
    fn elements_are_replaced_and_removed_by_id_and_unknown_ids_are_not_found() {
        let (mut settings, channels) = routes();
        let first = settings.routes[0].clone();
        let renamed = Route { name: "night shift".into(), ..first.clone() };
        assert_eq!(settings.replace_route(renamed), Ok(first.clone()));
        assert_eq!(settings.routes[0].name, "night shift");
        assert_eq!(settings.remove_route(&first.id).map(|r| r.name), Ok("night shift".into()));
        assert_eq!(error(settings.remove_route(&first.id)), format!("route {} not found", first.id),);
        assert!(matches!(
            settings.replace_route(Route::new("x", vec![channels[0].clone()])),
            Err(SettingsError::NotFound { what: "route", .. })
        ));
        assert!(matches!(settings.remove_window(&WindowId::generate()), Err(SettingsError::NotFound { .. })));
        assert!(matches!(settings.remove_override(&OverrideId::generate()), Err(SettingsError::NotFound { .. })));

        let window = MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 60, 0));
        settings.add_window(window.clone()).unwrap();
        assert!(matches!(settings.add_window(window.clone()), Err(SettingsError::Invalid(_))), "an id used twice");
        let longer = MaintenanceWindow { schedule: weekly(&[Sat], "02:00", 120, 0), ..window.clone() };
        assert_eq!(settings.replace_window(longer.clone()), Ok(window.clone()));
        assert_eq!(settings.remove_window(&window.id), Ok(longer));

        let acme = RuleOverride::new(Scope::Group(group("Acme")));
        settings.add_override(acme.clone()).unwrap();
        assert_eq!(
            error(settings.add_override(RuleOverride::new(Scope::Group(group("ACME"))))),
            "invalid rule override: group \"ACME\" already has one"
        );
        assert_eq!(settings.override_for(&Scope::Group(group("acme"))), Some(&acme));
        assert_eq!(settings.remove_override(&acme.id), Ok(acme));
    }

    #[test]
    fn adding_beyond_a_limit_is_refused_as_too_many() {
        let mut settings = AlertSettings::default();
        for _ in 0..AlertSettings::MAX_WINDOWS {
            settings.add_window(MaintenanceWindow::new(Scope::Tenant, weekly(&[Sat], "02:00", 60, 0))).unwrap();
        }
        let more = settings.add_window(MaintenanceWindow::new(Scope::Tenant, weekly(&[Sun], "02:00", 60, 0)));
        assert_eq!(more, Err(SettingsError::TooMany { what: "maintenance windows", max: 100 }));
        assert_eq!(error(more), "at most 100 maintenance windows per tenant");
        assert_eq!(settings.windows.len(), AlertSettings::MAX_WINDOWS);
    }

    #[test]
    fn a_deleted_channel_is_taken_out_of_every_route() {
        let (mut settings, channels) = routes();
        let ids: Vec<RouteId> = settings.routes.iter().map(|r| r.id.clone()).collect();
        let using: Vec<&str> = settings.routes_using(&channels[0]).iter().map(|r| r.name.as_str()).collect();
        assert_eq!(using, vec!["on call", "storage"]);
        let outcome = settings.remove_channel_references(&channels[0]);
        assert_eq!(outcome, ChannelReferencesRemoved { updated: vec![ids[1].clone()], removed: vec![ids[0].clone()] });
        assert_eq!(settings.routes.len(), 2);
        assert_eq!((settings.routes[0].escalate_after_minutes, settings.routes[0].escalate_to.len()), (None, 0));
        assert!(settings.routes_using(&channels[0]).is_empty());
        assert_eq!(settings.validate(), Ok(()));
    }

    fn full_settings() -> AlertSettings {
        let mut settings = AlertSettings { revision: 7, ..routes().0 };
        settings
            .add_override(override_of(
                Scope::Tenant,
                ThresholdPatch { disk_open_percent: Some(95), expiry_days: Some([45, 10, 2]), ..Default::default() },
                &[(AlertKind::BackupStale, false)],
            ))
            .unwrap();
        settings.add_override(RuleOverride::new(Scope::Group(group("Acme")))).unwrap();
        settings
            .add_window(MaintenanceWindow::new(Scope::Instance(ins("a")), weekly(&[Sat, Sun], "22:00", 240, 60)))
            .unwrap();
        settings
            .add_window(
                MaintenanceWindow::mute(Scope::Tenant, at("2026-11-30T09:00:00Z"), 2, "ana@example.com").unwrap(),
            )
            .unwrap();
        settings
    }

    #[test]
    fn the_whole_settings_survive_json_and_dynamodb_round_trips() {
        let settings = full_settings();
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(serde_json::from_str::<AlertSettings>(&json).unwrap(), settings);
        let item: crate::table::Attributes = serde_dynamo::to_item(&settings).unwrap();
        assert_eq!(serde_dynamo::from_item::<_, AlertSettings>(item).unwrap(), settings);
        assert_eq!(serde_json::from_str::<AlertSettings>("{}").unwrap(), AlertSettings::default());
    }

    #[test]
    fn the_stored_shape_is_snake_case_with_named_days_and_times() {
        let value = serde_json::to_value(full_settings()).unwrap();
        assert_eq!(value["overrides"][0]["scope"], "tenant");
        assert_eq!(value["overrides"][0]["enabled"], serde_json::json!({"backup_stale": false}));
        assert_eq!(
            value["overrides"][0]["thresholds"],
            serde_json::json!({"disk_open_percent": 95, "expiry_days": [45, 10, 2]})
        );
        assert_eq!(value["overrides"][1]["scope"], serde_json::json!({"group": "Acme"}));
        let window = &value["windows"][0];
        assert_eq!(window["scope"], serde_json::json!({"instance": "ins_01JDQ70A1B2C3D4E5F6G7H8J9A"}));
        assert_eq!(
            window["schedule"],
            serde_json::json!({
                "type": "weekly",
                "days": ["sat", "sun"],
                "start": "22:00",
                "duration_minutes": 240,
                "utc_offset_minutes": 60,
            })
        );
        assert_eq!(value["windows"][1]["schedule"]["type"], "once");
        assert_eq!(value["routes"][1]["min_severity"], "warning");
        assert_eq!(value["routes"][1]["kinds"], serde_json::json!(["disk_high", "backup_stale"]));

        let schedule = |days: &str, start: &str| {
            serde_json::from_str::<WindowSchedule>(&format!(
                r#"{{"type": "weekly", "days": {days}, "start": "{start}", "duration_minutes": 60}}"#
            ))
        };
        assert_eq!(schedule(r#"["mon"]"#, "07:30").unwrap(), weekly(&[Mon], "07:30", 60, 0));
        assert!(schedule(r#"["Saturday"]"#, "07:30").is_err());
        assert!(schedule(r#"["mon"]"#, "7:30").is_err());
        let route: Route = serde_json::from_value(serde_json::json!({
            "id": RouteId::generate(), "name": "n", "min_severity": "info", "channels": [ChannelId::generate()]
        }))
        .unwrap();
        assert!(route.notify_resolved && route.kinds.is_empty() && route.escalate_to.is_empty());
    }

    #[test]
    fn ids_carry_their_prefix_and_refuse_another_kind() {
        for id in [WindowId::generate().to_string(), RouteId::generate().to_string()] {
            assert!(id.starts_with("mw_") || id.starts_with("rt_"));
        }
        let window = WindowId::generate();
        assert_eq!(WindowId::parse(&window.as_str().to_lowercase()), Ok(window.clone()));
        assert!(RouteId::parse(window.as_str()).is_err());
        assert!(OverrideId::generate().as_str().starts_with("ov_"));
        assert!(ChannelId::generate().as_str().starts_with("ch_"));
    }

    #[test]
    fn the_largest_settings_allowed_fit_in_one_item() {
        // 4 bytes in UTF-8, the most a character takes.
        let text = |n: usize| "\u{1F600}".repeat(n);
        let patch = ThresholdPatch {
            unreachable_polls: Some(60),
            trunk_down_polls: Some(60),
            backup_stale_days: Some(365),
            disk_open_percent: Some(100),
            disk_recover_percent: Some(99),
            expiry_days: Some([365, 364, 363]),
            calls_warning_percent: Some(99),
            calls_critical_percent: Some(100),
            calls_recover_percent: Some(98),
        };
        let enabled: Vec<(AlertKind, bool)> = KINDS.iter().map(|k| (*k, false)).collect();
        let mut settings = AlertSettings { revision: u64::MAX, ..AlertSettings::default() };
        settings.overrides.push(override_of(Scope::Tenant, patch.clone(), &enabled));
        for i in 1..AlertSettings::MAX_OVERRIDES {
            let scope = if i % 2 == 0 {
                Scope::Group(group(&format!("{}{i:03}", text(61))))
            } else {
                Scope::Instance(InstanceId::generate())
            };
            settings.overrides.push(override_of(scope, patch.clone(), &enabled));
        }
        let longest_group = Scope::Group(group(&text(64)));
        for _ in 0..AlertSettings::MAX_WINDOWS {
            settings.windows.push(MaintenanceWindow {
                reason: Some(text(100)),
                created_by: Some(format!("{}ab", text(63))),
                ..MaintenanceWindow::new(longest_group.clone(), weekly(&KINDS_DAYS, "23:59", 10080, -720))
            });
        }
        let channels = |n| (0..n).map(|_| ChannelId::generate()).collect::<Vec<_>>();
        for _ in 0..AlertSettings::MAX_ROUTES {
            settings.routes.push(Route {
                kinds: KINDS.to_vec(),
                remind_every_minutes: Some(10080),
                escalate_after_minutes: Some(10080),
                escalate_to: channels(5),
                notify_resolved: false,
                ..Route::new(text(100), channels(5))
            });
        }
        assert_eq!(settings.validate(), Ok(()));
        let item: crate::table::Attributes = serde_dynamo::to_item(&settings).unwrap();
        let bytes = serde_json::to_vec(&item).unwrap().len();
        assert!(bytes < 300 * 1024, "{bytes} bytes");
    }
}
