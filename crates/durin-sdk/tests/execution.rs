//! Call requests against the functions of the TS probe app (`shared/spec/probe/ts_app.mjs`), rewritten with
//! durin-sdk. Expected ops are the TS SDK's captured answers (`ts_exec_results.jsonl`), normalized.

mod common;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::StatusCode;
use common::{Call, call, parse};
use durin_sdk::{Client, Context, Error, Function, serve};
use serde_json::json;

const FIRST: &str = "e0996a37c13d44c3b06074939d43fa3759bd32c1";
const SECOND: &str = "352f7829a2384b001cc12b0c2613c756454a1f6a";
const BOOM: &str = "c53d2f1a9a8499bcb477be56c31caa5c76ae60f5";
const X: &str = "11f6ad8ec52a2984abaafd7c3b516503785c2072";
const Y: &str = "95cb0bfd2977c761298d9624e4b4d4c72a39974a";
const NAP: &str = "c2640f79b4ed481b838ce4ad75330aa3f825d4d9";
const SAME_0: &str = "ff3390557335ba88d37755e41514beb03bc499ec";
const SAME_1: &str = "c1023fa587daa4753ff5868c7e4bdbd03defda7d";

#[derive(Debug)]
struct UserNotFoundError;

impl fmt::Display for UserNotFoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such user")
    }
}

impl std::error::Error for UserNotFoundError {}

/// How often each step closure ran, by step id.
#[derive(Default)]
struct Runs {
    x: AtomicUsize,
    y: AtomicUsize,
    first: AtomicUsize,
}

