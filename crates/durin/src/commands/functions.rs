//! `durin functions`: the registered functions with their triggers and retries.

use std::process::ExitCode;

use serde_json::Value;

use super::print_json;
use crate::cli::JsonArgs;
use crate::client::{EngineClient, Target};
use crate::output::{Grid, RowMark, colour_stdout, text};

pub(crate) async fn functions(target: &Target, args: JsonArgs) -> anyhow::Result<ExitCode> {
    let functions = EngineClient::new(target)
        .get_data("/v1/functions", &[])
        .await?;
    if args.json {
        print_json(&functions);
        return Ok(ExitCode::SUCCESS);
    }
    let functions = functions.as_array().cloned().unwrap_or_default();
    if functions.is_empty() {
        println!("no functions: sync an app with `durin apps add <url>`");
        return Ok(ExitCode::SUCCESS);
    }
    let mut grid = Grid::new(&["function", "name", "app", "triggers", "retries"]);
    for function in &functions {
        grid.row(
            vec![
                text(&function["id"]),
                text(&function["name"]),
                text(&function["app"]),
                triggers(&function["triggers"]),
                text(&function["retries"]),
            ],
            RowMark::default(),
        );
    }
    println!("{}", grid.render(colour_stdout()));
    Ok(ExitCode::SUCCESS)
}

/// `app/a, app/b if event.data.x > 1`.
fn triggers(triggers: &Value) -> String {
    let list: Vec<String> = triggers
        .as_array()
        .into_iter()
        .flatten()
        .map(|trigger| {
            let event = text(&trigger["event"]);
            match trigger["expression"].as_str() {
                Some(expression) => format!("{event} if {expression}"),
                None => event,
            }
        })
        .collect();
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.join(", ")
    }
}
