//! Builders and small helpers shared by the conformance tests.
//!
//! Times are fixed offsets from [`T0`]. Ids are chosen so that their text order is their creation order, as
//! the ULIDs the engine generates are: "newest first" is checked on such ids.

use durin_core::{AttemptOutcome, FunctionConfig, JobKind, RetryPolicy, Trigger, UnixMillis};
use serde_json::{Value, json};

use crate::{
    AppSync, AttemptFinish, AttemptRecord, ClaimedJob, JobUpdate, NewEvent, NewJob, NewRun,
    StepMemo, Store,
};

/// The time every test starts from.
pub(crate) const T0: UnixMillis = 1_700_000_000_000;
/// The lease used when a test does not care about it.
pub(crate) const LEASE_MS: i64 = 60_000;
/// A claim limit larger than any test's job count.
pub(crate) const ALL: usize = 10_000;

pub(crate) fn function(app: &str, slug: &str) -> FunctionConfig {
    FunctionConfig {
        id: format!("{app}-{slug}"),
        name: format!("{slug} (name)"),
        app_name: app.to_owned(),
        url: format!("http://{app}.test/api/inngest"),
        triggers: vec![Trigger {
            event: format!("{app}/{slug}.requested"),
            expression: None,
        }],
        policy: RetryPolicy::with_retries(3),
    }
}

pub(crate) fn app_sync(name: &str, functions: Vec<FunctionConfig>, at: UnixMillis) -> AppSync {
    AppSync {
        name: name.to_owned(),
        url: app_url(name),
        sdk: Some("js:v3.40.0".to_owned()),
        framework: Some("express".to_owned()),
        functions,
        synced_at: at,
    }
}

pub(crate) fn app_url(name: &str) -> String {
    format!("http://{name}.test/api/inngest")
}

/// An event whose payload exercises JSON fidelity (nesting, null, unicode, numbers).
pub(crate) fn event(internal_id: &str, name: &str, received_at: UnixMillis) -> NewEvent {
    NewEvent {
        internal_id: internal_id.to_owned(),
        name: name.to_owned(),
        payload: json!({
            "name": name,
            "id": internal_id,
            "ts": received_at,
            "data": {"nested": [1, "two", null, {"ok": true}], "text": "héllo ✓ \"quoted\"", "n": -1.5},
            "user": {}
        }),
        received_at,
    }
}

/// A run whose idempotency key is its run id (so never a duplicate unless a test says so).
pub(crate) fn run(
    run_id: &str,
    function_id: &str,
    event_internal_id: &str,
    started_at: UnixMillis,
) -> NewRun {
    NewRun {
        run_id: run_id.to_owned(),
        function_id: function_id.to_owned(),
        event_internal_id: event_internal_id.to_owned(),
        idempotency_key: format!("key-{run_id}"),
        started_at,
        policy: RetryPolicy::with_retries(2),
    }
}

/// Accepts one event (`<run_id>-event`) and the run it starts.
pub(crate) async fn start_run(
    store: &dyn Store,
    run_id: &str,
    function_id: &str,
    started_at: UnixMillis,
) -> NewRun {
    let event_id = format!("{run_id}-event");
    let new_run = run(run_id, function_id, &event_id, started_at);
    let outcome = store
        .accept_events(
            vec![event(&event_id, "test/started", started_at)],
            vec![new_run.clone()],
        )
        .await
        .expect("accept_events");
    assert_eq!(outcome.created_runs, vec![run_id.to_owned()]);
    new_run
}

/// Claims every job due at `now`.
pub(crate) async fn claim_all(store: &dyn Store, now: UnixMillis) -> Vec<ClaimedJob> {
    store
        .claim_due_jobs(now, ALL, LEASE_MS)
        .await
        .expect("claim_due_jobs")
}

/// Claims the single job due at `now`.
pub(crate) async fn claim_one(store: &dyn Store, now: UnixMillis) -> ClaimedJob {
    let mut jobs = claim_all(store, now).await;
    assert_eq!(
        jobs.len(),
        1,
        "expected exactly one due job at {now}: {jobs:?}"
    );
    jobs.remove(0)
}

pub(crate) fn step(step_id: &str) -> JobKind {
    JobKind::Step {
        step_id: step_id.to_owned(),
        name: format!("{step_id} (name)"),
    }
}

pub(crate) fn new_job(job_id: &str, run_id: &str, kind: JobKind, due_at: UnixMillis) -> NewJob {
    NewJob {
        job_id: job_id.to_owned(),
        run_id: run_id.to_owned(),
        kind,
        policy: RetryPolicy::with_retries(7),
        due_at,
    }
}

pub(crate) fn memo(step_id: &str, memo: Value) -> StepMemo {
    StepMemo {
        step_id: step_id.to_owned(),
        name: format!("{step_id} (name)"),
        memo,
    }
}

/// The attempt record of `job`, ended at `ended_at`, about the job's own step.
pub(crate) fn attempt_of(
    job: &ClaimedJob,
    outcome: AttemptOutcome,
    ended_at: UnixMillis,
) -> AttemptRecord {
    let (step_id, step_name) = match job.kind.step() {
        Some((step_id, name)) => (Some(step_id.to_owned()), Some(name.to_owned())),
        None => (None, None),
    };
    AttemptRecord {
        run_id: job.run_id.clone(),
        job_id: job.job_id.clone(),
        kind: job.kind.clone(),
        step_id,
        step_name,
        attempt: job.attempt,
        started_at: job.due_at,
        ended_at,
        outcome,
        error: None,
        next_attempt_at: None,
        explanation: None,
    }
}

/// A finish that records `attempt`, applies `job` and does nothing else.
pub(crate) fn finish(attempt: AttemptRecord, job: JobUpdate) -> AttemptFinish {
    AttemptFinish::new(attempt, job)
}

/// A successful attempt of `job` that removes it.
pub(crate) fn done(job: &ClaimedJob, ended_at: UnixMillis) -> AttemptFinish {
    finish(
        attempt_of(job, AttemptOutcome::Ok, ended_at),
        JobUpdate::Remove,
    )
}

/// The run's pending jobs as `(kind, attempt, due_at, leased)`, sorted by due time then kind.
pub(crate) async fn pending(
    store: &dyn Store,
    run_id: &str,
) -> Vec<(JobKind, u32, UnixMillis, bool)> {
    let mut jobs: Vec<_> = store
        .jobs_for_run(run_id)
        .await
        .expect("jobs_for_run")
        .into_iter()
        .map(|job| (job.kind, job.attempt, job.due_at, job.leased))
        .collect();
    jobs.sort_by(|a, b| {
        a.2.cmp(&b.2)
            .then_with(|| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)))
    });
    jobs
}

pub(crate) fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// The run's job ids, sorted.
pub(crate) async fn job_ids(store: &dyn Store, run_id: &str) -> Vec<String> {
    sorted(
        store
            .jobs_for_run(run_id)
            .await
            .expect("jobs_for_run")
            .into_iter()
            .map(|job| job.job_id)
            .collect(),
    )
}
