//! Intake: `accept_events`, and the state a new run is loaded with (`load_run_state`).

use std::sync::Arc;

use durin_core::{JobKind, RunStatus};

use super::support::{
    LEASE_MS, T0, app_sync, claim_all, event, function, pending, run, sorted, start_run,
};
use serde_json::json;

use crate::{ClaimedJob, EventQuery, EventRecord, NewRun, RunRecord, Store, StoreError};

fn record(run: &NewRun) -> RunRecord {
    RunRecord {
        run_id: run.run_id.clone(),
        function_id: run.function_id.clone(),
        event_internal_id: run.event_internal_id.clone(),
        status: RunStatus::Running,
        started_at: run.started_at,
        ended_at: None,
        output: None,
        original_run_id: None,
    }
}

/// Accepted events are stored as given, payload intact.
pub async fn accept_events_stores_events(store: Arc<dyn Store>) {
    let events = vec![
        event("evt-01", "shop/order.placed", T0),
        event("evt-02", "shop/order.paid", T0 + 1),
    ];
    let outcome = store
        .accept_events(events.clone(), vec![])
        .await
        .expect("accept_events");
    assert_eq!(outcome.created_runs, Vec::<String>::new());

    for new in events {
        let stored = store.get_event(&new.internal_id).await.expect("get_event");
        assert_eq!(
            stored,
            Some(EventRecord {
                internal_id: new.internal_id,
                name: new.name,
                payload: new.payload,
                received_at: new.received_at,
            })
        );
    }
}

