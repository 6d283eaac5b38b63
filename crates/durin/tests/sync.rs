//! Syncing apps: apps given with `-u` are listed even when they cannot be reached (with the error), polling
//! picks up an app that starts later and re-syncs one that changed (archiving removed functions), and
//! `POST /fn/register` reads both the TypeScript and the Python spellings of the payload.

mod common;

use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::routing::put;
use common::{APP, RUN_TIMEOUT};
use durin_sdk::{Client, Context, Function, serve};
use durin_testkit::{
    EngineOptions, EngineProcess, RouterSwitch, free_port, serve_app, serve_app_on,
};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
/// Seconds between re-syncs when a test turns polling on.
const POLL_SECS: u64 = 1;
/// "Within a few seconds" of a poll interval of 1 s, on a busy machine.
const SYNC_WITHIN: Duration = Duration::from_secs(6);

fn options(sdk_urls: Vec<String>, port: Option<u16>) -> EngineOptions {
    EngineOptions {
        sdk_urls,
        args: vec!["--backoff-scale".into(), "0.01".into()],
        port,
    }
}

/// A function on `event` that completes at once.
fn done(slug: &str, event: &str) -> Function {
    let slug_owned = slug.to_owned();
    Function::new(slug)
        .trigger_event(event)
        .handler(move |_ctx: Context| {
            let slug = slug_owned.clone();
            async move { Ok(json!({ "done": slug })) }
        })
}

