//! Human-readable tables and times for the CLI. `--json` output never comes through here.

use std::io::IsTerminal;

use comfy_table::Table;
use comfy_table::presets::ASCII_FULL_CONDENSED;
use serde_json::Value;

/// A table whose rows can be grouped (a rule between groups) and marked as failures (red on a terminal).
pub(crate) struct Grid {
    table: Table,
    rows: Vec<RowMark>,
}

/// How one row is shown besides its cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RowMark {
    /// Something failed here: the row is red when colours are on.
    pub(crate) failed: bool,
    /// The row starts a new group: a rule is drawn above it.
    pub(crate) new_group: bool,
}

impl Grid {
    pub(crate) fn new(header: &[&str]) -> Self {
        let mut table = Table::new();
        table.load_style(ASCII_FULL_CONDENSED);
        table.set_header(header.to_vec());
        Self {
            table,
            rows: Vec::new(),
        }
    }

    /// Adds a row; every cell is put on one line, so each row is exactly one line of the table.
    pub(crate) fn row(&mut self, cells: Vec<String>, mark: RowMark) {
        self.table
            .add_row(cells.iter().map(|c| one_line(c)).collect::<Vec<_>>());
        self.rows.push(mark);
    }

    /// The table as text, with ANSI colours when `colour` is true.
    pub(crate) fn render(&self, colour: bool) -> String {
        let lines: Vec<String> = self.table.lines().collect();
        // Top border, header, header separator, one line per row, bottom border.
        let rule = lines.first().cloned().unwrap_or_default();
        let mut out = Vec::with_capacity(lines.len() + self.rows.len());
        for (index, line) in lines.into_iter().enumerate() {
            let row = index
                .checked_sub(3)
                .and_then(|i| self.rows.get(i).map(|m| (i, m)));
            match row {
                Some((i, mark)) => {
                    if mark.new_group && i > 0 {
                        out.push(rule.clone());
                    }
                    if mark.failed && colour {
                        out.push(format!("{RED}{line}{RESET}"));
                    } else {
                        out.push(line);
                    }
                }
                None => out.push(line),
            }
        }
        out.join("\n")
    }
}

const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Colours only on a terminal, and never when `NO_COLOR` is set.
pub(crate) fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in red when `colour` is on.
pub(crate) fn red(text: &str, colour: bool) -> String {
    if colour {
        format!("{RED}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value on one line, at most `max` characters (`…` marks a cut).
pub(crate) fn short(value: &str, max: usize) -> String {
    let line = one_line(value);
    if line.chars().count() > max {
        format!(
            "{}…",
            line.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        line
    }
}

fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r', '\t']) {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        text.to_owned()
    }
}

/// An RFC 3339 time as a person reads it, in UTC to the millisecond: `2026-11-28 19:30:01.120Z`.
pub(crate) fn time(value: &Value) -> String {
    let Some(text) = value.as_str() else {
        return "-".into();
    };
    match text.parse::<jiff::Timestamp>() {
        Ok(at) => at.strftime("%Y-%m-%d %H:%M:%S%.3fZ").to_string(),
        Err(_) => text.to_owned(),
    }
}

pub(crate) fn duration_ms(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1_000)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// How far `at_ms` is from `now_ms`: `in 14.2 s`, `due now`, `3.0 s ago`.
pub(crate) fn relative(at_ms: i64, now_ms: i64) -> String {
    let delta = at_ms - now_ms;
    if delta > 0 {
        format!("in {}", duration_ms(delta))
    } else if delta > -1_000 {
        "due now".to_owned()
    } else {
        format!("{} ago", duration_ms(-delta))
    }
}

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// One line of an error object: `Name: message`.
pub(crate) fn error_line(error: &Value) -> String {
    if error.is_null() {
        return String::new();
    }
    if let Some(text) = error.as_str() {
        return short(text, 100);
    }
    let name = error.get("name").and_then(Value::as_str).unwrap_or("Error");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    short(&format!("{name}: {message}"), 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        let mut grid = Grid::new(&["step", "outcome"]);
        grid.row(
            vec!["a".into(), "ok".into()],
            RowMark {
                failed: false,
                new_group: true,
            },
        );
        grid.row(
            vec!["a".into(), "ERROR\nwith a second line".into()],
            RowMark {
                failed: true,
                new_group: false,
            },
        );
        grid.row(
            vec!["b".into(), "ok".into()],
            RowMark {
                failed: false,
                new_group: true,
            },
        );
        grid
    }

    #[test]
    fn groups_are_ruled_off_and_failures_are_red_only_with_colour() {
        let plain = grid().render(false);
        assert!(!plain.contains('\x1b'), "{plain}");
        let lines: Vec<&str> = plain.lines().collect();
        // border, header, separator, a, a, rule, b, border
        assert_eq!(lines.len(), 8, "{plain}");
        assert!(lines[4].contains("ERROR with a second line"), "{plain}");
        assert_eq!(lines[5], lines[0], "a rule between the groups:\n{plain}");
        assert!(lines[6].starts_with("| b"), "{plain}");

        let coloured = grid().render(true);
        let lines: Vec<&str> = coloured.lines().collect();
        assert!(
            lines[4].starts_with(RED) && lines[4].ends_with(RESET),
            "{coloured}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.contains('\x1b')).count(),
            1,
            "{coloured}"
        );
    }

    #[test]
    fn times_read_as_a_person_says_them() {
        assert_eq!(duration_ms(12), "12 ms");
        assert_eq!(duration_ms(14_200), "14.2 s");
        assert_eq!(duration_ms(185_000), "3m 05s");
        assert_eq!(duration_ms(7_380_000), "2h 03m");
        assert_eq!(relative(10_000, 0), "in 10.0 s");
        assert_eq!(relative(0, 500), "due now");
        assert_eq!(relative(0, 3_000), "3.0 s ago");
        assert_eq!(
            time(&Value::from("2026-11-28T19:30:01.12Z")),
            "2026-11-28 19:30:01.120Z"
        );
        assert_eq!(
            time(&Value::from("2026-11-28T20:30:01+01:00")),
            "2026-11-28 19:30:01.000Z"
        );
        assert_eq!(time(&Value::Null), "-");
    }

    #[test]
    fn errors_fit_on_one_short_line() {
        let error = serde_json::json!({ "name": "TypeError", "message": "x is\nundefined" });
        assert_eq!(error_line(&error), "TypeError: x is undefined");
        assert_eq!(error_line(&Value::Null), "");
        let long = serde_json::json!({ "message": "y".repeat(300) });
        assert_eq!(error_line(&long).chars().count(), 100);
    }
}
