//! `durin run <id>`: one run at a glance. A summary that says why it failed or when it tries next, then
//! the timeline: each step (and the function body) with one row per attempt, in order.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{print_json, segment};
use crate::cli::RunArgs;
use crate::client::{EngineClient, Target};
use crate::output::{
    Grid, RowMark, colour_stdout, duration_ms, error_line, now_ms, red, relative, short, text, time,
};

pub(crate) async fn run(target: &Target, args: RunArgs) -> anyhow::Result<ExitCode> {
    let client = EngineClient::new(target);
    let path = format!("/v1/runs/{}", segment(&args.run_id));
    let run = client.get_data(&path, &[]).await?;
    let steps = client.get_data(&format!("{path}/steps"), &[]).await?;
    if args.json {
        let attempts = client.get_data(&format!("{path}/attempts"), &[]).await?;
        print_json(&json!({ "run": run, "steps": steps, "attempts": attempts }));
        return Ok(ExitCode::SUCCESS);
    }
    let steps = steps.as_array().cloned().unwrap_or_default();
    let colour = colour_stdout();
    let now = now_ms();
    for (label, value) in summary(&run, &steps, now, colour) {
        println!("{label:<10} {value}");
    }
    println!();
    if steps.is_empty() {
        println!("no attempts yet");
    } else {
        println!("{}", timeline(&steps, now).render(colour));
    }
    Ok(ExitCode::SUCCESS)
}

