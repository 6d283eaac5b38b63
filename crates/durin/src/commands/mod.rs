//! The client commands, one file per group. Each prints a human table by default and the engine's data
//! as JSON with `--json`; every failure is an error (exit 1), every bad flag value a [`UsageError`] (exit 2).

mod actions;
mod apps;
mod events;
mod explain;
mod functions;
mod policies;
mod run;
mod runs;
mod send;

pub(crate) use actions::{cancel, fail, rerun, resume, retry_now};
pub(crate) use apps::apps;
pub(crate) use events::events;
pub(crate) use explain::explain;
pub(crate) use functions::functions;
pub(crate) use policies::policies;
pub(crate) use run::run;
pub(crate) use runs::runs;
pub(crate) use send::send;

use serde_json::Value;

use crate::cli::UsageError;

/// One JSON document on one line, for scripts.
fn print_json(value: &Value) {
    println!("{value}");
}

/// A status flag (any case) as the API spells it.
fn run_status(flag: &str, status: &str) -> Result<&'static str, UsageError> {
    match status.to_ascii_lowercase().as_str() {
        "running" => Ok("Running"),
        "paused" => Ok("Paused"),
        "completed" => Ok("Completed"),
        "failed" => Ok("Failed"),
        "cancelled" | "canceled" => Ok("Cancelled"),
        _ => Err(UsageError(format!(
            "{flag} {status:?}: use running, paused, completed, failed or cancelled"
        ))),
    }
}

/// The Unix milliseconds `ago` (a duration like 30m, 1h or 2d) before now.
fn ago_ms(flag: &str, ago: &str) -> Result<i64, UsageError> {
    let ms = durin_engine::parse_duration_ms(ago).ok_or_else(|| {
        UsageError(format!(
            "{flag} {ago:?} is not a duration like 30s, 30m, 1h or 2d"
        ))
    })?;
    Ok(crate::output::now_ms() - ms)
}

/// An id as one URL path segment: everything but unreserved characters percent-encoded.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Tells, on stderr, how to get the next page when this one is full.
fn next_page_hint(shown: usize, limit: u16, what: &str, last: &Value) {
    if shown >= usize::from(limit)
        && let Some(last) = last.as_str()
    {
        eprintln!("(the {limit} newest {what}; older ones: add --before {last})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(segment("01JABC-x_y.z~"), "01JABC-x_y.z~");
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn statuses_are_spelled_as_the_api_does() {
        assert_eq!(run_status("--status", "FAILED").unwrap(), "Failed");
        assert_eq!(run_status("--status", "canceled").unwrap(), "Cancelled");
        assert_eq!(run_status("--status", "Paused").unwrap(), "Paused");
        assert!(run_status("--status", "done").is_err());
        assert!(ago_ms("--since", "1h").is_ok());
        assert!(ago_ms("--since", "soon").is_err());
    }
}
