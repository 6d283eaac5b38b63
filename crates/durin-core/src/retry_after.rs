//! `Retry-After` values (retries.md R5, inngest-protocol.md 1.4): whole seconds, or a date in one of the
//! common formats.
//!
//! The accepted forms follow Inngest's server (`httpdriver.ParseRetry` and `dateutil`):
//! - at most 7 characters that read as a positive integer (an optional `+` allowed, as Go's `Atoi` does):
//!   that many seconds from now;
//! - otherwise a date, tried as RFC 3339 (`2026-11-28T17:48:23.288Z`, what the Python SDK sends),
//!   `2006-01-02T15:04:05` (UTC), RFC 1123 / HTTP-date and RFC 822 / 822Z (all RFC 2822 shapes), RFC 850
//!   (`Sunday, 06-Nov-94 08:49:37 GMT`), Ruby date, Unix `date`, ANSI C `asctime`
//!   (`Sun Nov  6 08:49:37 1994`, UTC), `2006-01-02` (midnight UTC), and Go's `time.Time.String()`.
//!
//! As in Go, the weekday must be spelled right but need not match the date, and a zone abbreviation
//! other than the RFC 822 ones (`GMT`, `UT`, `UTC`, `Z`, `EST`/`EDT`, `CST`/`CDT`, `MST`/`MDT`,
//! `PST`/`PDT`) is read as UTC. Go's yearless `Stamp` layouts are not accepted: a time without a year names
//! no instant (Go reads it as year 0, which always clamps to now + 1 s); the default backoff applies instead.
//!
//! The result is clamped to `[now + 1 s, now + 24 h]`.

use jiff::Timestamp;
use jiff::fmt::{rfc2822, strtime};
use jiff::tz::Offset;

use crate::UnixMillis;

const MIN_DELAY_MS: i64 = 1_000;
const MAX_DELAY_MS: i64 = 24 * 60 * 60 * 1_000;

/// The longest value read as a number of seconds (Go: `len(s) <= 7`).
const MAX_SECONDS_LEN: usize = 7;

/// Parses a `Retry-After` header value into an absolute time, clamped to `[now + 1 s, now + 24 h]`.
/// Returns `None` when the value is not understood (the default backoff then applies). Never panics.
pub fn parse_retry_after(value: &str, now_ms: UnixMillis) -> Option<UnixMillis> {
    let value = value.trim();
    let at = match whole_seconds(value) {
        Some(seconds) => now_ms.saturating_add(seconds.saturating_mul(1_000)),
        None => parse_date(value)?.as_millisecond(),
    };
    let earliest = now_ms.saturating_add(MIN_DELAY_MS);
    let latest = now_ms.saturating_add(MAX_DELAY_MS);
    Some(at.clamp(earliest, latest))
}

/// A positive whole number of seconds of at most 7 characters.
fn whole_seconds(value: &str) -> Option<i64> {
    if value.len() > MAX_SECONDS_LEN {
        return None;
    }
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = digits.parse().ok()?;
    (seconds > 0).then_some(seconds)
}

/// RFC 2822 covers RFC 1123 (HTTP-date), RFC 1123Z, RFC 822 and RFC 822Z, including two-digit years and
/// obsolete zone names.
static RFC2822: rfc2822::DateTimeParser = rfc2822::DateTimeParser::new().relaxed_weekday(true);

/// A `strtime` layout. When `zone_token` is set, the whitespace-separated token at that index must be a
/// zone abbreviation; it is taken out before the rest is parsed with `format`.
struct Layout {
    format: &'static str,
    zone_token: Option<usize>,
}

