//! `durin explain <id>`: why each attempt of a run led where it did. For every attempt in order: its step,
//! number, outcome and error, then the retry decision the engine recorded with it (the policy and rule it
//! counted on, the verdict, the counter, the delay with its parts, and the reason in one sentence).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{print_json, segment};
use crate::cli::RunIdArgs;
use crate::client::{EngineClient, Target};
use crate::output::{colour_stdout, duration_ms, error_line, red, text, time};

pub(crate) async fn explain(target: &Target, args: RunIdArgs) -> anyhow::Result<ExitCode> {
    let client = EngineClient::new(target);
    let path = format!("/v1/runs/{}", segment(&args.run_id));
    let run = client.get_data(&path, &[]).await?;
    let attempts = client.get_data(&format!("{path}/attempts"), &[]).await?;
    if args.json {
        print_json(&json!({ "run": run, "attempts": attempts }));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", render(&run, &attempts, colour_stdout()));
    Ok(ExitCode::SUCCESS)
}

/// The whole text: the run's lines, then one block per attempt.
fn render(run: &Value, attempts: &Value, colour: bool) -> String {
    let mut out = Vec::new();
    for (label, value) in header(run) {
        out.push(format!("{label:<10} {value}"));
    }
    let attempts = attempts.as_array().map(Vec::as_slice).unwrap_or_default();
    if attempts.is_empty() {
        out.push(String::new());
        out.push("no attempts yet".to_owned());
    }
    for attempt in attempts {
        out.push(String::new());
        out.extend(attempt_lines(attempt, colour));
    }
    if run["status"] == "Paused" {
        let id = text(&run["run_id"]);
        out.push(String::new());
        out.push(format!(
            "the run is paused: `durin resume {id}` starts its paused step again with fresh retries, \
             `durin fail {id}` fails it"
        ));
    }
    out.join("\n")
}

fn header(run: &Value) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("run", text(&run["run_id"])),
        ("function", text(&run["function_id"])),
        ("status", text(&run["status"])),
    ];
    let paused = &run["paused"];
    if paused.is_object() {
        lines.push((
            "paused",
            format!(
                "{}, since {}",
                step_label(&paused["step"]),
                time(&paused["since"])
            ),
        ));
        lines.push(("why", text(&paused["reason"])));
    }
    if run["status"] == "Failed" {
        lines.push(("error", error_line(&run["output"])));
    }
    lines
}

/// `step charge`, or `the function body`.
fn step_label(step: &Value) -> String {
    match step.as_str() {
        Some(name) => format!("step {name}"),
        None => "the function body".to_owned(),
    }
}

/// One attempt: a title line, then the explanation's fields indented (none for an attempt that did not
/// fail).
fn attempt_lines(attempt: &Value, colour: bool) -> Vec<String> {
    let outcome = attempt["outcome"].as_str().unwrap_or("-");
    let failed = outcome != "ok";
    let mut title = format!(
        "{}, attempt {}: {}",
        step_label(&attempt["step_name"]),
        text(&attempt["attempt"]),
        if failed {
            outcome.to_uppercase()
        } else {
            outcome.to_owned()
        }
    );
    let error = error_line(&attempt["error"]);
    if !error.is_empty() {
        title.push_str(&format!(" ({error})"));
    }
    let mut lines = vec![if failed { red(&title, colour) } else { title }];
    let explanation = &attempt["explanation"];
    if !explanation.is_object() {
        if failed {
            lines.push("  (no explanation recorded)".to_owned());
        }
        return lines;
    }
    for (label, value) in explanation_fields(explanation) {
        lines.push(format!("  {label:<8} {value}"));
    }
    if let Some(next) = attempt["next_attempt_at"].as_str() {
        lines.push(format!("  {:<8} {}", "next", time(&Value::from(next))));
    }
    lines
}

/// The explanation as labelled lines: policy, rule, verdict, counter, run budget, delay, reason.
fn explanation_fields(e: &Value) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(policy) = e["policy"].as_str() {
        lines.push(("policy", policy.to_owned()));
    }
    if let Some(rule) = e["rule"].as_str() {
        lines.push(("rule", rule.to_owned()));
    }
    let verdict = e["verdict"].as_str().unwrap_or("-");
    lines.push(("verdict", verdict.replace('_', "-")));
    if let (Some(failures), Some(retries)) = (e["failures"].as_u64(), e["retries"].as_u64()) {
        let on = match e["rule"].as_str() {
            Some(rule) => format!("rule {rule}"),
            None => "the policy's retries".to_owned(),
        };
        let retries_text = if retries == 1 {
            "1 retry".to_owned()
        } else {
            format!("{retries} retries")
        };
        let counter = if verdict == "cool_down" {
            format!("{failures} failures so far on {on} ({retries_text}); a cool-down counts none")
        } else {
            format!(
                "failure {failures} of at most {} on {on} ({retries_text})",
                retries + 1
            )
        };
        lines.push(("counter", counter));
    }
    if let (Some(used), Some(budget)) = (e["run_retries_used"].as_u64(), e["run_retries"].as_u64())
    {
        lines.push(("run", format!("{used} of the run's {budget} retries used")));
    }
    if let Some(delay) = e["delay_ms"].as_i64() {
        let mut text = millis(delay);
        match (e["backoff_ms"].as_i64(), e["jitter_ms"].as_i64()) {
            (Some(backoff), Some(jitter)) => {
                text.push_str(&format!(" = backoff {backoff} ms + jitter {jitter} ms"));
            }
            _ if e["retry_after_ms"].is_i64() => text.push_str(" (the app's Retry-After)"),
            _ => {}
        }
        lines.push(("delay", text));
    } else if let Some(asked) = e["retry_after_ms"].as_i64() {
        lines.push(("asked", format!("Retry-After {}", millis(asked))));
    }
    if let Some(reason) = e["reason"].as_str() {
        lines.push(("reason", reason.to_owned()));
    }
    lines
}

