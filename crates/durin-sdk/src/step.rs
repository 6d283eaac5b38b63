//! The step tools and the per-request replay state behind them.
//!
//! Each request replays the function body from the top. A step whose hashed id is memoized in the request
//! returns its stored result at once. A new step records itself as *found*, wakes the driver (see `exec.rs`)
//! and then waits: either the driver permits it to execute (then it runs its closure once, records the
//! outcome and waits: for the driver to hand its result back when the request checkpoints and goes on, or
//! forever) or the request is answered and the whole body future is dropped. Waiting
//! instead of returning lets every branch of a `futures::join!` report itself in the same pass, which is how
//! parallel steps are discovered.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Notify, oneshot, watch};

use crate::error::{Error, StepError};
use crate::retry_options::{RetryOptions, StepOptions};
use crate::time;

/// The step tools of one execution. Cheap to clone; every clone talks to the same request.
#[derive(Clone)]
pub struct Step {
    state: Arc<ExecState>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step").finish_non_exhaustive()
    }
}

/// What kind of op a new step turns into.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FoundKind {
    Run,
    /// A sleep; the payload is the op's `name` (Go duration or RFC 3339 timestamp).
    Sleep(String),
    /// A wait the engine resolves (`WaitForEvent`, `InvokeFunction`): the op's code, `name` and `opts`.
    Wait {
        code: durin_protocol::OpCode,
        name: Option<String>,
        opts: Value,
    },
}

/// A step reached in this pass that has no memoized result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FoundStep {
    pub(crate) hash: String,
    pub(crate) user_id: String,
    /// How many times the same user id was reached before in this execution (0 = first).
    pub(crate) index: usize,
    pub(crate) kind: FoundKind,
    /// A run's own retry policy ([`Step::run_with`]): its failures carry it to the engine, which then
    /// decides when they are final.
    pub(crate) retry: Option<RetryOptions>,
}

/// The result of a step this request executed.
pub(crate) struct Executed {
    pub(crate) step: FoundStep,
    pub(crate) outcome: Result<Value, Error>,
    /// Hands a successful result back to the waiting step so the body goes on (checkpointing). Dropped
    /// unused when the request answers instead.
    pub(crate) resume: oneshot::Sender<Value>,
}

#[derive(Default)]
struct Progress {
    seen: HashMap<String, usize>,
    found: Vec<FoundStep>,
    executed: Option<Executed>,
}

pub(crate) struct ExecState {
    /// The run this request executes: part of every step's idempotency key.
    run_id: String,
    memo: BTreeMap<String, Value>,
    progress: Mutex<Progress>,
    /// Woken whenever a step is found or an executed step has its outcome.
    pub(crate) wake: Notify,
    /// The hashed id the driver allows to execute.
    permit: watch::Sender<Option<String>>,
}

