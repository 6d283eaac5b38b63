//! Per-run limits and hostile shapes at the engine's edges, against a real `durin dev`: a run that keeps
//! adding steps or stores too much fails with an error naming the limit and its flag (with and without
//! checkpointing), and a register payload whose filter expression would exhaust the parser's stack is
//! refused with 400 while the engine keeps serving.

mod common;

use common::{RUN_TIMEOUT, assert_json_error, start, start_configured};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

/// Stores one step per loop turn, forever: only a limit ends it.
fn endless_steps(recorder: Recorder, output_bytes: usize) -> Function {
    Function::new("endless")
        .trigger_event("app/endless")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                for turn in 0.. {
                    let recorder = recorder.clone();
                    ctx.step
                        .run(&format!("turn-{turn}"), || async move {
                            recorder.record(&format!("turn-{turn}"), 0);
                            Ok::<_, Error>(json!("x".repeat(output_bytes)))
                        })
                        .await?;
                }
                Ok(Value::Null)
            }
        })
}

/// Each step the run shows, as (name, status).
fn step_statuses(steps: &[Value]) -> Vec<(String, String)> {
    steps
        .iter()
        .map(|s| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (text(&s["name"]), text(&s["status"]))
        })
        .collect()
}

/// `n` completed steps `turn-0`..`turn-{n-1}`, then the failed attempt: the refused step's (`turn-{n}`,
/// classic: its answer named it), or the function body's (checkpoint mode: its checkpoint was refused).
fn completed_then_refused(n: usize, refused: &str) -> Vec<(String, String)> {
    let mut steps: Vec<_> = (0..n)
        .map(|turn| (format!("turn-{turn}"), "completed".to_owned()))
        .collect();
    steps.push((refused.to_owned(), "failed".to_owned()));
    steps
}

async fn run_to_end(h: &common::Harness) -> (Value, Vec<Value>) {
    let event = h.engine.send("app/endless", json!({})).await.expect("send");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    let run_id = run["run_id"].as_str().expect("run id").to_owned();
    let detail = h
        .engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("run detail");
    let steps = h
        .engine
        .data(&format!("/v1/runs/{run_id}/steps"))
        .await
        .expect("run steps");
    (detail, steps.as_array().cloned().unwrap_or_default())
}

fn assert_failed_with(detail: &Value, name: &str, needle: &str) {
    assert_eq!(detail["status"], "Failed", "{detail:#}");
    let error = &detail["output"];
    assert_eq!(error["name"], name, "{detail:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message}");
}

#[tokio::test]
async fn a_run_past_its_step_limit_fails_with_the_limit_named_in_checkpoint_mode() {
    let seen = Recorder::new();
    let h = start(
        vec![endless_steps(seen.clone(), 1)],
        &["--max-steps-per-run", "5"],
    )
    .await;
    let (detail, steps) = run_to_end(&h).await;
    assert_failed_with(
        &detail,
        "StepLimitExceeded",
        "the limit is 5 per run (--max-steps-per-run)",
    );
    assert_eq!(
        step_statuses(&steps),
        completed_then_refused(5, "(function body)")
    );
}

#[tokio::test]
async fn a_run_past_its_step_limit_fails_the_same_way_without_checkpointing() {
    let seen = Recorder::new();
    let h = start_configured(
        common::APP,
        |client| client.without_checkpointing(),
        vec![endless_steps(seen.clone(), 1)],
        &["--max-steps-per-run", "5"],
    )
    .await;
    let (detail, steps) = run_to_end(&h).await;
    assert_failed_with(&detail, "StepLimitExceeded", "would store 6 steps");
    assert_eq!(step_statuses(&steps), completed_then_refused(5, "turn-5"));
    assert_eq!(
        seen.attempts("turn-6"),
        Vec::<u32>::new(),
        "no 7th step ran"
    );
}

