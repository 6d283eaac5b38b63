//! Retry policies set through the API (issue 8, feature 1): `PUT /v1/policies` on a running `durin dev`
//! decides the next failures without a restart or a re-sync, a refused document leaves the policies in
//! force, the document survives a restart, `durin policies get` and `set` use it; and with two `durin serve`
//! instances on one PostgreSQL database, a document set through one is used by the other.
//!
//! The PostgreSQL test needs a server: `eval "$(scripts/postgres)"` exports `DURIN_TEST_DATABASE_URL`.
//! Without it that test fails, saying so (as every PostgreSQL test does).

mod common;

use std::time::{Duration, Instant};

use common::{RUN_TIMEOUT, serve_instance as instance, start, step_gaps};
use durin_sdk::{Client, Context, Error, Function, serve};
use durin_testkit::{EngineProcess, Recorder, TestDatabase, free_port, serve_app};
use serde_json::{Value, json};

/// `call-bank` of `<app>-charge`: retries 1, 100 ms apart; `<app>-sync`: retries 0 (it registers 4).
fn policies(app: &str) -> Value {
    json!({"policies": [
        {"function": format!("{app}-charge"), "step": "call-bank", "retries": 1,
         "backoff": {"kind": "fixed", "interval_ms": 100}},
        {"function": format!("{app}-sync"), "retries": 0}
    ]})
}

/// Its step `call-bank` always fails; the run catches that and completes.
fn charge(seen: Recorder) -> Function {
    Function::new("charge")
        .trigger_event("app/charge")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let attempt = ctx.attempt;
                let refused = ctx
                    .step
                    .run("call-bank", || async move {
                        seen.record("call-bank", attempt);
                        Err::<(), _>(Error::msg("the bank is down"))
                    })
                    .await;
                Ok(json!({ "caught": matches!(refused, Err(Error::Step(_))) }))
            }
        })
}

/// Always fails.
fn sync(seen: Recorder) -> Function {
    Function::new("sync")
        .trigger_event("app/sync")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                seen.record("sync", ctx.attempt);
                Err::<Value, _>(Error::msg("the remote is down"))
            }
        })
}

/// Runs `app/charge` on `engine` and asserts the policy's schedule: two attempts of `call-bank`, 100 ms
/// apart, then the run completes with the step's error caught.
async fn assert_charge_follows_the_policy(engine: &EngineProcess) {
    let event = engine.send("app/charge", json!({})).await.expect("send");
    let run = engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Completed", "{run}");
    let run_id = run["run_id"].as_str().expect("run id");
    assert_eq!(
        step_gaps(engine, run_id, "call-bank").await,
        vec![(0, "error".into(), Some(100)), (1, "error".into(), None)],
        "call-bank: retries 1, 100 ms apart (the function registers 4)"
    );
}

/// Runs `app/sync` on `engine`: the function entry's retries 0 gives it one attempt.
async fn assert_sync_is_tried_once(engine: &EngineProcess) {
    let event = engine.send("app/sync", json!({})).await.expect("send");
    let run = engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Failed", "{run}");
    let run_id = run["run_id"].as_str().expect("run id");
    let attempts = engine.attempts(run_id).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
}

fn durin(engine: &EngineProcess, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_durin"))
        .args(args)
        .args(["--url", &engine.url()])
        .output()
        .expect("run durin")
}

