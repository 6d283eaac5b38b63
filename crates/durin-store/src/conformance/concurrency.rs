//! Many calls at once: each is its own transaction, all succeed, a failing one does not undo the others.

use std::sync::Arc;

use tokio::task::JoinSet;

use super::support::{T0, claim_all, claim_one, done, event, run, start_run};
use crate::{EventQuery, Store, StoreError};

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