/// The remaining layouts, in Go's order. Whitespace in a format matches any run of whitespace.
const LAYOUTS: &[Layout] = &[
    // `2006-01-02T15:04:05`, UTC; Go accepts fractional seconds after the seconds field.
    Layout {
        format: "%Y-%m-%dT%H:%M:%S%.f",
        zone_token: None,
    },
    // RFC 850: `Monday, 02-Jan-06 15:04:05 MST`.
    Layout {
        format: "%A, %d-%b-%y %H:%M:%S%.f",
        zone_token: Some(3),
    },
    // Ruby date: `Mon Jan 02 15:04:05 -0700 2006`.
    Layout {
        format: "%a %b %d %H:%M:%S%.f %z %Y",
        zone_token: None,
    },
    // Unix date: `Mon Jan _2 15:04:05 MST 2006`.
    Layout {
        format: "%a %b %e %H:%M:%S%.f %Y",
        zone_token: Some(4),
    },
    // ANSI C asctime: `Mon Jan _2 15:04:05 2006`, UTC.
    Layout {
        format: "%a %b %e %H:%M:%S%.f %Y",
        zone_token: None,
    },
    // `2006-01-02`, midnight UTC.
    Layout {
        format: "%Y-%m-%d",
        zone_token: None,
    },
    // Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`; the numeric offset wins.
    Layout {
        format: "%Y-%m-%d %H:%M:%S%.f %z",
        zone_token: Some(3),
    },
];

fn parse_date(value: &str) -> Option<Timestamp> {
    // Every accepted form is ASCII; refusing the rest early keeps the parsers on familiar ground.
    if value.is_empty() || !value.is_ascii() {
        return None;
    }
    if let Ok(ts) = value.parse::<Timestamp>() {
        return Some(ts);
    }
    let tokens: Vec<&str> = value.split_ascii_whitespace().collect();
    if let Some(ts) = parse_layout(&LAYOUTS[0], &tokens) {
        return Some(ts);
    }
    if let Ok(ts) = RFC2822.parse_timestamp(value) {
        return Some(ts);
    }
    LAYOUTS[1..]
        .iter()
        .find_map(|layout| parse_layout(layout, &tokens))
}

fn parse_layout(layout: &Layout, tokens: &[&str]) -> Option<Timestamp> {
    let (zone, text) = match layout.zone_token {
        None => (None, tokens.join(" ")),
        Some(index) => {
            let zone = zone_offset(tokens.get(index)?)?;
            let rest: Vec<&str> = tokens
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != index)
                .map(|(_, token)| *token)
                .collect();
            (Some(zone), rest.join(" "))
        }
    };
    let mut tm = strtime::parse(layout.format, &text).ok()?;
    // Go checks that a weekday is a weekday, not that it is the date's.
    tm.set_weekday(None);
    if tm.offset().is_none() {
        tm.set_offset(Some(zone.unwrap_or(Offset::UTC)));
    }
    tm.to_timestamp().ok()
}

