//! JSON shapes of the HTTP API, as types: each one serializes to exactly what the API answers and derives its
//! OpenAPI schema from the same definition. Inngest's shapes where Inngest has the endpoint (events, runs),
//! Durin's own for attempts, jobs, apps and functions. Times are RFC 3339 strings; Durin's own shapes add
//! `_ms` fields (Unix milliseconds).
//!
//! Free-form JSON (event data, outputs, error objects) is `serde_json::Value`, documented as "any value".

use durin_core::FunctionConfig;
use durin_store::{AppRecord, AttemptRecord, EventRecord, JobRecord, RunRecord};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|ts| ts.to_string())
        .unwrap_or_default()
}

/// `{"data": ..., "metadata": {...}}`, as every v1 answer is wrapped.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Envelope<T> {
    pub(crate) data: T,
    pub(crate) metadata: Metadata,
}

impl<T> Envelope<T> {
    pub(crate) fn new(data: T, now_ms: i64) -> Self {
        Self {
            data,
            metadata: Metadata {
                fetched_at: rfc3339(now_ms),
                cached_until: None,
            },
        }
    }
}

/// `GET` and `PUT /v1/policies`: the retry policy document in `data`, with when it was set.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PolicyEnvelope {
    /// The document: `{"policies": [...]}`, as set (see docs/retry-policies.md).
    #[schema(value_type = Object)]
    pub(crate) data: Value,
    pub(crate) metadata: Metadata,
    /// When the document was set (RFC 3339); null before one ever was.
    #[schema(required = true)]
    pub(crate) updated_at: Option<String>,
    /// The same, in Unix milliseconds.
    #[schema(required = true)]
    pub(crate) updated_at_ms: Option<i64>,
}

