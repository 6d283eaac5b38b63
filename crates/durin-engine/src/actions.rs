//! What an operator can do to runs: cancel, rerun (from the start or from a step), rerun many, retry a
//! waiting job now; and add an app by URL.

use durin_core::{RunStatus, UnixMillis};
use durin_store::{AppRecord, NewRun, RunQuery, RunRecord, StepMemo, StoreError};
use ulid::Ulid;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::system_events;
use crate::telemetry;

/// Most runs one bulk rerun starts.
pub const BULK_RERUN_MAX: usize = 1_000;

/// Which runs a bulk rerun repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct RerunFilter {
    pub function_id: String,
    pub status: RunStatus,
    pub since: Option<UnixMillis>,
    pub until: Option<UnixMillis>,
}

impl Engine {
    /// Cancels a running run; cancelling a cancelled run is a no-op. A run that already completed or
    /// failed cannot be cancelled ([`EngineError::Stale`]).
    pub async fn cancel_run(&self, run_id: &str) -> Result<RunRecord, EngineError> {
        let state = self.inner.store.load_run_state(run_id).await?;
        match state.run.status {
            RunStatus::Running | RunStatus::Paused => {}
            RunStatus::Cancelled => return Ok(state.run),
            other => {
                return Err(EngineError::Stale(format!(
                    "run {run_id} already ended: {}",
                    other.as_str()
                )));
            }
        }
        let now = self.now();
        let functions = self.functions();
        let (events, runs) =
            system_events::run_ended(&state, RunStatus::Cancelled, None, &functions, now);
        let cancelled = self
            .inner
            .store
            .cancel_run(run_id, now, events, runs)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
        // A request still running steps for it learns at its next checkpoint that the run is over.
        self.inner.dispatches.end_run(run_id);
        self.wake_scheduler();
        telemetry::run_ended(&state.run.function_id, RunStatus::Cancelled);
        tracing::info!(%run_id, status = cancelled.status.as_str(), "run cancelled");
        Ok(cancelled)
    }

    /// Starts a new run of the same function for the same event. With `from_step` (a step's user id or
    /// hashed id), the results of the steps that completed before it are kept, so the run resumes there.
    pub async fn rerun(
        &self,
        run_id: &str,
        from_step: Option<&str>,
    ) -> Result<String, EngineError> {
        let state = self.inner.store.load_run_state(run_id).await?;
        let function = self
            .functions()
            .iter()
            .find(|f| f.id == state.run.function_id)
            .cloned()
            .ok_or_else(|| {
                EngineError::Stale(format!(
                    "function {} is no longer registered",
                    state.run.function_id
                ))
            })?;
        let memos = match from_step {
            None => Vec::new(),
            Some(step) => {
                let steps = self.inner.store.steps_for_run(run_id).await?;
                let position = steps
                    .iter()
                    .position(|s| s.name == step || s.step_id == step)
                    .ok_or_else(|| {
                        EngineError::InvalidRequest(format!("run {run_id} has no step {step:?}"))
                    })?;
                steps[..position]
                    .iter()
                    .map(|s| StepMemo {
                        step_id: s.step_id.clone(),
                        name: s.name.clone(),
                        memo: s.memo.clone(),
                    })
                    .collect()
            }
        };
        let new_run_id = Ulid::generate().to_string();
        let run = NewRun {
            run_id: new_run_id.clone(),
            function_id: function.id.clone(),
            event_internal_id: state.run.event_internal_id.clone(),
            idempotency_key: format!("rerun:{new_run_id}"),
            started_at: self.now(),
            policy: function.policy.clone(),
        };
        self.inner.store.start_rerun(run, run_id, memos).await?;
        telemetry::runs_started([function.id.as_str()]);
        self.wake_scheduler();
        tracing::info!(original_run_id = %run_id, run_id = %new_run_id, from_step, "rerun started");
        Ok(new_run_id)
    }

    /// Reruns, from the start, the runs of a function with a status in a time range (at most
    /// [`BULK_RERUN_MAX`]). Returns the new run ids.
    pub async fn rerun_many(&self, filter: RerunFilter) -> Result<Vec<String>, EngineError> {
        let mut originals = Vec::new();
        let mut cursor = None;
        while originals.len() < BULK_RERUN_MAX {
            let page = self
                .inner
                .store
                .list_runs(RunQuery {
                    status: Some(filter.status),
                    function_id: Some(filter.function_id.clone()),
                    started_after: filter.since,
                    cursor: cursor.clone(),
                    limit: 500,
                })
                .await?;
            let Some(last) = page.last() else { break };
            cursor = Some(last.run_id.clone());
            originals.extend(
                page.into_iter()
                    .filter(|run| filter.until.is_none_or(|until| run.started_at <= until))
                    .map(|run| run.run_id),
            );
        }
        originals.truncate(BULK_RERUN_MAX);
        let mut started = Vec::with_capacity(originals.len());
        for run_id in originals {
            started.push(self.rerun(&run_id, None).await?);
        }
        Ok(started)
    }

    /// Makes the run's jobs that wait in backoff due now. A run with none is [`EngineError::Stale`].
    pub async fn retry_now(&self, run_id: &str) -> Result<u64, EngineError> {
        if self.inner.store.get_run(run_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("run {run_id}")).into());
        }
        let jobs = self.inner.store.retry_now(run_id, self.now()).await?;
        if jobs == 0 {
            return Err(EngineError::Stale(format!(
                "no job of run {run_id} is waiting for a retry"
            )));
        }
        self.wake_scheduler();
        Ok(jobs)
    }

    /// Syncs the app at `url` now and returns it as listed (with the sync error, if it failed).
    pub async fn add_app(&self, url: &str) -> Result<AppRecord, EngineError> {
        reqwest::Url::parse(url)
            .map_err(|e| EngineError::InvalidRequest(format!("`url` {url:?} is not a URL: {e}")))?;
        let _ = self.sync_app(url).await;
        let apps = self.inner.store.list_apps().await?;
        apps.into_iter()
            .find(|app| app.url == url)
            .ok_or_else(|| StoreError::NotFound(format!("app {url}")).into())
    }
}
