//! `Retry-After` values (retries.md R5): whole seconds, or a date in one of the common formats.

use jiff::Timestamp;

use crate::UnixMillis;

const MIN_DELAY_MS: i64 = 1_000;
const MAX_DELAY_MS: i64 = 24 * 60 * 60 * 1_000;

/// Parses a `Retry-After` header value into an absolute time, clamped to `[now + 1 s, now + 24 h]`.
/// Returns `None` when the value is not understood (the default backoff then applies).
pub fn parse_retry_after(value: &str, now_ms: UnixMillis) -> Option<UnixMillis> {
    let value = value.trim();
    let at = if value.len() <= 7 && value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        let seconds: i64 = value.parse().ok()?;
        if seconds <= 0 {
            return None;
        }
        now_ms + seconds * 1_000
    } else {
        parse_date(value)?
    };
    Some(at.clamp(now_ms + MIN_DELAY_MS, now_ms + MAX_DELAY_MS))
}

fn parse_date(value: &str) -> Option<UnixMillis> {
    if let Ok(ts) = value.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = value.parse::<jiff::civil::DateTime>() {
        return jiff::tz::TimeZone::UTC
            .to_timestamp(dt)
            .ok()
            .map(|ts| ts.as_millisecond());
    }
    if let Ok(z) = jiff::fmt::rfc2822::parse(value) {
        return Some(z.timestamp().as_millisecond());
    }
    None
}