impl PolicyEnvelope {
    pub(crate) fn new(stored: Option<durin_engine::PolicyDocument>, now_ms: i64) -> Self {
        let Envelope { metadata, .. } = Envelope::new((), now_ms);
        match stored {
            Some(stored) => Self {
                data: stored.document,
                metadata,
                updated_at: Some(rfc3339(stored.updated_at)),
                updated_at_ms: Some(stored.updated_at),
            },
            None => Self {
                data: serde_json::json!({ "policies": [] }),
                metadata,
                updated_at: None,
                updated_at_ms: None,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Metadata {
    /// When the answer was produced (RFC 3339).
    pub(crate) fetched_at: String,
    /// Always `null`: answers are never cached.
    #[schema(required = true)]
    pub(crate) cached_until: Option<String>,
}

/// An event as received (Inngest's shape).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Event {
    /// Durin's id of the event (a ULID); the `{id}` of `/v1/events/{id}` and the `event_id` of its runs.
    pub(crate) internal_id: String,
    /// Always `""`.
    pub(crate) account_id: String,
    /// Always `""`.
    pub(crate) environment_id: String,
    /// Always `""`.
    pub(crate) source: String,
    /// Always `null`.
    #[schema(required = true)]
    pub(crate) source_id: Option<String>,
    /// When the engine accepted the event (RFC 3339).
    pub(crate) received_at: String,
    /// The id the sender gave (the idempotency key), or `null`.
    pub(crate) id: Value,
    pub(crate) name: String,
    /// The event's `data` (`{}` when it had none).
    pub(crate) data: Value,
    /// The event's `user` (`{}` when it had none).
    pub(crate) user: Value,
    /// The sender's timestamp (Unix milliseconds), or `null`.
    pub(crate) ts: Value,
    /// The sender's event version, or `null`.
    pub(crate) v: Value,
}

impl From<&EventRecord> for Event {
    fn from(record: &EventRecord) -> Self {
        let field = |name: &str| record.payload.get(name).cloned();
        let empty_object = || Value::Object(serde_json::Map::new());
        Self {
            internal_id: record.internal_id.clone(),
            account_id: String::new(),
            environment_id: String::new(),
            source: String::new(),
            source_id: None,
            received_at: rfc3339(record.received_at),
            id: field("id").unwrap_or(Value::Null),
            name: record.name.clone(),
            data: field("data").unwrap_or_else(empty_object),
            user: field("user").unwrap_or_else(empty_object),
            ts: field("ts").unwrap_or(Value::Null),
            v: field("v").unwrap_or(Value::Null),
        }
    }
}

/// A run's status, spelled as Inngest's REST API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) enum RunStatus {
    Running,
    /// Out of retries under a policy that pauses: waits for `resume` or `fail`.
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl From<durin_core::RunStatus> for RunStatus {
    fn from(status: durin_core::RunStatus) -> Self {
        match status {
            durin_core::RunStatus::Running => Self::Running,
            durin_core::RunStatus::Paused => Self::Paused,
            durin_core::RunStatus::Completed => Self::Completed,
            durin_core::RunStatus::Failed => Self::Failed,
            durin_core::RunStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// One run of a function (Inngest's shape, plus `original_run_id`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FunctionRun {
    pub(crate) run_id: String,
    /// RFC 3339.
    pub(crate) run_started_at: String,
    pub(crate) function_id: String,
    /// Always `1`.
    pub(crate) function_version: u32,
    /// Always `""`.
    pub(crate) environment_id: String,
    /// The `internal_id` of the event that started the run.
    pub(crate) event_id: String,
    pub(crate) status: RunStatus,
    /// RFC 3339, `null` while the run is Running.
    #[schema(required = true)]
    pub(crate) ended_at: Option<String>,
    /// The function's return value; for a Failed run the error object `{name, message, stack?, error}`;
    /// `null` while running.
    #[schema(required = true)]
    pub(crate) output: Option<Value>,
    /// For a rerun: the run it repeats.
    #[schema(required = true)]
    pub(crate) original_run_id: Option<String>,
    /// Why the run is paused; present only while it is `Paused` (Durin's retry policies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) paused: Option<Paused>,
}

impl From<&RunRecord> for FunctionRun {
    fn from(record: &RunRecord) -> Self {
        Self {
            run_id: record.run_id.clone(),
            run_started_at: rfc3339(record.started_at),
            function_id: record.function_id.clone(),
            function_version: 1,
            environment_id: String::new(),
            event_id: record.event_internal_id.clone(),
            status: record.status.into(),
            ended_at: record.ended_at.map(rfc3339),
            output: record.output.clone(),
            original_run_id: record.original_run_id.clone(),
            paused: None,
        }
    }
}

impl FunctionRun {
    /// The run, with why it is paused when it is: `attempts` are the run's (only read for a paused run).
    pub(crate) fn with_attempts(record: &RunRecord, attempts: &[AttemptRecord]) -> Self {
        let mut run = Self::from(record);
        if record.status == durin_core::RunStatus::Paused {
            run.paused = durin_engine::pausing_attempt(attempts).map(Paused::from);
        }
        run
    }
}

/// Why a run is paused: the step that ran out of retries under a policy that pauses, and since when.
/// `POST /v1/runs/{id}/resume` starts that step again; `POST /v1/runs/{id}/fail` fails the run with
/// `error`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Paused {
    /// The explanation's reason, e.g. `retries spent: failure 2 on the policy's retries, which allows 1
    /// retries; the policy pauses the run until it is resumed or failed`.
    pub(crate) reason: String,
    /// The user's id of the step that paused the run, `null` for the function body.
    #[schema(required = true)]
    pub(crate) step: Option<String>,
    /// The hashed id of that step, `null` for the function body.
    #[schema(required = true)]
    pub(crate) step_id: Option<String>,
    /// The error of the attempt that paused the run (`{name, message, stack?}`).
    #[schema(required = true)]
    pub(crate) error: Option<Value>,
    /// The attempts the step made before it paused (since it started, or since the run was last
    /// resumed).
    pub(crate) attempts: u32,
    /// When the run paused: the end of that attempt (RFC 3339).
    pub(crate) since: String,
    pub(crate) since_ms: i64,
}

impl From<&AttemptRecord> for Paused {
    fn from(record: &AttemptRecord) -> Self {
        let reason = record
            .explanation
            .as_ref()
            .and_then(|e| e.get("reason"))
            .and_then(Value::as_str)
            .unwrap_or("the step ran out of retries under a policy that pauses")
            .to_owned();
        Self {
            reason,
            step: record.step_name.clone(),
            step_id: record.step_id.clone(),
            error: record.error.clone(),
            attempts: record.attempt.saturating_add(1),
            since: rfc3339(record.ended_at),
            since_ms: record.ended_at,
        }
    }
}

/// What a job asks of the engine: run the function body (`discovery`), execute one planned step (`step`),
/// or resume a run whose wait ran out (`timeout`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum JobKind {
    Discovery,
    Step { step_id: String, name: String },
    Timeout { step_id: String, name: String },
}

impl From<&durin_core::JobKind> for JobKind {
    fn from(kind: &durin_core::JobKind) -> Self {
        match kind {
            durin_core::JobKind::Discovery => Self::Discovery,
            durin_core::JobKind::Step { step_id, name } => Self::Step {
                step_id: step_id.clone(),
                name: name.clone(),
            },
            durin_core::JobKind::Timeout { step_id, name } => Self::Timeout {
                step_id: step_id.clone(),
                name: name.clone(),
            },
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AttemptOutcome {
    Ok,
    Error,
    RetryAfter,
    NonRetriable,
    Interrupted,
}

impl From<durin_core::AttemptOutcome> for AttemptOutcome {
    fn from(outcome: durin_core::AttemptOutcome) -> Self {
        match outcome {
            durin_core::AttemptOutcome::Ok => Self::Ok,
            durin_core::AttemptOutcome::Error => Self::Error,
            durin_core::AttemptOutcome::RetryAfter => Self::RetryAfter,
            durin_core::AttemptOutcome::NonRetriable => Self::NonRetriable,
            durin_core::AttemptOutcome::Interrupted => Self::Interrupted,
        }
    }
}

/// One attempt of a step or of the function body.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Attempt {
    pub(crate) job_id: String,
    pub(crate) kind: JobKind,
    /// The hashed step id, `null` for the function body.
    #[schema(required = true)]
    pub(crate) step_id: Option<String>,
    /// The user's step id, `null` for the function body.
    #[schema(required = true)]
    pub(crate) step_name: Option<String>,
    /// Zero-based attempt number of this step.
    pub(crate) attempt: u32,
    /// RFC 3339.
    pub(crate) started_at: String,
    /// RFC 3339.
    pub(crate) ended_at: String,
    pub(crate) started_at_ms: i64,
    pub(crate) ended_at_ms: i64,
    pub(crate) duration_ms: i64,
    pub(crate) outcome: AttemptOutcome,
    /// `{name, message, stack?}` for a failed attempt, else `null`.
    #[schema(required = true)]
    pub(crate) error: Option<Value>,
    /// When the next attempt is due (RFC 3339), if there is one.
    #[schema(required = true)]
    pub(crate) next_attempt_at: Option<String>,
    #[schema(required = true)]
    pub(crate) next_attempt_at_ms: Option<i64>,
    /// Why a failed attempt led where it did (retry, cool-down, give up, pause); `null` for an attempt
    /// that did not fail, and for failures recorded before explanations existed.
    #[schema(required = true, value_type = Option<Explanation>)]
    pub(crate) explanation: Option<Value>,
}

/// The retry decision on a failed attempt, as the engine recorded it: which policy and counter it counted
/// on, what followed, the delay and its parts, and all of it in one sentence (`reason`).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "the schema of `durin_core::Explanation`, passed through as stored"
)]
pub(crate) struct Explanation {
    /// Where the policy came from, e.g. `the function's registered policy`, `the policy file's entry for
    /// the step`, `the step's options (Rust SDK)`.
    policy: Option<String>,
    /// The error rule the failure matched (e.g. `TimeoutError`); absent for the policy's own retries.
    rule: Option<String>,
    verdict: Verdict,
    /// Failures on that counter, this one included.
    failures: u32,
    /// The retries that counter allows.
    retries: u32,
    /// Retries the run's steps had taken, with a run-level budget.
    run_retries_used: Option<u32>,
    /// The run-level retry budget, if the policy has one.
    run_retries: Option<u32>,
    /// The wait before the next attempt.
    delay_ms: Option<i64>,
    /// The backoff part of the delay.
    backoff_ms: Option<i64>,
    /// The jitter part of the delay.
    jitter_ms: Option<i64>,
    /// What the app's `Retry-After` asked for.
    retry_after_ms: Option<i64>,
    /// The same, in one sentence.
    reason: String,
}

/// What followed a failed attempt: another attempt (`retry`), one that spends no retry (`cool_down`),
/// the step failing for good (`give_up`), or the run pausing (`pause`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[expect(dead_code, reason = "the schema of `durin_core::Verdict`")]
pub(crate) enum Verdict {
    Retry,
    CoolDown,
    GiveUp,
    Pause,
}

impl From<&AttemptRecord> for Attempt {
    fn from(record: &AttemptRecord) -> Self {
        Self {
            job_id: record.job_id.clone(),
            kind: (&record.kind).into(),
            step_id: record.step_id.clone(),
            step_name: record.step_name.clone(),
            attempt: record.attempt,
            started_at: rfc3339(record.started_at),
            ended_at: rfc3339(record.ended_at),
            started_at_ms: record.started_at,
            ended_at_ms: record.ended_at,
            duration_ms: record.ended_at - record.started_at,
            outcome: record.outcome.into(),
            error: record.error.clone(),
            next_attempt_at: record.next_attempt_at.map(rfc3339),
            next_attempt_at_ms: record.next_attempt_at,
            explanation: record.explanation.clone(),
        }
    }
}

/// A pending job of a run.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Job {
    pub(crate) job_id: String,
    pub(crate) kind: JobKind,
    /// When the job is due (RFC 3339); `null` while it is paused.
    pub(crate) at: Option<String>,
    pub(crate) at_ms: Option<i64>,
    /// Zero-based position in the run's list of pending jobs.
    pub(crate) position: usize,
    /// Zero-based number of the attempt the job will make.
    pub(crate) attempt: u32,
    /// Whether an attempt is in flight.
    pub(crate) leased: bool,
    /// The job ran out of retries and waits for its run to be resumed (or failed); it has no due time
    /// then.
    pub(crate) paused: bool,
}

impl Job {
    pub(crate) fn new(record: &JobRecord, position: usize) -> Self {
        let paused = record.due_at == durin_store::PAUSED_DUE_AT;
        Self {
            job_id: record.job_id.clone(),
            kind: (&record.kind).into(),
            at: (!paused).then(|| rfc3339(record.due_at)),
            at_ms: (!paused).then_some(record.due_at),
            position,
            attempt: record.attempt,
            leased: record.leased,
            paused,
        }
    }
}

/// An app (an SDK's serve endpoint) and its sync status.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct App {
    /// The app's name; for an app that never synced, its URL.
    pub(crate) name: String,
    pub(crate) url: String,
    #[schema(required = true)]
    pub(crate) sdk: Option<String>,
    #[schema(required = true)]
    pub(crate) framework: Option<String>,
    /// The last successful sync (RFC 3339).
    #[schema(required = true)]
    pub(crate) synced_at: Option<String>,
    /// Why the last sync failed, if it did.
    #[schema(required = true)]
    pub(crate) error: Option<String>,
    pub(crate) function_count: u32,
}

impl From<&AppRecord> for App {
    fn from(record: &AppRecord) -> Self {
        Self {
            name: record.name.clone(),
            url: record.url.clone(),
            sdk: record.sdk.clone(),
            framework: record.framework.clone(),
            synced_at: record.synced_at.map(rfc3339),
            error: record.error.clone(),
            function_count: record.function_count,
        }
    }
}

/// An event trigger with its optional filter expression.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Trigger {
    pub(crate) event: String,
    /// A CEL expression over `event`; absent when the trigger has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expression: Option<String>,
}

