//! One call request: replay the handler, then answer with its result, one executed step, or the new ops.

use std::panic::AssertUnwindSafe;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use durin_protocol::{CallRequest, OpCode, Operation, UserlandId, headers};
use futures::FutureExt;
use serde_json::{Value, json};

use crate::checkpoint::{Checkpointer, FlushFailed};
use crate::client::Client;
use crate::error::Error;
use crate::function::{Context, Handler};
use crate::step::{ExecState, Executed, FoundKind, FoundStep, Step, panic_message};

/// An answer to the engine, before the headers every response carries (added by the router).
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// A failure of the request itself (not of user code), as `{"name", "message"}`.
    pub(crate) fn problem(status: StatusCode, name: &str, message: impl Into<String>) -> Self {
        Self::json(status, json!({"name": name, "message": message.into()}))
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body.to_string()).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// Runs `handler` against `request`. `target` is the `stepId` of the request: `step` for a discovery, or
/// the hashed id of a planned step to execute. With checkpointing offered, sequential steps run one after
/// another in this request and are reported to the engine as they finish (see `checkpoint.rs`).
pub(crate) async fn execute(
    client: &Client,
    handler: &Handler,
    request: CallRequest,
    target: &str,
) -> Reply {
    let CallRequest {
        event,
        events,
        steps,
        ctx: call,
        ..
    } = request;
    let last_attempt = call
        .max_attempts
        .is_some_and(|max| call.attempt.saturating_add(1) >= max);
    let discovery = target == durin_protocol::DISCOVERY_STEP_ID;
    let mut checkpointer = Checkpointer::offered(client, &call, discovery);
    let state = ExecState::new(steps, call.run_id.clone());
    let ctx = Context {
        event,
        events,
        attempt: call.attempt,
        max_attempts: call.max_attempts,
        run_id: call.run_id,
        step: Step::new(state.clone()),
    };

    let mut body = AssertUnwindSafe(handler(ctx)).catch_unwind();
    let mut executing = false;
    loop {
        tokio::select! {
            // The body first: a wake-up is only acted upon once the body has been polled as far as it
            // goes, so that every branch of a join has reported its step.
            biased;
            output = &mut body => {
                let output = output.unwrap_or_else(|panic| {
                    Err(Error::new("Panic", panic_message(panic.as_ref())))
                });
                if let Err(failed) = flush(&mut checkpointer).await {
                    return failed.into_reply();
                }
                return finished(output, last_attempt);
            }
            () = state.wake.notified() => {
                if executing {
                    let Some(executed) = state.take_executed() else { continue };
                    match (checkpointer.as_mut(), &executed.outcome) {
                        (Some(checkpointer), Ok(value)) => {
                            let value = value.clone();
                            let mut op = operation(OpCode::StepRun, &executed.step);
                            op.data = Some(value.clone());
                            if let Err(failed) = checkpointer.push(op).await {
                                return failed.into_reply();
                            }
                            // The step is stored (or buffered): the body takes its result and goes on.
                            state.clear_found();
                            executing = false;
                            let _ = executed.resume.send(value);
                            continue;
                        }
                        _ => {
                            if let Err(failed) = flush(&mut checkpointer).await {
                                return failed.into_reply();
                            }
                            return step_outcome(executed, last_attempt);
                        }
                    }
                }
                let found = state.found();
                if found.is_empty() {
                    continue;
                }
                let chosen = if discovery {
                    // Immediate execution: only when it is the single new step of this pass.
                    let single = found.len() == 1 && found[0].kind == FoundKind::Run;
                    let may_run = match &checkpointer {
                        Some(checkpointer) => checkpointer.has_time(),
                        None => !call.disable_immediate_execution,
                    };
                    (single && may_run).then(|| &found[0])
                } else {
                    found
                        .iter()
                        .find(|step| step.hash == target && step.kind == FoundKind::Run)
                };
                match chosen {
                    Some(step) => {
                        state.permit(&step.hash);
                        executing = true;
                    }
                    None => {
                        if let Err(failed) = flush(&mut checkpointer).await {
                            return failed.into_reply();
                        }
                        return planned(&found);
                    }
                }
            }
        }
    }
}