#[tokio::test]
async fn a_run_whose_results_pass_the_state_limit_fails_with_state_too_large() {
    // 300 KiB per step against 1 MiB: three steps fit, the fourth does not.
    let seen = Recorder::new();
    let h = start(
        vec![endless_steps(seen.clone(), 300 * 1024)],
        &["--max-run-state-mib", "1"],
    )
    .await;
    let (detail, steps) = run_to_end(&h).await;
    assert_failed_with(
        &detail,
        "StateTooLarge",
        "the limit is 1048576 bytes per run",
    );
    assert_eq!(
        step_statuses(&steps),
        completed_then_refused(3, "(function body)")
    );
}

#[tokio::test]
async fn a_register_payload_with_a_stack_exhausting_filter_is_refused_and_the_engine_keeps_serving()
{
    let h = start(vec![endless_steps(Recorder::new(), 1)], &[]).await;
    // 3,999 bytes of `1+1+…`: this aborted the engine (stack overflow) before the expression limits.
    let expression = vec!["1"; 2_000].join("+");
    let payload = json!({
        "url": "http://127.0.0.1:1/api/inngest",
        "appName": "hostile",
        "deployType": "ping",
        "sdk": "js:v3",
        "v": "0.1",
        "framework": "test",
        "functions": [{
            "id": "hostile-f",
            "name": "f",
            "triggers": [{"event": "app/x", "expression": expression}],
            "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": "http://127.0.0.1:1/api/inngest?fnId=hostile-f&stepId=step"}}},
        }],
    });
    let answer = h
        .engine
        .post_json("/fn/register", &payload)
        .await
        .expect("the engine answers");
    assert_json_error(
        "a too-complex trigger expression",
        &answer,
        400,
        &["too complex", "arithmetic or comparison operators"],
    );
    let (status, _) = h.engine.get("/v1/functions").await.expect("still serving");
    assert_eq!(status, 200);
}

/// POSTs `body` on a connection of its own. The engine answers an oversized body at once and closes the
/// connection without reading the rest; on a pooled connection the next request would then fail. The
/// client may also see the close instead of the answer (it was still writing): that is `Err`.
async fn post_once(
    engine: &durin_testkit::EngineProcess,
    path: &str,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", engine.url()))
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn register_payload(functions: Vec<Value>) -> Value {
    json!({
        "url": "http://127.0.0.1:1/api/inngest",
        "appName": "limits",
        "deployType": "ping",
        "sdk": "js:v3",
        "v": "0.1",
        "framework": "test",
        "functions": functions,
    })
}

fn function_def(id: &str, triggers: usize) -> Value {
    json!({
        "id": id,
        "name": id,
        "triggers": (0..triggers).map(|n| json!({"event": format!("app/e{n}")})).collect::<Vec<_>>(),
        "steps": {"step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": format!("http://127.0.0.1:1/api/inngest?fnId={id}&stepId=step")}}},
    })
}

