//! Many calls at once: each is its own transaction, all succeed, a failing one does not undo the others;
//! calls racing on one run (its last parallel branches, a pause's event and timeout, a cancel and a finish)
//! leave it as one of them alone would, never in between. A backend with several writers (several Durin
//! instances on one database) must keep these true without SQLite's single writer.

use std::sync::Arc;

use durin_core::{JobKind, RetryPolicy, RunStatus};
use serde_json::json;
use tokio::task::JoinSet;

use super::support::{
    T0, claim_all, claim_one, done, event, memo, new_job, pending, run, start_run, step,
};
use crate::{EventQuery, NewPause, PauseKind, PauseResolution, RunFinal, Store, StoreError};

/// 200 concurrent `accept_events` calls all succeed, and every event and run is readable afterwards.
pub async fn concurrent_accept_events_all_succeed_and_are_readable(store: Arc<dyn Store>) {
    const CALLS: i64 = 200;
    let mut calls = JoinSet::new();
    for n in 0..CALLS {
        let store = Arc::clone(&store);
        calls.spawn(async move {
            let event_id = format!("evt-{n:04}");
            let run_id = format!("run-{n:04}");
            let outcome = store
                .accept_events(
                    vec![event(&event_id, "load/test", T0 + n)],
                    vec![run(&run_id, "fn", &event_id, T0 + n)],
                )
                .await;
            (run_id, outcome)
        });
    }
    while let Some(joined) = calls.join_next().await {
        let (run_id, outcome) = joined.expect("task");
        assert_eq!(outcome.expect("accept_events").created_runs, vec![run_id]);
    }

    for n in 0..CALLS {
        let event = store
            .get_event(&format!("evt-{n:04}"))
            .await
            .expect("get_event")
            .expect("event stored");
        assert_eq!(event.received_at, T0 + n);
        let run = store
            .get_run(&format!("run-{n:04}"))
            .await
            .expect("get_run")
            .expect("run stored");
        assert_eq!(run.event_internal_id, format!("evt-{n:04}"));
    }
    let listed = store
        .list_events(EventQuery {
            limit: 1_000,
            ..EventQuery::default()
        })
        .await
        .expect("list_events");
    assert_eq!(listed.len(), 200);
    assert_eq!(claim_all(&*store, T0 + CALLS).await.len(), 200);
}

