//! Shared set-up for the integration tests: a real `durin dev` process and a Rust SDK app served on
//! loopback, synced with `-u`.

#![allow(dead_code)]

pub(crate) mod executions;

use std::time::Duration;

use durin_sdk::{Client, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, ServedApp, TestDatabase, free_port, serve_app};

pub(crate) const APP: &str = "test-app";
/// Long enough for a debug build under load; the tests stop as soon as a run ends.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Harness {
    pub(crate) engine: EngineProcess,
    pub(crate) app: ServedApp,
}

/// Starts an app serving `functions` and an engine that syncs it, with extra engine flags.
pub(crate) async fn start(functions: Vec<Function>, args: &[&str]) -> Harness {
    start_as(APP, functions, args).await
}

/// Attempts the engine recorded for a step (by its user id), as (attempt, outcome).
pub(crate) fn step_attempts(attempts: &[serde_json::Value], step: &str) -> Vec<(u64, String)> {
    attempts
        .iter()
        .filter(|a| a["step_name"] == step)
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap_or(u64::MAX),
                a["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Like [`start`], with the app served under `app_id` (function ids are `<app_id>-<slug>`).
pub(crate) async fn start_as(app_id: &str, functions: Vec<Function>, args: &[&str]) -> Harness {
    start_configured(app_id, |client| client, functions, args).await
}

/// Like [`start_as`], with the app's client set up by `configure` (e.g. its checkpointing).
pub(crate) async fn start_configured(
    app_id: &str,
    configure: impl FnOnce(Client) -> Client,
    functions: Vec<Function>,
    args: &[&str],
) -> Harness {
    let port = free_port().expect("free port");
    let client = configure(Client::with_base_url(
        app_id,
        format!("http://127.0.0.1:{port}"),
    ));
    let app = serve_app(serve(client, functions))
        .await
        .expect("serve the app");
    let options = EngineOptions {
        sdk_urls: vec![app.serve_url()],
        args: args.iter().map(|a| a.to_string()).collect(),
        port: Some(port),
    };
    let engine = EngineProcess::start(env!("CARGO_BIN_EXE_durin"), options)
        .await
        .expect("start the engine");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs");
    Harness { engine, app }
}

/// Asserts an error answer: the status, and that its JSON `error` text contains every one of `needles`.
#[track_caller]
pub(crate) fn assert_json_error(
    what: &str,
    answer: &(u16, serde_json::Value),
    status: u16,
    needles: &[&str],
) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{what}: status {got}, body {body}");
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no JSON `error` text in {body}"));
    for needle in needles {
        assert!(
            error.contains(needle),
            "{what}: the error {error:?} does not mention {needle:?}"
        );
    }
}

/// What `POST /e/{key}` answered: the status, the `Retry-After` header and the JSON body.
pub(crate) type EventAnswer = (u16, Option<String>, serde_json::Value);

/// POSTs `body` (one event or an array) to `<engine_url>/e/<key>` and reads the whole answer.
pub(crate) async fn post_events(
    http: &reqwest::Client,
    engine_url: &str,
    key: &str,
    body: &serde_json::Value,
) -> reqwest::Result<EventAnswer> {
    let response = http
        .post(format!("{engine_url}/e/{key}"))
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok((status, retry_after, body))
}

/// Starts `durin serve` on `database`, syncing `app_url`, without polling (only the store's wake-ups tell
/// it of changes made through other instances) and without checkpointing (the app's SDK then never calls
/// an engine itself), with `extra` flags. The app must verify requests with the test signing key.
pub(crate) async fn serve_instance(
    database: &TestDatabase,
    app_url: &str,
    name: &str,
    port: Option<u16>,
    extra: &[&str],
) -> EngineProcess {
    let mut args = vec![
        "--database-url".to_owned(),
        database.url().to_owned(),
        "--instance-id".to_owned(),
        name.to_owned(),
        "--no-checkpointing".to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let options = EngineOptions {
        sdk_urls: vec![app_url.to_owned()],
        args,
        port,
    };
    let engine = EngineProcess::start_serve(env!("CARGO_BIN_EXE_durin"), options)
        .await
        .unwrap_or_else(|e| panic!("start {name}: {e:#}"));
    engine
        .wait_for_app(app_url, Duration::from_secs(30))
        .await
        .expect("the app syncs");
    engine
}

/// The message of the error [`pausable_charge`]'s step fails with.
pub(crate) const BANK_DOWN: &str = "the bank is down";

/// `flaky`: its step `charge` fails with [`BANK_DOWN`] while `down` is set, then returns
/// `{"charged": true}` (the run's output). For the tests of runs paused by their retry policy.
pub(crate) fn pausable_charge(
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    seen: durin_testkit::Recorder,
) -> Function {
    Function::new("flaky")
        .trigger_event("app/flaky")
        .handler(move |ctx: durin_sdk::Context| {
            let down = down.clone();
            let seen = seen.clone();
            async move {
                let attempt = ctx.attempt;
                let charged: serde_json::Value = ctx
                    .step
                    .run("charge", || async move {
                        seen.record("charge", attempt);
                        if down.load(std::sync::atomic::Ordering::SeqCst) {
                            return Err(durin_sdk::Error::msg(BANK_DOWN));
                        }
                        Ok(serde_json::json!({ "charged": true }))
                    })
                    .await?;
                Ok(charged)
            }
        })
}

/// (attempt, outcome, next_attempt_at - ended_at) of a step's attempt records, by its user id.
pub(crate) async fn step_gaps(
    engine: &EngineProcess,
    run_id: &str,
    step: &str,
) -> Vec<(u64, String, Option<i64>)> {
    let attempts = engine.attempts(run_id).await.expect("attempts");
    attempts
        .iter()
        .filter(|a| a["step_name"] == step)
        .map(|a| {
            let gap = a["next_attempt_at_ms"]
                .as_i64()
                .zip(a["ended_at_ms"].as_i64())
                .map(|(next, ended)| next - ended);
            (
                a["attempt"].as_u64().unwrap_or(u64::MAX),
                a["outcome"].as_str().unwrap_or_default().to_owned(),
                gap,
            )
        })
        .collect()
}