/// Reports what the checkpointer still buffers before the request answers.
async fn flush(checkpointer: &mut Option<Checkpointer>) -> Result<(), FlushFailed> {
    match checkpointer {
        Some(checkpointer) => checkpointer.flush().await,
        None => Ok(()),
    }
}

/// The body returned: 200 with its value, or an error status.
fn finished(output: Result<Value, Error>, last_attempt: bool) -> Reply {
    let error = match output {
        Ok(value) => return Reply::json(StatusCode::OK, value),
        Err(error) => error,
    };
    let body = serialized(&error);
    // An uncaught step error is final: the step already spent its attempts.
    if !error.is_retriable() || last_attempt {
        return Reply::json(StatusCode::BAD_REQUEST, body).header(headers::NO_RETRY, "true");
    }
    let reply =
        Reply::json(StatusCode::INTERNAL_SERVER_ERROR, body).header(headers::NO_RETRY, "false");
    match error.retry_after_header() {
        Some(retry_after) => reply.header(headers::RETRY_AFTER, retry_after),
        None => reply,
    }
}

/// The one step this request executed: `StepRun`, `StepError` (retry) or `StepFailed` (final).
///
/// A step with its own retry options (`run_with`) leaves finality to the engine, which counts its
/// failures by the step's policy (per rule, with cool-downs, pausing): every retriable failure is a
/// `StepError`, whatever `last_attempt` says, and only a non-retriable one is a `StepFailed`. Either
/// carries the policy in its `opts` as `{"durin": {"retry": ..}}`.
fn step_outcome(executed: Executed, last_attempt: bool) -> Reply {
    let Executed { step, outcome, .. } = executed;
    let error = match outcome {
        Ok(value) => {
            let mut op = operation(OpCode::StepRun, &step);
            op.data = Some(value);
            return ops_reply(&[op]);
        }
        Err(error) => error,
    };
    let engine_decides = step.retry.is_some();
    let final_failure = !error.is_retriable() || (last_attempt && !engine_decides);
    let code = if final_failure {
        OpCode::StepFailed
    } else {
        OpCode::StepError
    };
    let mut op = operation(code, &step);
    if let Some(retry) = &step.retry {
        op.opts = Some(retry.op_opts());
    }
    op.error = Some(error.to_serialized());
    let reply = ops_reply(&[op]).header(headers::NO_RETRY, final_failure.to_string());
    match error.retry_after_header() {
        Some(retry_after) if !final_failure => reply.header(headers::RETRY_AFTER, retry_after),
        _ => reply,
    }
}

/// New steps that this request does not execute: `StepPlanned` for runs, `Sleep` for sleeps.
fn planned(found: &[FoundStep]) -> Reply {
    let ops: Vec<Operation> = found
        .iter()
        .map(|step| match &step.kind {
            FoundKind::Run => operation(OpCode::StepPlanned, step),
            FoundKind::Sleep(name) => {
                let mut op = operation(OpCode::Sleep, step);
                op.name = Some(name.clone());
                op
            }
            FoundKind::Wait { code, name, opts } => {
                let mut op = operation(*code, step);
                op.name = name.clone().or(op.name);
                op.opts = Some(opts.clone());
                op
            }
        })
        .collect();
    ops_reply(&ops)
}

fn operation(op: OpCode, step: &FoundStep) -> Operation {
    Operation {
        op,
        id: step.hash.clone(),
        name: Some(step.user_id.clone()),
        display_name: Some(step.user_id.clone()),
        opts: Some(json!({})),
        data: None,
        error: None,
        userland: Some(UserlandId {
            id: step.user_id.clone(),
            index: u32::try_from(step.index).ok().filter(|index| *index > 0),
        }),
        unknown_op: None,
    }
}

pub(crate) fn ops_reply(ops: &[Operation]) -> Reply {
    match serde_json::to_value(ops) {
        Ok(body) => Reply::json(StatusCode::PARTIAL_CONTENT, body),
        Err(error) => Reply::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SerializationError",
            error.to_string(),
        ),
    }
}

