//! The queue loop: claim due jobs, run each on its own task, sleep until the next due time or a wake-up.

use std::sync::Arc;
use std::time::Duration;

use durin_core::JobKind;
use durin_store::{AttemptFinish, ClaimedJob, StoreError};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use crate::engine::Engine;
use crate::executor::error_object;
use crate::outcome::Planner;
use crate::telemetry;

/// Most jobs claimed in one store call.
const CLAIM_BATCH: usize = 256;
/// The loop looks at the store at least this often, whatever it was told (or not told: wake-ups from other
/// instances sharing the store are hints).
const MAX_IDLE: Duration = Duration::from_secs(1);
/// After a store error, wait this long before trying again.
const STORE_RETRY: Duration = Duration::from_millis(500);
/// An attempt's own store calls are tried again after this pause, doubled each time up to
/// `ATTEMPT_STORE_RETRY_MAX`.
const ATTEMPT_STORE_RETRY_FIRST: Duration = Duration::from_millis(100);
const ATTEMPT_STORE_RETRY_MAX: Duration = Duration::from_secs(2);

pub(crate) async fn run(engine: Engine) {
    let lease_ms = lease_ms(&engine);
    loop {
        let available = engine.inner.in_flight.available_permits();
        if available == 0 {
            // Wait for a call to finish before claiming more.
            if let Ok(permit) = Arc::clone(&engine.inner.in_flight).acquire_owned().await {
                drop(permit);
            }
            continue;
        }
        let now = engine.now();
        let claimed = match engine
            .store()
            .claim_due_jobs(now, available.min(CLAIM_BATCH), lease_ms)
            .await
        {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::error!(%error, "cannot claim jobs");
                tokio::time::sleep(STORE_RETRY).await;
                continue;
            }
        };
        let full_batch = claimed.len() == available.min(CLAIM_BATCH);
        for job in claimed {
            let Ok(permit) = Arc::clone(&engine.inner.in_flight).acquire_owned().await else {
                return;
            };
            tokio::spawn(execute(engine.clone(), job, permit));
        }
        if full_batch {
            continue;
        }
        let wait = match engine.store().next_wake_at().await {
            Ok(Some(at)) => {
                Duration::from_millis(u64::try_from(at - engine.now()).unwrap_or(0)).min(MAX_IDLE)
            }
            Ok(None) => MAX_IDLE,
            Err(error) => {
                tracing::error!(%error, "cannot read the next due time");
                STORE_RETRY
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = engine.inner.wake.notified() => {}
            // Another instance on the same store enqueued or released a job due soon.
            () = engine.store().wait_for_jobs() => {}
        }
    }
}

