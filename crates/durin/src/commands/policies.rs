//! `durin policies get`: the retry policy document every instance decides by, as JSON (save it, edit it,
//! set it again); `durin policies set FILE`: replace it. A document the engine refuses exits 2 with the
//! engine's message, which names the entry and the field.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::print_json;
use crate::cli::{PoliciesAction, PoliciesArgs, UsageError};
use crate::client::{EngineClient, Refused, Target};

const PATH: &str = "/v1/policies";

pub(crate) async fn policies(target: &Target, args: PoliciesArgs) -> anyhow::Result<ExitCode> {
    let client = EngineClient::new(target);
    match args.action {
        PoliciesAction::Get => get(&client, args.json).await,
        PoliciesAction::Set { file } => set(&client, &file, args.json).await,
    }
}

async fn get(client: &EngineClient, as_json: bool) -> anyhow::Result<ExitCode> {
    let answer = client.get_json(PATH).await?;
    if as_json {
        print_json(&answer);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", pretty(&answer["data"]));
    match answer["updated_at"].as_str() {
        Some(at) => eprintln!("(set at {at})"),
        None => eprintln!("(no retry policies were ever set)"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn set(client: &EngineClient, file: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let shown = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("{shown}: cannot read it: {e}")))?;
    let document: Value =
        serde_json::from_str(&text).map_err(|e| UsageError(format!("{shown}: not JSON: {e}")))?;
    let answer = match client.put_json(PATH, &document).await {
        Ok(answer) => answer,
        Err(error) => {
            return Err(match error.downcast_ref::<Refused>() {
                Some(refused) if refused.status == reqwest::StatusCode::BAD_REQUEST => {
                    UsageError(format!("{shown}: {}", refused.message)).into()
                }
                _ => error,
            });
        }
    };
    if as_json {
        print_json(&answer);
    } else {
        let entries = answer["data"]["policies"].as_array().map_or(0, Vec::len);
        println!(
            "retry policies set from {shown}: {entries} {}",
            if entries == 1 { "entry" } else { "entries" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
