//! `durin events`: recent events, newest first.

use std::process::ExitCode;

use super::{ago_ms, next_page_hint, print_json};
use crate::cli::EventsArgs;
use crate::client::{EngineClient, Target};
use crate::output::{Grid, RowMark, colour_stdout, short, text, time};

pub(crate) async fn events(target: &Target, args: EventsArgs) -> anyhow::Result<ExitCode> {
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(name) = args.name {
        query.push(("name", name));
    }
    if let Some(since) = &args.since {
        query.push(("received_after", ago_ms("--since", since)?.to_string()));
    }
    if let Some(before) = args.before {
        query.push(("cursor", before));
    }
    let events = EngineClient::new(target)
        .get_data("/v1/events", &query)
        .await?;
    if args.json {
        print_json(&events);
        return Ok(ExitCode::SUCCESS);
    }
    let events = events.as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        println!("no events");
        return Ok(ExitCode::SUCCESS);
    }
    let mut grid = Grid::new(&["event", "name", "received", "id", "data"]);
    for event in &events {
        grid.row(
            vec![
                text(&event["internal_id"]),
                text(&event["name"]),
                time(&event["received_at"]),
                text(&event["id"]),
                short(&event["data"].to_string(), 60),
            ],
            RowMark::default(),
        );
    }
    println!("{}", grid.render(colour_stdout()));
    if let Some(last) = events.last() {
        next_page_hint(events.len(), args.limit, "events", &last["internal_id"]);
    }
    Ok(ExitCode::SUCCESS)
}