#[tokio::test]
async fn register_limits_are_enforced_with_the_limit_named() {
    let h = start(vec![endless_steps(Recorder::new(), 1)], &[]).await;
    let register = |payload: Value| {
        let engine = &h.engine;
        async move {
            engine
                .post_json("/fn/register", &payload)
                .await
                .expect("answer")
        }
    };

    let many: Vec<Value> = (0..=durin_engine::FUNCTIONS_PER_APP_MAX)
        .map(|n| function_def(&format!("f{n}"), 1))
        .collect();
    assert_json_error(
        "one function over the per-app limit",
        &register(register_payload(many)).await,
        400,
        &["1001 functions", "at most 1000"],
    );

    let triggers = durin_engine::TRIGGERS_PER_FUNCTION_MAX + 1;
    assert_json_error(
        "a trigger over the per-function limit",
        &register(register_payload(vec![function_def("f", triggers)])).await,
        400,
        &["\"f\"", "11 triggers", "limit is 10"],
    );

    let long_id = "x".repeat(durin_engine::FUNCTION_ID_MAX_BYTES + 1);
    assert_json_error(
        "a function id over the length limit",
        &register(register_payload(vec![function_def(&long_id, 1)])).await,
        400,
        &["257 bytes", "limit is 256"],
    );

    // Over the 2 MiB register body limit: 413, not a parse error. (The server may close the connection
    // before the client has written the whole body; then the client sees the close instead.)
    let mut big = register_payload(vec![function_def("f", 1)]);
    big["padding"] = json!("x".repeat(2 * 1024 * 1024 + 1024));
    if let Ok(answer) = post_once(&h.engine, "/fn/register", &big).await {
        assert_json_error(
            "a register body over 2 MiB",
            &answer,
            413,
            &["invalid register payload"],
        );
    }

    // Nothing of the refused payloads was registered (only the test app's function is there); a payload
    // at the limits is accepted.
    let functions = h.engine.data("/v1/functions").await.expect("functions");
    assert_eq!(functions.as_array().map(Vec::len), Some(1), "{functions:#}");
    let at_limits = vec![function_def(
        &"y".repeat(durin_engine::FUNCTION_ID_MAX_BYTES),
        10,
    )];
    let (status, body) = register(register_payload(at_limits)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn oversized_header_blocks_get_431_and_the_engine_keeps_serving() {
    let h = start(vec![endless_steps(Recorder::new(), 1)], &[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/health", h.engine.url());
    // One header of 512 KiB, then 200 small headers: past hyper's 400 KiB buffer and 100-header limits.
    let big = client
        .get(&url)
        .header("x-big", "x".repeat(512 * 1024))
        .send()
        .await;
    let mut many = client.get(&url);
    for n in 0..200 {
        many = many.header(format!("x-h{n}"), "v");
    }
    let many = many.send().await;
    for (what, answer) in [("one 512 KiB header", big), ("200 headers", many)] {
        // Refused with 431, or the connection closed: never accepted, never a crash.
        if let Ok(response) = answer {
            assert_eq!(response.status().as_u16(), 431, "{what}");
        }
    }
    let (status, _) = h.engine.get_text("/health").await.expect("still serving");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn event_requests_past_the_count_or_body_limit_are_refused_whole() {
    let h = start(vec![endless_steps(Recorder::new(), 1)], &[]).await;
    let events = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"name": "app/counted", "data": {"i": i}}))
            .collect()
    };
    let key = "test";
    let path = format!("/e/{key}");
    let too_many = h
        .engine
        .post_json(&path, &events(durin_engine::EVENTS_PER_REQUEST_MAX + 1))
        .await
        .expect("answer");
    assert_json_error("5,001 events", &too_many, 413, &["5001", "5000"]);
    // 40 events of ~450 KiB each: every event is under its own limit, the body is over 16 MiB.
    let blob = "x".repeat(450 * 1024);
    let heavy: Value = (0..40)
        .map(|_| json!({"name": "app/counted", "data": {"blob": blob}}))
        .collect();
    if let Ok(too_heavy) = post_once(&h.engine, &path, &heavy).await {
        assert_json_error("a 17 MiB body", &too_heavy, 413, &["larger than"]);
    }
    let listed = h
        .engine
        .data("/v1/events?name=app/counted")
        .await
        .expect("events");
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "nothing stored: {listed:#}"
    );
    let (status, _) = h
        .engine
        .post_json(&path, &events(durin_engine::EVENTS_PER_REQUEST_MAX))
        .await
        .expect("answer");
    assert_eq!(status, 200, "5,000 events are accepted");
}

#[tokio::test]
async fn an_app_answer_over_8_mib_fails_the_run_for_good() {
    let huge = Function::new("huge")
        .trigger_event("app/huge")
        .handler(|_ctx: Context| async move { Ok(json!("x".repeat(9 * 1024 * 1024))) });
    let h = start(vec![huge], &[]).await;
    let event = h.engine.send("app/huge", json!({})).await.expect("send");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    let run_id = run["run_id"].as_str().expect("run id");
    let detail = h
        .engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("run");
    assert_failed_with(&detail, "OutputTooLarge", "larger than 8388608 bytes");
    let attempts = h.engine.attempts(run_id).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "not retried: {attempts:#?}");
}