/// Failing calls interleaved with succeeding ones: the failures report their error and leave nothing
/// behind; the successes are all applied.
pub async fn a_failing_call_does_not_undo_concurrent_calls(store: Arc<dyn Store>) {
    start_run(&*store, "run-real", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    let mut ghost_job = job.clone();
    ghost_job.run_id = "ghost".into();

    let mut calls = JoinSet::new();
    for n in 0..100i64 {
        let store = Arc::clone(&store);
        let ghost_job = ghost_job.clone();
        calls.spawn(async move {
            if n % 5 == 0 {
                let mut ghost = done(&ghost_job, T0 + n);
                ghost.emit_events = vec![event(&format!("ghost-evt-{n:03}"), "ghost", T0 + n)];
                match store.finish_attempt(ghost).await {
                    Err(StoreError::NotFound(_)) => {}
                    other => panic!("expected NotFound, got {other:?}"),
                }
            } else {
                let event_id = format!("evt-{n:03}");
                let outcome = store
                    .accept_events(
                        vec![event(&event_id, "load/test", T0 + n)],
                        vec![run(&format!("run-{n:03}"), "fn", &event_id, T0 + n)],
                    )
                    .await
                    .expect("accept_events");
                assert_eq!(outcome.created_runs.len(), 1);
            }
        });
    }
    while let Some(joined) = calls.join_next().await {
        joined.expect("task");
    }

    for n in 0..100i64 {
        let ghost = store
            .get_event(&format!("ghost-evt-{n:03}"))
            .await
            .expect("get_event");
        assert_eq!(ghost, None);
        if n % 5 != 0 {
            assert!(
                store
                    .get_run(&format!("run-{n:03}"))
                    .await
                    .expect("get_run")
                    .is_some(),
                "run-{n:03} lost"
            );
        }
    }
    assert_eq!(
        store.attempts_for_run("ghost").await.expect("attempts"),
        vec![]
    );
    // The real run's leased job was not touched by the failing calls.
    store
        .finish_attempt(done(&job, T0 + 1))
        .await
        .expect("finish_attempt");
    assert_eq!(
        store
            .attempts_for_run("run-real")
            .await
            .expect("attempts")
            .len(),
        1
    );
}

/// `load_run_state` is one consistent snapshot even while attempts of the run commit: it never sees a
/// memo without the request version saved in the same `finish_attempt`.
pub async fn load_run_state_is_a_consistent_snapshot(store: Arc<dyn Store>) {
    const ATTEMPTS: i64 = 150;
    start_run(&*store, "run-01", "fn", T0).await;
    let reader = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut reads = 0u64;
            loop {
                let state = store
                    .load_run_state("run-01")
                    .await
                    .expect("load_run_state");
                let memos = i64::try_from(state.steps.len()).expect("count");
                // Attempt n saves memo n together with request version n; a new run has -1 and none.
                let version = state.request_version.max(0);
                assert_eq!(memos, version, "torn read after {reads} reads");
                reads += 1;
                if version == ATTEMPTS {
                    return reads;
                }
            }
        })
    };
    for n in 1..=ATTEMPTS {
        let job = claim_one(&*store, T0).await;
        let mut next = done(&job, T0);
        next.memos = vec![super::support::memo(
            &format!("s{n:03}"),
            serde_json::json!({"data": n}),
        )];
        next.request_version = Some(n);
        next.enqueue = vec![super::support::new_job(
            &format!("job-d{n:03}"),
            "run-01",
            durin_core::JobKind::Discovery,
            T0,
        )];
        store.finish_attempt(next).await.expect("finish_attempt");
    }
    let reads = reader.await.expect("reader task");
    assert!(reads > 0);
}

/// The last parallel branches of a run finishing at the same moment each ask for the discovery, which
/// waits while a branch is outstanding: exactly one discovery follows, never none (the run would hang) and
/// never two. Several runs at once, so that the race has many chances to show.
pub async fn concurrent_last_branches_enqueue_exactly_one_discovery(store: Arc<dyn Store>) {
    const RUNS: usize = 12;
    const BRANCHES: usize = 3;
    for n in 0..RUNS {
        start_run(&*store, &format!("run-{n:02}"), "fn", T0).await;
    }
    for job in claim_all(&*store, T0).await {
        let mut planned = done(&job, T0 + 1);
        planned.enqueue = (0..BRANCHES)
            .map(|b| {
                let job_id = format!("{}-s{b}", job.run_id);
                new_job(&job_id, &job.run_id, step(&format!("s{b}")), T0 + 1)
            })
            .collect();
        store.finish_attempt(planned).await.expect("finish_attempt");
    }
    let branches = claim_all(&*store, T0 + 1).await;
    assert_eq!(branches.len(), RUNS * BRANCHES);

    let mut finishes = JoinSet::new();
    for job in branches {
        let store = Arc::clone(&store);
        finishes.spawn(async move {
            let step_id = job.kind.step().expect("a step job").0.to_owned();
            let mut ended = done(&job, T0 + 2);
            ended.memos = vec![memo(&step_id, json!({"data": step_id}))];
            let discovery = format!("{}-d-{step_id}", job.run_id);
            ended.enqueue = vec![new_job(&discovery, &job.run_id, JobKind::Discovery, T0 + 2)];
            store.finish_attempt(ended).await
        });
    }
    while let Some(joined) = finishes.join_next().await {
        joined.expect("task").expect("finish_attempt");
    }

    for n in 0..RUNS {
        let run_id = format!("run-{n:02}");
        assert_eq!(
            pending(&*store, &run_id).await,
            vec![(JobKind::Discovery, 0, T0 + 2, false)],
            "{run_id}"
        );
        let steps = store.steps_for_run(&run_id).await.expect("steps_for_run");
        assert_eq!(steps.len(), BRANCHES, "{run_id}");
    }
}

