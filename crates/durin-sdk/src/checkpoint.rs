//! Checkpointing: when the engine offers it (`ctx.fn_id` and `ctx.qi_id` in a discovery call), the SDK runs
//! the function's sequential steps one after another inside the same request and reports each finished
//! step to `POST /v1/checkpoint/{run_id}/async`, instead of answering after every step and being called
//! again with the whole run state. A long run stays linear: one small report per step (or per batch of
//! steps) rather than one request that grows with every step.
//!
//! A step is stored, and so durable, once its checkpoint is answered 2xx. Buffered steps not yet reported
//! when the app dies run again on the next attempt, exactly like a step whose answer was lost.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use durin_protocol::{CallContext, CheckpointRequest, Operation};

use crate::client::Client;
use crate::error::ClientError;
use crate::exec::{Reply, ops_reply};

/// How the SDK checkpoints when the engine offers it. [`Checkpointing::default`] reports every step
/// before the next one starts (the safest setting, and the official TypeScript SDK's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointing {
    /// Steps buffered before they are reported together (1 = every step at once). More steps per report
    /// means fewer round trips, and more steps to run again if the app dies before reporting them.
    pub buffered_steps: usize,
    /// How long one request may keep running steps before it hands the run back to the engine, which
    /// calls again at once (keeps every request well inside the engine's request timeout).
    pub max_runtime: Duration,
}

impl Default for Checkpointing {
    fn default() -> Self {
        Self {
            buffered_steps: 1,
            max_runtime: Duration::from_secs(10),
        }
    }
}

/// Why buffered steps could not be reported.
pub(crate) enum FlushFailed {
    /// The engine no longer expects this request (the run ended, or the attempt was given up on): stop.
    Stale(String),
    /// The report failed otherwise: answer the call with the buffered steps instead, so none is lost.
    Fallback(Vec<Operation>),
}

impl FlushFailed {
    pub(crate) fn into_reply(self) -> Reply {
        match self {
            Self::Stale(message) => {
                Reply::problem(StatusCode::BAD_REQUEST, "StaleDispatch", message)
                    .header(durin_protocol::headers::NO_RETRY, "true")
            }
            Self::Fallback(ops) => ops_reply(&ops),
        }
    }
}

/// The checkpointing state of one call request.
pub(crate) struct Checkpointer {
    client: Client,
    config: Checkpointing,
    run_id: String,
    fn_id: String,
    qi_id: String,
    started: Instant,
    buffer: Vec<Operation>,
}

impl Checkpointer {
    /// A checkpointer when this call may checkpoint: the engine offered it, the client allows it, and it is
    /// the first attempt of a discovery (a retry runs its one step the classic way, as the engine
    /// expects a step's retries to be separate attempts).
    pub(crate) fn offered(client: &Client, call: &CallContext, discovery: bool) -> Option<Self> {
        let config = client.checkpointing()?;
        let (fn_id, qi_id) = (call.fn_id.as_ref()?, call.qi_id.as_ref()?);
        if !discovery || call.attempt > 0 || call.disable_immediate_execution {
            return None;
        }
        Some(Self {
            client: client.clone(),
            config,
            run_id: call.run_id.clone(),
            fn_id: fn_id.clone(),
            qi_id: qi_id.clone(),
            started: Instant::now(),
            buffer: Vec::new(),
        })
    }

    /// Whether this request may still start another step.
    pub(crate) fn has_time(&self) -> bool {
        self.started.elapsed() < self.config.max_runtime
    }

    /// Buffers a finished step; reports the buffer when it is full.
    pub(crate) async fn push(&mut self, op: Operation) -> Result<(), FlushFailed> {
        self.buffer.push(op);
        if self.buffer.len() >= self.config.buffered_steps.max(1) {
            self.flush().await
        } else {
            Ok(())
        }
    }

    /// Reports every buffered step. On failure the buffer is handed back in the error.
    pub(crate) async fn flush(&mut self) -> Result<(), FlushFailed> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let steps = std::mem::take(&mut self.buffer);
        let request = CheckpointRequest {
            run_id: self.run_id.clone(),
            fn_id: self.fn_id.clone(),
            qi_id: self.qi_id.clone(),
            steps,
        };
        match self.client.checkpoint(&request).await {
            Ok(()) => Ok(()),
            Err(ClientError::Status {
                status: 409, body, ..
            }) => Err(FlushFailed::Stale(body)),
            Err(error) => {
                tracing::warn!(%error, run_id = %self.run_id, "checkpoint failed; answering with the steps instead");
                Err(FlushFailed::Fallback(request.steps))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(fn_id: Option<&str>, qi_id: Option<&str>, attempt: u32) -> CallContext {
        serde_json::from_value(serde_json::json!({
            "run_id": "run",
            "attempt": attempt,
            "fn_id": fn_id,
            "qi_id": qi_id,
        }))
        .expect("a call context")
    }

    #[test]
    fn offered_only_for_a_first_discovery_attempt_with_both_ids() {
        let client = Client::with_base_url("app", "http://127.0.0.1:1");
        let offer = |ctx: &CallContext, discovery| Checkpointer::offered(&client, ctx, discovery);
        assert!(offer(&call(Some("f"), Some("q"), 0), true).is_some());
        assert!(offer(&call(Some("f"), Some("q"), 0), false).is_none());
        assert!(offer(&call(Some("f"), Some("q"), 1), true).is_none());
        assert!(offer(&call(None, Some("q"), 0), true).is_none());
        assert!(offer(&call(Some("f"), None, 0), true).is_none());
        let mut no_immediate = call(Some("f"), Some("q"), 0);
        no_immediate.disable_immediate_execution = true;
        assert!(offer(&no_immediate, true).is_none());
        let disabled = Client::with_base_url("app", "http://127.0.0.1:1").without_checkpointing();
        assert!(Checkpointer::offered(&disabled, &call(Some("f"), Some("q"), 0), true).is_none());
    }

    #[tokio::test]
    async fn an_unreachable_engine_hands_the_steps_back() {
        let client = Client::with_base_url("app", "http://127.0.0.1:1");
        let mut checkpointer =
            Checkpointer::offered(&client, &call(Some("f"), Some("q"), 0), true).expect("offered");
        let op = Operation {
            op: durin_protocol::OpCode::StepRun,
            id: "hash".into(),
            name: Some("a".into()),
            display_name: None,
            opts: None,
            data: Some(serde_json::json!(1)),
            error: None,
            userland: None,
        };
        match checkpointer.push(op.clone()).await {
            Err(FlushFailed::Fallback(ops)) => assert_eq!(ops, vec![op]),
            _ => panic!("expected the buffered step back"),
        }
    }
}
