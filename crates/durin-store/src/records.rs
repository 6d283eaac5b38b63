//! What the store holds. Ids are text, times are Unix milliseconds, JSON is `serde_json::Value`.

use durin_core::{
    AttemptOutcome, FunctionConfig, JobKind, RetryPolicy, RetryState, RunStatus, UnixMillis,
};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct AppSync {
    pub name: String,
    pub url: String,
    pub sdk: Option<String>,
    pub framework: Option<String>,
    pub functions: Vec<FunctionConfig>,
    pub synced_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppRecord {
    /// The app's name; for an app that never synced, its URL.
    pub name: String,
    pub url: String,
    pub sdk: Option<String>,
    pub framework: Option<String>,
    pub synced_at: Option<UnixMillis>,
    pub error: Option<String>,
    pub function_count: u32,
}

/// An event as accepted. `payload` is the event object handed to functions (`name`, `data`, `id`, `ts`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub internal_id: String,
    pub name: String,
    pub payload: Value,
    pub received_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub internal_id: String,
    pub name: String,
    pub payload: Value,
    pub received_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub run_id: String,
    pub function_id: String,
    pub event_internal_id: String,
    /// A second run of the same function with the same key is not created.
    pub idempotency_key: String,
    pub started_at: UnixMillis,
    pub policy: RetryPolicy,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptOutcome {
    /// Run ids created (those skipped as duplicates are absent).
    pub created_runs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub function_id: String,
    pub event_internal_id: String,
    pub status: RunStatus,
    pub started_at: UnixMillis,
    pub ended_at: Option<UnixMillis>,
    pub output: Option<Value>,
    /// For a rerun: the run it repeats.
    pub original_run_id: Option<String>,
}

/// A job leased to one executor.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub job_id: String,
    pub run_id: String,
    pub function_id: String,
    pub kind: JobKind,
    pub attempt: u32,
    pub policy: RetryPolicy,
    /// The job's counters beyond its attempt number (per error rule, cool-downs); empty for most jobs.
    pub retry_state: RetryState,
    pub due_at: UnixMillis,
    /// An earlier lease expired: the previous attempt never reported back.
    pub interrupted: bool,
    /// When this claim's lease expires. Also its token: a later claim of the job (after this lease
    /// expired) always sets a later time, so a finish carrying this value proves the job is still its own.
    pub leased_until: UnixMillis,
}

/// The due time of a paused job: never due, so no claim takes it; [`Store::resume_run`] makes it due again.
///
/// [`Store::resume_run`]: crate::Store::resume_run
pub const PAUSED_DUE_AT: UnixMillis = UnixMillis::MAX;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub job_id: String,
    pub kind: JobKind,
    pub attempt: u32,
    pub due_at: UnixMillis,
    pub leased: bool,
}

/// A new job to enqueue. A pending job with the same `(run, kind, step)` makes it a no-op.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_id: String,
    pub run_id: String,
    pub kind: JobKind,
    pub policy: RetryPolicy,
    pub due_at: UnixMillis,
}

/// A step result to memoize, appended to the run's stack in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMemo {
    pub step_id: String,
    pub name: String,
    /// `{"data": ..}`, `{"error": ..}`, or `null` (a finished sleep).
    pub memo: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub run: RunRecord,
    pub function: Option<FunctionConfig>,
    pub event: Value,
    pub events: Vec<Value>,
    /// Memoized results by hashed step id, with the ids in completion order.
    pub steps: Vec<(String, Value)>,
    /// Bytes of those results as stored (their JSON text), for the engine's per-run limit.
    pub steps_bytes: u64,
    pub request_version: i64,
    pub disable_immediate_execution: bool,
    /// Retries the run's steps have taken (cool-downs excluded), for a run-level retry budget.
    pub retries_used: u32,
    /// Hashed ids of the steps with a pending pause (waiting for an event, an invoked run, a timeout).
    pub waiting_steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub run_id: String,
    pub job_id: String,
    pub kind: JobKind,
    /// The step this attempt concerned, when known (a planned step, or one run or failed by a discovery).
    pub step_id: Option<String>,
    pub step_name: Option<String>,
    pub attempt: u32,
    pub started_at: UnixMillis,
    pub ended_at: UnixMillis,
    pub outcome: AttemptOutcome,
    pub error: Option<Value>,
    /// When the job is tried again, if it is.
    pub next_attempt_at: Option<UnixMillis>,
    /// Why the failure led where it did (`durin_core::Explanation` as JSON): the policy, the rule, the
    /// counter and the delay. `None` for attempts that did not fail.
    pub explanation: Option<Value>,
}