fn serialized(error: &Error) -> Value {
    serde_json::to_value(error.to_serialized())
        .unwrap_or_else(|_| json!({"name": error.name(), "message": error.message()}))
}

#[cfg(test)]
impl Reply {
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn body(&self) -> &Value {
        &self.body
    }

    pub(crate) fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::function::Function;
    use crate::retry_options::{Backoff, ErrorRule, StepOptions};

    /// The options of the step under test.
    fn options() -> StepOptions {
        StepOptions::new()
            .retries(10)
            .backoff(Backoff::fixed(Duration::from_millis(500)))
            .rule(ErrorRule::named("ValidationError").never())
    }

    fn durin_opts() -> Value {
        json!({"durin": {"retry": {
            "retries": 10,
            "backoff": {"kind": "fixed", "interval_ms": 500},
            "rules": [{"error": "ValidationError", "never": true}]
        }}})
    }

    /// A function whose one step `s` fails with `error`, with `options` (`run_with`) or without (`run`).
    fn failing(options: Option<StepOptions>, error: fn() -> Error) -> Function {
        Function::new("f").handler(move |ctx: Context| {
            let options = options.clone();
            async move {
                let failing = || async move { Err::<(), _>(error()) };
                match options {
                    Some(options) => ctx.step.run_with("s", options, failing).await?,
                    None => ctx.step.run("s", failing).await?,
                }
                Ok(())
            }
        })
    }

    /// The answer to a discovery at `attempt` of `max_attempts` (the one new step runs at once).
    async fn answer(function: &Function, attempt: u32, max_attempts: u32) -> Reply {
        let client = Client::with_base_url("app", "http://127.0.0.1:1");
        let request: CallRequest = serde_json::from_value(json!({
            "event": {"name": "e", "data": {}},
            "ctx": {"run_id": "run", "attempt": attempt, "max_attempts": max_attempts},
        }))
        .expect("a call request");
        let handler = function.handler_fn().expect("a handler");
        execute(&client, handler, request, durin_protocol::DISCOVERY_STEP_ID).await
    }

    /// `(op, opts, x-inngest-no-retry, retry-after)` of a one-op answer.
    fn check(reply: &Reply) -> (String, Value, Option<String>, Option<String>) {
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
        let op = &reply.body[0];
        assert_eq!(op["id"], json!(durin_protocol::hashed_step_id("s", 0)));
        (
            op["op"].as_str().unwrap_or_default().to_owned(),
            op["opts"].clone(),
            reply.header_value(headers::NO_RETRY).map(str::to_owned),
            reply.header_value(headers::RETRY_AFTER).map(str::to_owned),
        )
    }

    fn outcome(
        op: &str,
        opts: Value,
        no_retry: &str,
        retry_after: Option<&str>,
    ) -> (String, Value, Option<String>, Option<String>) {
        (
            op.to_owned(),
            opts,
            Some(no_retry.to_owned()),
            retry_after.map(str::to_owned),
        )
    }

    #[tokio::test]
    async fn a_step_with_retry_options_leaves_finality_to_the_engine() {
        let plain = || Error::msg("down");
        let function = failing(Some(options()), plain);
        // On what the SDK would think is the last attempt, and on any other, a retry with the policy.
        for (attempt, max) in [(0, 5), (2, 3), (4, 5), (9, 5), (0, 1)] {
            assert_eq!(
                check(&answer(&function, attempt, max).await),
                outcome("StepError", durin_opts(), "false", None),
                "attempt {attempt} of {max}"
            );
        }
        // Retry-After still travels with it.
        let later = || Error::retry_after("busy", Duration::from_secs(30));
        let function = failing(Some(options()), later);
        assert_eq!(
            check(&answer(&function, 2, 3).await),
            outcome("StepError", durin_opts(), "false", Some("30"))
        );
        // A non-retriable error is final, and carries the policy too.
        let fatal = || Error::non_retriable("no");
        let function = failing(Some(options()), fatal);
        assert_eq!(
            check(&answer(&function, 0, 5).await),
            outcome("StepFailed", durin_opts(), "true", None)
        );
        let reply = answer(&function, 0, 5).await;
        assert_eq!(reply.body[0]["error"]["name"], json!("NonRetriableError"));
    }