#[tokio::test]
async fn policies_set_through_the_api_apply_at_once_survive_a_restart_and_a_bad_one_changes_nothing()
 {
    let seen = Recorder::new();
    let mut h = start(vec![charge(seen.clone()), sync(seen.clone())], &[]).await;
    let document = policies(common::APP);

    // Nothing set yet.
    let (status, answer) = h.engine.get("/v1/policies").await.expect("GET");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"], json!({"policies": []}));
    assert!(answer["updated_at"].is_null(), "{answer}");

    let (status, answer) = h
        .engine
        .put_json("/v1/policies", &document)
        .await
        .expect("PUT");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"], document);
    assert!(answer["updated_at_ms"].is_i64(), "{answer}");
    assert!(answer["updated_at"].is_string(), "{answer}");

    // The step entry decides the step's failures, and the function entry the next runs, though the app
    // registered before the document was set (no re-sync: the engine does not poll).
    assert_charge_follows_the_policy(&h.engine).await;
    assert_sync_is_tried_once(&h.engine).await;

    // A bad document is refused naming the entry and the field; the one in force stays.
    let bad = json!({"policies": [{"function": "test-app-charge", "step": "call-bank",
        "backoff": {"kind": "exponential", "initial_interval_ms": 0, "backoff_coefficient": 2,
                    "maximum_interval_ms": 10}}]});
    let refused = h.engine.put_json("/v1/policies", &bad).await.expect("PUT");
    common::assert_json_error("a bad document", &refused, 400, &[]);
    assert_eq!(
        refused.1["error"],
        "policies[0]: backoff `initial_interval_ms`: must be above 0"
    );
    let (_, answer) = h.engine.get("/v1/policies").await.expect("GET");
    assert_eq!(answer["data"], document);
    assert_charge_follows_the_policy(&h.engine).await;

    // The CLI: `policies get` prints the document; `policies set` refuses a bad file with exit 2.
    let got = durin(&h.engine, &["policies", "get"]);
    assert!(got.status.success(), "{got:?}");
    let printed: Value = serde_json::from_slice(&got.stdout).expect("JSON on stdout");
    assert_eq!(printed, document);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bad_file = dir.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).expect("write");
    let refused = durin(
        &h.engine,
        &["policies", "set", bad_file.to_str().expect("UTF-8")],
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("policies[0]: backoff `initial_interval_ms`: must be above 0"),
        "{stderr}"
    );
    let good_file = dir.path().join("good.json");
    std::fs::write(&good_file, document.to_string()).expect("write");
    let set = durin(
        &h.engine,
        &["policies", "set", good_file.to_str().expect("UTF-8")],
    );
    assert!(set.status.success(), "{set:?}");

    // Restarted on the same data directory, without a file: the stored document applies.
    h.engine.restart().await.expect("restart");
    h.engine
        .wait_for_app(&h.app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs again");
    let (_, answer) = h.engine.get("/v1/policies").await.expect("GET");
    assert_eq!(answer["data"], document);
    assert_charge_follows_the_policy(&h.engine).await;
    assert_sync_is_tried_once(&h.engine).await;
}

#[tokio::test]
async fn policies_set_through_one_instance_are_used_by_another() {
    let database = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let app_id = "policy-app";
    let seen = Recorder::new();
    let port_a = free_port().expect("a free port");
    let client = Client::with_base_url(app_id, format!("http://127.0.0.1:{port_a}"))
        .with_signing_key(durin_testkit::TEST_SIGNING_KEY)
        .expect("a valid signing key");
    let app = serve_app(serve(
        client,
        vec![charge(seen.clone()), sync(seen.clone())],
    ))
    .await
    .expect("serve the app");
    let mut a = instance(&database, &app.serve_url(), "node-a", Some(port_a), &[]).await;
    let b = instance(&database, &app.serve_url(), "node-b", None, &[]).await;

    let document = policies(app_id);
    let (status, answer) = a.put_json("/v1/policies", &document).await.expect("PUT");
    assert_eq!(status, 200, "{answer}");

    // B holds the document once its functions show the function entry applied (B neither polls nor
    // re-syncs: the store's wake-up told it).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let functions = b.data("/v1/functions").await.expect("functions");
        let retries = functions
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["id"] == format!("{app_id}-sync"))
            .map(|f| f["retries"].clone());
        if retries == Some(json!(0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instance B never took the policies set through A: {functions:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, answer) = b.get("/v1/policies").await.expect("GET");
    assert_eq!(answer["data"], document);

    // With A gone, B runs everything, by the document set through A.
    a.kill();
    assert_charge_follows_the_policy(&b).await;
    assert_sync_is_tried_once(&b).await;
}
