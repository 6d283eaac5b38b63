//! `POST /v0/gql` against a real `durin dev`: the query shapes the official Python and TypeScript SDK suites
//! read results through (run status and output, the triggering event, the trace of steps with their
//! outputs and errors, an event's runs), and GraphQL error answers for queries that cannot run.

mod common;

use common::{RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use durin_testkit::{EngineOptions, EngineProcess};
use serde_json::{Value, json};

/// Runs a query; the answer must be a 200 with a JSON body.
async fn gql(engine: &EngineProcess, query: &str, variables: Value) -> Value {
    let (status, body) = engine
        .post_json(
            "/v0/gql",
            &json!({ "query": query, "variables": variables }),
        )
        .await
        .expect("the engine answers");
    assert_eq!(status, 200, "{query}: {body}");
    body
}

/// A JSON value carried as text (outputs, payloads), parsed back.
#[track_caller]
fn parsed(text: &Value) -> Value {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("JSON text expected, got {text}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

/// Two steps: `flaky` fails its first attempt and then succeeds, `doomed` fails for good and the body
/// catches it.
fn steps_function() -> Function {
    Function::new("gql-steps")
        .trigger_event("app/gql.steps")
        .retries(2)
        .handler(|ctx: Context| async move {
            let attempt = ctx.attempt;
            let flaky: Value = ctx
                .step
                .run("flaky", || async move {
                    if attempt == 0 {
                        return Err(Error::new("FlakyError", "first try fails"));
                    }
                    Ok(json!({ "n": 1 }))
                })
                .await?;
            let doomed: Result<Value, Error> = ctx
                .step
                .run("doomed", || async {
                    Err::<Value, _>(Error::non_retriable("never works"))
                })
                .await;
            Ok(json!({ "flaky": flaky, "doomed_caught": doomed.is_err() }))
        })
}

fn failing_function() -> Function {
    Function::new("gql-fails")
        .trigger_event("app/gql.fails")
        .handler(|_ctx: Context| async move { Err::<Value, _>(Error::non_retriable("boom")) })
}

const GET_RUN: &str = "query GetRun($run_id: String!) {
    run(runID: $run_id) { output status }
    runTrigger(runID: $run_id) { payloads }
}";

const STEPS: &str = "query Steps($run_id: String!) {
    run(runID: $run_id) {
        trace { childrenSpans { name outputID stepID status childrenSpans { name status outputID } } }
    }
}";

const OUTPUT: &str = "query Output($output_id: String!) {
    runTraceSpanOutputByID(outputID: $output_id) { data error { message name stack } }
}";

const TRACE_STATUS: &str = "query ($runId: String!) {
    run(runID: $runId) { status trace(preview: true) { status outputID } }
}";

