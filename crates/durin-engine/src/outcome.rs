//! Turning an app's reply into one [`AttemptFinish`]: the attempt record and everything it causes.
//! Every failure goes through [`durin_core::judge`].

use durin_core::{
    AttemptOutcome, FailedAttempt, Failure, JobKind, Next, RetryPolicy, RunStatus, judge,
};
use durin_protocol::{OpCode, Operation};
use durin_store::{
    AttemptFinish, AttemptRecord, ClaimedJob, JobUpdate, NewJob, PauseResolution, RunFinal,
    RunState, StepMemo,
};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::duration::sleep_until;
use crate::engine::Engine;
use crate::executor::{AppReply, ReplyKind, error_object};
use crate::policies::PolicySource;
use crate::system_events;
use crate::waits;

/// Largest step output stored; a bigger one fails the step for good with a clear error.
pub(crate) const STEP_OUTPUT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Why a step's output cannot be stored, when it is over [`STEP_OUTPUT_MAX_BYTES`].
pub(crate) fn output_too_large(op: &Operation) -> Option<String> {
    let size = op
        .data
        .as_ref()
        .map_or(Ok(4), |data| {
            serde_json::to_vec(data).map(|bytes| bytes.len())
        })
        .unwrap_or(usize::MAX);
    (size > STEP_OUTPUT_MAX_BYTES).then(|| {
        format!(
            "step {:?} returned {size} bytes; the limit is {STEP_OUTPUT_MAX_BYTES} bytes",
            op.user_step_id()
        )
    })
}

/// The step an attempt concerned, for the attempt record.
#[derive(Debug, Clone, Default)]
struct StepRef {
    id: Option<String>,
    name: Option<String>,
}

impl StepRef {
    fn of_job(job: &ClaimedJob) -> Self {
        match job.kind.step() {
            None => Self::default(),
            Some((step_id, name)) => Self {
                id: Some(step_id.to_owned()),
                name: Some(name.to_owned()),
            },
        }
    }

    fn of_op(op: &Operation) -> Self {
        Self {
            id: Some(op.id.clone()),
            name: Some(op.user_step_id().to_owned()),
        }
    }
}

/// Builds the finish of one attempt. `started_at` is when the call was made.
pub(crate) struct Planner<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) job: &'a ClaimedJob,
    pub(crate) state: &'a RunState,
    pub(crate) started_at: i64,
    pub(crate) now: i64,
}