/// Polls the API at `path` until `found` picks something out of its data; fails after `timeout`.
async fn wait_for(
    engine: &EngineProcess,
    path: &str,
    timeout: Duration,
    found: impl Fn(&Value) -> Option<Value>,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let data = engine.data(path).await.expect("GET the API");
        if let Some(value) = found(&data) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not show what was expected within {timeout:?}: {data}\nlog:\n{}",
            engine.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The app listed under `url` once it has an error.
async fn app_with_error(engine: &EngineProcess, url: &str) -> Value {
    wait_for(engine, "/v1/apps", Duration::from_secs(10), |apps| {
        apps.as_array()?
            .iter()
            .find(|a| a["url"] == url && a["error"].is_string())
            .cloned()
    })
    .await
}

async fn function_ids(engine: &EngineProcess) -> Vec<String> {
    engine
        .data("/v1/functions")
        .await
        .expect("GET /v1/functions")
        .as_array()
        .expect("a list of functions")
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect()
}

async fn assert_runs_to_completion(engine: &EngineProcess, event: &str) {
    let id = engine.send(event, json!({})).await.expect("send the event");
    let run = engine
        .wait_for_run_end(&id, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Completed", "run of {event}: {run}");
}

#[tokio::test]
async fn an_unreachable_app_is_listed_with_its_error_and_the_engine_keeps_serving() {
    let url = format!("http://127.0.0.1:{}/api/inngest", free_port().unwrap());
    let engine = EngineProcess::start(BINARY, options(vec![url.clone()], None))
        .await
        .unwrap();

    let app = app_with_error(&engine, &url).await;
    let error = app["error"].as_str().unwrap();
    assert!(error.contains("unreachable"), "error: {error}");
    assert_eq!(app["function_count"], 0);
    assert!(app["synced_at"].is_null(), "app: {app}");

    let event = engine
        .send("app/anything", json!({ "a": 1 }))
        .await
        .unwrap();
    let stored = engine.data(&format!("/v1/events/{event}")).await.unwrap();
    assert_eq!(stored["data"], json!({ "a": 1 }));
    assert_eq!(
        engine.runs_of_event(&event).await.unwrap(),
        Vec::<Value>::new()
    );
    assert!(engine.log().contains("app sync failed"), "the log says why");
}

#[tokio::test]
async fn with_polling_an_app_that_starts_later_is_synced_and_its_functions_run() {
    let app_port = free_port().unwrap();
    let url = format!("http://127.0.0.1:{app_port}/api/inngest");
    let engine = EngineProcess::start_polling(BINARY, options(vec![url.clone()], None), POLL_SECS)
        .await
        .unwrap();
    let app = app_with_error(&engine, &url).await;
    assert!(app["error"].as_str().unwrap().contains("unreachable"));

    let client = Client::with_base_url(APP, engine.url());
    let _app = serve_app_on(app_port, serve(client, vec![done("late", "app/late")]))
        .await
        .unwrap();
    engine.wait_for_app(&url, SYNC_WITHIN).await.unwrap();
    let apps = engine.data("/v1/apps").await.unwrap();
    let app = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["url"] == url.as_str())
        .unwrap();
    assert_eq!(app["name"], APP, "apps: {apps}");
    assert!(
        app["error"].is_null(),
        "a successful sync clears the error: {apps}"
    );
    assert_eq!(function_ids(&engine).await, vec!["test-app-late"]);
    assert_runs_to_completion(&engine, "app/late").await;
}

#[tokio::test]
async fn a_resync_archives_a_function_the_app_no_longer_serves() {
    let engine_port = free_port().unwrap();
    let both = || {
        serve(
            Client::with_base_url(APP, format!("http://127.0.0.1:{engine_port}")),
            vec![done("keep", "app/keep"), done("drop", "app/drop")],
        )
    };
    let switch = RouterSwitch::new(both());
    let app = serve_app(switch.router()).await.unwrap();
    let url = app.serve_url();
    let engine = EngineProcess::start_polling(
        BINARY,
        options(vec![url.clone()], Some(engine_port)),
        POLL_SECS,
    )
    .await
    .unwrap();
    engine.wait_for_app(&url, SYNC_WITHIN).await.unwrap();
    assert_eq!(
        function_ids(&engine).await,
        vec!["test-app-drop", "test-app-keep"]
    );

    // The app is redeployed without `drop`; the next poll re-syncs it.
    switch.set(serve(
        Client::with_base_url(APP, engine.url()),
        vec![done("keep", "app/keep")],
    ));
    wait_for(&engine, "/v1/functions", SYNC_WITHIN, |functions| {
        let ids: Vec<&str> = functions
            .as_array()?
            .iter()
            .filter_map(|f| f["id"].as_str())
            .collect();
        (ids == ["test-app-keep"]).then_some(Value::Null)
    })
    .await;
    let apps = engine.data("/v1/apps").await.unwrap();
    assert_eq!(apps[0]["function_count"], 1, "apps: {apps}");

    // An event for the archived function is stored but starts no run; the kept function still runs.
    let dropped = engine.send("app/drop", json!({})).await.unwrap();
    assert_runs_to_completion(&engine, "app/keep").await;
    assert_eq!(
        engine.runs_of_event(&dropped).await.unwrap(),
        Vec::<Value>::new()
    );

    // Served again, it comes back.
    switch.set(both());
    wait_for(&engine, "/v1/functions", SYNC_WITHIN, |functions| {
        (functions.as_array()?.len() == 2).then_some(Value::Null)
    })
    .await;
    assert_runs_to_completion(&engine, "app/drop").await;
}

/// POSTs a raw registration body as the SDKs do; returns the status and the JSON answer.
async fn register(engine: &EngineProcess, body: &str, server_kind: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/fn/register", engine.url()))
        .header("content-type", "application/json")
        .header("x-inngest-expected-server-kind", server_kind)
        .header("x-inngest-framework", "nodejs")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST /fn/register");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn register_reads_the_typescript_and_the_python_spellings() {
    let engine = EngineProcess::start(BINARY, options(Vec::new(), None))
        .await
        .unwrap();

    for (spelling, body) in [("TypeScript", TS_REGISTER), ("Python", PY_REGISTER)] {
        let (status, reply) = register(&engine, body, "dev").await;
        assert_eq!(status, 200, "{spelling}: {reply}");
        assert_eq!(reply["ok"], true, "{spelling}: {reply}");
        assert_eq!(reply["modified"], true, "{spelling}: {reply}");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("many-retries") && message.contains("clamped to 20"),
            "{spelling}: the reply says 50 retries were clamped: {reply}"
        );
    }

    let functions = engine.data("/v1/functions").await.unwrap();
    let retries = |id: &str| -> (u64, u64) {
        let function = functions
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed: {functions}"));
        (
            function["retries"].as_u64().unwrap(),
            function["max_attempts"].as_u64().unwrap(),
        )
    };
    for app in ["probe-ts-app", "probe-py-app"] {
        assert_eq!(retries(&format!("{app}-two-steps")), (4, 5), "default");
        assert_eq!(retries(&format!("{app}-step-error")), (2, 3));
        assert_eq!(retries(&format!("{app}-fn-throws")), (0, 1));
        assert_eq!(retries(&format!("{app}-configured")), (7, 8));
        assert_eq!(retries(&format!("{app}-many-retries")), (20, 21), "clamped");
    }
    assert_eq!(retries("probe-ts-app-configured-failure"), (1, 2));
    assert_eq!(retries("probe-py-app-configured-failure"), (0, 1));
    assert_eq!(functions.as_array().unwrap().len(), 11 + 10, "{functions}");
    let configured = functions
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "probe-py-app-configured")
        .unwrap();
    assert_eq!(configured["name"], "Configured fn");
    assert_eq!(configured["app"], "probe-py-app");
    assert_eq!(
        configured["url"],
        "http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-configured&stepId=step"
    );

    let apps = engine.data("/v1/apps").await.unwrap();
    let app = |name: &str| {
        apps.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed: {apps}"))
    };
    let ts = app("probe-ts-app");
    assert_eq!(ts["url"], "http://127.0.0.1:3939/api/inngest");
    assert_eq!(ts["sdk"], "js:v4.24.0");
    assert_eq!(ts["framework"], "nodejs");
    assert_eq!(ts["function_count"], 11);
    let py = app("probe-py-app");
    assert_eq!(py["url"], "http://127.0.0.1:3940/api/inngest");
    assert_eq!(py["sdk"], "py:v0.5.19");
    assert_eq!(py["framework"], "flask");
    assert_eq!(py["function_count"], 10);

    // An app expecting a cloud server is told this is a dev server, and nothing changes.
    let (status, reply) = register(&engine, TS_REGISTER, "cloud").await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"].as_str().is_some_and(|e| e.contains("cloud")),
        "{reply}"
    );
    assert_eq!(engine.data("/v1/functions").await.unwrap(), functions);
}

