//! Dates as 3CX writes them.

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike, Utc};

/// `2025-12-09T00:08:32.7261699+01:00`: local time with seven fractional digits and the offset.
pub(crate) fn local(dt: DateTime<FixedOffset>) -> String {
    let ticks = (dt.nanosecond() / 100).min(9_999_999);
    format!("{}.{ticks:07}{}", dt.format("%Y-%m-%dT%H:%M:%S"), dt.format("%:z"))
}

/// `2035-01-01T00:00:00Z`: UTC, whole seconds, as 3CX writes licence dates.
pub(crate) fn utc_whole(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2025-12-09T15:41:17.2293002Z`: UTC with seven fractional digits.
pub(crate) fn utc_ticks(dt: DateTime<Utc>) -> String {
    let ticks = (dt.nanosecond() / 100).min(9_999_999);
    format!("{}.{ticks:07}Z", dt.format("%Y-%m-%dT%H:%M:%S"))
}

/// Milliseconds since the Unix epoch, saturating at zero before it.
pub(crate) fn unix_ms(dt: DateTime<Utc>) -> u64 {
    u64::try_from(dt.timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn local_dates_have_seven_fractional_digits_and_the_offset() {
        let offset = FixedOffset::east_opt(3600).unwrap();
        let dt = offset.with_ymd_and_hms(2025, 12, 9, 0, 8, 32).unwrap() + chrono::Duration::nanoseconds(726_169_900);
        assert_eq!(local(dt), "2025-12-09T00:08:32.7261699+01:00");
        let whole = offset.with_ymd_and_hms(2025, 12, 9, 0, 8, 32).unwrap();
        assert_eq!(local(whole), "2025-12-09T00:08:32.0000000+01:00");
    }

    #[test]
    fn utc_dates_end_in_z() {
        let dt = Utc.with_ymd_and_hms(2035, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(utc_whole(dt), "2035-01-01T00:00:00Z");
        assert_eq!(utc_ticks(dt + chrono::Duration::nanoseconds(229_300_200)), "2035-01-01T00:00:00.2293002Z");
    }
}
