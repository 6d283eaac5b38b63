//! Bad input never takes the engine down: every refused request gets a 4xx JSON answer whose `error`
//! names the problem, nothing already accepted is lost, and the engine keeps serving afterwards.

mod common;

use common::{APP, Harness, RUN_TIMEOUT, assert_json_error, start, step_attempts};
use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

/// `EVENT_MAX_BYTES` of the engine: 512 KiB.
const EVENT_MAX_BYTES: usize = 512 * 1024;
/// The engine's limit on one step's output: 4 MiB.
const STEP_OUTPUT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// `app/ok` completes at once.
fn echo() -> Function {
    Function::new("echo")
        .trigger_event("app/ok")
        .handler(|ctx: Context| async move { Ok(json!({ "echo": ctx.event.data })) })
}

/// `app/big`: the step `produce` returns more than 4 MiB; `data.catch` says whether the body catches the
/// step's failure.
fn big_output() -> Function {
    Function::new("big-output")
        .trigger_event("app/big")
        .handler(|ctx: Context| async move {
            let catch = ctx.event.data.get("catch") == Some(&Value::Bool(true));
            let produced: Result<String, Error> = ctx
                .step
                .run("produce", || async {
                    Ok::<_, Error>("x".repeat(STEP_OUTPUT_MAX_BYTES + 1024))
                })
                .await;
            match produced {
                Ok(text) => Ok(json!({ "len": text.len() })),
                Err(Error::Step(error)) if catch => Ok(json!({
                    "caught": error.name(),
                    "message": error.message(),
                })),
                Err(other) => Err(other),
            }
        })
}

async fn start_engine() -> Harness {
    start(vec![echo(), big_output()], &["--backoff-scale", "0.01"]).await
}

/// A valid event sent now is accepted and its run completes.
async fn assert_still_serving(h: &Harness) {
    let event = h
        .engine
        .send("app/ok", json!({ "after": "bad input" }))
        .await
        .expect("a valid event is accepted after bad input");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Completed", "run: {run}");
}