/// An event whose internal id is already stored is kept as it was (a re-sent request), and the call still
/// creates its new runs.
pub async fn accept_events_keeps_an_event_already_stored(store: Arc<dyn Store>) {
    let original = event("evt-01", "test/e", T0);
    store
        .accept_events(
            vec![original.clone()],
            vec![run("run-01", "fn-a", "evt-01", T0)],
        )
        .await
        .expect("first accept");
    let mut resent = event("evt-01", "test/changed", T0 + 5);
    resent.payload = json!({"changed": true});
    let outcome = store
        .accept_events(
            vec![resent],
            vec![
                run("run-01", "fn-a", "evt-01", T0 + 5),
                run("run-02", "fn-b", "evt-01", T0 + 5),
            ],
        )
        .await
        .expect("second accept");
    assert_eq!(outcome.created_runs, vec!["run-02".to_owned()]);
    assert_eq!(
        store.get_event("evt-01").await.expect("get_event"),
        Some(EventRecord {
            internal_id: original.internal_id,
            name: original.name,
            payload: original.payload,
            received_at: original.received_at,
        })
    );
    let listed = store
        .list_events(EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .expect("list_events");
    assert_eq!(listed.len(), 1);
}

/// Each run created is `Running` with one discovery job, attempt 0, due at its start, not leased; it is
/// claimable from its start on, with its function and policy.
pub async fn accept_events_creates_runs_with_a_first_discovery_job(store: Arc<dyn Store>) {
    let runs = vec![
        run("run-01", "shop-charge", "evt-01", T0),
        run("run-02", "shop-notify", "evt-01", T0 + 5),
    ];
    let outcome = store
        .accept_events(vec![event("evt-01", "shop/order.placed", T0)], runs.clone())
        .await
        .expect("accept_events");
    assert_eq!(
        sorted(outcome.created_runs),
        vec!["run-01".to_owned(), "run-02".to_owned()]
    );

    for new in &runs {
        assert_eq!(
            store.get_run(&new.run_id).await.expect("get_run"),
            Some(record(new))
        );
        assert_eq!(
            pending(&*store, &new.run_id).await,
            vec![(JobKind::Discovery, 0, new.started_at, false)]
        );
    }

    assert_eq!(claim_all(&*store, T0 - 1).await, vec![]);
    let mut claimed = claim_all(&*store, T0 + 5).await;
    claimed.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let mut expected = Vec::new();
    for new in &runs {
        let jobs = store.jobs_for_run(&new.run_id).await.expect("jobs_for_run");
        assert_eq!(jobs.len(), 1);
        expected.push(ClaimedJob {
            job_id: jobs[0].job_id.clone(),
            run_id: new.run_id.clone(),
            function_id: new.function_id.clone(),
            kind: JobKind::Discovery,
            attempt: 0,
            policy: new.policy.clone(),
            retry_state: durin_core::RetryState::default(),
            due_at: new.started_at,
            interrupted: false,
            leased_until: T0 + 5 + LEASE_MS,
        });
    }
    assert_eq!(claimed, expected);
}

/// A run whose `(function_id, idempotency_key)` exists already, in the store or earlier in the same call,
/// is skipped: not created, not reported, no job. The same key for another function is no duplicate. The
/// events are stored all the same.
pub async fn accept_events_skips_duplicate_idempotency_keys(store: Arc<dyn Store>) {
    let mut first = run("run-01", "fn-a", "evt-01", T0);
    first.idempotency_key = "k1".into();
    store
        .accept_events(vec![event("evt-01", "test/e", T0)], vec![first.clone()])
        .await
        .expect("first accept");

    let with_key = |run_id: &str, function_id: &str, key: &str| {
        let mut new = run(run_id, function_id, "evt-02", T0 + 10);
        new.idempotency_key = key.to_owned();
        new
    };
    let outcome = store
        .accept_events(
            vec![event("evt-02", "test/e", T0 + 10)],
            vec![
                with_key("run-02", "fn-a", "k1"), // duplicate of run-01
                with_key("run-03", "fn-b", "k1"), // same key, other function
                with_key("run-04", "fn-a", "k2"),
                with_key("run-05", "fn-a", "k2"), // duplicate within the call
            ],
        )
        .await
        .expect("second accept");
    assert_eq!(
        sorted(outcome.created_runs),
        vec!["run-03".to_owned(), "run-04".to_owned()]
    );

    assert_eq!(store.get_run("run-02").await.expect("get_run"), None);
    assert_eq!(store.get_run("run-05").await.expect("get_run"), None);
    assert_eq!(store.jobs_for_run("run-02").await.expect("jobs"), vec![]);
    assert_eq!(store.jobs_for_run("run-05").await.expect("jobs"), vec![]);
    assert!(
        store
            .get_event("evt-02")
            .await
            .expect("get_event")
            .is_some()
    );
    assert_eq!(
        store.get_run("run-01").await.expect("get_run"),
        Some(record(&first))
    );
    let for_event: Vec<_> = store
        .runs_for_event("evt-02")
        .await
        .expect("runs_for_event")
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(
        sorted(for_event),
        vec!["run-03".to_owned(), "run-04".to_owned()]
    );
    let claimed: Vec<_> = claim_all(&*store, T0 + 10)
        .await
        .into_iter()
        .map(|job| job.run_id)
        .collect();
    assert_eq!(
        sorted(claimed),
        vec![
            "run-01".to_owned(),
            "run-03".to_owned(),
            "run-04".to_owned()
        ]
    );
}

/// Accepting the same run again (same key) is a no-op reported as not created.
pub async fn accept_events_twice_with_the_same_run_creates_it_once(store: Arc<dyn Store>) {
    let new = run("run-01", "fn-a", "evt-01", T0);
    store
        .accept_events(vec![event("evt-01", "test/e", T0)], vec![new.clone()])
        .await
        .expect("first accept");
    let again = store
        .accept_events(vec![event("evt-02", "test/e", T0 + 1)], vec![new.clone()])
        .await
        .expect("second accept");
    assert_eq!(again.created_runs, Vec::<String>::new());
    assert_eq!(
        store.get_run("run-01").await.expect("get_run"),
        Some(record(&new))
    );
    assert_eq!(pending(&*store, "run-01").await.len(), 1);
}

/// The state of a new run: its record, its function's config, its event (also as the one-element
/// `events`), no steps, request version -1 (unknown) and immediate execution allowed.
pub async fn load_run_state_of_a_new_run(store: Arc<dyn Store>) {
    let charge = function("shop", "charge");
    store
        .save_app_sync(app_sync("shop", vec![charge.clone()], T0))
        .await
        .expect("sync");
    let new = start_run(&*store, "run-01", &charge.id, T0 + 1).await;

    let state = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    let payload = event("run-01-event", "test/started", T0 + 1).payload;
    assert_eq!(state.run, record(&new));
    assert_eq!(state.function, Some(charge));
    assert_eq!(state.event, payload);
    assert_eq!(state.events, vec![payload]);
    assert_eq!(state.steps, vec![]);
    assert_eq!(state.request_version, -1);
    assert!(!state.disable_immediate_execution);
}

/// A run of a function the store does not know loads with no function.
pub async fn load_run_state_of_a_run_of_an_unknown_function(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "ghost-fn", T0).await;
    let state = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    assert_eq!(state.function, None);
    assert_eq!(state.run.function_id, "ghost-fn");
}

/// Loading a run that does not exist is `NotFound`.
pub async fn load_run_state_of_an_unknown_run_is_not_found(store: Arc<dyn Store>) {
    match store.load_run_state("no-such-run").await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}
