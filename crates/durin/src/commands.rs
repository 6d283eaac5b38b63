//! The client commands: `send`, `runs`, `run`.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::{RunArgs, RunsArgs, SendArgs, UsageError};
use crate::client::EngineClient;
use crate::output::{duration_ms, error_line, table, text, time};

pub(crate) async fn send(url: &str, args: SendArgs) -> anyhow::Result<ExitCode> {
    let data: Value = serde_json::from_str(&args.data)
        .map_err(|e| UsageError(format!("--data must be a JSON object: {e}")))?;
    if !data.is_object() {
        return Err(
            UsageError("--data must be a JSON object, e.g. '{\"user_id\": 1}'".into()).into(),
        );
    }
    let mut event = json!({ "name": args.name, "data": data });
    if let Some(id) = args.id {
        event["id"] = Value::String(id);
    }
    let answer = EngineClient::new(url)
        .post_json("/e/durin-cli", &event)
        .await?;
    if args.json {
        println!("{answer}");
    } else {
        for id in answer
            .get("ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            println!("sent event {}", text(id));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn runs(url: &str, args: RunsArgs) -> anyhow::Result<ExitCode> {
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(status) = args.status {
        let status = match status.to_ascii_lowercase().as_str() {
            "running" => "Running",
            "completed" => "Completed",
            "failed" => "Failed",
            "cancelled" => "Cancelled",
            _ => {
                return Err(UsageError(format!(
                    "--status {status:?}: use running, completed, failed or cancelled"
                ))
                .into());
            }
        };
        query.push(("status", status.to_owned()));
    }
    if let Some(function) = args.function {
        query.push(("function_id", function));
    }
    if let Some(since) = args.since {
        let ago = durin_engine::parse_duration_ms(&since).ok_or_else(|| {
            UsageError(format!(
                "--since {since:?} is not a duration like 30m, 1h or 2d"
            ))
        })?;
        let start = jiff::Timestamp::now().as_millisecond() - ago;
        query.push(("since", start.to_string()));
    }
    let runs = EngineClient::new(url).get_data("/v1/runs", &query).await?;
    if args.json {
        println!("{runs}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["run", "function", "status", "started", "ended"]);
    for run in runs.as_array().into_iter().flatten() {
        t.add_row(vec![
            text(&run["run_id"]),
            text(&run["function_id"]),
            text(&run["status"]),
            time(&run["run_started_at"]),
            time(&run["ended_at"]),
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(url: &str, args: RunArgs) -> anyhow::Result<ExitCode> {
    let client = EngineClient::new(url);
    let run = client
        .get_data(&format!("/v1/runs/{}", args.run_id), &[])
        .await?;
    let attempts = client
        .get_data(&format!("/v1/runs/{}/attempts", args.run_id), &[])
        .await?;
    if args.json {
        println!("{}", json!({ "run": run, "attempts": attempts }));
        return Ok(ExitCode::SUCCESS);
    }
    println!("run       {}", text(&run["run_id"]));
    println!("function  {}", text(&run["function_id"]));
    println!("status    {}", text(&run["status"]));
    println!("started   {}", time(&run["run_started_at"]));
    println!("ended     {}", time(&run["ended_at"]));
    println!("output    {}", text(&run["output"]));
    let mut t = table(&[
        "#",
        "step",
        "attempt",
        "started",
        "duration",
        "outcome",
        "error",
        "next attempt",
    ]);
    for (index, attempt) in attempts.as_array().into_iter().flatten().enumerate() {
        let step = match attempt["step_name"].as_str() {
            Some(name) => name.to_owned(),
            None => "(function body)".to_owned(),
        };
        t.add_row(vec![
            (index + 1).to_string(),
            step,
            text(&attempt["attempt"]),
            time(&attempt["started_at"]),
            duration_ms(attempt["duration_ms"].as_i64().unwrap_or(0)),
            text(&attempt["outcome"]),
            error_line(&attempt["error"]),
            time(&attempt["next_attempt_at"]),
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}