/// What happens to the job that was attempted.
#[derive(Debug, Clone, PartialEq)]
pub enum JobUpdate {
    /// Try it again as `attempt` at `due_at`, with the counters `state`. `spends_run_retry`: the run's
    /// retry count goes up by one (a cool-down does not spend one).
    Retry {
        attempt: u32,
        due_at: UnixMillis,
        state: RetryState,
        spends_run_retry: bool,
    },
    /// Out of retries under a policy that pauses: the job waits (never due, [`PAUSED_DUE_AT`]) and the run
    /// is `Paused` until an operator resumes or fails it.
    Pause,
    /// It is done (succeeded, or failed for good and its consequence is recorded elsewhere in the finish).
    Remove,
    /// It is still running (a checkpoint: the app reported a step before answering).
    Keep,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunFinal {
    pub status: RunStatus,
    pub output: Option<Value>,
    pub ended_at: UnixMillis,
}

/// What a paused step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    /// `step.waitForEvent`: resumes with the matching event, or `null` at the timeout.
    WaitForEvent,
    /// `step.invoke`: resumes with the invoked run's result or error.
    Invoke,
    /// `step.sleep`: resumes with `null` at its wake time; no event ends it.
    Sleep,
}

impl PauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseKind::WaitForEvent => "wait_for_event",
            PauseKind::Invoke => "invoke",
            PauseKind::Sleep => "sleep",
        }
    }
}

/// A step that waits for an event. Stored with a timeout job (same id, `JobKind::Timeout`) due at
/// `expires_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPause {
    pub pause_id: String,
    pub run_id: String,
    pub step_id: String,
    pub step_name: String,
    pub kind: PauseKind,
    pub event_name: String,
    /// CEL, with `event` bound to the run's triggering event and `async` to the candidate.
    pub expression: Option<String>,
    /// The step's memo if the wait runs out.
    pub timeout_memo: Value,
    /// The policy of the discovery job that resumes the run.
    pub policy: RetryPolicy,
    pub expires_at: UnixMillis,
}

/// A pending pause, with what the engine needs to test an event against it.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseRecord {
    pub pause_id: String,
    pub run_id: String,
    pub step_id: String,
    pub step_name: String,
    pub kind: PauseKind,
    pub event_name: String,
    pub expression: Option<String>,
    /// The paused run's triggering event.
    pub trigger_event: Value,
    pub policy: RetryPolicy,
    pub expires_at: UnixMillis,
}

/// Ends a pause if it is still pending: memoizes the step, removes the pause and its timeout job, and
/// enqueues the discovery job that resumes the run. A pause already ended (by another event, or by its
/// timeout) is left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseResolution {
    pub pause_id: String,
    /// The step's memo; `None` for the pause's own timeout memo.
    pub memo: Option<Value>,
    pub discovery: NewJob,
}

/// One attempt and everything it causes, applied in one transaction. If the run is no longer running
/// (cancelled meanwhile), only the attempt is recorded and the job removed.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFinish {
    pub attempt: AttemptRecord,
    pub job: JobUpdate,
    pub memos: Vec<StepMemo>,
    pub enqueue: Vec<NewJob>,
    pub request_version: Option<i64>,
    pub disable_immediate_execution: bool,
    pub finish_run: Option<RunFinal>,
    /// Events the engine emits (function.finished / function.failed) and the runs they start.
    pub emit_events: Vec<NewEvent>,
    pub start_runs: Vec<NewRun>,
    /// Steps of this run that start waiting.
    pub pauses: Vec<NewPause>,
    /// Pauses (of any run) that this attempt ends: its timeout, or its emitted events.
    pub resolve_pauses: Vec<PauseResolution>,
    /// The lease the attempt ran under (`ClaimedJob::leased_until`). If the job has been claimed again
    /// since (this lease expired while the attempt was still running), the whole finish is refused with
    /// [`StoreError::LeaseLost`](crate::StoreError::LeaseLost): the job belongs to its new claim. `None`
    /// (checkpoints, which are checked against the job otherwise) skips the check.
    pub lease: Option<UnixMillis>,
}

impl AttemptFinish {
    /// The attempt and what happens to its job, with no other consequence (add them field by field).
    pub fn new(attempt: AttemptRecord, job: JobUpdate) -> Self {
        Self {
            attempt,
            job,
            memos: Vec::new(),
            enqueue: Vec::new(),
            request_version: None,
            disable_immediate_execution: false,
            finish_run: None,
            emit_events: Vec::new(),
            start_runs: Vec::new(),
            pauses: Vec::new(),
            resolve_pauses: Vec::new(),
            lease: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    pub name: Option<String>,
    pub received_after: Option<UnixMillis>,
    pub received_before: Option<UnixMillis>,
    /// Internal id to page from (exclusive), newest first.
    pub cursor: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunQuery {
    pub status: Option<RunStatus>,
    pub function_id: Option<String>,
    pub started_after: Option<UnixMillis>,
    /// Run id to page from (exclusive), newest first.
    pub cursor: Option<String>,
    pub limit: usize,
}

/// A memoized step result with the step's user id, in completion order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub step_id: String,
    pub name: String,
    pub memo: Value,
}

/// The queue at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    /// Due and not leased: waiting for an executor.
    pub due: u64,
    /// Due later (backoff, sleeps, timeouts).
    pub scheduled: u64,
    /// Leased: an attempt is in flight.
    pub leased: u64,
}
