//! `durin runs`: recent runs, newest first, with filters and paging.

use std::process::ExitCode;

use super::{ago_ms, next_page_hint, print_json, run_status};
use crate::cli::RunsArgs;
use crate::client::{EngineClient, Target};
use crate::output::{Grid, RowMark, colour_stdout, text, time};

pub(crate) async fn runs(target: &Target, args: RunsArgs) -> anyhow::Result<ExitCode> {
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(status) = &args.status {
        query.push(("status", run_status("--status", status)?.to_owned()));
    }
    if let Some(function) = args.function {
        query.push(("function_id", function));
    }
    if let Some(since) = &args.since {
        query.push(("since", ago_ms("--since", since)?.to_string()));
    }
    if let Some(before) = args.before {
        query.push(("cursor", before));
    }
    let runs = EngineClient::new(target)
        .get_data("/v1/runs", &query)
        .await?;
    if args.json {
        print_json(&runs);
        return Ok(ExitCode::SUCCESS);
    }
    let runs = runs.as_array().cloned().unwrap_or_default();
    if runs.is_empty() {
        println!("no runs");
        return Ok(ExitCode::SUCCESS);
    }
    let mut grid = Grid::new(&["run", "function", "status", "started", "ended", "rerun of"]);
    for run in &runs {
        grid.row(
            vec![
                text(&run["run_id"]),
                text(&run["function_id"]),
                text(&run["status"]),
                time(&run["run_started_at"]),
                time(&run["ended_at"]),
                text(&run["original_run_id"]),
            ],
            RowMark {
                failed: run["status"] == "Failed",
                new_group: false,
            },
        );
    }
    println!("{}", grid.render(colour_stdout()));
    if let Some(last) = runs.last() {
        next_page_hint(runs.len(), args.limit, "runs", &last["run_id"]);
    }
    Ok(ExitCode::SUCCESS)
}