async fn event_names(h: &Harness) -> Vec<String> {
    h.engine
        .data("/v1/events?limit=1000")
        .await
        .expect("GET /v1/events")
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_event_api_refuses_bad_events_naming_the_problem_and_loses_nothing() {
    let h = start_engine().await;
    let before = h
        .engine
        .send("app/before", json!({ "kept": true }))
        .await
        .unwrap();
    let before_run = h.engine.send("app/ok", json!({ "n": 1 })).await.unwrap();

    let e = &h.engine;
    assert_json_error(
        "malformed JSON",
        &e.post_raw(
            "/e/test-key",
            "application/json",
            r#"{"name": "app/ok", "data": {"#,
        )
        .await
        .unwrap(),
        400,
        &["not valid JSON"],
    );
    assert_json_error(
        "no name",
        &e.post_event(&json!({ "data": { "a": 1 } })).await.unwrap(),
        400,
        &["`name`", "required"],
    );
    assert_json_error(
        "a reserved name",
        &e.post_event(&json!({ "name": "inngest/function.failed", "data": {} }))
            .await
            .unwrap(),
        400,
        &["inngest/function.failed", "reserved"],
    );
    let too_big = json!({ "name": "app/too-big", "data": { "blob": "x".repeat(EVENT_MAX_BYTES) } });
    assert_json_error(
        "an event over 512 KiB",
        &e.post_event(&too_big).await.unwrap(),
        413,
        &["limit is 524288 bytes"],
    );
    assert_json_error(
        "non-object data",
        &e.post_event(&json!({ "name": "app/ok", "data": [1, 2] }))
            .await
            .unwrap(),
        400,
        &["`data`", "object"],
    );
    assert_json_error(
        "an empty array",
        &e.post_event(&json!([])).await.unwrap(),
        400,
        &["empty"],
    );
    assert_json_error(
        "an empty body",
        &e.post_raw("/e/test-key", "application/json", "")
            .await
            .unwrap(),
        400,
        &["empty"],
    );
    // A batch with one bad event is refused whole, naming the bad one; its good event is not stored.
    assert_json_error(
        "a batch with a bad event",
        &e.post_event(&json!([
            { "name": "app/partial", "data": {} },
            { "name": "app/partial", "data": "text" },
        ]))
        .await
        .unwrap(),
        400,
        &["event 1", "`data`"],
    );
    // Just under the limit is fine.
    let near =
        json!({ "name": "app/near-limit", "data": { "blob": "x".repeat(EVENT_MAX_BYTES - 100) } });
    let (status, body) = e.post_event(&near).await.unwrap();
    assert_eq!(status, 200, "an event just under the limit: {body}");

    assert_still_serving(&h).await;
    let names = event_names(&h).await;
    for refused in ["app/too-big", "app/partial", "inngest/function.failed"] {
        assert!(
            !names.iter().any(|n| n == refused),
            "{refused} was refused, yet stored: {names:?}"
        );
    }
    for kept in ["app/before", "app/near-limit"] {
        assert!(names.iter().any(|n| n == kept), "{kept} lost: {names:?}");
    }
    let stored = e.data(&format!("/v1/events/{before}")).await.unwrap();
    assert_eq!(stored["data"], json!({ "kept": true }));
    let run = e.wait_for_run_end(&before_run, RUN_TIMEOUT).await.unwrap();
    assert_eq!(run["status"], "Completed");
}

async fn big_output_run(h: &Harness, catch: bool) -> (Value, Vec<Value>) {
    let event = h
        .engine
        .send("app/big", json!({ "catch": catch }))
        .await
        .expect("send app/big");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    let run_id = run["run_id"].as_str().expect("a run id").to_owned();
    let run = h
        .engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("GET the run");
    let attempts = h.engine.attempts(&run_id).await.expect("GET the attempts");
    (run, attempts)
}

/// The one attempt of `produce` failed for good with StepOutputTooLarge, naming the step and the limit.
fn assert_output_too_large(attempts: &[Value]) {
    assert_eq!(
        step_attempts(attempts, "produce"),
        vec![(0, "non_retriable".to_owned())],
        "attempts: {attempts:?}"
    );
    let attempt = attempts
        .iter()
        .find(|a| a["step_name"] == "produce")
        .expect("an attempt of produce");
    assert_eq!(attempt["error"]["name"], "StepOutputTooLarge", "{attempt}");
    let message = attempt["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("produce") && message.contains(&STEP_OUTPUT_MAX_BYTES.to_string()),
        "message: {message}"
    );
}

#[tokio::test]
async fn a_step_output_over_4_mib_fails_the_step_for_good() {
    let h = start_engine().await;

    let (run, attempts) = big_output_run(&h, false).await;
    assert_output_too_large(&attempts);
    assert_eq!(run["status"], "Failed", "run: {run}");
    assert_eq!(run["output"]["name"], "StepOutputTooLarge", "run: {run}");

    let (run, attempts) = big_output_run(&h, true).await;
    assert_output_too_large(&attempts);
    assert_eq!(run["status"], "Completed", "run: {run}");
    assert_eq!(run["output"]["caught"], "StepOutputTooLarge", "run: {run}");

    assert_still_serving(&h).await;
}

/// A registration payload for one function of `APP` at `url`, with the given triggers.
fn register_payload(url: &str, triggers: Value) -> Value {
    json!({
        "url": url,
        "deployType": "ping",
        "framework": "test",
        "appName": APP,
        "sdk": "test:v0",
        "v": "0.1",
        "functions": [{
            "id": format!("{APP}-echo"),
            "name": "echo",
            "triggers": triggers,
            "steps": { "step": { "id": "step", "name": "step", "runtime": {
                "type": "http", "url": format!("{url}?fnId={APP}-echo&stepId=step") } } },
        }],
    })
}

#[tokio::test]
async fn register_refuses_invalid_payloads_naming_the_problem() {
    let h = start_engine().await;
    let url = h.app.serve_url();
    let e = &h.engine;

    assert_json_error(
        "a trigger with neither event nor cron",
        &e.post_json(
            "/fn/register",
            &register_payload(&url, json!([{ "expression": "event.data.a == 1" }])),
        )
        .await
        .unwrap(),
        400,
        &["test-app-echo", "trigger 0", "`event` or `cron`"],
    );
    assert_json_error(
        "an expression that does not parse",
        &e.post_json(
            "/fn/register",
            &register_payload(
                &url,
                json!([{ "event": "app/ok", "expression": "event.data.x >" }]),
            ),
        )
        .await
        .unwrap(),
        400,
        &[
            "test-app-echo",
            "trigger 0",
            "event.data.x >",
            "cannot parse",
        ],
    );
    assert_json_error(
        "a trigger with neither event nor cron",
        &e.post_json("/fn/register", &register_payload(&url, json!([{}])))
            .await
            .unwrap(),
        400,
        &["test-app-echo", "trigger 0"],
    );
    assert_json_error(
        "malformed JSON",
        &e.post_raw("/fn/register", "application/json", r#"{"url": "#)
            .await
            .unwrap(),
        400,
        &["JSON"],
    );
    let mut no_app_name = register_payload(&url, json!([{ "event": "app/ok" }]));
    no_app_name.as_object_mut().unwrap().remove("appName");
    assert_json_error(
        "no appName",
        &e.post_json("/fn/register", &no_app_name).await.unwrap(),
        400,
        &["appName"],
    );
    let mut empty_app_name = register_payload(&url, json!([{ "event": "app/ok" }]));
    empty_app_name["appName"] = json!("");
    assert_json_error(
        "an empty appName",
        &e.post_json("/fn/register", &empty_app_name).await.unwrap(),
        400,
        &["appName"],
    );

    // The refused registrations changed nothing: the app's functions are all still there and run.
    let functions = e.data("/v1/functions").await.unwrap();
    let ids: Vec<&str> = functions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["test-app-big-output", "test-app-echo"]);
    let apps = e.data("/v1/apps").await.unwrap();
    assert_eq!(apps[0]["function_count"], 2, "apps: {apps}");
    assert!(apps[0]["error"].is_null(), "apps: {apps}");
    assert_still_serving(&h).await;
}

#[tokio::test]
async fn the_rest_api_answers_unknown_ids_and_bad_parameters_with_json_errors() {
    let h = start_engine().await;
    let e = &h.engine;
    let event = e.send("app/ok", json!({})).await.unwrap();
    e.wait_for_run_end(&event, RUN_TIMEOUT).await.unwrap();

    let unknown = "01JUNKNOWNRUN0000000000000";
    assert_json_error(
        "an unknown run",
        &e.get(&format!("/v1/runs/{unknown}")).await.unwrap(),
        404,
        &[unknown, "not found"],
    );
    assert_json_error(
        "the attempts of an unknown run",
        &e.get(&format!("/v1/runs/{unknown}/attempts"))
            .await
            .unwrap(),
        404,
        &[unknown, "not found"],
    );
    assert_json_error(
        "an unknown event",
        &e.get("/v1/events/01JUNKNOWNEVENT").await.unwrap(),
        404,
        &["01JUNKNOWNEVENT", "not found"],
    );
    assert_json_error(
        "an unknown status",
        &e.get("/v1/runs?status=bogus").await.unwrap(),
        400,
        &["`status`", "Completed"],
    );
    assert_json_error(
        "a bad time",
        &e.get("/v1/events?received_after=yesterday").await.unwrap(),
        400,
        &["`received_after`"],
    );
    assert_json_error(
        "a limit that is not a number",
        &e.get("/v1/runs?limit=many").await.unwrap(),
        400,
        &["limit"],
    );
    assert_json_error(
        "a limit that is not a number",
        &e.get("/v1/events?limit=-1").await.unwrap(),
        400,
        &["limit"],
    );

    // Good parameters still work.
    let completed = e.data("/v1/runs?status=Completed").await.unwrap();
    assert_eq!(completed.as_array().unwrap().len(), 1, "{completed}");
    assert_still_serving(&h).await;
}
