//! What an operator does to runs: `durin rerun` (one run, from the start or from a step; or many runs of
//! a function), `durin cancel`, `durin retry-now`, and for a run its retry policy paused, `durin resume`
//! and `durin fail`.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::{ago_ms, print_json, run_status, segment};
use crate::cli::{RerunArgs, RunIdArgs, UsageError};
use crate::client::{EngineClient, Target};
use crate::output::{error_line, text};

pub(crate) async fn rerun(target: &Target, args: RerunArgs) -> anyhow::Result<ExitCode> {
    let client = EngineClient::new(target);
    let (Some(run_id), None) = (&args.run_id, &args.function) else {
        return rerun_many(&client, args).await;
    };
    let body = match &args.from_step {
        Some(step) => json!({ "from_step": step }),
        None => json!({}),
    };
    let answer = client
        .post_data(&format!("/v1/runs/{}/rerun", segment(run_id)), &body)
        .await?;
    if args.json {
        print_json(&answer);
        return Ok(ExitCode::SUCCESS);
    }
    let from = match &args.from_step {
        Some(step) => format!(" from step {step}"),
        None => String::new(),
    };
    println!(
        "started run {} (a rerun of {run_id}{from})",
        text(&answer["run_id"])
    );
    Ok(ExitCode::SUCCESS)
}

/// `durin rerun --function ID [--status S] [--since D] [--until D]`.
async fn rerun_many(client: &EngineClient, args: RerunArgs) -> anyhow::Result<ExitCode> {
    let Some(function) = args.function else {
        return Err(UsageError("name a run id, or --function for many runs".into()).into());
    };
    let mut body = json!({
        "function_id": function,
        "status": run_status("--status", &args.status)?,
    });
    if let Some(since) = &args.since {
        body["since"] = json!(ago_ms("--since", since)?);
    }
    if let Some(until) = &args.until {
        body["until"] = json!(ago_ms("--until", until)?);
    }
    let answer = client.post_data("/v1/runs/rerun", &body).await?;
    if args.json {
        print_json(&answer);
        return Ok(ExitCode::SUCCESS);
    }
    let started: Vec<String> = answer["run_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if started.is_empty() {
        println!(
            "no {} run of {function} to rerun",
            args.status.to_lowercase()
        );
    }
    for run_id in started {
        println!("started run {run_id}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn cancel(target: &Target, args: RunIdArgs) -> anyhow::Result<ExitCode> {
    let run = EngineClient::new(target)
        .delete_data(&format!("/v1/runs/{}", segment(&args.run_id)))
        .await?;
    if args.json {
        print_json(&run);
    } else {
        println!("cancelled run {}", text(&run["run_id"]));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn retry_now(target: &Target, args: RunIdArgs) -> anyhow::Result<ExitCode> {
    let answer = EngineClient::new(target)
        .post_data(
            &format!("/v1/runs/{}/retry-now", segment(&args.run_id)),
            &Value::Object(Default::default()),
        )
        .await?;
    if args.json {
        print_json(&answer);
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = answer["jobs"].as_u64().unwrap_or(0);
    let what = if jobs == 1 {
        "1 waiting attempt is".to_owned()
    } else {
        format!("{jobs} waiting attempts are")
    };
    println!("run {}: {what} due now", args.run_id);
    Ok(ExitCode::SUCCESS)
}

/// `durin resume <run>`: the run's paused steps start again, each with a fresh retry counter.
pub(crate) async fn resume(target: &Target, args: RunIdArgs) -> anyhow::Result<ExitCode> {
    let run = EngineClient::new(target)
        .post_data(
            &format!("/v1/runs/{}/resume", segment(&args.run_id)),
            &Value::Object(Default::default()),
        )
        .await?;
    if args.json {
        print_json(&run);
    } else {
        println!(
            "resumed run {}: its paused steps start again with fresh retries",
            text(&run["run_id"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `durin fail <run>`: the paused run fails with the error its step paused on.
pub(crate) async fn fail(target: &Target, args: RunIdArgs) -> anyhow::Result<ExitCode> {
    let run = EngineClient::new(target)
        .post_data(
            &format!("/v1/runs/{}/fail", segment(&args.run_id)),
            &Value::Object(Default::default()),
        )
        .await?;
    if args.json {
        print_json(&run);
    } else {
        println!(
            "failed run {}: {}",
            text(&run["run_id"]),
            error_line(&run["output"])
        );
    }
    Ok(ExitCode::SUCCESS)
}