#[tokio::test]
async fn an_app_answering_the_sync_with_an_error_is_shown_with_that_error() {
    // An app whose PUT fails (as an SDK answers when it cannot register).
    let failing = axum::Router::new().route(
        "/api/inngest",
        put(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "message": "signing key rejected by the app", "modified": false })),
            )
        }),
    );
    let failing = serve_app(failing).await.unwrap();
    // An SDK app whose registration the engine refuses: the SDK reports the engine's error in its answer.
    let engine_port = free_port().unwrap();
    let refused = Function::new("refused")
        .trigger_event_if("app/refused", "event.data.amount >")
        .handler(|_ctx: Context| async move { Ok(json!(null)) });
    let refused = serve_app(serve(
        Client::with_base_url(APP, format!("http://127.0.0.1:{engine_port}")),
        vec![refused],
    ))
    .await
    .unwrap();

    let engine = EngineProcess::start(
        BINARY,
        options(
            vec![failing.serve_url(), refused.serve_url()],
            Some(engine_port),
        ),
    )
    .await
    .unwrap();

    let app = app_with_error(&engine, &failing.serve_url()).await;
    let error = app["error"].as_str().unwrap();
    assert!(
        error.contains("500") && error.contains("signing key rejected by the app"),
        "error: {error}"
    );
    assert_eq!(app["function_count"], 0);

    let app = app_with_error(&engine, &refused.serve_url()).await;
    let error = app["error"].as_str().unwrap();
    assert!(
        error.contains("event.data.amount >") && error.contains("cannot parse"),
        "the engine's reason reaches the app list: {error}"
    );
    // Nothing was registered: the event is accepted and starts nothing.
    assert_eq!(function_ids(&engine).await, Vec::<String>::new());
    let event = engine
        .send("app/refused", json!({ "amount": 500 }))
        .await
        .unwrap();
    assert_eq!(
        engine.runs_of_event(&event).await.unwrap(),
        Vec::<Value>::new()
    );
}