/// A function of a synced app.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Function {
    /// Composite id `<app>-<fn>`.
    pub(crate) id: String,
    pub(crate) name: String,
    /// The app's name.
    pub(crate) app: String,
    /// Where the engine calls the function.
    pub(crate) url: String,
    pub(crate) triggers: Vec<Trigger>,
    /// Retries after the first attempt of each step.
    pub(crate) retries: u32,
    /// Attempts per step (`retries + 1`).
    pub(crate) max_attempts: u32,
}

impl From<&FunctionConfig> for Function {
    fn from(config: &FunctionConfig) -> Self {
        Self {
            id: config.id.clone(),
            name: config.name.clone(),
            app: config.app_name.clone(),
            url: config.url.clone(),
            triggers: config
                .triggers
                .iter()
                .map(|trigger| Trigger {
                    event: trigger.event.clone(),
                    expression: trigger.expression.as_ref().map(|e| e.source().to_owned()),
                })
                .collect(),
            retries: config.policy.retries,
            max_attempts: config.policy.max_attempts(),
        }
    }
}

/// Where a step stands: `scheduled` is waiting in backoff for its next attempt, `waiting` is a sleep,
/// `waitForEvent` or `invoke`; `paused` ran out of retries under a policy that pauses and waits for the
/// run to be resumed or failed; `cancelled` is the function body of a cancelled run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepStatus {
    Completed,
    Failed,
    Running,
    Waiting,
    Scheduled,
    Paused,
    Cancelled,
}