    #[tokio::test]
    async fn a_step_without_options_keeps_the_sdk_deciding_on_the_last_attempt() {
        let plain = || Error::msg("down");
        let later = || Error::retry_after("busy", Duration::from_secs(30));
        let fatal = || Error::non_retriable("no");
        for options in [None, Some(StepOptions::new())] {
            let function = failing(options.clone(), plain);
            assert_eq!(
                check(&answer(&function, 1, 3).await),
                outcome("StepError", json!({}), "false", None)
            );
            assert_eq!(
                check(&answer(&function, 2, 3).await),
                outcome("StepFailed", json!({}), "true", None)
            );
            let function = failing(options.clone(), later);
            assert_eq!(
                check(&answer(&function, 0, 3).await),
                outcome("StepError", json!({}), "false", Some("30"))
            );
            assert_eq!(
                check(&answer(&function, 2, 3).await),
                outcome("StepFailed", json!({}), "true", None)
            );
            let function = failing(options, fatal);
            assert_eq!(
                check(&answer(&function, 0, 3).await),
                outcome("StepFailed", json!({}), "true", None)
            );
        }
    }

    #[tokio::test]
    async fn a_step_with_options_that_succeeds_is_an_ordinary_step_run() {
        let function = Function::new("f").handler(|ctx: Context| async move {
            let n: u32 = ctx
                .step
                .run_with("s", options(), || async { Ok::<_, Error>(7) })
                .await?;
            Ok(n)
        });
        let reply = answer(&function, 0, 5).await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(reply.body[0]["op"], json!("StepRun"));
        assert_eq!(reply.body[0]["data"], json!(7));
        assert_eq!(reply.body[0]["opts"], json!({}));
    }

    #[tokio::test]
    async fn options_the_engine_would_refuse_fail_the_function_before_the_step_runs() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let function = Function::new("f").handler(move |ctx: Context| {
            let runs = counted.clone();
            async move {
                ctx.step
                    .run_with("s", StepOptions::new().retries(21), || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Error>(())
                    })
                    .await?;
                Ok(())
            }
        });
        let reply = answer(&function, 0, 5).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.header_value(headers::NO_RETRY), Some("true"));
        assert_eq!(reply.body["name"], json!("NonRetriableError"));
        assert_eq!(
            reply.body["message"],
            json!("step \"s\": retry option `retries`: 21 is above the maximum of 20")
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_planned_step_with_options_runs_them_when_the_engine_calls_it() {
        // Two parallel steps are planned; the engine then calls each by its hashed id.
        let function = Function::new("f").handler(|ctx: Context| async move {
            let (a, b) = futures::join!(
                ctx.step.run_with("s", options(), || async {
                    Err::<u32, _>(Error::msg("down"))
                }),
                ctx.step.run("t", || async { Ok::<_, Error>(1u32) }),
            );
            Ok(a? + b?)
        });
        let client = Client::with_base_url("app", "http://127.0.0.1:1");
        let handler = function.handler_fn().expect("a handler");
        let request = |attempt: u32| -> CallRequest {
            serde_json::from_value(json!({
                "event": {"name": "e", "data": {}},
                "ctx": {"run_id": "run", "attempt": attempt, "max_attempts": 3},
            }))
            .expect("a call request")
        };
        let planned = execute(&client, handler, request(0), "step").await;
        let ops: Vec<&str> = planned
            .body
            .as_array()
            .map(|ops| ops.iter().filter_map(|op| op["op"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ops, vec!["StepPlanned", "StepPlanned"]);
        let target = durin_protocol::hashed_step_id("s", 0);
        let reply = execute(&client, handler, request(2), &target).await;
        assert_eq!(
            check(&reply),
            outcome("StepError", durin_opts(), "false", None)
        );
    }
}