/// A lease outlives the longest call, so a live attempt is never taken over.
fn lease_ms(engine: &Engine) -> i64 {
    let timeout = engine.config().request_timeout + engine.config().lease_margin;
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

async fn execute(engine: Engine, job: ClaimedJob, _permit: OwnedSemaphorePermit) {
    let (step_id, step_name) = job.kind.step().unwrap_or(("", ""));
    let span = tracing::info_span!(
        "attempt",
        run_id = %job.run_id,
        fn_id = %job.function_id,
        step_id = %step_id,
        step = %step_name,
        attempt = job.attempt,
    );
    attempt(engine, job).instrument(span).await;
}

async fn attempt(engine: Engine, job: ClaimedJob) {
    let started_at = engine.now();
    if !job.interrupted {
        telemetry::timer_lateness(started_at - job.due_at);
    }
    // A store that is briefly unavailable (a full disk being freed, a database restarting) delays the
    // attempt rather than leaving its job to wait out its lease. Every try ends well inside the lease,
    // so that no other instance can have taken the job over meanwhile.
    let half_margin = i64::try_from(engine.config().lease_margin.as_millis() / 2).unwrap_or(0);
    let load_deadline = started_at + half_margin;
    let record_deadline = started_at + lease_ms(&engine) - half_margin;
    let Some(state) = with_store_retries(&engine, "load the run", load_deadline, || {
        engine.store().load_run_state(&job.run_id)
    })
    .await
    else {
        return;
    };
    let planner = |now| Planner {
        engine: &engine,
        job: &job,
        state: &state,
        started_at,
        now,
    };
    let mut finish = if matches!(job.kind, JobKind::Timeout { .. }) {
        planner(engine.now()).timed_out()
    } else if job.interrupted {
        planner(engine.now()).interrupted()
    } else {
        let reply = match state.function.as_ref() {
            Some(function) => {
                let called = std::time::Instant::now();
                let reply = engine.call_app(&job, &state, &function.url).await;
                telemetry::app_request(&job.function_id, called.elapsed());
                reply
            }
            None => crate::executor::AppReply {
                kind: crate::executor::ReplyKind::Failed(error_object(
                    "FunctionNotFound",
                    &format!("function {} is no longer registered", job.function_id),
                )),
                no_retry: false,
                retry_after: None,
                request_version: None,
            },
        };
        planner(engine.now()).plan(reply)
    };
    // Events this attempt emits may end other runs' waits (an invoked run's end), in the same commit.
    let emitted = &finish.emit_events;
    let Some(resolutions) =
        with_store_retries(&engine, "read waiting steps", record_deadline, || {
            engine.resolutions_for(emitted)
        })
        .await
    else {
        return;
    };
    finish.resolve_pauses.extend(resolutions);
    // Recorded only while the job is still this claim's: if the lease expired meanwhile (the process was
    // frozen, the store unreachable) and another claim took the job over, the store refuses the finish.
    finish.lease = Some(job.leased_until);
    log_attempt(&finish);
    let facts = telemetry::AttemptFacts::of(&job.function_id, &finish);
    let mut tries = 0_u32;
    let recorded = with_store_retries(&engine, "record the attempt", record_deadline, || {
        tries += 1;
        let (engine, finish, again) = (engine.clone(), finish.clone(), tries > 1);
        async move {
            // A commit reported as failed may have happened all the same (a connection lost during
            // COMMIT): recording it twice would enqueue its consequences twice.
            if again && already_recorded(&engine, &finish).await? {
                return Ok(());
            }
            if again {
                telemetry::attempt_record_retried();
            }
            engine.store().finish_attempt(finish).await
        }
    })
    .await;
    if recorded.is_none() {
        return;
    }
    facts.record();
    engine.wake_scheduler();
}

/// Calls `op` until it succeeds, fails for a reason waiting cannot fix, or `deadline` (Unix ms) passes.
/// None when it gave up: the job is then tried again once its lease has expired (as interrupted).
async fn with_store_retries<T, F, Fut>(
    engine: &Engine,
    what: &str,
    deadline: i64,
    mut op: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut pause = ATTEMPT_STORE_RETRY_FIRST;
    loop {
        let error = match op().await {
            Ok(value) => return Some(value),
            Err(error @ StoreError::LeaseLost(_)) => {
                tracing::warn!(%error, "the attempt is not recorded: its job has a newer claim");
                return None;
            }
            Err(error) => error,
        };
        let pause_ms = i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
        // Only an unavailable store may come back; a missing or corrupt record stays so.
        let transient = matches!(error, StoreError::Unavailable(_));
        if !transient || engine.now().saturating_add(pause_ms) > deadline {
            tracing::error!(%error, "cannot {what}; the job is retried after its lease");
            return None;
        }
        tracing::warn!(%error, "cannot {what}; trying again in {pause:?}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(ATTEMPT_STORE_RETRY_MAX);
    }
}

/// Whether the store already holds this attempt's record (same job, attempt number and times).
async fn already_recorded(engine: &Engine, finish: &AttemptFinish) -> Result<bool, StoreError> {
    let attempt = &finish.attempt;
    let recorded = engine.store().attempts_for_run(&attempt.run_id).await?;
    Ok(recorded.iter().any(|r| {
        r.job_id == attempt.job_id
            && r.attempt == attempt.attempt
            && r.started_at == attempt.started_at
            && r.ended_at == attempt.ended_at
    }))
}

fn log_attempt(finish: &AttemptFinish) {
    let attempt = &finish.attempt;
    tracing::info!(
        run_id = %attempt.run_id,
        step = attempt.step_name.as_deref().unwrap_or("-"),
        attempt = attempt.attempt,
        outcome = attempt.outcome.as_str(),
        next_attempt_at = attempt.next_attempt_at,
        run_status = finish.finish_run.as_ref().map(|f| f.status.as_str()),
        "attempt finished"
    );
}
