//! What an operator can do to a run paused by its retry policy (issue 8): resume it (each paused step starts
//! again with a fresh counter) or fail it (with the error its step last failed with).

use durin_core::RunStatus;
use durin_store::{AttemptRecord, RunFinal, RunRecord, StoreError};
use serde_json::Value;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::executor::error_object;
use crate::system_events;
use crate::telemetry;

/// The explanation verdict of the attempt that paused a run.
const PAUSE_VERDICT: &str = "pause";

impl Engine {
    /// Resumes a paused run: every job paused on exhaustion becomes a fresh job (attempt 0, no counters)
    /// due now. A run that is not paused is refused ([`EngineError::Stale`]).
    pub async fn resume_run(&self, run_id: &str) -> Result<RunRecord, EngineError> {
        self.paused_run(run_id).await?;
        let resumed = self
            .inner
            .store
            .resume_run(run_id, self.now())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
        if resumed.status != RunStatus::Running {
            return Err(not_paused(run_id, resumed.status));
        }
        self.wake_scheduler();
        tracing::info!(%run_id, "paused run resumed");
        Ok(resumed)
    }

    /// Fails a paused run with the error that paused it, announcing it as any failed run is
    /// (`inngest/function.failed`, failure handlers). A run that is not paused is refused.
    pub async fn fail_paused_run(&self, run_id: &str) -> Result<RunRecord, EngineError> {
        let state = self.paused_run(run_id).await?;
        let attempts = self.inner.store.attempts_for_run(run_id).await?;
        let output = pausing_attempt(&attempts)
            .and_then(|attempt| attempt.error.clone())
            .unwrap_or_else(|| error_object("Paused", "an operator failed the paused run"));
        let now = self.now();
        let functions = self.functions();
        let (events, runs) =
            system_events::run_ended(&state, RunStatus::Failed, Some(&output), &functions, now);
        let end = RunFinal {
            status: RunStatus::Failed,
            output: Some(output),
            ended_at: now,
        };
        let failed = self
            .inner
            .store
            .fail_paused_run(run_id, end, events, runs)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
        if failed.status != RunStatus::Failed {
            return Err(not_paused(run_id, failed.status));
        }
        self.inner.dispatches.end_run(run_id);
        self.wake_scheduler();
        telemetry::run_ended(&state.run.function_id, RunStatus::Failed);
        tracing::info!(%run_id, "paused run failed by an operator");
        Ok(failed)
    }

    async fn paused_run(&self, run_id: &str) -> Result<durin_store::RunState, EngineError> {
        let state = self.inner.store.load_run_state(run_id).await?;
        match state.run.status {
            RunStatus::Paused => Ok(state),
            other => Err(not_paused(run_id, other)),
        }
    }
}

/// The latest attempt whose failure paused its run: it says why the run is paused.
pub fn pausing_attempt(attempts: &[AttemptRecord]) -> Option<&AttemptRecord> {
    attempts.iter().rev().find(|attempt| {
        attempt
            .explanation
            .as_ref()
            .and_then(|e| e.get("verdict"))
            .and_then(Value::as_str)
            == Some(PAUSE_VERDICT)
    })
}

fn not_paused(run_id: &str, status: RunStatus) -> EngineError {
    EngineError::Stale(format!(
        "run {run_id} is not paused: it is {}",
        status.as_str()
    ))
}
