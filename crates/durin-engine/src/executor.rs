//! Calling an app: build the call request, POST it, and read the answer into an [`AppReply`].

use durin_core::JobKind;
use durin_protocol::ops::parse_ops;
use durin_protocol::{CallContext, CallRequest, Operation, StepStack, headers};
use durin_store::{ClaimedJob, RunState};
use reqwest::Url;
use serde_json::{Value, json};

use crate::dispatches::Dispatch;
use crate::engine::Engine;
use crate::limits::RunBudget;
use crate::sync::error_chain;

/// Largest app response read; bigger answers fail the attempt. Step outputs have their own, smaller limit.
pub(crate) const RESPONSE_MAX_BYTES: usize = 8 * 1024 * 1024;

/// What an app answered, reduced to what the engine acts on.
#[derive(Debug)]
pub(crate) struct AppReply {
    pub(crate) kind: ReplyKind,
    /// `X-Inngest-No-Retry: true`.
    pub(crate) no_retry: bool,
    /// The `Retry-After` header as sent; read against the attempt's end time when it is recorded, so the
    /// next attempt is never due less than the asked delay after the recorded end.
    pub(crate) retry_after: Option<String>,
    pub(crate) request_version: Option<i64>,
}

#[derive(Debug)]
pub(crate) enum ReplyKind {
    /// 200: the function returned this value.
    Done(Value),
    /// 206: operations.
    Ops(Vec<Operation>),
    /// Anything else: an error object describing the failure.
    Failed(Value),
}

impl Engine {
    pub(crate) async fn call_app(&self, job: &ClaimedJob, state: &RunState, url: &str) -> AppReply {
        let step_id = match &job.kind {
            JobKind::Step { step_id, .. } => step_id.as_str(),
            JobKind::Discovery | JobKind::Timeout { .. } => durin_protocol::DISCOVERY_STEP_ID,
        };
        let limits = self.inner.config.run_limits;
        // A run already past its limits (checkpointed by another instance's call) fails before the call.
        if let Some(error) = limits.exceeded(state.steps.len(), state.steps_bytes) {
            return failed(error, true);
        }
        let mut request = call_request(job, state, step_id);
        request.ctx.max_attempts = Some(self.retry_policies().max_attempts(
            &job.function_id,
            &job.policy,
            job.attempt,
        ));
        let mut _live = None;
        let mut budget = None;
        if self.inner.config.checkpointing && job.kind == JobKind::Discovery {
            request.ctx.fn_id = Some(durin_protocol::function_uuid(&state.run.function_id));
            // One dispatch: the job and its attempt, so a checkpoint from a superseded request is refused.
            let qi_id = format!("{}:{}", job.job_id, job.attempt);
            request.ctx.qi_id = Some(qi_id.clone());
            _live = Some(
                self.inner.dispatches.begin(
                    qi_id,
                    Dispatch {
                        run_id: job.run_id.clone(),
                        job_id: job.job_id.clone(),
                        kind: job.kind.clone(),
                        attempt: job.attempt,
                        budget: budget
                            .insert(RunBudget::new(limits, state.steps.len(), state.steps_bytes))
                            .clone()
                            .into(),
                    },
                ),
            );
        }
        let url = match call_url(url, &state.run.function_id, step_id) {
            Ok(url) => url,
            Err(message) => return failed(error_object("InvalidAppUrl", &message), true),
        };
        let builder = self
            .inner
            .http
            .post(url)
            .header(headers::RUN_ID, &state.run.run_id)
            .header(headers::STEP_ID, step_id)
            .header(headers::REQUEST_ID, ulid::Ulid::generate().to_string())
            .header(headers::JOB_ID, &job.job_id)
            .header(headers::REQ_VERSION, state.request_version.to_string())
            .header(headers::SERVER_KIND, self.server_kind())
            .timeout(self.inner.config.request_timeout);
        let sent = self.signed_json(builder, &request).send().await;
        let response = match sent {
            Ok(response) => response,
            // Before the timeout arm: a connection that could not be opened in time is unreachable.
            Err(error) if error.is_connect() => {
                let message = if error.is_timeout() {
                    let secs = crate::engine::CONNECT_TIMEOUT
                        .min(self.inner.config.request_timeout)
                        .as_secs_f64();
                    format!("could not connect within {secs} s: {}", error_chain(&error))
                } else {
                    error_chain(&error)
                };
                return failed(error_object("AppUnreachable", &message), false);
            }
            Err(error) if error.is_timeout() => return self.timed_out(),
            // Connected, but the connection ended before an answer (the app died, a proxy cut it).
            Err(error) => {
                let message = format!(
                    "the connection closed before the app answered: {}",
                    error_chain(&error)
                );
                return failed(error_object("AppConnectionError", &message), false);
            }
        };
        let reply = self.read_reply(response).await;
        // A checkpoint refused for the run's limits: whatever the app answered, the run fails.
        match budget.as_ref().and_then(RunBudget::exceeded) {
            Some(error) => failed(error, true),
            None => reply,
        }
    }

    fn timed_out(&self) -> AppReply {
        let secs = self.inner.config.request_timeout.as_secs_f64();
        failed(
            error_object(
                "TimeoutError",
                &format!("the app did not answer within {secs} s"),
            ),
            false,
        )
    }

