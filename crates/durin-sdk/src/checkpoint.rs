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
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::ClientError;
use crate::exec::{Reply, ops_reply};

/// How the SDK checkpoints when the engine offers it. [`Checkpointing::default`] stores every step before
/// the next one starts (the safest setting, and the official TypeScript SDK's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointing {
    /// How many finished steps may still be unstored while the function goes on, plus one: with 1, each
    /// step is stored before the next starts; with N, reports go out in the background (one at a time,
    /// each carrying every step finished meanwhile) and the function waits only when N - 1 finished steps
    /// are unstored. Unstored steps run again if the app dies, as a step whose answer was lost does.
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

/// Why finished steps could not be stored.
pub(crate) enum FlushFailed {
    /// The engine no longer expects this request (the run ended, or the attempt was given up on): stop.
    Stale(String),
    /// A report failed otherwise: answer the call with the unstored steps instead, so none is lost.
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

/// A report on its way: its answer, and its steps back when it failed.
type Report = JoinHandle<Result<(), (ClientError, Vec<Operation>)>>;

/// The checkpointing state of one call request.
pub(crate) struct Checkpointer {
    client: Client,
    config: Checkpointing,
    run_id: String,
    fn_id: String,
    qi_id: String,
    started: Instant,
    /// Finished steps not sent yet, in order.
    pending: Vec<Operation>,
    /// The report in flight (at most one, so the engine stores steps in order) and its step count.
    in_flight: Option<(Report, usize)>,
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
            pending: Vec::new(),
            in_flight: None,
        })
    }

    /// Whether this request may still start another step.
    pub(crate) fn has_time(&self) -> bool {
        self.started.elapsed() < self.config.max_runtime
    }

    /// Takes a finished step; returns once few enough steps are unstored for the function to go on.
    pub(crate) async fn push(&mut self, op: Operation) -> Result<(), FlushFailed> {
        self.pending.push(op);
        self.settle(self.config.buffered_steps.max(1) - 1).await
    }

    /// Stores every finished step, before the request answers.
    pub(crate) async fn flush(&mut self) -> Result<(), FlushFailed> {
        self.settle(0).await
    }

    /// Sends what waits whenever no report is in flight, until at most `unstored` steps are unstored.
    async fn settle(&mut self, unstored: usize) -> Result<(), FlushFailed> {
        loop {
            if self
                .in_flight
                .as_ref()
                .is_some_and(|(report, _)| report.is_finished())
            {
                self.collect().await?;
            }
            if self.in_flight.is_none() && !self.pending.is_empty() {
                self.send();
            }
            let in_flight = self.in_flight.as_ref().map_or(0, |(_, steps)| *steps);
            if in_flight + self.pending.len() <= unstored {
                return Ok(());
            }
            self.collect().await?;
        }
    }

    fn send(&mut self) {
        let steps = std::mem::take(&mut self.pending);
        let count = steps.len();
        let client = self.client.clone();
        let request = CheckpointRequest {
            run_id: self.run_id.clone(),
            fn_id: self.fn_id.clone(),
            qi_id: self.qi_id.clone(),
            steps,
        };
        let report = tokio::spawn(async move {
            client
                .checkpoint(&request)
                .await
                .map_err(|error| (error, request.steps))
        });
        self.in_flight = Some((report, count));
    }

    /// Waits for the report in flight, if any.
    async fn collect(&mut self) -> Result<(), FlushFailed> {
        let Some((report, _)) = self.in_flight.take() else {
            return Ok(());
        };
        let (error, mut steps) = match report.await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(failed)) => failed,
            Err(join) => (
                ClientError::Transport {
                    url: "checkpoint".to_owned(),
                    message: join.to_string(),
                },
                Vec::new(),
            ),
        };
        if let ClientError::Status {
            status: 409, body, ..
        } = error
        {
            return Err(FlushFailed::Stale(body));
        }
        tracing::warn!(%error, run_id = %self.run_id, "checkpoint failed; answering with the steps instead");
        steps.append(&mut self.pending);
        Err(FlushFailed::Fallback(steps))
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

    fn step(index: usize) -> Operation {
        Operation {
            op: durin_protocol::OpCode::StepRun,
            id: format!("hash-{index}"),
            name: Some(format!("s{index}")),
            display_name: None,
            opts: None,
            data: Some(serde_json::json!(index)),
            error: None,
            userland: None,
            unknown_op: None,
        }
    }

    /// A stand-in engine that stores checkpoints after `delay`, one batch per request, and counts how
    /// many requests overlap.
    #[derive(Default)]
    struct Engine {
        batches: std::sync::Mutex<Vec<Vec<String>>>,
        in_flight: std::sync::atomic::AtomicUsize,
        overlapped: std::sync::atomic::AtomicBool,
    }

    impl Engine {
        fn stored(&self) -> Vec<String> {
            self.batches.lock().expect("lock").concat()
        }
    }

    async fn engine(delay: Duration) -> (Client, std::sync::Arc<Engine>) {
        use std::sync::atomic::Ordering;
        let state = std::sync::Arc::new(Engine::default());
        let shared = state.clone();
        let router = axum::Router::new().route(
            "/v1/checkpoint/{run}/async",
            axum::routing::post(move |axum::Json(body): axum::Json<CheckpointRequest>| {
                let state = shared.clone();
                async move {
                    if state.in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
                        state.overlapped.store(true, Ordering::SeqCst);
                    }
                    tokio::time::sleep(delay).await;
                    let names = body.steps.iter().filter_map(|op| op.name.clone()).collect();
                    state.batches.lock().expect("lock").push(names);
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                    "{}"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        (
            Client::with_base_url("app", format!("http://{address}")),
            state,
        )
    }

    #[tokio::test]
    async fn by_default_each_step_is_stored_before_the_next_starts() {
        let (client, engine) = engine(Duration::from_millis(5)).await;
        let mut checkpointer =
            Checkpointer::offered(&client, &call(Some("f"), Some("q"), 0), true).expect("offered");
        for index in 0..4 {
            assert!(checkpointer.push(step(index)).await.is_ok());
            assert_eq!(engine.stored().len(), index + 1, "step {index} is stored");
        }
        let batches = engine.batches.lock().expect("lock").clone();
        assert_eq!(
            batches,
            vec![vec!["s0"], vec!["s1"], vec!["s2"], vec!["s3"]]
        );
    }

    #[tokio::test]
    async fn buffered_steps_go_out_in_order_one_report_at_a_time_within_the_bound() {
        let (client, engine) = engine(Duration::from_millis(20)).await;
        let client = client.with_checkpointing(Checkpointing {
            buffered_steps: 3,
            max_runtime: Duration::from_secs(10),
        });
        let mut checkpointer =
            Checkpointer::offered(&client, &call(Some("f"), Some("q"), 0), true).expect("offered");
        for index in 0..10 {
            assert!(checkpointer.push(step(index)).await.is_ok());
            let unstored = index + 1 - engine.stored().len();
            assert!(
                unstored <= 2,
                "{unstored} steps unstored after step {index}"
            );
        }
        assert!(checkpointer.flush().await.is_ok());
        let expected: Vec<String> = (0..10).map(|index| format!("s{index}")).collect();
        assert_eq!(engine.stored(), expected, "every step stored, in order");
        let batches = engine.batches.lock().expect("lock").len();
        assert!(
            batches < 10,
            "steps finished meanwhile share a report ({batches} reports)"
        );
        assert!(!engine.overlapped.load(std::sync::atomic::Ordering::SeqCst));
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
            unknown_op: None,
        };
        match checkpointer.push(op.clone()).await {
            Err(FlushFailed::Fallback(ops)) => assert_eq!(ops, vec![op]),
            _ => panic!("expected the buffered step back"),
        }
    }

    /// A function whose step `a` succeeds and whose step `b` then fails, with `options` or without.
    fn a_then_failing_b(options: Option<crate::StepOptions>) -> crate::Function {
        use crate::{Context, Error};
        crate::Function::new("f").handler(move |ctx: Context| {
            let options = options.clone();
            async move {
                ctx.step.run("a", || async { Ok::<_, Error>(1) }).await?;
                let failing = || async { Err::<(), _>(Error::msg("down")) };
                match options {
                    Some(options) => ctx.step.run_with("b", options, failing).await?,
                    None => ctx.step.run("b", failing).await?,
                }
                Ok(())
            }
        })
    }

    /// The answer to a checkpointing discovery of `function` (first attempt of at most `max_attempts`).
    async fn checkpointed(
        client: &Client,
        function: &crate::Function,
        max_attempts: u32,
    ) -> crate::exec::Reply {
        let request: durin_protocol::CallRequest = serde_json::from_value(serde_json::json!({
            "event": {"name": "e", "data": {}},
            "ctx": {"run_id": "run", "attempt": 0, "max_attempts": max_attempts,
                    "fn_id": "f", "qi_id": "q"},
        }))
        .expect("a call request");
        let handler = function.handler_fn().expect("a handler");
        crate::exec::execute(client, handler, request, durin_protocol::DISCOVERY_STEP_ID).await
    }

    #[tokio::test]
    async fn a_failing_step_goes_back_in_the_answer_with_its_policy() {
        use durin_protocol::headers;
        // One attempt allowed: without options the SDK calls the failure final; with them, the engine.
        let options = crate::StepOptions::new().retries(3);
        let (client, engine_with) = engine(Duration::ZERO).await;
        let reply = checkpointed(&client, &a_then_failing_b(Some(options)), 1).await;
        assert_eq!(
            engine_with.stored(),
            vec!["a"],
            "the step before is checkpointed"
        );
        assert_eq!(reply.status(), StatusCode::PARTIAL_CONTENT);
        let ops = reply.body().as_array().cloned().unwrap_or_default();
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert_eq!(ops[0]["op"], serde_json::json!("StepError"));
        assert_eq!(ops[0]["name"], serde_json::json!("b"));
        assert_eq!(
            ops[0]["opts"],
            serde_json::json!({"durin": {"retry": {"retries": 3}}})
        );
        assert_eq!(reply.header_value(headers::NO_RETRY), Some("false"));

        let (client, engine_without) = engine(Duration::ZERO).await;
        let reply = checkpointed(&client, &a_then_failing_b(None), 1).await;
        assert_eq!(engine_without.stored(), vec!["a"]);
        let ops = reply.body().as_array().cloned().unwrap_or_default();
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert_eq!(ops[0]["op"], serde_json::json!("StepFailed"));
        assert_eq!(ops[0]["opts"], serde_json::json!({}));
        assert_eq!(reply.header_value(headers::NO_RETRY), Some("true"));
    }
}