/// `153 ms`; `2153 ms (2.2 s)` from a second on.
fn millis(ms: i64) -> String {
    if ms >= 1_000 {
        format!("{ms} ms ({})", duration_ms(ms))
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry() -> Value {
        json!({
            "step_name": "charge", "attempt": 1, "outcome": "error",
            "error": { "name": "TimeoutError", "message": "the bank took too long" },
            "next_attempt_at": "2026-01-01T00:00:02.153Z",
            "explanation": {
                "policy": "the policy file's entry for the step", "rule": "TimeoutError",
                "verdict": "retry", "failures": 2, "retries": 10,
                "run_retries_used": 3, "run_retries": 5,
                "delay_ms": 2153, "backoff_ms": 2000, "jitter_ms": 153,
                "reason": "retry 2 of 10 on rule TimeoutError, after 2153 ms: exponential backoff 2000 ms + jitter 153 ms",
            },
        })
    }

    #[test]
    fn an_attempt_shows_its_policy_rule_verdict_counter_delay_and_reason() {
        let lines = attempt_lines(&retry(), false);
        assert_eq!(
            lines,
            [
                "step charge, attempt 1: ERROR (TimeoutError: the bank took too long)",
                "  policy   the policy file's entry for the step",
                "  rule     TimeoutError",
                "  verdict  retry",
                "  counter  failure 2 of at most 11 on rule TimeoutError (10 retries)",
                "  run      3 of the run's 5 retries used",
                "  delay    2153 ms (2.2 s) = backoff 2000 ms + jitter 153 ms",
                "  reason   retry 2 of 10 on rule TimeoutError, after 2153 ms: exponential backoff 2000 ms + jitter 153 ms",
                "  next     2026-01-01 00:00:02.153Z",
            ]
        );
    }

    #[test]
    fn a_pause_a_cool_down_and_an_attempt_without_explanation_read_as_such() {
        let pause = json!({
            "step_name": null, "attempt": 1, "outcome": "error",
            "error": { "name": "Error", "message": "down" }, "next_attempt_at": null,
            "explanation": {
                "policy": "the policy file's entry for the function", "verdict": "pause",
                "failures": 2, "retries": 1,
                "reason": "retries spent: failure 2 on the policy's retries, which allows 1 retry; the policy pauses the run until it is resumed or failed",
            },
        });
        let lines = attempt_lines(&pause, false);
        assert_eq!(
            lines[0],
            "the function body, attempt 1: ERROR (Error: down)"
        );
        assert!(lines.contains(&"  verdict  pause".to_owned()), "{lines:#?}");
        assert!(
            lines.contains(
                &"  counter  failure 2 of at most 2 on the policy's retries (1 retry)".to_owned()
            ),
            "{lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("  delay")),
            "{lines:#?}"
        );

        let cool = json!({
            "verdict": "cool_down", "failures": 1, "retries": 3, "delay_ms": 500,
            "retry_after_ms": 500, "reason": "cool-down",
        });
        let fields = explanation_fields(&cool);
        assert!(
            fields.contains(&("verdict", "cool-down".to_owned())),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("delay", "500 ms (the app's Retry-After)".to_owned())),
            "{fields:?}"
        );

        let ok = json!({ "step_name": "a", "attempt": 0, "outcome": "ok", "error": null, "explanation": null });
        assert_eq!(attempt_lines(&ok, false), ["step a, attempt 0: ok"]);
        let old = json!({ "step_name": "a", "attempt": 0, "outcome": "error", "error": "x", "explanation": null });
        assert_eq!(attempt_lines(&old, false)[1], "  (no explanation recorded)");
    }

    #[test]
    fn a_paused_run_says_why_and_how_to_go_on() {
        let run = json!({
            "run_id": "R", "function_id": "f", "status": "Paused",
            "paused": { "step": "charge", "since": "2026-01-01T00:00:01Z", "reason": "retries spent" },
        });
        let text = render(&run, &json!([retry()]), false);
        assert!(
            text.contains(
                "paused     step charge, since 2026-01-01 00:00:01.000Z\nwhy        retries spent"
            ),
            "{text}"
        );
        assert!(text.contains("`durin resume R`"), "{text}");
        assert!(text.contains("  reason   retry 2 of 10"), "{text}");
    }
}