/// One step of a run (or the function body) with every attempt it made.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Step {
    /// The hashed step id, `null` for the function body.
    #[schema(required = true)]
    pub(crate) step_id: Option<String>,
    /// The user's step id, or `(function body)`.
    pub(crate) name: String,
    pub(crate) status: StepStatus,
    /// The step's result (the function's return value for the body), or `null`.
    pub(crate) output: Value,
    /// The error object of a failed step (for a paused step, the error it paused on), or `null`.
    pub(crate) error: Value,
    /// In order, oldest first.
    pub(crate) attempts: Vec<Attempt>,
    /// When the next attempt is due (RFC 3339), if the step is waiting in backoff.
    #[schema(required = true)]
    pub(crate) next_attempt_at: Option<String>,
    #[schema(required = true)]
    pub(crate) next_attempt_at_ms: Option<i64>,
}

/// The answer of `POST /v1/runs/{id}/rerun`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rerun {
    /// The new run.
    pub(crate) run_id: String,
}

/// The answer of `POST /v1/runs/rerun`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RerunMany {
    /// The new runs, one per rerun run.
    pub(crate) run_ids: Vec<String>,
}

/// The answer of `POST /v1/runs/{id}/retry-now`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetryNow {
    /// How many jobs became due now.
    pub(crate) jobs: u64,
}

/// The answer of `POST /v1/checkpoint/{id}/async`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Checkpointed {
    /// Always `true`.
    pub(crate) ok: bool,
}

/// The answer of `POST /e/{key}` (Inngest's shape), also for its errors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SendEventsResponse {
    /// The ids of the accepted events, in request order (empty on error).
    pub(crate) ids: Vec<String>,
    /// The HTTP status, repeated.
    pub(crate) status: u16,
    /// What was wrong, on error only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// The answer of `POST /fn/register`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegisterResponse {
    pub(crate) ok: bool,
    /// Whether the app's functions changed.
    pub(crate) modified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sync_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

impl From<durin_protocol::RegisterResponse> for RegisterResponse {
    fn from(response: durin_protocol::RegisterResponse) -> Self {
        // Destructured in full: a field added to the wire type must be added here too.
        let durin_protocol::RegisterResponse {
            ok,
            modified,
            app_id,
            sync_id,
            message,
            error,
        } = response;
        Self {
            ok,
            modified,
            app_id,
            sync_id,
            message,
            error,
        }
    }
}
