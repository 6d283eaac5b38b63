//! `durin apps`: the apps with their sync status and last sync error; `durin apps add <url>` and
//! `durin apps sync <url>` sync one now (exit 1 when that sync fails).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::print_json;
use crate::cli::{AppUrlArgs, AppsAction, AppsArgs};
use crate::client::{EngineClient, Target};
use crate::output::{Grid, RowMark, colour_stdout, short, text, time};

pub(crate) async fn apps(target: &Target, args: AppsArgs) -> anyhow::Result<ExitCode> {
    let client = EngineClient::new(target);
    match args.action {
        None => list(&client, args.json).await,
        Some(AppsAction::Add(app)) => sync(&client, "/v1/apps", app, args.json).await,
        Some(AppsAction::Sync(app)) => sync(&client, "/v1/apps/sync", app, args.json).await,
    }
}

async fn list(client: &EngineClient, as_json: bool) -> anyhow::Result<ExitCode> {
    let apps = client.get_data("/v1/apps", &[]).await?;
    if as_json {
        print_json(&apps);
        return Ok(ExitCode::SUCCESS);
    }
    let apps = apps.as_array().cloned().unwrap_or_default();
    if apps.is_empty() {
        println!("no apps: add one with `durin apps add <url>`");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", table(&apps).render(colour_stdout()));
    Ok(ExitCode::SUCCESS)
}

async fn sync(
    client: &EngineClient,
    path: &str,
    args: AppUrlArgs,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let app = client
        .post_data(path, &json!({ "url": args.serve_url }))
        .await?;
    if as_json {
        print_json(&app);
    } else {
        println!(
            "{}",
            table(std::slice::from_ref(&app)).render(colour_stdout())
        );
    }
    match app["error"].as_str() {
        Some(error) => {
            eprintln!("error: the sync of {} failed: {error}", args.serve_url);
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

fn table(apps: &[Value]) -> Grid {
    let mut grid = Grid::new(&[
        "app",
        "url",
        "sdk",
        "functions",
        "synced",
        "status",
        "error",
    ]);
    for app in apps {
        let failed = !app["error"].is_null();
        let status = if failed {
            "SYNC FAILED"
        } else if app["synced_at"].is_null() {
            "not synced"
        } else {
            "synced"
        };
        grid.row(
            vec![
                text(&app["name"]),
                text(&app["url"]),
                sdk(app),
                text(&app["function_count"]),
                time(&app["synced_at"]),
                status.to_owned(),
                app["error"]
                    .as_str()
                    .map(|e| short(e, 80))
                    .unwrap_or_default(),
            ],
            RowMark {
                failed,
                new_group: false,
            },
        );
    }
    grid
}

/// `js:v3.44.1 (express)`.
fn sdk(app: &Value) -> String {
    match (app["sdk"].as_str(), app["framework"].as_str()) {
        (Some(sdk), Some(framework)) if !framework.is_empty() => format!("{sdk} ({framework})"),
        (Some(sdk), _) => sdk.to_owned(),
        (None, _) => "-".to_owned(),
    }
}
