//! Human-readable tables and times for the CLI.

use comfy_table::Table;
use serde_json::Value;

pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.set_header(header.to_vec());
    table
}

pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time shortened to what a person reads: `2026-11-28 19:30:01.123`.
pub(crate) fn time(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.replace('T', " ").trim_end_matches('Z').to_owned(),
        None => "-".into(),
    }
}

pub(crate) fn duration_ms(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else {
        format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

/// One line of an error object: `Name: message`.
pub(crate) fn error_line(error: &Value) -> String {
    if error.is_null() {
        return String::new();
    }
    let name = error.get("name").and_then(Value::as_str).unwrap_or("Error");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let line = format!("{name}: {message}");
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(99).collect::<String>())
    } else {
        line
    }
}
