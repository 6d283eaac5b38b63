//! `durin send`: send one event.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::print_json;
use crate::cli::{SendArgs, UsageError};
use crate::client::{EngineClient, Target};
use crate::output::text;

pub(crate) async fn send(target: &Target, args: SendArgs) -> anyhow::Result<ExitCode> {
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
    let path = format!("/e/{}", super::segment(target.event_key()));
    let answer = EngineClient::new(target).post_json(&path, &event).await?;
    if args.json {
        print_json(&answer);
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