impl Planner<'_> {
    pub(crate) fn plan(&self, reply: AppReply) -> AttemptFinish {
        let retry_at = reply
            .retry_after
            .as_deref()
            .and_then(|value| durin_core::parse_retry_after(value, self.now));
        let mut finish = match reply.kind {
            ReplyKind::Done(output) => self.completed(output),
            ReplyKind::Ops(ops) => self.ops(ops, reply.no_retry, retry_at),
            ReplyKind::Failed(error) => self.failure(
                StepRef::of_job(self.job),
                error,
                FailedAttempt {
                    attempt: self.job.attempt,
                    non_retriable: reply.no_retry,
                    retry_at,
                },
                false,
                None,
            ),
        };
        finish.request_version = reply.request_version;
        finish
    }

    /// An attempt that never reported back because the engine stopped: it counts (retries.md R11), and the
    /// job is tried again at once if its budget allows.
    pub(crate) fn interrupted(&self) -> AttemptFinish {
        let error = error_object(
            "Interrupted",
            "the engine stopped while this attempt was in flight",
        );
        let failed = FailedAttempt {
            attempt: self.job.attempt,
            non_retriable: false,
            retry_at: Some(self.now),
        };
        let mut finish = self.failure(StepRef::of_job(self.job), error, failed, false, None);
        finish.attempt.outcome = AttemptOutcome::Interrupted;
        finish.attempt.started_at = self.job.due_at.min(self.now);
        finish
    }

    fn record(
        &self,
        step: StepRef,
        outcome: AttemptOutcome,
        error: Option<Value>,
        next: Option<i64>,
    ) -> AttemptRecord {
        AttemptRecord {
            run_id: self.job.run_id.clone(),
            job_id: self.job.job_id.clone(),
            kind: self.job.kind.clone(),
            step_id: step.id,
            step_name: step.name,
            attempt: self.job.attempt,
            started_at: self.started_at,
            ended_at: self.now,
            outcome,
            error,
            next_attempt_at: next,
            explanation: None,
        }
    }

    fn base(&self, attempt: AttemptRecord, job: JobUpdate) -> AttemptFinish {
        AttemptFinish::new(attempt, job)
    }

    /// A wait ran out (`JobKind::Timeout`): the step resumes with its timeout memo, unless an event ended
    /// the wait first. The app is not called.
    pub(crate) fn timed_out(&self) -> AttemptFinish {
        let record = self.record(StepRef::of_job(self.job), AttemptOutcome::Ok, None, None);
        let mut finish = self.base(record, JobUpdate::Remove);
        finish.resolve_pauses.push(PauseResolution {
            pause_id: self.job.job_id.clone(),
            memo: None,
            discovery: self.discovery(self.now),
        });
        finish
    }

    fn completed(&self, output: Value) -> AttemptFinish {
        let record = self.record(StepRef::of_job(self.job), AttemptOutcome::Ok, None, None);
        let mut finish = self.base(record, JobUpdate::Remove);
        self.end_run(&mut finish, RunStatus::Completed, Some(output));
        finish
    }

    fn ops(&self, ops: Vec<Operation>, no_retry: bool, retry_at: Option<i64>) -> AttemptFinish {
        if let Some(op) = ops.iter().find(|op| op.op == OpCode::StepError) {
            let error = op
                .error
                .as_ref()
                .map(|e| json!(e))
                .unwrap_or_else(|| json!({}));
            let failed = FailedAttempt {
                attempt: self.job.attempt,
                non_retriable: no_retry,
                retry_at,
            };
            return self.failure(StepRef::of_op(op), error, failed, true, op.opts.as_ref());
        }
        if ops.is_empty() {
            let error = error_object("InvalidResponse", "the app answered 206 with no operations");
            let failed = FailedAttempt {
                attempt: self.job.attempt,
                non_retriable: no_retry,
                retry_at,
            };
            return self.failure(StepRef::of_job(self.job), error, failed, false, None);
        }

        let mut memos = Vec::new();
        let mut enqueue = Vec::new();
        let mut pauses = Vec::new();
        let mut invoked = Vec::new();
        let mut discovery_at = None;
        let mut run_output = None;
        let mut unsupported = None;
        let mut invalid_wait = None;
        let mut outcome = AttemptOutcome::Ok;
        let mut step = StepRef::of_job(self.job);
        let mut error = None;
        for op in &ops {
            match op.op {
                OpCode::StepRun | OpCode::Step => {
                    step = StepRef::of_op(op);
                    let memo = match output_too_large(op) {
                        Some(message) => {
                            let too_large = error_object("StepOutputTooLarge", &message);
                            outcome = AttemptOutcome::NonRetriable;
                            error = Some(too_large.clone());
                            json!({ "error": too_large })
                        }
                        None => json!({ "data": op.data.clone().unwrap_or(Value::Null) }),
                    };
                    memos.push(memo_of(op, memo));
                    discovery_at.get_or_insert(self.now);
                }
                OpCode::StepFailed => {
                    step = StepRef::of_op(op);
                    let step_error = op
                        .error
                        .as_ref()
                        .map(|e| json!(e))
                        .unwrap_or_else(|| json!({}));
                    // The SDKs also send StepFailed for an ordinary error on the job's last attempt: that
                    // attempt is recorded as the error it was (its budget is spent), not as non-retriable.
                    let last_attempt = self.job.attempt.saturating_add(1)
                        >= self
                            .step_policy(Some(op.user_step_id()), op.opts.as_ref())
                            .map_or(0, |(policy, _)| policy.max_attempts());
                    let non_retriable_error =
                        step_error.get("name").and_then(Value::as_str) == Some("NonRetriableError");
                    outcome = if last_attempt && !non_retriable_error {
                        AttemptOutcome::Error
                    } else {
                        AttemptOutcome::NonRetriable
                    };
                    error = Some(step_error.clone());
                    memos.push(memo_of(op, json!({ "error": step_error })));
                    discovery_at.get_or_insert(self.now);
                }
                OpCode::StepPlanned => enqueue.push(NewJob {
                    job_id: Ulid::generate().to_string(),
                    run_id: self.job.run_id.clone(),
                    kind: JobKind::Step {
                        step_id: op.id.clone(),
                        name: op.user_step_id().to_owned(),
                    },
                    policy: self.job.policy.clone(),
                    due_at: self.now,
                }),
                // A sleep is a pause that only its timeout ends: the run resumes at the wake time, and a
                // parallel group waits for it like for any other branch.
                OpCode::Sleep if self.state.waiting_steps.contains(&op.id) => {}
                OpCode::Sleep => {
                    step = StepRef::of_op(op);
                    let value = sleep_value(op);
                    match sleep_until(&value, self.now) {
                        Some(wake) => {
                            pauses.push(waits::sleep(op, &self.job.run_id, &self.job.policy, wake))
                        }
                        None => {
                            unsupported = Some(format!("cannot read the sleep duration {value:?}"))
                        }
                    }
                }
                OpCode::RunComplete => run_output = Some(op.data.clone().unwrap_or(Value::Null)),
                OpCode::None => {}
                // A wait the run already has, reported again by a later discovery (another branch of a
                // parallel group ended first): it is pending, not new.
                OpCode::WaitForEvent | OpCode::InvokeFunction
                    if self.state.waiting_steps.contains(&op.id) => {}
                OpCode::WaitForEvent | OpCode::InvokeFunction => {
                    step = StepRef::of_op(op);
                    let template = self.discovery(self.now);
                    let wait = if op.op == OpCode::WaitForEvent {
                        waits::wait_for_event(op, &self.job.run_id, &template, self.now)
                    } else {
                        waits::invoke(
                            op,
                            &self.job.run_id,
                            &template,
                            &self.engine.functions(),
                            self.now,
                        )
                    };
                    match wait {
                        Ok(wait) => {
                            pauses.push(wait.pause);
                            invoked.extend(wait.invoke);
                        }
                        // The step fails, catchably, as a step whose function does not exist does.
                        Err(waits::WaitError::StepFails(message)) => {
                            let step_error = json!({ "name": "Error", "message": message });
                            outcome = AttemptOutcome::NonRetriable;
                            error = Some(step_error.clone());
                            memos.push(memo_of(op, json!({ "error": step_error })));
                            discovery_at.get_or_insert(self.now);
                        }
                        Err(waits::WaitError::Invalid(message)) => invalid_wait = Some(message),
                    }
                }
                OpCode::Unknown | OpCode::StepError => {
                    let name = op.unknown_op.as_deref().unwrap_or("(no name)");
                    let name = if op.op == OpCode::Unknown {
                        name
                    } else {
                        "StepError"
                    };
                    unsupported = Some(format!(
                        "operation {name} is not supported by this engine yet"
                    ));
                }
            }
        }
        if let Some(message) = unsupported {
            let failed = FailedAttempt {
                attempt: self.job.attempt,
                non_retriable: true,
                retry_at: None,
            };
            return self.failure(
                step,
                error_object("UnsupportedOperation", &message),
                failed,
                false,
                None,
            );
        }

        if let Some(message) = invalid_wait {
            let failed = FailedAttempt {
                attempt: self.job.attempt,
                non_retriable: true,
                retry_at: None,
            };
            return self.failure(
                step,
                error_object("InvalidWait", &message),
                failed,
                false,
                None,
            );
        }

        if let Some(error) = self.over_run_limits(&memos) {
            let failed = FailedAttempt {
                attempt: self.job.attempt,
                non_retriable: true,
                retry_at: None,
            };
            return self.failure(step, error, failed, false, None);
        }

        let record = self.record(step, outcome, error, None);
        let mut finish = self.base(record, JobUpdate::Remove);
        finish.disable_immediate_execution = ops.len() > 1;
        finish.memos = memos;
        finish.enqueue = enqueue;
        finish.pauses = pauses;
        for (event, run) in invoked {
            finish.emit_events.push(event);
            finish.start_runs.push(run);
        }
        if let Some(output) = run_output {
            self.end_run(&mut finish, RunStatus::Completed, Some(output));
        } else if let Some(at) = discovery_at {
            finish.enqueue.push(self.discovery(at));
        }
        finish
    }

    /// A failed attempt: retry the same job, pause it, or give up — a step then fails for good (its error
    /// is memoized and the function body decides), the function body fails the run. `step_options`: the
    /// failing op's `opts`, where the Rust SDK puts a step's own retry policy.
    fn failure(
        &self,
        step: StepRef,
        error: Value,
        failed: FailedAttempt,
        from_step_op: bool,
        step_options: Option<&Value>,
    ) -> AttemptFinish {
        let outcome = if failed.non_retriable {
            AttemptOutcome::NonRetriable
        } else if failed.retry_at.is_some() {
            AttemptOutcome::RetryAfter
        } else {
            AttemptOutcome::Error
        };
        let (policy, source) = match self.step_policy(step.name.as_deref(), step_options) {
            Ok(chosen) => chosen,
            Err(problem) => {
                let refused = error_object("InvalidStepOptions", &problem);
                let failed = FailedAttempt {
                    non_retriable: true,
                    ..failed
                };
                return self.failure(step, refused, failed, from_step_op, None);
            }
        };
        let config = &self.engine.inner.config;
        let jitter = config.jitter_sample.map_or_else(
            || fastrand::u32(0..durin_core::JITTER_MAX_MS),
            |sample| sample.min(durin_core::JITTER_MAX_MS - 1),
        );
        let judged = judge(
            &policy,
            &config.knobs,
            &Failure {
                attempt: failed.attempt,
                non_retriable: failed.non_retriable,
                retry_at: failed.retry_at,
                error_name: error.get("name").and_then(Value::as_str),
                error_message: error.get("message").and_then(Value::as_str),
                state: &self.job.retry_state,
                run_retries_used: self.state.retries_used,
            },
            self.now,
            jitter,
        );
        let mut explanation = judged.explanation;
        explanation.policy = Some(source.describe().to_owned());
        // Core speaks of a step; a failure that is not a step's own (the function body, a whole request)
        // ends the run when it gives up.
        let fails_run = !(from_step_op && step.id.is_some());
        if fails_run && matches!(judged.next, Next::GiveUp(_)) {
            explanation.reason = explanation
                .reason
                .replace("; the step fails", "; the run fails");
        }
        let explanation = serde_json::to_value(&explanation).ok();
        match judged.next {
            Next::Retry {
                attempt,
                at,
                state,
                spends_run_retry,
            } => {
                let mut record = self.record(step, outcome, Some(error), Some(at));
                record.explanation = explanation;
                self.base(
                    record,
                    JobUpdate::Retry {
                        attempt,
                        due_at: at,
                        state,
                        spends_run_retry,
                    },
                )
            }
            // The job waits, its step unresolved, until an operator resumes or fails the run.
            Next::Pause(_) => {
                let mut record = self.record(step, outcome, Some(error), None);
                record.explanation = explanation;
                self.base(record, JobUpdate::Pause)
            }
            Next::GiveUp(_) => {
                let mut record = self.record(step.clone(), outcome, Some(error.clone()), None);
                record.explanation = explanation;
                let mut finish = self.base(record, JobUpdate::Remove);
                match (&step.id, from_step_op) {
                    // A step failed for good (its StepError op): memoize its error and let the function body
                    // handle it. Any other failure, even of a step's request, fails the run, as Inngest does.
                    (Some(step_id), true) => {
                        finish.memos.push(StepMemo {
                            step_id: step_id.clone(),
                            name: step.name.clone().unwrap_or_else(|| step_id.clone()),
                            memo: json!({ "error": error }),
                        });
                        finish.enqueue.push(self.discovery(self.now));
                    }
                    _ => self.end_run(&mut finish, RunStatus::Failed, Some(error)),
                }
                finish
            }
        }
    }

    /// The policy a failure of `step` (None: the function body) is decided by, and where it came from:
    /// the job's (the function's, with its Durin-side entry), then the step's own options from the Rust
    /// SDK, then the step's Durin-side entry, each over the one before.
    fn step_policy(
        &self,
        step: Option<&str>,
        step_options: Option<&Value>,
    ) -> Result<(RetryPolicy, PolicySource), String> {
        let policies = self.engine.retry_policies();
        let function_id = &self.job.function_id;
        let mut source = policies.function_source(function_id);
        let mut policy = self.job.policy.clone();
        if let Some(options) = step_options.and_then(crate::policies::step_options) {
            let options = options.map_err(|e| format!("step {step:?}: {e}"))?;
            policy = options.apply(&policy);
            source = PolicySource::StepOptions;
        }
        if let Some((configured, entry_source)) = policies.step_entry(function_id, step) {
            policy = configured.apply(&policy);
            source = entry_source;
        }
        Ok((policy, source))
    }

    /// The error ending the run if storing `memos` would pass the run's limits.
    fn over_run_limits(&self, memos: &[StepMemo]) -> Option<Value> {
        if memos.is_empty() {
            return None;
        }
        let bytes = memos
            .iter()
            .map(|m| crate::limits::memo_bytes(&m.memo))
            .fold(self.state.steps_bytes, u64::saturating_add);
        self.engine
            .inner
            .config
            .run_limits
            .exceeded(self.state.steps.len() + memos.len(), bytes)
    }

    fn discovery(&self, due_at: i64) -> NewJob {
        NewJob {
            job_id: Ulid::generate().to_string(),
            run_id: self.job.run_id.clone(),
            kind: JobKind::Discovery,
            policy: self.job.policy.clone(),
            due_at,
        }
    }

    fn end_run(&self, finish: &mut AttemptFinish, status: RunStatus, output: Option<Value>) {
        let functions = self.engine.functions();
        let (events, runs) =
            system_events::run_ended(self.state, status, output.as_ref(), &functions, self.now);
        finish.finish_run = Some(RunFinal {
            status,
            output,
            ended_at: self.now,
        });
        finish.emit_events = events;
        finish.start_runs = runs;
    }
}

fn memo_of(op: &Operation, memo: Value) -> StepMemo {
    StepMemo {
        step_id: op.id.clone(),
        name: op.user_step_id().to_owned(),
        memo,
    }
}

/// The sleep's duration or end time: in `name` for both SDKs, in `opts.duration` for some others.
fn sleep_value(op: &Operation) -> String {
    op.opts
        .as_ref()
        .and_then(|o| o.get("duration"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| op.name.clone())
        .unwrap_or_default()
}
