//! Sleep durations as the SDKs send them: Go-style durations with `d`/`w` units ("10s", "1m30s", "2d"), or
//! an RFC 3339 timestamp (TS `sleepUntil`, every Python sleep).

use durin_core::UnixMillis;

/// Longest sleep the engine accepts.
pub(crate) const MAX_SLEEP_MS: i64 = 365 * 24 * 60 * 60 * 1000;

/// When a sleep named `value` that started at `now` ends, or `None` if the value is not understood.
pub(crate) fn sleep_until(value: &str, now: UnixMillis) -> Option<UnixMillis> {
    let value = value.trim();
    if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond().clamp(now, now + MAX_SLEEP_MS));
    }
    // A negative duration (a `sleepUntil` in the past, as the Go SDK sends it) means: resume at once.
    if let Some(past) = value.strip_prefix('-') {
        return parse_duration_ms(past).map(|_| now);
    }
    parse_duration_ms(value).map(|ms| now + ms.min(MAX_SLEEP_MS))
}

/// Milliseconds in a Go-style duration (`10s`, `1m30s`, `2d`, `1w`), capped at a year.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if number_end == 0 {
            return None;
        }
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ms = match &rest[..unit_end] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            _ => return None,
        };
        total += number * unit_ms;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() {
        return None;
    }
    Some(total.min(MAX_SLEEP_MS as f64).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_style_durations() {
        assert_eq!(parse_duration_ms("10s"), Some(10_000));
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("1.5h"), Some(5_400_000));
        assert_eq!(parse_duration_ms("2d"), Some(172_800_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms(""), None);
        assert_eq!(parse_duration_ms("10"), None);
        assert_eq!(parse_duration_ms("s"), None);
        assert_eq!(parse_duration_ms("10x"), None);
    }

    #[test]
    fn reads_timestamps_and_caps_at_a_year() {
        let now = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(
            sleep_until("2026-01-01T00:00:10.000Z", now),
            Some(now + 10_000)
        );
        assert_eq!(sleep_until("2025-01-01T00:00:00Z", now), Some(now));
        assert_eq!(sleep_until("9999w", now), Some(now + MAX_SLEEP_MS));
        assert_eq!(sleep_until("-3s12ms901us935ns", now), Some(now));
        assert_eq!(sleep_until("-", now), None);
    }

    proptest::proptest! {
        /// Sleep values come from apps: any text is a time within a year from now, or refused.
        #[test]
        fn any_sleep_value_ends_within_a_year_or_is_refused(
            value in "\\PC{0,40}|[0-9.]{1,30}(ns|us|ms|s|m|h|d|w)([0-9.]{1,30}(ns|us|ms|s|m|h|d|w))?",
            now in 0i64..4_102_444_800_000,
        ) {
            if let Some(at) = sleep_until(&value, now) {
                proptest::prop_assert!((now..=now + MAX_SLEEP_MS).contains(&at), "{value:?} -> {at}");
            }
            if let Some(ms) = parse_duration_ms(&value) {
                proptest::prop_assert!((0..=MAX_SLEEP_MS).contains(&ms), "{value:?} -> {ms}");
            }
        }
    }
}
