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
    let final_failure = !error.is_retriable() || last_attempt;
    let code = if final_failure {
        OpCode::StepFailed
    } else {
        OpCode::StepError
    };
    let mut op = operation(code, &step);
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