/// The offset of a zone abbreviation, as RFC 822 defines them; any other run of 3 to 5 capital letters
/// is an unknown zone, read as UTC (what Go and RFC 2822 both do).
fn zone_offset(token: &str) -> Option<Offset> {
    let hours = match token {
        "UTC" | "GMT" | "UT" | "Z" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        other
            if (3..=5).contains(&other.len()) && other.bytes().all(|b| b.is_ascii_uppercase()) =>
        {
            0
        }
        _ => return None,
    };
    Some(Offset::constant(hours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-09-21T14:13:20Z.
    const NOW: UnixMillis = 1_790_000_000_000;
    const SECOND: i64 = 1_000;
    const HOUR: i64 = 3_600 * SECOND;
    const DAY: i64 = 24 * HOUR;

    fn check(value: &str, expected: Option<UnixMillis>) {
        assert_eq!(parse_retry_after(value, NOW), expected, "value {value:?}");
    }

    /// The Unix milliseconds of an RFC 3339 timestamp, for readable expectations.
    fn ms(rfc3339: &str) -> UnixMillis {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn now_is_what_the_comments_say() {
        assert_eq!(ms("2026-09-21T14:13:20Z"), NOW);
    }

    // --- whole seconds ---

    #[test]
    fn whole_seconds_from_now() {
        check("1", Some(NOW + SECOND));
        check("3", Some(NOW + 3 * SECOND));
        check("30", Some(NOW + 30 * SECOND));
        check("120", Some(NOW + 120 * SECOND));
        check("86400", Some(NOW + DAY));
    }

    #[test]
    fn whole_seconds_with_surrounding_whitespace_and_plus_sign() {
        check(" 30 ", Some(NOW + 30 * SECOND));
        check("\t5\r\n", Some(NOW + 5 * SECOND));
        check("+30", Some(NOW + 30 * SECOND));
        check("0000030", Some(NOW + 30 * SECOND));
    }

    #[test]
    fn seven_digits_are_seconds_and_clamp_to_a_day() {
        check("86401", Some(NOW + DAY));
        check("9999999", Some(NOW + DAY));
        check("+999999", Some(NOW + DAY));
    }

    #[test]
    fn eight_digits_are_not_seconds_and_not_a_date() {
        check("10000000", None);
        check("99999999", None);
        check("18446744073709551616", None);
    }

    #[test]
    fn zero_and_negative_seconds_are_refused() {
        check("0", None);
        check("0000000", None);
        check("-1", None);
        check("-30", None);
        check("+0", None);
        check("+", None);
        check("++1", None);
    }

    #[test]
    fn numbers_that_are_not_whole_seconds_are_refused() {
        check("1.5", None);
        check("1e3", None);
        check("30s", None);
        check("3 0", None);
        check("0x10", None);
        check("١٢", None); // Arabic-Indic digits
    }

    // --- dates ---

    #[test]
    fn rfc3339_as_python_sends_it() {
        check(
            "2026-09-21T17:48:23.288Z",
            Some(ms("2026-09-21T17:48:23.288Z")),
        );
    }

    #[test]
    fn typescript_sends_seconds_or_an_iso_string() {
        // `RetryAfterError("...", "30s")` -> `retry-after: 30`; with a Date -> `Date.toISOString()`.
        check("30", Some(NOW + 30 * SECOND));
        check("2026-09-21T14:20:00.000Z", Some(ms("2026-09-21T14:20:00Z")));
    }

    #[test]
    fn rfc3339_variants() {
        check("2026-09-21T15:00:00Z", Some(ms("2026-09-21T15:00:00Z")));
        check(
            "2026-09-21T17:00:00+02:00",
            Some(ms("2026-09-21T15:00:00Z")),
        );
        // 13:00Z, in the past: clamped.
        check("2026-09-21T15:00:00+02:00", Some(NOW + SECOND));
        check(
            "2026-09-21T12:00:00-04:00",
            Some(ms("2026-09-21T16:00:00Z")),
        );
        check("2026-09-21T15:00:00.5Z", Some(ms("2026-09-21T15:00:00.5Z")));
        check(
            "2026-09-21T15:00:00.123456789Z",
            Some(ms("2026-09-21T15:00:00.123Z")),
        );
    }

    #[test]
    fn iso_without_offset_is_utc() {
        check("2026-09-21T15:04:05", Some(ms("2026-09-21T15:04:05Z")));
        check(
            "2026-09-21T15:04:05.250",
            Some(ms("2026-09-21T15:04:05.250Z")),
        );
    }

    #[test]
    fn rfc1123_http_date() {
        check(
            "Mon, 21 Sep 2026 15:04:05 GMT",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check(
            "Mon, 21 Sep 2026 15:04:05 UTC",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn rfc1123z_numeric_offset() {
        check(
            "Mon, 21 Sep 2026 17:04:05 +0200",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check(
            "Mon, 21 Sep 2026 11:04:05 -0400",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn rfc822_two_digit_year_no_seconds() {
        check("21 Sep 26 15:04 GMT", Some(ms("2026-09-21T15:04:00Z")));
        check("21 Sep 26 11:04 EDT", Some(ms("2026-09-21T15:04:00Z")));
        check("21 Sep 26 08:04 PDT", Some(ms("2026-09-21T15:04:00Z")));
    }

    #[test]
    fn rfc822z_numeric_offset() {
        check("21 Sep 26 16:04 +0100", Some(ms("2026-09-21T15:04:00Z")));
    }

    #[test]
    fn rfc850() {
        check(
            "Monday, 21-Sep-26 15:04:05 GMT",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check(
            "Monday, 21-Sep-26 10:04:05 EST",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn asctime() {
        check("Mon Sep 21 15:04:05 2026", Some(ms("2026-09-21T15:04:05Z")));
        // Space-padded day, as `asctime` writes it.
        check(
            "Tue Sep  22 01:00:00 2026",
            Some(ms("2026-09-22T01:00:00Z")),
        );
        check("Tue Sep 22 01:00:00 2026", Some(ms("2026-09-22T01:00:00Z")));
    }

    #[test]
    fn unix_date() {
        check(
            "Mon Sep 21 08:04:05 MST 2026",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check(
            "Mon Sep 21 15:04:05 UTC 2026",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn ruby_date() {
        check(
            "Mon Sep 21 08:04:05 -0700 2026",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn date_only_is_midnight_utc() {
        check("2026-09-22", Some(ms("2026-09-22T00:00:00Z")));
    }

    #[test]
    fn go_time_string() {
        check(
            "2026-09-21 15:04:05.5 +0000 UTC",
            Some(ms("2026-09-21T15:04:05.5Z")),
        );
        // The numeric offset wins over the abbreviation.
        check(
            "2026-09-21 08:04:05 -0700 MST",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check(
            "2026-09-21 17:04:05 +0200 CEST",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn unknown_zone_abbreviations_read_as_utc() {
        check(
            "Monday, 21-Sep-26 15:04:05 CEST",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check(
            "Mon Sep 21 15:04:05 XYZ 2026",
            Some(ms("2026-09-21T15:04:05Z")),
        );
    }

    #[test]
    fn weekday_must_be_spelled_right_but_need_not_match() {
        // 2026-09-21 is a Monday.
        check(
            "Fri, 21 Sep 2026 15:04:05 GMT",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check("Fri Sep 21 15:04:05 2026", Some(ms("2026-09-21T15:04:05Z")));
        check(
            "Friday, 21-Sep-26 15:04:05 GMT",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check("Wat, 21 Sep 2026 15:04:05 GMT", None);
        check("Wat Sep 21 15:04:05 2026", None);
    }

    #[test]
    fn names_are_case_insensitive() {
        check(
            "mon, 21 sep 2026 15:04:05 GMT",
            Some(ms("2026-09-21T15:04:05Z")),
        );
        check("MON SEP 21 15:04:05 2026", Some(ms("2026-09-21T15:04:05Z")));
    }

    #[test]
    fn the_classic_examples_are_in_the_past_and_clamp_to_one_second() {
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "1994-11-06T08:49:37Z",
            "1994-11-06T08:49:37",
            "1994-11-06",
            "06 Nov 94 08:49 GMT",
            "06 Nov 94 08:49 -0700",
            "Sun Nov  6 08:49:37 PST 1994",
            "Sun Nov 06 08:49:37 -0800 1994",
        ] {
            check(value, Some(NOW + SECOND));
        }
    }

    // --- clamping ---

    #[test]
    fn dates_in_the_past_or_now_clamp_to_one_second() {
        check("2026-09-21T14:13:20Z", Some(NOW + SECOND));
        check("2026-09-21T14:13:20.999Z", Some(NOW + SECOND));
        check("1970-01-01T00:00:00Z", Some(NOW + SECOND));
        check("0001-01-01T00:00:00Z", Some(NOW + SECOND));
    }

    #[test]
    fn dates_just_inside_the_window_are_kept() {
        check("2026-09-21T14:13:21.001Z", Some(NOW + 1_001));
        check("2026-09-22T14:13:19.999Z", Some(NOW + DAY - 1));
        check("2026-09-22T14:13:20Z", Some(NOW + DAY));
    }

    #[test]
    fn dates_beyond_a_day_clamp_to_a_day() {
        check("2026-09-22T14:13:20.001Z", Some(NOW + DAY));
        check("2027-01-01T00:00:00Z", Some(NOW + DAY));
        check("9999-12-30T00:00:00Z", Some(NOW + DAY));
        check("Thu, 30 Dec 9999 00:00:00 GMT", Some(NOW + DAY));
    }

    #[test]
    fn instants_beyond_the_representable_range_are_refused() {
        // jiff's timestamps end at 9999-12-30T22:00:00Z; Go would read these and clamp them to a day.
        check("9999-12-31T23:59:59Z", None);
        check("10000-01-01T00:00:00Z", None);
    }

    #[test]
    fn extreme_now_saturates() {
        assert_eq!(parse_retry_after("30", i64::MAX), Some(i64::MAX));
        assert_eq!(parse_retry_after("30", i64::MAX - 500), Some(i64::MAX));
        assert_eq!(
            parse_retry_after("2026-09-21T15:00:00Z", i64::MAX),
            Some(i64::MAX)
        );
        assert_eq!(
            parse_retry_after("30", i64::MIN),
            Some(i64::MIN + 30 * SECOND)
        );
        assert_eq!(
            parse_retry_after("2026-09-21T15:00:00Z", i64::MIN),
            Some(i64::MIN + DAY)
        );
    }

    // --- garbage ---

    #[test]
    fn garbage_is_refused() {
        for value in [
            "",
            " ",
            "soon",
            "tomorrow",
            "30 seconds",
            "PT30S",
            "2026-13-01T00:00:00Z",
            "2026-02-30",
            "2026-09-21T25:00:00Z",
            "2026-09-21T15:00:00 GMT",
            "Mon, 21 Sep 2026 15:04:05 +9999",
            "Mon, 21 Sep 2026 15:04:05 G-T",
            "Mon, 21 Foo 2026 15:04:05 GMT",
            "Monday, 21-Sep-26 15:04:05",
            "Monday, 21-Sep-26 15:04:05 gmt",
            "Mon Sep 21 15:04:05 2026 extra",
            "Mon Sep 21 15:04:05 Mst 2026",
            "2026-09-21 15:04:05",
            "2026-09-21 15:04:05 +0000",
            "2026-09-21T15:04:05Z trailing",
            "Mon, 21 Sep 2026 15:04:05 GMT 😀",
            "2026-09-21T15:04:05Zé",
            "ünïcödé",
            "\u{0}",
            "\u{feff}30",
        ] {
            check(value, None);
        }
    }

    #[test]
    fn zone_abbreviations() {
        assert_eq!(zone_offset("GMT"), Some(Offset::UTC));
        assert_eq!(zone_offset("UT"), Some(Offset::UTC));
        assert_eq!(zone_offset("Z"), Some(Offset::UTC));
        assert_eq!(zone_offset("EST"), Some(Offset::constant(-5)));
        assert_eq!(zone_offset("PDT"), Some(Offset::constant(-7)));
        assert_eq!(zone_offset("CEST"), Some(Offset::UTC));
        assert_eq!(zone_offset("AB"), None);
        assert_eq!(zone_offset("ABCDEF"), None);
        assert_eq!(zone_offset("gmt"), None);
        assert_eq!(zone_offset("+0200"), None);
        assert_eq!(zone_offset(""), None);
    }

    // --- properties ---

    fn date_like() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[ ,:.+\\-TZ0-9]{0,12}|[A-Za-z]{0,9},? [0-9]{0,3}[ -][A-Za-z]{0,4}[ -][0-9]{0,5} [0-9:]{0,9} [A-Z+\\-0-9]{0,6}",
        )
        .unwrap()
    }

    /// Instants from a year before to a year after `NOW`, at whole seconds, as every layout shows them.
    fn around_now() -> impl Strategy<Value = Timestamp> {
        (-366 * 86_400i64..366 * 86_400)
            .prop_map(|offset| Timestamp::from_second(NOW / 1_000 + offset).unwrap())
    }

    fn expected(instant: Timestamp) -> UnixMillis {
        instant.as_millisecond().clamp(NOW + SECOND, NOW + DAY)
    }

    proptest! {
        #[test]
        fn never_panics_on_any_string(value in any::<String>(), now in any::<i64>()) {
            let _ = parse_retry_after(&value, now);
        }

        #[test]
        fn some_is_always_inside_the_window(
            value in prop_oneof![any::<String>(), date_like(), "[+0-9 ]{0,9}"],
            now in -4_000_000_000_000i64..4_000_000_000_000,
        ) {
            if let Some(at) = parse_retry_after(&value, now) {
                prop_assert!(at >= now + SECOND, "{value:?} gave {at} for now {now}");
                prop_assert!(at <= now + DAY, "{value:?} gave {at} for now {now}");
            }
        }

        #[test]
        fn whole_seconds_round_trip(seconds in 1i64..=9_999_999, now in -4_000_000_000_000i64..4_000_000_000_000) {
            let at = parse_retry_after(&seconds.to_string(), now);
            prop_assert_eq!(at, Some(now + seconds.min(86_400) * SECOND));
        }

        #[test]
        fn rfc3339_millis_round_trip(offset_ms in -DAY..2 * DAY) {
            let instant = Timestamp::from_millisecond(NOW + offset_ms).unwrap();
            let text = instant.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            prop_assert_eq!(parse_retry_after(&text, NOW), Some(expected(instant)));
            prop_assert_eq!(parse_retry_after(&instant.to_string(), NOW), Some(expected(instant)));
        }

        #[test]
        fn every_layout_round_trips(instant in around_now()) {
            let utc = instant.to_zoned_datetime(jiff::tz::TimeZone::UTC);
            let minus_seven = instant.to_zoned_datetime(jiff::tz::TimeZone::fixed(Offset::constant(-7)));
            let want = Some(expected(instant));
            let whole_minute = Timestamp::from_second(instant.as_second() - instant.as_second().rem_euclid(60)).unwrap();
            for text in [
                utc.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                utc.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
                utc.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                minus_seven.strftime("%a, %d %b %Y %H:%M:%S %z").to_string(),
                utc.strftime("%A, %d-%b-%y %H:%M:%S GMT").to_string(),
                minus_seven.strftime("%A, %d-%b-%y %H:%M:%S MST").to_string(),
                minus_seven.strftime("%a %b %d %H:%M:%S %z %Y").to_string(),
                minus_seven.strftime("%a %b %e %H:%M:%S MST %Y").to_string(),
                utc.strftime("%a %b %e %H:%M:%S %Y").to_string(),
                minus_seven.strftime("%Y-%m-%d %H:%M:%S %z MST").to_string(),
            ] {
                prop_assert_eq!(parse_retry_after(&text, NOW), want, "{}", text);
            }
            let whole = Some(expected(whole_minute));
            for text in [
                utc.strftime("%d %b %y %H:%M GMT").to_string(),
                minus_seven.strftime("%d %b %y %H:%M %z").to_string(),
            ] {
                prop_assert_eq!(parse_retry_after(&text, NOW), whole, "{}", text);
            }
            let midnight = utc.date().to_zoned_datetime(jiff::tz::TimeZone::UTC).unwrap().timestamp();
            prop_assert_eq!(
                parse_retry_after(&utc.strftime("%Y-%m-%d").to_string(), NOW),
                Some(expected(midnight))
            );
        }
    }
}