fn app(runs: Arc<Runs>) -> Router {
    let client = Client::with_base_url(common::APP, "http://127.0.0.1:9");
    let counted = runs.clone();
    let two_steps = Function::new("two-steps")
        .trigger_event("probe/two")
        .handler(move |ctx: Context| {
            let runs = counted.clone();
            async move {
                let a: serde_json::Value = ctx
                    .step
                    .run("first", || async {
                        runs.first.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Error>(json!({"v": 1}))
                    })
                    .await?;
                let b: i64 = ctx
                    .step
                    .run("second", || async {
                        Ok::<_, Error>(a["v"].as_i64().unwrap_or(0) + 1)
                    })
                    .await?;
                Ok(json!({"a": a, "b": b}))
            }
        });
    let step_error = Function::new("step-error")
        .retries(2)
        .trigger_event("probe/err")
        .handler(|ctx: Context| async move {
            ctx.step
                .run("boom", || async {
                    Err::<(), _>(Error::msg("plain failure"))
                })
                .await?;
            Ok(())
        });
    let step_non_retriable = Function::new("step-nonretriable")
        .trigger_event("probe/nre")
        .handler(|ctx: Context| async move {
            ctx.step
                .run("boom", || async {
                    Err::<(), _>(Error::non_retriable("do not retry"))
                })
                .await?;
            Ok(())
        });
    let step_retry_after = Function::new("step-retryafter")
        .trigger_event("probe/ra")
        .handler(|ctx: Context| async move {
            ctx.step
                .run("boom", || async {
                    Err::<(), _>(Error::retry_after(
                        "slow down",
                        Duration::from_millis(30_000),
                    ))
                })
                .await?;
            Ok(())
        });
    let step_retry_at = Function::new("step-retryat")
        .trigger_event("probe/rat")
        .handler(|ctx: Context| async move {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
            ctx.step
                .run("boom", || async {
                    Err::<(), _>(Error::retry_at("later", at))
                })
                .await?;
            Ok(())
        });
    let fn_throws = Function::new("fn-throws")
        .retries(0)
        .trigger_event("probe/fnthrow")
        .handler(|_ctx: Context| async move { Err::<(), _>(Error::msg("body failure")) });
    let fn_retry_after = Function::new("fn-retryafter")
        .trigger_event("probe/fnra")
        .handler(|_ctx: Context| async move {
            Err::<(), _>(Error::retry_after("busy", Duration::from_secs(3)))
        });
    let fn_non_retriable = Function::new("fn-nonretriable")
        .trigger_event("probe/fnnre")
        .handler(|_ctx: Context| async move { Err::<(), _>(Error::non_retriable("stop")) });
    let counted = runs.clone();
    let parallel = Function::new("parallel")
        .trigger_event("probe/par")
        .handler(move |ctx: Context| {
            let runs = counted.clone();
            async move {
                let (x, y) = futures::join!(
                    ctx.step.run("x", || async {
                        runs.x.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Error>("X".to_owned())
                    }),
                    ctx.step.run("y", || async {
                        runs.y.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Error>("Y".to_owned())
                    }),
                );
                ctx.step.sleep("nap", Duration::from_secs(10)).await?;
                Ok(x? + &y?)
            }
        });
    let loop_fn =
        Function::new("loop")
            .trigger_event("probe/loop")
            .handler(|ctx: Context| async move {
                for i in 0..3 {
                    ctx.step
                        .run("same", || async move { Ok::<_, Error>(i) })
                        .await?;
                }
                Ok("done")
            });
    let catches = Function::new("catches")
        .trigger_event("probe/catch")
        .handler(|ctx: Context| async move {
            let email = ctx
                .step
                .run("get-user-email", || async {
                    Err::<String, _>(UserNotFoundError)
                })
                .await;
            match email {
                Err(Error::Step(error)) if error.name == "UserNotFoundError" => {
                    Ok(json!({"caught": error.name(), "message": error.message(), "step": error.step_id}))
                }
                Err(other) => Err(other),
                Ok(email) => Ok(json!({"email": email})),
            }
        });
    let until =
        Function::new("until")
            .trigger_event("probe/until")
            .handler(|ctx: Context| async move {
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
                ctx.step.sleep_until("until", at).await?;
                Ok("woke")
            });
    let attempts = Function::new("attempts")
        .trigger_event("probe/attempts")
        .handler(|ctx: Context| async move {
            if ctx.attempt < 2 {
                return Err(Error::msg(format!("attempt {} fails", ctx.attempt)));
            }
            Ok(
                json!({"attempt": ctx.attempt, "max": ctx.max_attempts, "run": ctx.run_id,
                      "event": ctx.event.name, "events": ctx.events.len()}),
            )
        });
    let panics = Function::new("panics")
        .trigger_event("probe/panic")
        .handler(|ctx: Context| async move {
            ctx.step
                .run("boom", || async {
                    if ctx.attempt < 100 {
                        panic!("step exploded");
                    }
                    Ok::<_, Error>(())
                })
                .await?;
            Ok(())
        });
    let nested = Function::new("nested")
        .trigger_event("probe/nested")
        .handler(|ctx: Context| async move {
            let step = ctx.step.clone();
            let value: u32 = ctx
                .step
                .run("outer", || async move {
                    step.run("inner", || async { Ok::<_, Error>(1u32) }).await
                })
                .await?;
            Ok(value)
        });
    serve(
        client,
        vec![
            nested,
            two_steps,
            step_error,
            step_non_retriable,
            step_retry_after,
            step_retry_at,
            fn_throws,
            fn_retry_after,
            fn_non_retriable,
            parallel,
            loop_fn,
            catches,
            until,
            attempts,
            panics,
        ],
    )
}

fn two() -> Call {
    Call::new("probe/two", json!({"x": 1}))
}