async fn output(engine: &EngineProcess, output_id: &Value) -> Value {
    let id = output_id
        .as_str()
        .unwrap_or_else(|| panic!("an outputID, got {output_id}"));
    let answer = gql(engine, OUTPUT, json!({ "output_id": id })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["runTraceSpanOutputByID"].clone()
}

#[tokio::test]
async fn a_run_its_steps_and_its_event_read_back_as_the_official_suites_read_them() {
    let h = start(
        vec![steps_function(), failing_function()],
        &["--backoff-scale", "0.01"],
    )
    .await;
    let event_id = h
        .engine
        .send("app/gql.steps", json!({ "k": "v" }))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event_id, RUN_TIMEOUT)
        .await
        .unwrap();
    let run_id = run["run_id"].as_str().unwrap();

    // Status, output and the triggering event (Python's `wait_for_run_status`).
    let answer = gql(&h.engine, GET_RUN, json!({ "run_id": run_id })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    assert_eq!(data["run"]["status"], "COMPLETED");
    assert_eq!(
        parsed(&data["run"]["output"]),
        json!({ "flaky": { "n": 1 }, "doomed_caught": true })
    );
    let payloads = data["runTrigger"]["payloads"].as_array().unwrap();
    assert_eq!(payloads.len(), 1);
    let event = parsed(&payloads[0]);
    assert_eq!(event["name"], "app/gql.steps");
    assert_eq!(event["data"], json!({ "k": "v" }));
    assert!(event["id"].is_string() && event["ts"].is_i64(), "{event}");

    // Steps by the user's step id, in order, each with its output (Python's `get_step_output`).
    let answer = gql(&h.engine, STEPS, json!({ "run_id": run_id })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let spans = answer["data"]["run"]["trace"]["childrenSpans"]
        .as_array()
        .unwrap()
        .clone();
    let names: Vec<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["flaky", "doomed"]);
    let (flaky, doomed) = (&spans[0], &spans[1]);
    assert_eq!(flaky["status"], "COMPLETED");
    assert!(flaky["stepID"].is_string());
    let flaky_output = output(&h.engine, &flaky["outputID"]).await;
    assert_eq!(parsed(&flaky_output["data"]), json!({ "n": 1 }));
    assert!(flaky_output["error"].is_null());
    assert_eq!(doomed["status"], "FAILED");
    let doomed_output = output(&h.engine, &doomed["outputID"]).await;
    assert!(doomed_output["data"].is_null(), "{doomed_output}");
    assert_eq!(doomed_output["error"]["message"], "never works");
    assert_eq!(doomed_output["error"]["name"], "NonRetriableError");

    // The retried step has one span per attempt: the failure with its error, then the success.
    let attempts = flaky["childrenSpans"].as_array().unwrap();
    let shape: Vec<(&str, &str)> = attempts
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(shape, [("Attempt 0", "FAILED"), ("Attempt 1", "COMPLETED")]);
    let first = output(&h.engine, &attempts[0]["outputID"]).await;
    assert_eq!(first["error"]["message"], "first try fails");
    assert_eq!(first["error"]["name"], "FlakyError");
    let second = output(&h.engine, &attempts[1]["outputID"]).await;
    assert_eq!(parsed(&second["data"]), json!({ "n": 1 }));

    // The run's own output through its trace (the TypeScript suite's `waitForRunComplete`).
    let answer = gql(&h.engine, TRACE_STATUS, json!({ "runId": run_id })).await;
    assert_eq!(answer["data"]["run"]["status"], "COMPLETED");
    let trace = &answer["data"]["run"]["trace"];
    assert_eq!(trace["status"], "COMPLETED");
    let run_output = output(&h.engine, &trace["outputID"]).await;
    assert_eq!(
        parsed(&run_output["data"]),
        json!({ "flaky": { "n": 1 }, "doomed_caught": true })
    );

    // The event's runs (Python), and the event itself (TypeScript's `fetchEvent`).
    let answer = gql(
        &h.engine,
        "query ($event_id: ID!) { event(query: {eventId: $event_id}) { functionRuns { id } } }",
        json!({ "event_id": event_id }),
    )
    .await;
    assert_eq!(
        answer["data"]["event"]["functionRuns"],
        json!([{ "id": run_id }])
    );
    let answer = gql(
        &h.engine,
        "query Event($id: ULID!) { eventV2(id: $id) { idempotencyKey name raw } }",
        json!({ "id": event_id }),
    )
    .await;
    let event = &answer["data"]["eventV2"];
    assert_eq!(event["name"], "app/gql.steps");
    assert_eq!(parsed(&event["raw"])["data"], json!({ "k": "v" }));
    assert!(event["idempotencyKey"].is_string(), "{event}");

    // A run that fails: FAILED, its output the error object as text, and the error through the trace.
    let event_id = h.engine.send("app/gql.fails", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event_id, RUN_TIMEOUT)
        .await
        .unwrap();
    let run_id = run["run_id"].as_str().unwrap();
    let answer = gql(&h.engine, GET_RUN, json!({ "run_id": run_id })).await;
    assert_eq!(answer["data"]["run"]["status"], "FAILED");
    let error = parsed(&answer["data"]["run"]["output"]);
    assert_eq!(error["message"], "boom", "{error}");
    assert_eq!(error["name"], "NonRetriableError", "{error}");
    let answer = gql(&h.engine, TRACE_STATUS, json!({ "runId": run_id })).await;
    let trace = &answer["data"]["run"]["trace"];
    assert_eq!(trace["status"], "FAILED");
    let failed = output(&h.engine, &trace["outputID"]).await;
    assert!(failed["data"].is_null(), "{failed}");
    assert_eq!(failed["error"]["message"], "boom");
}

#[tokio::test]
async fn queries_that_cannot_run_get_graphql_errors_not_server_errors() {
    let binary = env!("CARGO_BIN_EXE_durin");
    let engine = EngineProcess::start(binary, EngineOptions::default())
        .await
        .unwrap();

    // Not GraphQL: an answer with `errors` and no data.
    let answer = gql(&engine, "{ run(runID: ", json!({})).await;
    assert!(answer["data"].is_null(), "{answer}");
    assert!(answer["errors"][0]["message"].is_string(), "{answer}");

    // A field the schema does not have is named in the error.
    let answer = gql(
        &engine,
        "{ run(runID: \"01J00000000000000000000000\") { nonsense } }",
        json!({}),
    )
    .await;
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nonsense"), "{answer}");

    // A run that does not exist, an event id that is not a ULID, an output id that means nothing.
    let answer = gql(
        &engine,
        GET_RUN,
        json!({ "run_id": "01J00000000000000000000000" }),
    )
    .await;
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not found"), "{answer}");
    let answer = gql(
        &engine,
        "query ($id: ULID!) { eventV2(id: $id) { name } }",
        json!({ "id": "not-a-ulid" }),
    )
    .await;
    assert!(answer["errors"][0]["message"].is_string(), "{answer}");
    let answer = gql(&engine, OUTPUT, json!({ "output_id": "garbage" })).await;
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("output id"), "{answer}");

    // A body that is not a GraphQL request: 400, still in GraphQL's error shape.
    let (status, body) = engine
        .post_raw("/v0/gql", "application/json", "{not json")
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["message"].is_string(), "{body}");
}