/// The lines above the table: what the run is, and the answer to "why did it fail" or "when does it
/// try again".
fn summary(run: &Value, steps: &[Value], now: i64, colour: bool) -> Vec<(&'static str, String)> {
    let status = text(&run["status"]);
    let mut lines = vec![
        ("run", text(&run["run_id"])),
        ("function", text(&run["function_id"])),
        ("event", text(&run["event_id"])),
    ];
    if !run["original_run_id"].is_null() {
        lines.push(("rerun of", text(&run["original_run_id"])));
    }
    let failed = status == "Failed";
    lines.push((
        "status",
        if failed {
            red(&status.to_uppercase(), colour)
        } else {
            status.clone()
        },
    ));
    lines.push(("started", time(&run["run_started_at"])));
    if !run["ended_at"].is_null() {
        let took = match (millis(&run["ended_at"]), millis(&run["run_started_at"])) {
            (Some(end), Some(start)) => format!(" (took {})", duration_ms(end - start)),
            _ => String::new(),
        };
        lines.push(("ended", format!("{}{took}", time(&run["ended_at"]))));
    }
    match status.as_str() {
        "Failed" => {
            lines.push(("error", red(&error_line(&run["output"]), colour)));
            for step in failed_steps(steps) {
                let attempts = step["attempts"].as_array().map_or(0, Vec::len);
                let plural = if attempts == 1 { "" } else { "s" };
                lines.push((
                    "failed in",
                    format!("{} after {attempts} attempt{plural}", text(&step["name"])),
                ));
            }
        }
        "Completed" => lines.push(("output", short(&text(&run["output"]), 200))),
        "Paused" => {
            let paused = &run["paused"];
            if paused.is_object() {
                let step = match paused["step"].as_str() {
                    Some(name) => name.to_owned(),
                    None => "(function body)".to_owned(),
                };
                lines.push((
                    "paused in",
                    format!(
                        "{step} after {} attempts, since {}",
                        text(&paused["attempts"]),
                        time(&paused["since"])
                    ),
                ));
                lines.push(("error", red(&error_line(&paused["error"]), colour)));
                lines.push(("why", text(&paused["reason"])));
            }
            let id = text(&run["run_id"]);
            lines.push((
                "go on",
                format!("durin resume {id} (fresh retries) or durin fail {id}; durin explain {id}"),
            ));
        }
        _ => {}
    }
    for step in steps {
        let Some(at) = step["next_attempt_at_ms"].as_i64() else {
            continue;
        };
        let next = step["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(|a| a["attempt"].as_u64())
            .map_or(0, |n| n + 1);
        lines.push((
            "next try",
            format!(
                "{} ({}): step {}, attempt {next}",
                time(&step["next_attempt_at"]),
                relative(at, now),
                text(&step["name"])
            ),
        ));
    }
    for step in steps.iter().filter(|s| s["status"] == "waiting") {
        lines.push(("waiting", format!("step {}", text(&step["name"]))));
    }
    lines
}

const COLUMNS: [&str; 8] = [
    "step", "status", "attempt", "started", "duration", "outcome", "error", "next try",
];

/// One row per attempt, grouped by step: the step's name and status on its first row; failed attempts
/// marked (outcome in capitals, red on a terminal). "next try" is when the attempt after this one was
/// due; on a step's last row, when its next attempt is due now (with how long until then).
fn timeline(steps: &[Value], now: i64) -> Grid {
    let mut grid = Grid::new(&COLUMNS);
    for step in steps {
        let name = text(&step["name"]);
        let status = step_status(&step["status"]);
        let attempts = step["attempts"].as_array().cloned().unwrap_or_default();
        if attempts.is_empty() {
            // A result kept from the original run by a rerun from a later step.
            let cells = [&name, &status, "-", "-", "-", "kept", "", "-"];
            grid.row(
                cells.iter().map(|c| c.to_string()).collect(),
                RowMark {
                    failed: false,
                    new_group: true,
                },
            );
            continue;
        }
        for (index, attempt) in attempts.iter().enumerate() {
            let first = index == 0;
            let last = index + 1 == attempts.len();
            let outcome = attempt["outcome"].as_str().unwrap_or("-");
            let failed = outcome != "ok";
            let next = if last {
                match step["next_attempt_at_ms"].as_i64() {
                    Some(at) => {
                        format!("{} ({})", time(&step["next_attempt_at"]), relative(at, now))
                    }
                    None => "-".to_owned(),
                }
            } else {
                time(&attempt["next_attempt_at"])
            };
            grid.row(
                vec![
                    if first { name.clone() } else { String::new() },
                    if first { status.clone() } else { String::new() },
                    text(&attempt["attempt"]),
                    time(&attempt["started_at"]),
                    duration_ms(attempt["duration_ms"].as_i64().unwrap_or(0)),
                    if failed {
                        outcome.to_uppercase()
                    } else {
                        outcome.to_owned()
                    },
                    error_line(&attempt["error"]),
                    next,
                ],
                RowMark {
                    failed,
                    new_group: first,
                },
            );
        }
    }
    grid
}

/// The steps that failed for good; the function body only when no step of its own did.
fn failed_steps(steps: &[Value]) -> Vec<&Value> {
    let failed: Vec<&Value> = steps.iter().filter(|s| s["status"] == "failed").collect();
    let named: Vec<&Value> = failed
        .iter()
        .copied()
        .filter(|s| !s["step_id"].is_null())
        .collect();
    if named.is_empty() { failed } else { named }
}

/// A step's status; `FAILED` in capitals so it stands out.
fn step_status(status: &Value) -> String {
    match status.as_str() {
        Some("failed") => "FAILED".to_owned(),
        Some(other) => other.to_owned(),
        None => "-".to_owned(),
    }
}

/// An RFC 3339 time as Unix milliseconds.
fn millis(value: &Value) -> Option<i64> {
    value
        .as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u64, outcome: &str, error: Option<&str>, next_ms: Option<i64>) -> Value {
        json!({
            "attempt": n,
            "started_at": "2026-01-01T00:00:00.000Z",
            "duration_ms": 12,
            "outcome": outcome,
            "error": error.map(|m| json!({ "name": "Error", "message": m })),
            "next_attempt_at": next_ms.map(|_| "2026-01-01T00:00:10.000Z"),
            "next_attempt_at_ms": next_ms,
        })
    }

    #[test]
    fn a_scheduled_step_shows_its_failures_and_when_it_tries_next() {
        let steps = vec![
            json!({
                "name": "(function body)", "status": "running", "next_attempt_at_ms": null,
                "attempts": [attempt(0, "ok", None, None)],
            }),
            json!({
                "name": "charge", "status": "scheduled",
                "next_attempt_at": "2026-01-01T00:00:20.000Z", "next_attempt_at_ms": 20_000,
                "attempts": [
                    attempt(0, "error", Some("card declined"), Some(10_000)),
                    attempt(1, "error", Some("card declined again"), Some(20_000)),
                ],
            }),
        ];
        let table = timeline(&steps, 5_000).render(false);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| l.split('|').map(str::trim).collect())
            .collect();
        // rows[0] is the header; cells start at index 1.
        assert_eq!(
            rows[1][1..4],
            ["(function body)", "running", "0"],
            "{table}"
        );
        assert_eq!(rows[2][1..4], ["charge", "scheduled", "0"], "{table}");
        assert_eq!(rows[2][6], "ERROR", "{table}");
        assert_eq!(rows[2][7], "Error: card declined", "{table}");
        assert_eq!(rows[2][8], "2026-01-01 00:00:10.000Z", "{table}");
        assert_eq!(rows[3][1..4], ["", "", "1"], "{table}");
        assert_eq!(
            rows[3][8], "2026-01-01 00:00:20.000Z (in 15.0 s)",
            "{table}"
        );

        let run =
            json!({ "run_id": "R", "status": "Running", "run_started_at": "2026-01-01T00:00:00Z" });
        let lines = summary(&run, &steps, 5_000, false);
        let next: Vec<&String> = lines
            .iter()
            .filter(|(l, _)| *l == "next try")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            next,
            ["2026-01-01 00:00:20.000Z (in 15.0 s): step charge, attempt 2"]
        );
    }

    #[test]
    fn a_failed_run_says_which_step_failed_and_why() {
        let steps = vec![json!({
            "name": "charge", "status": "failed", "next_attempt_at_ms": null,
            "attempts": [attempt(0, "non_retriable", Some("no such card"), None)],
        })];
        let run = json!({
            "run_id": "R", "status": "Failed",
            "run_started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:00:01.500Z",
            "output": { "name": "NonRetriableError", "message": "no such card" },
        });
        let lines = summary(&run, &steps, 0, false);
        let get = |label: &str| {
            lines
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("status"), Some("FAILED"));
        assert_eq!(get("error"), Some("NonRetriableError: no such card"));
        assert_eq!(get("failed in"), Some("charge after 1 attempt"));
        assert_eq!(get("ended"), Some("2026-01-01 00:00:01.500Z (took 1.5 s)"));
        let table = timeline(&steps, 0).render(false);
        assert!(table.contains("| FAILED "), "{table}");
        assert!(table.contains("| NON_RETRIABLE "), "{table}");
    }
}
