//! SQLite-specific: what a store acknowledged is there after the store is dropped and the file reopened.

use durin_core::{AttemptOutcome, FunctionConfig, JobKind, RetryPolicy, RunStatus, Trigger};
use durin_store::{
    AppSync, AttemptFinish, AttemptRecord, EventQuery, JobUpdate, NewEvent, NewJob, NewRun,
    RunFinal, RunQuery, StepMemo, Store,
};
use durin_store_sqlite::SqliteStore;
use serde_json::json;

const T0: i64 = 1_700_000_000_000;

fn function(slug: &str) -> FunctionConfig {
    FunctionConfig {
        id: format!("shop-{slug}"),
        name: slug.to_owned(),
        app_name: "shop".to_owned(),
        url: "http://shop.test/api/inngest".to_owned(),
        triggers: vec![Trigger {
            event: format!("shop/{slug}"),
            expression: None,
        }],
        policy: RetryPolicy::with_retries(2),
    }
}

fn event(internal_id: &str, received_at: i64) -> NewEvent {
    NewEvent {
        internal_id: internal_id.to_owned(),
        name: "shop/charge".to_owned(),
        payload: json!({"name": "shop/charge", "data": {"id": internal_id}}),
        received_at,
    }
}

fn run(run_id: &str, event_id: &str, started_at: i64) -> NewRun {
    NewRun {
        run_id: run_id.to_owned(),
        function_id: "shop-charge".to_owned(),
        event_internal_id: event_id.to_owned(),
        idempotency_key: run_id.to_owned(),
        started_at,
        policy: RetryPolicy::with_retries(2),
    }
}

