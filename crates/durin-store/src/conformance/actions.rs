//! Operator actions and waits: `cancel_run`, `start_rerun`, `retry_now`, `steps_for_run`, and pauses
//! (`pending_pauses`, resolution by an event or by the timeout job).

use std::sync::Arc;

use durin_core::{JobKind, RunStatus};
use serde_json::json;

use super::support::*;
use crate::{JobUpdate, NewPause, PauseKind, PauseResolution, Store};

/// Cancelling stops a running run: its status, its jobs gone, its events stored; a finished run is left
/// as it was; an unknown run is `None`.
pub async fn cancel_run_ends_a_running_run_and_removes_its_jobs(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let cancelled = store
        .cancel_run(
            "run-01",
            T0 + 5,
            vec![event("evt-cancelled", "inngest/function.cancelled", T0 + 5)],
            vec![],
        )
        .await
        .expect("cancel_run")
        .expect("the run exists");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.ended_at, Some(T0 + 5));
    assert_eq!(pending(&*store, "run-01").await, vec![]);
    assert!(
        store
            .get_event("evt-cancelled")
            .await
            .expect("get_event")
            .is_some()
    );
    let again = store
        .cancel_run("run-01", T0 + 9, vec![], vec![])
        .await
        .expect("cancel_run")
        .expect("exists");
    assert_eq!(
        again.ended_at,
        Some(T0 + 5),
        "a run that ended is left as it was"
    );
    assert_eq!(
        store
            .cancel_run("run-none", T0, vec![], vec![])
            .await
            .expect("cancel_run"),
        None
    );
}

/// A rerun starts with the given memos in order, its first discovery job, and its original run id.
pub async fn start_rerun_creates_a_run_with_kept_results(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let mut rerun = run("run-02", "fn", "run-01-event", T0 + 10);
    rerun.idempotency_key = "rerun:run-02".into();
    store
        .start_rerun(
            rerun,
            "run-01",
            vec![
                memo("s1", json!({"data": 1})),
                memo("s2", json!({"data": 2})),
            ],
        )
        .await
        .expect("start_rerun");
    let state = store
        .load_run_state("run-02")
        .await
        .expect("load_run_state");
    assert_eq!(state.run.original_run_id.as_deref(), Some("run-01"));
    assert_eq!(state.run.status, RunStatus::Running);
    assert_eq!(
        state.steps,
        vec![
            ("s1".to_owned(), json!({"data": 1})),
            ("s2".to_owned(), json!({"data": 2}))
        ]
    );
    let steps = store.steps_for_run("run-02").await.expect("steps_for_run");
    assert_eq!(
        steps.iter().map(|s| s.step_id.as_str()).collect::<Vec<_>>(),
        vec!["s1", "s2"]
    );
    assert_eq!(
        pending(&*store, "run-02").await,
        vec![(JobKind::Discovery, 0, T0 + 10, false)]
    );
}

/// Only jobs waiting in backoff (attempt > 0, not leased, due later) are made due now.
pub async fn retry_now_makes_waiting_retries_due(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    assert_eq!(
        store.retry_now("run-01", T0).await.expect("retry_now"),
        0,
        "a leased job is not waiting"
    );
    let mut failed = finish(
        attempt_of(&job, durin_core::AttemptOutcome::Error, T0 + 1),
        JobUpdate::Retry {
            attempt: 1,
            due_at: T0 + 60_000,
            state: durin_core::RetryState::default(),
            spends_run_retry: true,
        },
    );
    failed.attempt.next_attempt_at = Some(T0 + 60_000);
    store.finish_attempt(failed).await.expect("finish_attempt");
    assert_eq!(
        store.retry_now("run-01", T0 + 2).await.expect("retry_now"),
        1
    );
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 1, T0 + 2, false)]
    );
}

fn pause(pause_id: &str, run_id: &str, expires_at: i64) -> NewPause {
    NewPause {
        pause_id: pause_id.to_owned(),
        run_id: run_id.to_owned(),
        step_id: "wait".to_owned(),
        step_name: "wait (name)".to_owned(),
        kind: PauseKind::WaitForEvent,
        event_name: "test/approved".to_owned(),
        expression: Some("async.data.ok == true".to_owned()),
        timeout_memo: json!(null),
        policy: durin_core::RetryPolicy::with_retries(2),
        expires_at,
    }
}

/// A pause is listed for its event name with the run's trigger; resolving it memoizes the step, removes
/// the timeout job and enqueues the discovery; resolving it again does nothing.
pub async fn a_pause_is_resolved_once_by_an_event(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    let mut waiting = done(&job, T0 + 1);
    waiting.pauses = vec![pause("pause-1", "run-01", T0 + 10_000)];
    store.finish_attempt(waiting).await.expect("finish_attempt");
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(
            JobKind::Timeout {
                step_id: "wait".into(),
                name: "wait (name)".into()
            },
            0,
            T0 + 10_000,
            false
        )]
    );
    let pauses = store
        .pending_pauses(&["test/approved".to_owned()])
        .await
        .expect("pending_pauses");
    assert_eq!(pauses.len(), 1);
    assert_eq!(pauses[0].trigger_event["name"], "test/started");
    assert!(
        store
            .pending_pauses(&["other".to_owned()])
            .await
            .expect("pending_pauses")
            .is_empty()
    );

    let resolution = PauseResolution {
        pause_id: "pause-1".into(),
        memo: Some(json!({"name": "test/approved", "data": {"ok": true}})),
        discovery: new_job("job-d2", "run-01", JobKind::Discovery, T0 + 2),
    };
    store
        .accept_events_resolving(
            vec![event("evt-ok", "test/approved", T0 + 2)],
            vec![],
            vec![resolution.clone()],
        )
        .await
        .expect("accept_events_resolving");
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 0, T0 + 2, false)]
    );
    let state = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    assert_eq!(
        state.steps,
        vec![(
            "wait".to_owned(),
            json!({"name": "test/approved", "data": {"ok": true}})
        )]
    );
    assert!(
        store
            .pending_pauses(&["test/approved".to_owned()])
            .await
            .expect("pending_pauses")
            .is_empty()
    );

    let mut again = resolution;
    again.discovery = new_job("job-d3", "run-01", JobKind::Discovery, T0 + 3);
    store
        .accept_events_resolving(vec![], vec![], vec![again])
        .await
        .expect("accept_events_resolving");
    assert_eq!(
        job_ids(&*store, "run-01").await,
        vec!["job-d2"],
        "an ended pause stays ended"
    );
}

/// The timeout job resolves its pause with the stored timeout memo.
pub async fn a_pause_times_out_with_its_timeout_memo(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    let mut waiting = done(&job, T0 + 1);
    let mut p = pause("pause-1", "run-01", T0 + 100);
    p.timeout_memo = json!({"error": {"name": "Timeout"}});
    waiting.pauses = vec![p];
    store.finish_attempt(waiting).await.expect("finish_attempt");
    let timeout = claim_one(&*store, T0 + 100).await;
    assert_eq!(timeout.job_id, "pause-1");
    let mut timed_out = done(&timeout, T0 + 101);
    timed_out.resolve_pauses = vec![PauseResolution {
        pause_id: "pause-1".into(),
        memo: None,
        discovery: new_job("job-d2", "run-01", JobKind::Discovery, T0 + 101),
    }];
    store
        .finish_attempt(timed_out)
        .await
        .expect("finish_attempt");
    let state = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    assert_eq!(
        state.steps,
        vec![("wait".to_owned(), json!({"error": {"name": "Timeout"}}))]
    );
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 0, T0 + 101, false)]
    );
}