impl ExecState {
    pub(crate) fn new(memo: BTreeMap<String, Value>, run_id: String) -> Arc<Self> {
        Arc::new(Self {
            run_id,
            memo,
            progress: Mutex::new(Progress::default()),
            wake: Notify::new(),
            permit: watch::Sender::new(None),
        })
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        // A poisoned lock only means a user closure panicked while we held it, which we never do.
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The steps found so far, in the order they were reached.
    pub(crate) fn found(&self) -> Vec<FoundStep> {
        self.progress().found.clone()
    }

    pub(crate) fn take_executed(&self) -> Option<Executed> {
        self.progress().executed.take()
    }

    /// Forgets the steps found so far, once the one executed among them has been resumed: the body goes on
    /// and what it reaches next is new.
    pub(crate) fn clear_found(&self) {
        self.progress().found.clear();
    }

    pub(crate) fn permit(&self, hash: &str) {
        self.permit.send_replace(Some(hash.to_owned()));
    }

    /// The hashed id and occurrence index of the next use of `user_id`.
    fn claim(&self, user_id: &str) -> (String, usize) {
        let mut progress = self.progress();
        let count = progress.seen.entry(user_id.to_owned()).or_insert(0);
        let index = *count;
        *count += 1;
        (durin_protocol::hashed_step_id(user_id, index), index)
    }

    fn record_found(&self, step: FoundStep) {
        self.progress().found.push(step);
        self.wake.notify_one();
    }

    async fn wait_for_permit(&self, hash: &str) {
        let mut permits = self.permit.subscribe();
        loop {
            let permitted = permits.borrow_and_update().as_deref() == Some(hash);
            if permitted {
                return;
            }
            if permits.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Records a step's outcome; the receiver yields its result if the request goes on (checkpointing).
    fn record_executed(
        &self,
        step: FoundStep,
        outcome: Result<Value, Error>,
    ) -> oneshot::Receiver<Value> {
        let (resume, resumed) = oneshot::channel();
        self.progress().executed = Some(Executed {
            step,
            outcome,
            resume,
        });
        self.wake.notify_one();
        resumed
    }
}

/// A memoized step result.
enum Memo {
    Data(Value),
    Error(Value),
}

impl Step {
    pub(crate) fn new(state: Arc<ExecState>) -> Self {
        Self { state }
    }

    fn memo(&self, hash: &str) -> Option<Memo> {
        let value = self.state.memo.get(hash)?;
        Some(match value {
            Value::Object(map) if map.get("error").is_some_and(|error| !error.is_null()) => {
                Memo::Error(map.get("error").cloned().unwrap_or(Value::Null))
            }
            Value::Object(map) if map.contains_key("data") => {
                Memo::Data(map.get("data").cloned().unwrap_or(Value::Null))
            }
            other => Memo::Data(other.clone()),
        })
    }

    /// Runs `f` as a durable, retriable step named `id`, at most once per run when it succeeds.
    ///
    /// On replay the memoized result is returned without calling `f`. A step that failed for good comes
    /// back as `Err(Error::Step(..))`, which the function may catch. The result must survive a JSON round
    /// trip: it is stored by the engine and deserialized into `T` on later requests.
    pub async fn run<T, E, F, Fut>(&self, id: &str, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Serialize + DeserializeOwned,
        E: Into<Error>,
    {
        self.run_with(id, StepOptions::new(), f).await
    }

    /// [`Step::run`] with options: the step's own retry policy (retries, backoff, rules per error,
    /// cool-down, what happens when the retries are spent), decided by the engine.
    ///
    /// A step with retry options reports every retriable failure to the engine as a retry (with its
    /// Retry-After, if any), whatever `ctx.max_attempts` says, and a non-retriable one as final; the
    /// engine decides by the step's policy when it has failed for good. Options that
    /// [`StepOptions::check`] refuses fail the function at once with a non-retriable error naming the
    /// field, before the step runs.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use durin_sdk::{Backoff, Context, Error, ErrorRule, Jitter, StepOptions};
    /// # async fn charge(ctx: Context) -> Result<(), Error> {
    /// let options = StepOptions::new()
    ///     .retries(10)
    ///     .backoff(
    ///         Backoff::exponential(Duration::from_secs(1), 2.0, Duration::from_secs(60))
    ///             .jitter(Jitter::Full),
    ///     )
    ///     .rule(ErrorRule::named("ValidationError").never());
    /// let receipt: String = ctx
    ///     .step
    ///     .run_with("call-bank", options, || async { Ok::<_, Error>("ok".to_owned()) })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_with<T, E, F, Fut>(
        &self,
        id: &str,
        options: StepOptions,
        f: F,
    ) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Serialize + DeserializeOwned,
        E: Into<Error>,
    {
        refuse_nesting(id)?;
        options
            .check()
            .map_err(|error| Error::non_retriable(format!("step {id:?}: {error}")))?;
        let (hash, index) = self.state.claim(id);
        match self.memo(&hash) {
            Some(Memo::Data(value)) => {
                return serde_json::from_value(value).map_err(|error| {
                    Error::new(
                        "DeserializationError",
                        format!(
                            "memoized result of step {id:?} does not fit the expected type: {error}"
                        ),
                    )
                });
            }
            Some(Memo::Error(value)) => return Err(Error::Step(StepError::from_memo(id, value))),
            None => {}
        }
        let found = FoundStep {
            hash: hash.clone(),
            user_id: id.to_owned(),
            index,
            kind: FoundKind::Run,
            retry: options.into_retry(),
        };
        self.state.record_found(found.clone());
        self.state.wait_for_permit(&hash).await;

        let running_step = RunningStep {
            id: id.to_owned(),
            idempotency_key: format!("{}-{hash}", self.state.run_id),
        };
        let running = RUNNING_STEP.scope(running_step, AssertUnwindSafe(f()).catch_unwind());
        let outcome = match running.await {
            Ok(Ok(value)) => serde_json::to_value(value).map_err(|error| {
                Error::new(
                    "SerializationError",
                    format!("result of step {id:?} is not JSON: {error}"),
                )
            }),
            Ok(Err(error)) => Err(error.into()),
            Err(panic) => Err(Error::new("Panic", panic_message(panic.as_ref()))),
        };
        let resumed = self.state.record_executed(found, outcome);
        match resumed.await {
            Ok(value) => serde_json::from_value(value).map_err(|error| {
                Error::new(
                    "DeserializationError",
                    format!("result of step {id:?} does not fit the expected type: {error}"),
                )
            }),
            // The request answers with this step: the body is dropped where it stands.
            Err(_) => std::future::pending().await,
        }
    }

    /// Pauses the run for `duration`. The app is not called while the run sleeps.
    pub async fn sleep(&self, id: &str, duration: Duration) -> Result<(), Error> {
        self.sleep_op(id, time::go_duration(duration)).await
    }

    /// Pauses the run until `until`.
    pub async fn sleep_until(&self, id: &str, until: SystemTime) -> Result<(), Error> {
        self.sleep_op(id, time::rfc3339_millis(until)).await
    }

    /// Waits up to `timeout` for an event named `event`; `condition` is a CEL expression over `event` (this
    /// run's trigger) and `async` (the candidate), e.g. `"event.data.order == async.data.order"`.
    /// Returns the event, or `None` when the timeout passed first.
    pub async fn wait_for_event(
        &self,
        id: &str,
        event: &str,
        timeout: Duration,
        condition: Option<&str>,
    ) -> Result<Option<crate::EventPayload>, Error> {
        refuse_nesting(id)?;
        let (hash, index) = self.state.claim(id);
        // The memo is the event itself (not `{"data": ..}`), or null for a timeout.
        if let Some(memo) = self.state.memo.get(&hash) {
            return match memo {
                Value::Null => Ok(None),
                Value::Object(map) if map.contains_key("error") && !map.contains_key("name") => {
                    Err(Error::Step(StepError::from_memo(
                        id,
                        map.get("error").cloned().unwrap_or(Value::Null),
                    )))
                }
                event => serde_json::from_value(event.clone())
                    .map(Some)
                    .map_err(|error| {
                        Error::new(
                            "DeserializationError",
                            format!("the event awaited by step {id:?}: {error}"),
                        )
                    }),
            };
        }
        let mut opts = serde_json::json!({ "event": event, "timeout": time::go_duration(timeout) });
        if let Some(condition) = condition {
            opts["if"] = Value::String(condition.to_owned());
        }
        self.state.record_found(FoundStep {
            hash,
            user_id: id.to_owned(),
            index,
            kind: FoundKind::Wait {
                code: durin_protocol::OpCode::WaitForEvent,
                name: Some(event.to_owned()),
                opts,
            },
            retry: None,
        });
        std::future::pending().await
    }

    /// Runs the function `function_id` (its full id, `<app>-<slug>`) with `data` as its event data, and
    /// returns its result. Its failure comes back as `Error::Step`; so does running past `timeout`.
    pub async fn invoke<T: DeserializeOwned>(
        &self,
        id: &str,
        function_id: &str,
        data: Value,
        timeout: Option<Duration>,
    ) -> Result<T, Error> {
        refuse_nesting(id)?;
        let (hash, index) = self.state.claim(id);
        match self.memo(&hash) {
            Some(Memo::Data(value)) => {
                return serde_json::from_value(value).map_err(|error| {
                    Error::new(
                        "DeserializationError",
                        format!("the result of invoke {id:?}: {error}"),
                    )
                });
            }
            Some(Memo::Error(value)) => return Err(Error::Step(StepError::from_memo(id, value))),
            None => {}
        }
        let mut opts =
            serde_json::json!({ "function_id": function_id, "payload": { "data": data } });
        if let Some(timeout) = timeout {
            opts["timeout"] = Value::String(time::go_duration(timeout));
        }
        self.state.record_found(FoundStep {
            hash,
            user_id: id.to_owned(),
            index,
            kind: FoundKind::Wait {
                code: durin_protocol::OpCode::InvokeFunction,
                name: None,
                opts,
            },
            retry: None,
        });
        std::future::pending().await
    }

    async fn sleep_op(&self, id: &str, name: String) -> Result<(), Error> {
        refuse_nesting(id)?;
        let (hash, index) = self.state.claim(id);
        match self.memo(&hash) {
            Some(Memo::Data(_)) => return Ok(()),
            Some(Memo::Error(value)) => return Err(Error::Step(StepError::from_memo(id, value))),
            None => {}
        }
        self.state.record_found(FoundStep {
            hash,
            user_id: id.to_owned(),
            index,
            kind: FoundKind::Sleep(name),
            retry: None,
        });
        // Sleeps are never executed by the app: the engine resumes the run once the time has come.
        std::future::pending().await
    }
}

tokio::task_local! {
    /// The step whose closure is being polled: set only around that closure.
    static RUNNING_STEP: RunningStep;
}

struct RunningStep {
    /// The id the function gave the step.
    id: String,
    /// `<run id>-<hashed step id>`: see [`idempotency_key`].
    idempotency_key: String,
}

/// Inside a [`Step::run`] closure: a key for this step to give the APIs it calls that accept one
/// (`Idempotency-Key` headers and the like). It is the same on every attempt of the step, and different
/// for every other step, every other use of a repeated step id, and every other run: `<run id>-<hashed
/// step id>`, 67 ASCII characters. `None` outside a step's closure.
///
/// ```no_run
/// # use durin_sdk::{Context, Error};
/// # async fn charge(ctx: Context) -> Result<(), Error> {
/// ctx.step
///     .run("charge", || async {
///         let key = durin_sdk::idempotency_key().unwrap_or_default();
///         // payments.charge(amount).idempotency_key(&key).send().await
///         Ok::<_, Error>(key)
///     })
///     .await?;
/// # Ok(())
/// # }
/// ```
pub fn idempotency_key() -> Option<String> {
    RUNNING_STEP
        .try_with(|step| step.idempotency_key.clone())
        .ok()
}

/// A step inside a step's closure would wait for a permit that can never come (one step per request):
/// fail it at once instead of hanging the request.
fn refuse_nesting(id: &str) -> Result<(), Error> {
    match RUNNING_STEP.try_with(|step| step.id.clone()) {
        Ok(outer) => Err(Error::non_retriable(format!(
            "step {id:?} was called inside step {outer:?}; steps cannot be nested"
        ))),
        Err(_) => Ok(()),
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else if let Some(text) = panic.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else {
        "panicked".to_owned()
    }
}