/// The same run accepted by many calls at once (a request re-sent, or delivered to several instances,
/// each naming the run its own way): the event is stored once, and exactly one call creates the run.
pub async fn concurrent_accepts_of_one_run_create_it_once(store: Arc<dyn Store>) {
    const CALLS: usize = 16;
    let mut calls = JoinSet::new();
    for n in 0..CALLS {
        let store = Arc::clone(&store);
        calls.spawn(async move {
            let mut new = run(&format!("run-{n:02}"), "fn", "evt-01", T0);
            new.idempotency_key = "evt-01".to_owned();
            store
                .accept_events(vec![event("evt-01", "test/e", T0)], vec![new])
                .await
        });
    }
    let mut created = Vec::new();
    while let Some(joined) = calls.join_next().await {
        created.extend(joined.expect("task").expect("accept_events").created_runs);
    }
    assert_eq!(created.len(), 1, "{created:?}");
    let runs = store
        .runs_for_event("evt-01")
        .await
        .expect("runs_for_event");
    assert_eq!(
        runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(),
        created
    );
    assert_eq!(pending(&*store, &created[0]).await.len(), 1);
    let events = store
        .list_events(EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .expect("list_events");
    assert_eq!(events.len(), 1);
}

fn wait_pause(run_id: &str, expires_at: i64) -> NewPause {
    NewPause {
        pause_id: format!("{run_id}-pause"),
        run_id: run_id.to_owned(),
        step_id: "wait".to_owned(),
        step_name: "wait (name)".to_owned(),
        kind: PauseKind::WaitForEvent,
        event_name: "test/approved".to_owned(),
        expression: None,
        timeout_memo: json!({"timed_out": true}),
        policy: RetryPolicy::with_retries(2),
        expires_at,
    }
}

/// A pause's event and its timeout ending it at the same moment: the pause ends once, with one of the two
/// memos, and one discovery resumes the run.
pub async fn an_event_and_the_timeout_end_a_pause_once(store: Arc<dyn Store>) {
    const RUNS: usize = 10;
    for n in 0..RUNS {
        let run_id = format!("run-{n:02}");
        start_run(&*store, &run_id, "fn", T0).await;
    }
    for job in claim_all(&*store, T0).await {
        let mut waiting = done(&job, T0 + 1);
        waiting.pauses = vec![wait_pause(&job.run_id, T0 + 100)];
        store.finish_attempt(waiting).await.expect("finish_attempt");
    }
    let timeouts = claim_all(&*store, T0 + 100).await;
    assert_eq!(timeouts.len(), RUNS);

    let mut calls = JoinSet::new();
    for timeout in timeouts {
        let run_id = timeout.run_id.clone();
        let by_event = PauseResolution {
            pause_id: format!("{run_id}-pause"),
            memo: Some(json!({"data": {"approved": true}})),
            discovery: new_job(
                &format!("{run_id}-d-event"),
                &run_id,
                JobKind::Discovery,
                T0 + 101,
            ),
        };
        let by_timeout = PauseResolution {
            memo: None,
            discovery: new_job(
                &format!("{run_id}-d-timeout"),
                &run_id,
                JobKind::Discovery,
                T0 + 101,
            ),
            ..by_event.clone()
        };
        let store_a = Arc::clone(&store);
        calls.spawn(async move {
            let approved = event(&format!("{run_id}-approved"), "test/approved", T0 + 101);
            store_a
                .accept_events_resolving(vec![approved], vec![], vec![by_event])
                .await
                .map(|_| ())
        });
        let store_b = Arc::clone(&store);
        calls.spawn(async move {
            let mut timed_out = done(&timeout, T0 + 101);
            timed_out.resolve_pauses = vec![by_timeout];
            store_b.finish_attempt(timed_out).await
        });
    }
    while let Some(joined) = calls.join_next().await {
        joined.expect("task").expect("store call");
    }

    for n in 0..RUNS {
        let run_id = format!("run-{n:02}");
        let steps = store.steps_for_run(&run_id).await.expect("steps_for_run");
        assert_eq!(steps.len(), 1, "{run_id}: {steps:?}");
        assert!(
            [
                json!({"data": {"approved": true}}),
                json!({"timed_out": true})
            ]
            .contains(&steps[0].memo),
            "{run_id}: {steps:?}"
        );
        assert_eq!(
            pending(&*store, &run_id).await,
            vec![(JobKind::Discovery, 0, T0 + 101, false)],
            "{run_id}"
        );
    }
    let left = store
        .pending_pauses(&["test/approved".to_owned()])
        .await
        .expect("pending_pauses");
    assert_eq!(left, vec![]);
}

/// A run cancelled while its last attempt completes it: one of the two wins whole. Either the run
/// completed (the cancel leaves it as it is) or it was cancelled (the finish only records its attempt);
/// no job is left either way.
pub async fn a_cancel_racing_the_last_attempt_wins_whole_or_not_at_all(store: Arc<dyn Store>) {
    const RUNS: usize = 10;
    for n in 0..RUNS {
        start_run(&*store, &format!("run-{n:02}"), "fn", T0).await;
    }
    let jobs = claim_all(&*store, T0).await;
    assert_eq!(jobs.len(), RUNS);

    let mut finishes = JoinSet::new();
    let mut cancels = JoinSet::new();
    for job in jobs {
        let run_id = job.run_id.clone();
        let store_a = Arc::clone(&store);
        finishes.spawn(async move {
            let mut last = done(&job, T0 + 1);
            last.finish_run = Some(RunFinal {
                status: RunStatus::Completed,
                output: Some(json!("finished")),
                ended_at: T0 + 1,
            });
            store_a.finish_attempt(last).await
        });
        let store_b = Arc::clone(&store);
        cancels.spawn(async move {
            let cancelled = format!("{run_id}-cancelled");
            store_b
                .cancel_run(
                    &run_id,
                    T0 + 2,
                    vec![event(&cancelled, "inngest/function.cancelled", T0 + 2)],
                    vec![],
                )
                .await
        });
    }
    while let Some(joined) = finishes.join_next().await {
        joined.expect("task").expect("finish_attempt");
    }
    let mut returned = Vec::new();
    while let Some(joined) = cancels.join_next().await {
        returned.push(
            joined
                .expect("task")
                .expect("cancel_run")
                .expect("the run exists"),
        );
    }

    for after_cancel in returned {
        let run_id = after_cancel.run_id.clone();
        let run = store.get_run(&run_id).await.expect("get_run").expect("run");
        assert_eq!(run, after_cancel, "the cancel saw the run as it stayed");
        let cancel_event = store
            .get_event(&format!("{run_id}-cancelled"))
            .await
            .expect("get_event");
        match run.status {
            RunStatus::Completed => {
                assert_eq!(
                    (run.output, run.ended_at),
                    (Some(json!("finished")), Some(T0 + 1))
                );
                assert_eq!(
                    cancel_event, None,
                    "a cancel that did nothing emits nothing"
                );
            }
            RunStatus::Cancelled => {
                assert_eq!((run.output, run.ended_at), (None, Some(T0 + 2)));
                assert!(cancel_event.is_some());
            }
            other => panic!("{run_id} ended {other:?}"),
        }
        assert_eq!(store.jobs_for_run(&run_id).await.expect("jobs"), vec![]);
        assert_eq!(
            store
                .attempts_for_run(&run_id)
                .await
                .expect("attempts")
                .len(),
            1
        );
    }
}