#[tokio::test]
async fn everything_written_is_there_after_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("durin.db");

    let store = SqliteStore::open(&path).expect("open");
    let sync = AppSync {
        name: "shop".into(),
        url: "http://shop.test/api/inngest".into(),
        sdk: Some("js:v3".into()),
        framework: None,
        functions: vec![function("charge"), function("refund")],
        synced_at: T0,
    };
    store.save_app_sync(sync.clone()).await.expect("sync");
    store
        .save_app_sync(AppSync {
            functions: vec![function("charge")],
            synced_at: T0 + 1,
            ..sync.clone()
        })
        .await
        .expect("second sync archives refund");
    store
        .save_app_error("http://gone.test", "unreachable", T0 + 2)
        .await
        .expect("save_app_error");
    store
        .accept_events(
            vec![event("evt-01", T0), event("evt-02", T0 + 1)],
            vec![run("run-01", "evt-01", T0), run("run-02", "evt-02", T0 + 1)],
        )
        .await
        .expect("accept_events");

    // run-01: one retried attempt, then a step memoized and a step job enqueued.
    let mut claimed = store
        .claim_due_jobs(T0 + 1, 10, 60_000)
        .await
        .expect("claim");
    claimed.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    assert_eq!(claimed.len(), 2);
    let job = &claimed[0];
    let record = |outcome, ended_at, next| AttemptRecord {
        run_id: "run-01".into(),
        job_id: job.job_id.clone(),
        kind: JobKind::Discovery,
        step_id: None,
        step_name: None,
        attempt: 0,
        started_at: T0 + 1,
        ended_at,
        outcome,
        error: None,
        next_attempt_at: next,
        explanation: None,
    };
    let first = record(AttemptOutcome::Error, T0 + 2, Some(T0 + 10));
    let finish = AttemptFinish::new;
    store
        .finish_attempt(finish(
            first.clone(),
            JobUpdate::Retry {
                attempt: 1,
                due_at: T0 + 10,
                state: durin_core::RetryState::default(),
                spends_run_retry: true,
            },
        ))
        .await
        .expect("retry");
    let second = AttemptRecord {
        attempt: 1,
        ..record(AttemptOutcome::Ok, T0 + 11, None)
    };
    let mut done = finish(second.clone(), JobUpdate::Remove);
    done.memos = vec![StepMemo {
        step_id: "s1".into(),
        name: "first".into(),
        memo: json!({"data": 42}),
    }];
    done.enqueue = vec![NewJob {
        job_id: "job-s2".into(),
        run_id: "run-01".into(),
        kind: JobKind::Step {
            step_id: "s2".into(),
            name: "second".into(),
        },
        policy: RetryPolicy::with_retries(2),
        due_at: T0 + 20,
    }];
    done.request_version = Some(1);
    store
        .claim_due_jobs(T0 + 10, 10, 60_000)
        .await
        .expect("claim the retry");
    store.finish_attempt(done).await.expect("finish");

    // run-02 ends.
    let mut end = finish(
        AttemptRecord {
            run_id: "run-02".into(),
            job_id: claimed[1].job_id.clone(),
            ..record(AttemptOutcome::Ok, T0 + 3, None)
        },
        JobUpdate::Remove,
    );
    end.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(json!("done")),
        ended_at: T0 + 3,
    });
    store.finish_attempt(end).await.expect("end run-02");

    let apps = store.list_apps().await.expect("apps");
    let functions = store.list_functions().await.expect("functions");
    let events = store
        .list_events(EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    let runs = store
        .list_runs(RunQuery {
            limit: 100,
            ..RunQuery::default()
        })
        .await
        .expect("runs");
    let state = store.load_run_state("run-01").await.expect("state");
    let attempts = store.attempts_for_run("run-01").await.expect("attempts");
    let jobs = store.jobs_for_run("run-01").await.expect("jobs");
    assert_eq!(attempts, vec![first, second]);
    assert_eq!(state.steps, vec![("s1".to_owned(), json!({"data": 42}))]);
    assert_eq!(functions, vec![function("charge")]);
    drop(store);

    let reopened = SqliteStore::open(&path).expect("reopen");
    assert_eq!(reopened.list_apps().await.expect("apps"), apps);
    assert_eq!(
        reopened.list_functions().await.expect("functions"),
        functions
    );
    assert_eq!(
        reopened
            .list_events(EventQuery {
                limit: 100,
                ..EventQuery::default()
            })
            .await
            .expect("events"),
        events
    );
    assert_eq!(
        reopened
            .list_runs(RunQuery {
                limit: 100,
                ..RunQuery::default()
            })
            .await
            .expect("runs"),
        runs
    );
    assert_eq!(
        reopened.load_run_state("run-01").await.expect("state"),
        state
    );
    assert_eq!(
        reopened.attempts_for_run("run-01").await.expect("attempts"),
        attempts
    );
    assert_eq!(reopened.jobs_for_run("run-01").await.expect("jobs"), jobs);
    assert_eq!(
        reopened.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 20)
    );
    let due = reopened
        .claim_due_jobs(T0 + 20, 10, 60_000)
        .await
        .expect("claim after reopening");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].job_id, "job-s2");
    assert!(!due[0].interrupted);
}

/// A job leased when the store was dropped is still leased after reopening, until `expire_all_leases`.
#[tokio::test]
async fn leases_survive_reopening_until_expired() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("durin.db");
    let store = SqliteStore::open(&path).expect("open");
    store
        .accept_events(vec![event("evt-01", T0)], vec![run("run-01", "evt-01", T0)])
        .await
        .expect("accept");
    let leased = store.claim_due_jobs(T0, 10, 60_000).await.expect("claim");
    assert_eq!(leased.len(), 1);
    drop(store);

    let reopened = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        reopened
            .claim_due_jobs(T0, 10, 60_000)
            .await
            .expect("claim"),
        vec![]
    );
    assert_eq!(reopened.expire_all_leases().await.expect("expire"), 1);
    let again = reopened
        .claim_due_jobs(T0, 10, 60_000)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].job_id, leased[0].job_id);
    assert!(again[0].interrupted);
}