    async fn read_reply(&self, mut response: reqwest::Response) -> AppReply {
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let is_sdk = header(headers::SDK).is_some();
        let no_retry = header(headers::NO_RETRY).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let retry_after = header(headers::RETRY_AFTER);
        let request_version = header(headers::REQ_VERSION).and_then(|v| v.parse().ok());
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > RESPONSE_MAX_BYTES {
                        let message =
                            format!("the app's response is larger than {RESPONSE_MAX_BYTES} bytes");
                        return failed(error_object("OutputTooLarge", &message), true);
                    }
                }
                Ok(None) => break,
                Err(error) if error.is_timeout() => return self.timed_out(),
                Err(error) => {
                    return failed(
                        error_object("AppConnectionError", &error_chain(&error)),
                        false,
                    );
                }
            }
        }
        let kind = match status.as_u16() {
            _ if status.is_success() && !is_sdk => ReplyKind::Failed(error_object(
                "NotAnSdkResponse",
                &format!(
                    "the app answered {status} without an x-inngest-sdk header: is this URL an SDK's serve endpoint?"
                ),
            )),
            200 => match serde_json::from_slice(&body) {
                Ok(value) => ReplyKind::Done(value),
                Err(_) if body.is_empty() => ReplyKind::Done(Value::Null),
                Err(e) => ReplyKind::Failed(error_object(
                    "InvalidResponse",
                    &format!("the function's output is not JSON: {e}"),
                )),
            },
            206 => match parse_ops(&body) {
                Ok(ops) => ReplyKind::Ops(ops),
                Err(e) => ReplyKind::Failed(error_object(
                    "InvalidResponse",
                    &format!("cannot read the app's operations: {e}"),
                )),
            },
            _ => ReplyKind::Failed(error_from_body(status.as_u16(), &body, is_sdk)),
        };
        AppReply {
            kind,
            no_retry,
            retry_after,
            request_version,
        }
    }
}

fn failed(error: Value, no_retry: bool) -> AppReply {
    AppReply {
        kind: ReplyKind::Failed(error),
        no_retry,
        retry_after: None,
        request_version: None,
    }
}

pub(crate) fn error_object(name: &str, message: &str) -> Value {
    json!({ "error": format!("{name}: {message}"), "name": name, "message": message })
}

/// The error an app reported in a non-2xx body, kept as the app sent it (it becomes the run's output
/// when the run fails), or one describing the status when the body is not a JSON object. An answer
/// without the SDK header that is not an SDK error object came from something else on the way (a proxy's
/// error page, a server in front of the app): it is named so.
fn error_from_body(status: u16, body: &[u8], is_sdk: bool) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) if !object.is_empty() => Value::Object(object),
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(2048)]).into_owned();
            let (name, what) = if is_sdk {
                ("Error", format!("the app answered HTTP {status}"))
            } else {
                (
                    "NotAnSdkResponse",
                    format!(
                        "HTTP {status} without an x-inngest-sdk header (not from an SDK: a proxy or \
                         server in front of the app?)"
                    ),
                )
            };
            let message = if text.trim().is_empty() {
                what
            } else {
                format!("{what}: {text}")
            };
            error_object(name, &message)
        }
    }
}

fn call_request(job: &ClaimedJob, state: &RunState, step_id: &str) -> CallRequest {
    let event = serde_json::from_value(state.event.clone())
        .unwrap_or_else(|_| fallback_event(&state.event));
    let events = state
        .events
        .iter()
        .map(|e| serde_json::from_value(e.clone()).unwrap_or_else(|_| fallback_event(e)))
        .collect();
    let stack: Vec<String> = state.steps.iter().map(|(id, _)| id.clone()).collect();
    CallRequest {
        event,
        events,
        steps: state.steps.iter().cloned().collect(),
        version: state.request_version,
        use_api: false,
        ctx: CallContext {
            run_id: state.run.run_id.clone(),
            attempt: job.attempt,
            max_attempts: Some(job.policy.max_attempts()),
            disable_immediate_execution: state.disable_immediate_execution,
            use_api: false,
            env: String::new(),
            step_id: step_id.to_owned(),
            stack: StepStack {
                current: stack.len(),
                stack,
            },
            fn_id: None,
            qi_id: None,
        },
    }
}

/// Events were validated on intake; this only guards against a record edited by hand.
fn fallback_event(value: &Value) -> durin_protocol::EventPayload {
    durin_protocol::EventPayload {
        id: None,
        name: value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        data: Default::default(),
        user: Default::default(),
        ts: None,
        v: None,
    }
}

/// The function's registered URL with `fnId` and `stepId` set for this call.
fn call_url(registered: &str, function_id: &str, step_id: &str) -> Result<Url, String> {
    let mut url = Url::parse(registered)
        .map_err(|e| format!("the registered URL {registered:?} is invalid: {e}"))?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "fnId" && k != "stepId")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("fnId", function_id)
        .append_pair("stepId", step_id);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_fn_and_step_in_the_query() {
        let url = call_url(
            "http://a:3000/api/inngest?fnId=x&stepId=step&other=1",
            "app-f",
            "abc",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://a:3000/api/inngest?other=1&fnId=app-f&stepId=abc"
        );
    }

    #[test]
    fn reads_sdk_error_bodies() {
        let body = br#"{"name":"Error","message":"boom","stack":"s","__serialized":true}"#;
        let error = error_from_body(500, body, true);
        assert_eq!(
            error,
            serde_json::from_slice::<Value>(body).unwrap(),
            "kept as the app sent it"
        );
        let error = error_from_body(502, b"Bad Gateway", true);
        assert_eq!(error["message"], "the app answered HTTP 502: Bad Gateway");
        let error = error_from_body(502, b"<html>Bad Gateway</html>", false);
        assert_eq!(error["name"], "NotAnSdkResponse");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("HTTP 502 without an x-inngest-sdk header")),
            "{error}"
        );
    }
}