#[tokio::test]
async fn two_sequential_steps_across_three_calls() {
    let runs = Arc::new(Runs::default());
    let router = app(runs.clone());

    let first = call(&router, "two-steps", "step", &two()).await;
    assert_eq!(first.header("x-inngest-no-retry"), None);
    assert_eq!(
        first.ops(),
        common::normalize_ops(parse(
            r#"[{"id":"e0996a37c13d44c3b06074939d43fa3759bd32c1","op":"StepRun","name":"first","opts":{},"displayName":"first","userland":{"id":"first"},"data":{"v":1},"timing":{"a":1795888013097000000,"b":0}}]"#
        ))
    );
    assert_eq!(runs.first.load(Ordering::SeqCst), 1, "the closure ran once");

    let memo = two().steps(json!({FIRST: {"data": {"v": 1}}}));
    let second = call(&router, "two-steps", "step", &memo).await;
    assert_eq!(
        second.ops(),
        common::normalize_ops(parse(
            r#"[{"id":"352f7829a2384b001cc12b0c2613c756454a1f6a","op":"StepRun","name":"second","opts":{},"displayName":"second","userland":{"id":"second"},"data":2,"timing":{"a":1795888013114000000,"b":0}}]"#
        ))
    );
    assert_eq!(
        runs.first.load(Ordering::SeqCst),
        1,
        "memoized steps do not run"
    );

    let memo = two().steps(json!({FIRST: {"data": {"v": 1}}, SECOND: {"data": 2}}));
    let third = call(&router, "two-steps", "step", &memo).await;
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(third.body, json!({"a": {"v": 1}, "b": 2}));
}

