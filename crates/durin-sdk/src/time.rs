//! Time formats of the wire: Go-style durations for `Sleep`, RFC 3339 timestamps for instants.

use std::time::{Duration, SystemTime};

/// `2030-01-01T00:00:00.000Z`, the shape the TS SDK sends (UTC, milliseconds).
pub(crate) fn rfc3339_millis(at: SystemTime) -> String {
    match jiff::Timestamp::try_from(at) {
        Ok(timestamp) => format!("{timestamp:.3}"),
        // Out of jiff's range (year > 9999 or < -9999): the furthest representable instant is what was meant.
        Err(_) if at > SystemTime::UNIX_EPOCH => format!("{:.3}", jiff::Timestamp::MAX),
        Err(_) => format!("{:.3}", jiff::Timestamp::MIN),
    }
}

/// A duration as Go's `time.ParseDuration` reads it: `10s`, `1m30s`, `2h`, `1s500ms`; zero is `0s`.
/// Sub-millisecond remainders are rounded up to a whole millisecond so that a sleep is never shortened.
pub(crate) fn go_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if !duration.subsec_nanos().is_multiple_of(1_000_000) {
        millis += 1;
    }
    if millis == 0 {
        return "0s".to_owned();
    }
    let hours = millis / 3_600_000;
    let minutes = millis / 60_000 % 60;
    let seconds = millis / 1_000 % 60;
    let rest = millis % 1_000;
    let mut out = String::new();
    for (value, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s"), (rest, "ms")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        let check = |d: Duration, expected: &str| assert_eq!(go_duration(d), expected);
        check(Duration::from_secs(10), "10s");
        check(Duration::from_secs(90), "1m30s");
        check(Duration::from_secs(3600), "1h");
        check(Duration::from_secs(3605), "1h5s");
        check(Duration::from_millis(1500), "1s500ms");
        check(Duration::from_micros(1), "1ms");
        check(Duration::ZERO, "0s");
        check(Duration::from_secs(86_400 * 2), "48h");
    }

    #[test]
    fn timestamps_are_utc_with_millis() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_893_456_000_250);
        assert_eq!(rfc3339_millis(at), "2030-01-01T00:00:00.250Z");
    }
}