/// `probe/ts_register_capture.jsonl` (inngest-js v4.24.0), plus a function asking for 50 retries.
const TS_REGISTER: &str = r#"{
  "url": "http://127.0.0.1:3939/api/inngest",
  "deployType": "ping",
  "framework": "nodejs",
  "appName": "probe-ts-app",
  "functions": [
    {"id":"probe-ts-app-two-steps","name":"two-steps","triggers":[{"event":"probe/two"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-two-steps&stepId=step"}}}},
    {"id":"probe-ts-app-step-error","name":"step-error","triggers":[{"event":"probe/err"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-step-error&stepId=step"},"retries":{"attempts":2}}}},
    {"id":"probe-ts-app-step-nonretriable","name":"step-nonretriable","triggers":[{"event":"probe/nre"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-step-nonretriable&stepId=step"}}}},
    {"id":"probe-ts-app-step-retryafter","name":"step-retryafter","triggers":[{"event":"probe/ra"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-step-retryafter&stepId=step"}}}},
    {"id":"probe-ts-app-fn-throws","name":"fn-throws","triggers":[{"event":"probe/fnthrow"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-fn-throws&stepId=step"},"retries":{"attempts":0}}}},
    {"id":"probe-ts-app-parallel","name":"parallel","triggers":[{"event":"probe/par"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-parallel&stepId=step"}}}},
    {"id":"probe-ts-app-loop","name":"loop","triggers":[{"event":"probe/loop"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-loop&stepId=step"}}}},
    {"id":"probe-ts-app-configured","name":"Configured fn","triggers":[{"event":"probe/cfg","expression":"event.data.ok == true"},{"cron":"0 0 * * *"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-configured&stepId=step"},"retries":{"attempts":7}}},"idempotency":"event.data.order","rateLimit":{"limit":10,"period":"1h"},"throttle":{"limit":5,"period":"1m","key":"event.data.user"},"concurrency":[{"limit":2,"key":"event.data.user"}],"debounce":{"period":"5s","key":"event.data.user","timeout":"1m"},"priority":{"run":"event.data.prio"},"timeouts":{"start":"10s","finish":"1h"},"cancel":[{"event":"probe/cancel","timeout":"1h","if":"event.data.id == async.data.id"}]},
    {"id":"probe-ts-app-configured-failure","name":"Configured fn (failure)","triggers":[{"event":"inngest/function.failed","expression":"event.data.function_id == 'probe-ts-app-configured'"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-configured-failure&stepId=step"},"retries":{"attempts":1}}}},
    {"id":"probe-ts-app-batched","name":"batched","triggers":[{"event":"probe/batch"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-batched&stepId=step"}}},"batchEvents":{"maxSize":10,"timeout":"5s"}},
    {"id":"probe-ts-app-many-retries","name":"many-retries","triggers":[{"event":"probe/many"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3939/api/inngest?fnId=probe-ts-app-many-retries&stepId=step"},"retries":{"attempts":50}}}}
  ],
  "sdk": "js:v4.24.0",
  "v": "0.1",
  "capabilities": {"trust_probe":"v1","connect":"v1"},
  "featureObservations": {"aiMetadataExtraction":{"readinessReason":"AI_METADATA_EXTRACTION_READINESS_REASON_OTEL_PROVIDER_MISSING","otelSetup":{"path":"OTEL_SETUP_PATH_EXTEND_EXISTING_PROVIDER","failure":"OTEL_SETUP_FAILURE_NO_PROVIDER"}},"extendedTraces":{"readinessReason":"EXTENDED_TRACES_READINESS_REASON_NOT_ENABLED_BY_USER","config":{}},"sendEvents":{"readinessReason":"SEND_EVENTS_READINESS_REASON_READY","config":{}}}
}"#;

/// `probe/py_register_capture.jsonl` (inngest-py v0.5.19): `appname`, `deploy_type`; plus a function asking
/// for 50 retries.
const PY_REGISTER: &str = r#"{
  "appname": "probe-py-app",
  "capabilities": {"connect":"v1","in_band_sync":"v1","trust_probe":"v1"},
  "deploy_type": "ping",
  "framework": "flask",
  "functions": [
    {"id":"probe-py-app-two-steps","name":"two-steps","steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-two-steps&stepId=step"}}},"triggers":[{"event":"probe/two"}]},
    {"id":"probe-py-app-step-error","name":"step-error","steps":{"step":{"id":"step","name":"step","retries":{"attempts":2},"runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-step-error&stepId=step"}}},"triggers":[{"event":"probe/err"}]},
    {"id":"probe-py-app-step-nonretriable","name":"step-nonretriable","steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-step-nonretriable&stepId=step"}}},"triggers":[{"event":"probe/nre"}]},
    {"id":"probe-py-app-step-retryafter","name":"step-retryafter","steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-step-retryafter&stepId=step"}}},"triggers":[{"event":"probe/ra"}]},
    {"id":"probe-py-app-fn-throws","name":"fn-throws","steps":{"step":{"id":"step","name":"step","retries":{"attempts":0},"runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-fn-throws&stepId=step"}}},"triggers":[{"event":"probe/fnthrow"}]},
    {"id":"probe-py-app-parallel","name":"parallel","steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-parallel&stepId=step"}}},"triggers":[{"event":"probe/par"}]},
    {"id":"probe-py-app-loop","name":"loop","steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-loop&stepId=step"}}},"triggers":[{"event":"probe/loop"}]},
    {"cancel":[{"event":"probe/cancel","if":"event.data.id == async.data.id","timeout":"1h"}],"concurrency":[{"key":"event.data.user","limit":2}],"debounce":{"key":"event.data.user","period":"5s"},"id":"probe-py-app-configured","idempotency":"event.data.order","name":"Configured fn","priority":{"run":"event.data.prio"},"rateLimit":{"limit":10,"period":"1h"},"steps":{"step":{"id":"step","name":"step","retries":{"attempts":7},"runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-configured&stepId=step"}}},"throttle":{"key":"event.data.user","limit":5,"period":"1m","burst":1},"timeouts":{"start":"10s","finish":"1h"},"triggers":[{"event":"probe/cfg","expression":"event.data.ok == true"}]},
    {"cancel":[],"concurrency":[],"id":"probe-py-app-configured-failure","name":"Configured fn (failure)","steps":{"step":{"id":"step","name":"step","retries":{"attempts":0},"runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-configured-failure&stepId=step"}}},"triggers":[{"event":"inngest/function.failed","expression":"event.data.function_id == 'probe-py-app-configured'"}]},
    {"id":"probe-py-app-many-retries","name":"many-retries","steps":{"step":{"id":"step","name":"step","retries":{"attempts":50},"runtime":{"type":"http","url":"http://127.0.0.1:3940/api/inngest?fnId=probe-py-app-many-retries&stepId=step"}}},"triggers":[{"event":"probe/many"}]}
  ],
  "sdk": "py:v0.5.19",
  "url": "http://127.0.0.1:3940/api/inngest",
  "v": "0.1"
}"#;