#[tokio::test]
async fn step_error_is_retriable_until_the_last_attempt() {
    let router = app(Arc::default());
    let error_call = Call::new("probe/err", json!({}));

    let early = call(
        &router,
        "step-error",
        "step",
        &error_call.clone().attempt(0, Some(3)),
    )
    .await;
    assert_eq!(early.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(early.header("retry-after"), None);
    let expected = parse(&format!(
        r#"[{{"id":"{BOOM}","op":"StepError","name":"boom","opts":{{}},"displayName":"boom","userland":{{"id":"boom"}},"error":{{"name":"Error","message":"plain failure","stack":"Error: plain failure\n    at file://app/ts_app.mjs:19:42","__serialized":true}},"timing":{{"a":1795888013139000000,"b":1000000}},"data":null}}]"#
    ));
    assert_eq!(early.ops(), common::normalize_ops(expected));
    assert!(early.body[0]["error"]["stack"].is_string());

    let last = call(
        &router,
        "step-error",
        "step",
        &error_call.clone().attempt(2, Some(3)),
    )
    .await;
    assert_eq!(last.header("x-inngest-no-retry"), Some("true"));
    let expected = parse(&format!(
        r#"[{{"id":"{BOOM}","op":"StepFailed","name":"boom","opts":{{}},"displayName":"boom","userland":{{"id":"boom"}},"error":{{"name":"Error","message":"plain failure","stack":"...","__serialized":true}},"timing":{{"a":1795888013150000000,"b":0}},"data":{{"__serialized":true,"name":"Error","message":"plain failure","stack":""}}}}]"#
    ));
    assert_eq!(last.ops(), common::normalize_ops(expected));

    // Without max_attempts the SDK cannot know it is the last attempt: the engine decides.
    let unknown = call(&router, "step-error", "step", &error_call.attempt(7, None)).await;
    assert_eq!(unknown.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(unknown.body[0]["op"], "StepError");
}

#[tokio::test]
async fn non_retriable_error_in_a_step_fails_it_at_once() {
    let router = app(Arc::default());
    let request = Call::new("probe/nre", json!({})).attempt(0, Some(5));
    let answer = call(&router, "step-nonretriable", "step", &request).await;
    assert_eq!(answer.header("x-inngest-no-retry"), Some("true"));
    let expected = parse(&format!(
        r#"[{{"id":"{BOOM}","op":"StepFailed","name":"boom","opts":{{}},"displayName":"boom","userland":{{"id":"boom"}},"error":{{"name":"NonRetriableError","message":"do not retry","stack":"..","__serialized":true}},"data":{{"__serialized":true,"name":"NonRetriableError","message":"do not retry","stack":""}}}}]"#
    ));
    assert_eq!(answer.ops(), common::normalize_ops(expected));
}

#[tokio::test]
async fn retry_after_in_a_step_sets_the_header() {
    let router = app(Arc::default());
    let request = Call::new("probe/ra", json!({})).attempt(0, Some(5));
    let answer = call(&router, "step-retryafter", "step", &request).await;
    assert_eq!(answer.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(answer.header("retry-after"), Some("30"));
    let expected = parse(&format!(
        r#"[{{"id":"{BOOM}","op":"StepError","name":"boom","opts":{{}},"displayName":"boom","userland":{{"id":"boom"}},"error":{{"name":"RetryAfterError","message":"slow down","stack":"..","__serialized":true}},"data":null}}]"#
    ));
    assert_eq!(answer.ops(), common::normalize_ops(expected));

    let at = call(&router, "step-retryat", "step", &request).await;
    assert_eq!(at.header("retry-after"), Some("2030-01-01T00:00:00.000Z"));

    // On the last attempt the step fails for good; no retry-after then.
    let last = Call::new("probe/ra", json!({})).attempt(4, Some(5));
    let answer = call(&router, "step-retryafter", "step", &last).await;
    assert_eq!(answer.header("x-inngest-no-retry"), Some("true"));
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(answer.body[0]["op"], "StepFailed");
}

#[tokio::test]
async fn body_error_is_500_until_the_last_attempt_then_400() {
    let router = app(Arc::default());
    let request = Call::new("probe/fnthrow", json!({}));

    let retriable = call(
        &router,
        "fn-throws",
        "step",
        &request.clone().attempt(0, None),
    )
    .await;
    assert_eq!(retriable.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(retriable.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(retriable.body["name"], "Error");
    assert_eq!(retriable.body["message"], "body failure");
    assert!(retriable.body["stack"].is_string());

    let last = call(&router, "fn-throws", "step", &request.attempt(0, Some(1))).await;
    assert_eq!(last.status, StatusCode::BAD_REQUEST);
    assert_eq!(last.header("x-inngest-no-retry"), Some("true"));
    assert_eq!(last.body["message"], "body failure");

    let request = Call::new("probe/fnra", json!({})).attempt(0, Some(5));
    let later = call(&router, "fn-retryafter", "step", &request).await;
    assert_eq!(later.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(later.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(later.header("retry-after"), Some("3"));
    assert_eq!(later.body["name"], "RetryAfterError");

    let request = Call::new("probe/fnnre", json!({})).attempt(0, Some(5));
    let stop = call(&router, "fn-nonretriable", "step", &request).await;
    assert_eq!(stop.status, StatusCode::BAD_REQUEST);
    assert_eq!(stop.header("x-inngest-no-retry"), Some("true"));
    assert_eq!(stop.body["name"], "NonRetriableError");
}

#[tokio::test]
async fn handler_observes_the_attempt() {
    let router = app(Arc::default());
    let request = Call::new("probe/attempts", json!({}));
    let failing = call(
        &router,
        "attempts",
        "step",
        &request.clone().attempt(1, Some(5)),
    )
    .await;
    assert_eq!(failing.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failing.body["message"], "attempt 1 fails");
    let ok = call(&router, "attempts", "step", &request.attempt(2, Some(5))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.body,
        json!({"attempt": 2, "max": 5, "run": "01KPROBERUN0000000000000000",
               "event": "probe/attempts", "events": 1})
    );
}

#[tokio::test]
async fn memoized_step_error_uncaught_fails_the_run() {
    let router = app(Arc::default());
    let request = Call::new("probe/err", json!({}))
        .attempt(0, Some(3))
        .steps(json!({BOOM: {"error": {"name": "Error", "message": "plain failure", "stack": "Error: plain failure\n    at ..."}}}));
    let answer = call(&router, "step-error", "step", &request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.header("x-inngest-no-retry"), Some("true"));
    // TS answers with the original serialized error.
    assert_eq!(
        answer.body,
        json!({"name": "Error", "message": "plain failure", "stack": "Error: plain failure\n    at ..."})
    );
}

#[tokio::test]
async fn memoized_step_error_can_be_caught_by_name() {
    let router = app(Arc::default());
    let hash = durin_protocol::hashed_step_id("get-user-email", 0);
    // First the step itself fails, under its own error type's name.
    let fresh = call(
        &router,
        "catches",
        "step",
        &Call::new("probe/catch", json!({})),
    )
    .await;
    assert_eq!(fresh.body[0]["op"], "StepError");
    assert_eq!(fresh.body[0]["id"], hash.as_str());
    assert_eq!(fresh.body[0]["error"]["name"], "UserNotFoundError");
    assert_eq!(fresh.body[0]["error"]["message"], "no such user");

    let request = Call::new("probe/catch", json!({}))
        .steps(json!({hash: {"error": {"name": "UserNotFoundError", "message": "no such user"}}}));
    let answer = call(&router, "catches", "step", &request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"caught": "UserNotFoundError", "message": "no such user", "step": "get-user-email"})
    );
}

#[tokio::test]
async fn parallel_steps_are_planned_then_executed_one_by_one() {
    let runs = Arc::new(Runs::default());
    let router = app(runs.clone());
    let par = || Call::new("probe/par", json!({"k": 1}));

    let first = call(&router, "parallel", "step", &par()).await;
    assert_eq!(
        first.ops(),
        common::normalize_ops(parse(
            r#"[{"displayName":"x","op":"StepPlanned","id":"11f6ad8ec52a2984abaafd7c3b516503785c2072","name":"x","opts":{},"userland":{"id":"x"},"data":null},{"displayName":"y","op":"StepPlanned","id":"95cb0bfd2977c761298d9624e4b4d4c72a39974a","name":"y","opts":{},"userland":{"id":"y"},"data":null}]"#
        ))
    );
    assert_eq!(
        runs.x.load(Ordering::SeqCst) + runs.y.load(Ordering::SeqCst),
        0
    );

    // The planned step x, targeted by its hash: only x runs.
    let run_x = call(&router, "parallel", X, &par().planned()).await;
    assert_eq!(
        run_x.ops(),
        common::normalize_ops(parse(
            r#"[{"id":"11f6ad8ec52a2984abaafd7c3b516503785c2072","op":"StepRun","name":"x","opts":{},"displayName":"x","userland":{"id":"x"},"data":"X","timing":{"a":1795888013195000000,"b":0}}]"#
        ))
    );
    assert_eq!(runs.x.load(Ordering::SeqCst), 1);
    assert_eq!(runs.y.load(Ordering::SeqCst), 0);

    // Discovery with x done and immediate execution disabled re-reports y as planned.
    let discovery = call(
        &router,
        "parallel",
        "step",
        &par().planned().steps(json!({X: {"data": "X"}})),
    )
    .await;
    assert_eq!(
        discovery.ops(),
        common::normalize_ops(parse(
            r#"[{"displayName":"y","op":"StepPlanned","id":"95cb0bfd2977c761298d9624e4b4d4c72a39974a","name":"y","opts":{},"userland":{"id":"y"},"data":null}]"#
        ))
    );
    assert_eq!(runs.y.load(Ordering::SeqCst), 0);

    let run_y = call(
        &router,
        "parallel",
        Y,
        &par().planned().steps(json!({X: {"data": "X"}})),
    )
    .await;
    assert_eq!(run_y.body[0]["op"], "StepRun");
    assert_eq!(run_y.body[0]["data"], "Y");
    assert_eq!(runs.y.load(Ordering::SeqCst), 1);
    assert_eq!(runs.x.load(Ordering::SeqCst), 1);

    let both = par()
        .planned()
        .steps(json!({X: {"data": "X"}, Y: {"data": "Y"}}));
    let sleep = call(&router, "parallel", "step", &both).await;
    assert_eq!(
        sleep.ops(),
        common::normalize_ops(parse(
            r#"[{"displayName":"nap","op":"Sleep","id":"c2640f79b4ed481b838ce4ad75330aa3f825d4d9","name":"10s","opts":{},"userland":{"id":"nap"},"data":null}]"#
        ))
    );

    let woke = par()
        .planned()
        .steps(json!({X: {"data": "X"}, Y: {"data": "Y"}, NAP: null}));
    let done = call(&router, "parallel", "step", &woke).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body, json!("XY"));
}

#[tokio::test]
async fn repeated_step_ids_are_numbered() {
    let router = app(Arc::default());
    let request = Call::new("probe/loop", json!({}));
    let first = call(&router, "loop", "step", &request).await;
    assert_eq!(
        first.ops(),
        common::normalize_ops(parse(
            r#"[{"id":"ff3390557335ba88d37755e41514beb03bc499ec","op":"StepRun","name":"same","opts":{},"displayName":"same","userland":{"id":"same"},"data":0}]"#
        ))
    );
    let second = call(
        &router,
        "loop",
        "step",
        &request.clone().steps(json!({SAME_0: {"data": 0}})),
    )
    .await;
    assert_eq!(
        second.ops(),
        common::normalize_ops(parse(
            r#"[{"id":"c1023fa587daa4753ff5868c7e4bdbd03defda7d","op":"StepRun","name":"same","opts":{},"displayName":"same","userland":{"id":"same","index":1},"data":1}]"#
        ))
    );
    let same_2 = durin_protocol::hashed_step_id("same", 2);
    let third = call(
        &router,
        "loop",
        "step",
        &request
            .clone()
            .steps(json!({SAME_0: {"data": 0}, SAME_1: {"data": 1}})),
    )
    .await;
    assert_eq!(third.body[0]["id"], same_2.as_str());
    assert_eq!(third.body[0]["userland"], json!({"id": "same", "index": 2}));
    let all = request.steps(json!({SAME_0: {"data": 0}, SAME_1: {"data": 1}, same_2: {"data": 2}}));
    let done = call(&router, "loop", "step", &all).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body, json!("done"));
}

#[tokio::test]
async fn sleep_until_names_the_instant() {
    let router = app(Arc::default());
    let hash = durin_protocol::hashed_step_id("until", 0);
    let answer = call(
        &router,
        "until",
        "step",
        &Call::new("probe/until", json!({})),
    )
    .await;
    assert_eq!(
        answer.ops(),
        json!([{"op": "Sleep", "id": hash, "name": "2030-01-01T00:00:00.000Z", "displayName": "until",
                "opts": {}, "userland": {"id": "until"}}])
    );
    let woke = Call::new("probe/until", json!({})).steps(json!({hash: null}));
    let done = call(&router, "until", "step", &woke).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body, json!("woke"));
}

#[tokio::test]
async fn a_panicking_step_is_a_step_error() {
    let router = app(Arc::default());
    let request = Call::new("probe/panic", json!({})).attempt(0, Some(2));
    let answer = call(&router, "panics", "step", &request).await;
    assert_eq!(answer.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(answer.body[0]["op"], "StepError");
    assert_eq!(answer.body[0]["error"]["name"], "Panic");
    assert_eq!(
        answer.body[0]["error"]["message"],
        "panicked: step exploded"
    );
}

#[tokio::test]
async fn memo_of_the_wrong_type_is_a_retriable_body_error() {
    let router = app(Arc::default());
    let request = two().steps(json!({FIRST: {"data": {"v": 1}}, SECOND: {"data": "not a number"}}));
    let answer = call(&router, "two-steps", "step", &request).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["name"], "DeserializationError");
}

#[tokio::test]
async fn a_planned_step_runs_even_before_its_sibling() {
    let runs = Arc::new(Runs::default());
    let router = app(runs.clone());
    let answer = call(
        &router,
        "parallel",
        Y,
        &Call::new("probe/par", json!({"k": 1})).planned(),
    )
    .await;
    assert_eq!(answer.body[0]["op"], "StepRun");
    assert_eq!(answer.body[0]["id"], Y);
    assert_eq!(runs.x.load(Ordering::SeqCst), 0);
    assert_eq!(runs.y.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn nested_steps_fail_instead_of_hanging() {
    let router = app(Arc::default());
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        call(
            &router,
            "nested",
            "step",
            &Call::new("probe/nested", json!({})),
        ),
    )
    .await
    .expect("the request must not hang");
    assert_eq!(answer.header("x-inngest-no-retry"), Some("true"));
    assert_eq!(answer.body[0]["op"], "StepFailed");
    assert_eq!(answer.body[0]["userland"]["id"], "outer");
    assert_eq!(answer.body[0]["error"]["name"], "NonRetriableError");
}
