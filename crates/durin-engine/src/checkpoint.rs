//! `POST /v1/checkpoint/{run_id}/async`: an SDK given `ctx.fn_id` and `ctx.qi_id` (TypeScript, Durin's Rust
//! SDK) runs several steps in one request and reports finished steps here before answering. Each reported step is memoized and
//! recorded as an attempt at once, so a crash of the app mid-request loses none of them.

use durin_core::{AttemptOutcome, RunStatus};
use durin_protocol::{CheckpointRequest, OpCode};
use durin_store::{AttemptFinish, AttemptRecord, JobUpdate, StepMemo};
use serde_json::{Value, json};

use crate::dispatches::Dispatch;
use crate::engine::Engine;
use crate::error::EngineError;

impl Engine {
    /// Memoizes the steps of a checkpoint. A run that is no longer running, or a job that is no longer
    /// the one the SDK was called for, makes the checkpoint stale ([`EngineError::Stale`]).
    pub async fn checkpoint(
        &self,
        run_id: &str,
        request: CheckpointRequest,
    ) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let job = match self.inner.dispatches.get(&request.qi_id) {
            // Dispatched by this process and still awaited: live, no store read needed. (The store
            // still refuses to memoize into a run that ended meanwhile.)
            Some(live) if live.run_id == run_id => live,
            _ => self.dispatch_from_store(run_id, &request.qi_id).await?,
        };
        // A step too large to store is refused with the whole checkpoint: the SDK then answers the call
        // with its steps, and the reply's planner fails that step for good (as without checkpointing).
        if let Some(message) = request
            .steps
            .iter()
            .find_map(crate::outcome::output_too_large)
        {
            return Err(EngineError::InvalidRequest(message));
        }
        let now = self.now();
        let finishes: Vec<AttemptFinish> = request
            .steps
            .iter()
            .filter_map(|op| {
                let (memo, outcome, error) = match op.op {
                    OpCode::StepRun | OpCode::Step => (
                        json!({ "data": op.data.clone().unwrap_or(Value::Null) }),
                        AttemptOutcome::Ok,
                        None,
                    ),
                    OpCode::StepFailed => {
                        let error = op
                            .error
                            .as_ref()
                            .map(|e| json!(e))
                            .unwrap_or_else(|| json!({}));
                        (
                            json!({ "error": error }),
                            AttemptOutcome::NonRetriable,
                            Some(error),
                        )
                    }
                    // Other ops come back in the request's answer and are handled there.
                    _ => return None,
                };
                let name = op.user_step_id().to_owned();
                let mut finish = AttemptFinish::new(
                    AttemptRecord {
                        run_id: run_id.to_owned(),
                        job_id: job.job_id.clone(),
                        kind: job.kind.clone(),
                        step_id: Some(op.id.clone()),
                        step_name: Some(name.clone()),
                        attempt: job.attempt,
                        started_at: now,
                        ended_at: now,
                        outcome,
                        error,
                        next_attempt_at: None,
                        explanation: None,
                    },
                    JobUpdate::Keep,
                );
                finish.memos.push(StepMemo {
                    step_id: op.id.clone(),
                    name,
                    memo,
                });
                Some(finish)
            })
            .collect();
        // A batch that would pass the run's limits is refused whole: the call's answer then fails the run.
        if let Some(budget) = &job.budget {
            budget
                .charge(
                    finishes
                        .iter()
                        .flat_map(|f| f.memos.iter().map(|m| &m.memo)),
                )
                .map_err(EngineError::InvalidRequest)?;
        }
        // Submitted together, a batch of steps shares one durable commit (the store groups writes that
        // arrive together); each step is still its own write, in order.
        futures::future::try_join_all(
            finishes
                .into_iter()
                .map(|finish| store.finish_attempt(finish)),
        )
        .await?;
        Ok(())
    }

    /// The dispatch `qi_id` names, from the store: for a call another instance made, or one that ended.
    async fn dispatch_from_store(
        &self,
        run_id: &str,
        qi_id: &str,
    ) -> Result<Dispatch, EngineError> {
        let store = &self.inner.store;
        let run = store
            .get_run(run_id)
            .await?
            .ok_or_else(|| EngineError::Stale(format!("run {run_id} does not exist")))?;
        if run.status != RunStatus::Running {
            return Err(EngineError::Stale(format!(
                "run {run_id} is {}",
                run.status.as_str()
            )));
        }
        // `qi_id` names the dispatch: `<job id>:<attempt>`. Only the attempt in flight may checkpoint; a
        // request the engine already gave up on (timed out, retried) is told it is stale.
        let (job_id, attempt) = qi_id
            .rsplit_once(':')
            .and_then(|(job, attempt)| Some((job, attempt.parse::<u32>().ok()?)))
            .ok_or_else(|| {
                EngineError::InvalidRequest(format!("`qi_id` {qi_id:?} is not one Durin sent"))
            })?;
        store
            .jobs_for_run(run_id)
            .await?
            .into_iter()
            .find(|job| job.job_id == job_id && job.attempt == attempt && job.leased)
            .map(|job| Dispatch {
                run_id: run_id.to_owned(),
                job_id: job.job_id,
                kind: job.kind,
                attempt: job.attempt,
                // Not this process's call: the run's limits are checked at its next call.
                budget: None,
            })
            .ok_or_else(|| {
                EngineError::Stale(format!(
                    "attempt {attempt} of job {job_id} of run {run_id} is no longer in flight"
                ))
            })
    }
}
