//! Reads for the API: `get_event`, `list_events`, `runs_for_event`, `get_run`, `list_runs`,
//! `attempts_for_run`, `jobs_for_run`.

use std::sync::Arc;

use durin_core::{RunStatus, UnixMillis};
use serde_json::json;

use super::support::{T0, claim_all, done, event, run, sorted, start_run};
use crate::{EventQuery, EventRecord, RunFinal, RunQuery, RunRecord, Store};

async fn event_ids(store: &dyn Store, query: EventQuery) -> Vec<String> {
    store
        .list_events(query)
        .await
        .expect("list_events")
        .into_iter()
        .map(|event| event.internal_id)
        .collect()
}

async fn run_ids(store: &dyn Store, query: RunQuery) -> Vec<String> {
    store
        .list_runs(query)
        .await
        .expect("list_runs")
        .into_iter()
        .map(|run| run.run_id)
        .collect()
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// Five events `evt-01`..`evt-05`, received at T0+1..T0+5, named alternately `a/x` and `a/y`.
async fn five_events(store: &dyn Store) {
    let events = (1..=5)
        .map(|n: UnixMillis| {
            let name = if n % 2 == 1 { "a/x" } else { "a/y" };
            event(&format!("evt-{n:02}"), name, T0 + n)
        })
        .collect();
    store
        .accept_events(events, vec![])
        .await
        .expect("accept_events");
}

/// Unknown ids read as nothing, not as errors.
pub async fn reads_of_unknown_ids_are_empty(store: Arc<dyn Store>) {
    assert_eq!(store.get_event("nope").await.expect("get_event"), None);
    assert_eq!(store.get_run("nope").await.expect("get_run"), None);
    assert_eq!(
        store.runs_for_event("nope").await.expect("runs_for_event"),
        vec![]
    );
    assert_eq!(
        store.attempts_for_run("nope").await.expect("attempts"),
        vec![]
    );
    assert_eq!(store.jobs_for_run("nope").await.expect("jobs"), vec![]);
    assert_eq!(
        store
            .list_events(EventQuery {
                limit: 10,
                ..EventQuery::default()
            })
            .await
            .expect("list_events"),
        vec![]
    );
    assert_eq!(
        store
            .list_runs(RunQuery {
                limit: 10,
                ..RunQuery::default()
            })
            .await
            .expect("list_runs"),
        vec![]
    );
}

/// `list_events` returns full records, newest first, at most `limit`.
pub async fn list_events_newest_first_with_limit(store: Arc<dyn Store>) {
    five_events(&*store).await;
    let all = store
        .list_events(EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .expect("list_events");
    let expected: Vec<EventRecord> = (1..=5)
        .rev()
        .map(|n: UnixMillis| {
            let name = if n % 2 == 1 { "a/x" } else { "a/y" };
            let new = event(&format!("evt-{n:02}"), name, T0 + n);
            EventRecord {
                internal_id: new.internal_id,
                name: new.name,
                payload: new.payload,
                received_at: new.received_at,
            }
        })
        .collect();
    assert_eq!(all, expected);

    let two = event_ids(
        &*store,
        EventQuery {
            limit: 2,
            ..EventQuery::default()
        },
    )
    .await;
    assert_eq!(two, ids(&["evt-05", "evt-04"]));
}

/// The cursor is the last internal id of the previous page (exclusive): pages follow on, newest first,
/// until an empty page.
pub async fn list_events_pages_with_a_cursor(store: Arc<dyn Store>) {
    five_events(&*store).await;
    let page = |cursor: Option<&str>| EventQuery {
        cursor: cursor.map(str::to_owned),
        limit: 2,
        ..EventQuery::default()
    };
    assert_eq!(
        event_ids(&*store, page(None)).await,
        ids(&["evt-05", "evt-04"])
    );
    assert_eq!(
        event_ids(&*store, page(Some("evt-04"))).await,
        ids(&["evt-03", "evt-02"])
    );
    assert_eq!(
        event_ids(&*store, page(Some("evt-02"))).await,
        ids(&["evt-01"])
    );
    assert_eq!(
        event_ids(&*store, page(Some("evt-01"))).await,
        Vec::<String>::new()
    );
}

/// The name filter is an exact match, and combines with the cursor.
pub async fn list_events_filters_by_name(store: Arc<dyn Store>) {
    five_events(&*store).await;
    let by_name = |name: &str, cursor: Option<&str>| EventQuery {
        name: Some(name.to_owned()),
        cursor: cursor.map(str::to_owned),
        limit: 100,
        ..EventQuery::default()
    };
    assert_eq!(
        event_ids(&*store, by_name("a/x", None)).await,
        ids(&["evt-05", "evt-03", "evt-01"])
    );
    assert_eq!(
        event_ids(&*store, by_name("a/y", None)).await,
        ids(&["evt-04", "evt-02"])
    );
    assert_eq!(
        event_ids(&*store, by_name("a/x", Some("evt-05"))).await,
        ids(&["evt-03", "evt-01"])
    );
    assert_eq!(
        event_ids(&*store, by_name("a", None)).await,
        Vec::<String>::new()
    );
}

/// `received_after` and `received_before` are exclusive bounds, alone or together.
pub async fn list_events_filters_by_time(store: Arc<dyn Store>) {
    five_events(&*store).await;
    let between = |after: Option<UnixMillis>, before: Option<UnixMillis>| EventQuery {
        received_after: after,
        received_before: before,
        limit: 100,
        ..EventQuery::default()
    };
    assert_eq!(
        event_ids(&*store, between(Some(T0 + 2), None)).await,
        ids(&["evt-05", "evt-04", "evt-03"])
    );
    assert_eq!(
        event_ids(&*store, between(None, Some(T0 + 4))).await,
        ids(&["evt-03", "evt-02", "evt-01"])
    );
    assert_eq!(
        event_ids(&*store, between(Some(T0 + 1), Some(T0 + 5))).await,
        ids(&["evt-04", "evt-03", "evt-02"])
    );
    assert_eq!(
        event_ids(&*store, between(Some(T0 + 5), None)).await,
        Vec::<String>::new()
    );
}

/// `runs_for_event` lists exactly the runs the event started.
pub async fn runs_for_event_lists_the_runs_an_event_started(store: Arc<dyn Store>) {
    store
        .accept_events(
            vec![event("evt-01", "a/x", T0), event("evt-02", "a/x", T0 + 1)],
            vec![
                run("run-01", "fn-a", "evt-01", T0),
                run("run-02", "fn-b", "evt-01", T0),
                run("run-03", "fn-a", "evt-02", T0 + 1),
            ],
        )
        .await
        .expect("accept_events");
    let mut runs = store
        .runs_for_event("evt-01")
        .await
        .expect("runs_for_event");
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    assert_eq!(
        runs,
        vec![
            RunRecord {
                run_id: "run-01".into(),
                function_id: "fn-a".into(),
                event_internal_id: "evt-01".into(),
                status: RunStatus::Running,
                started_at: T0,
                ended_at: None,
                output: None,
                original_run_id: None,
            },
            RunRecord {
                run_id: "run-02".into(),
                function_id: "fn-b".into(),
                event_internal_id: "evt-01".into(),
                status: RunStatus::Running,
                started_at: T0,
                ended_at: None,
                output: None,
                original_run_id: None,
            },
        ]
    );
    let second: Vec<_> = store
        .runs_for_event("evt-02")
        .await
        .expect("runs_for_event")
        .into_iter()
        .map(|run| run.run_id)
        .collect();
    assert_eq!(second, ids(&["run-03"]));
}

/// `list_runs` is newest first, filtered by status, function and start time (`started_after` inclusive),
/// alone or together, and at most `limit`.
pub async fn list_runs_filters_and_limits(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn-a", T0 + 1).await;
    start_run(&*store, "run-02", "fn-b", T0 + 2).await;
    start_run(&*store, "run-03", "fn-a", T0 + 3).await;
    start_run(&*store, "run-04", "fn-a", T0 + 4).await;
    let job = claim_all(&*store, T0 + 4)
        .await
        .into_iter()
        .find(|job| job.run_id == "run-03")
        .expect("run-03's job");
    let mut last = done(&job, T0 + 10);
    last.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(json!({"ok": true})),
        ended_at: T0 + 10,
    });
    store.finish_attempt(last).await.expect("finish_attempt");

    let query =
        |status: Option<RunStatus>, function: Option<&str>, after: Option<UnixMillis>| RunQuery {
            status,
            function_id: function.map(str::to_owned),
            started_after: after,
            cursor: None,
            limit: 100,
        };
    assert_eq!(
        run_ids(&*store, query(None, None, None)).await,
        ids(&["run-04", "run-03", "run-02", "run-01"])
    );
    assert_eq!(
        run_ids(&*store, query(Some(RunStatus::Running), None, None)).await,
        ids(&["run-04", "run-02", "run-01"])
    );
    assert_eq!(
        store
            .list_runs(query(Some(RunStatus::Completed), None, None))
            .await
            .expect("list_runs"),
        vec![RunRecord {
            run_id: "run-03".into(),
            function_id: "fn-a".into(),
            event_internal_id: "run-03-event".into(),
            status: RunStatus::Completed,
            started_at: T0 + 3,
            ended_at: Some(T0 + 10),
            output: Some(json!({"ok": true})),
            original_run_id: None,
        }]
    );
    assert_eq!(
        run_ids(&*store, query(Some(RunStatus::Failed), None, None)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        run_ids(&*store, query(None, Some("fn-a"), None)).await,
        ids(&["run-04", "run-03", "run-01"])
    );
    assert_eq!(
        run_ids(&*store, query(Some(RunStatus::Running), Some("fn-a"), None)).await,
        ids(&["run-04", "run-01"])
    );
    assert_eq!(
        run_ids(&*store, query(None, None, Some(T0 + 3))).await,
        ids(&["run-04", "run-03"])
    );
    assert_eq!(
        run_ids(&*store, query(None, Some("fn-b"), Some(T0 + 3))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        run_ids(
            &*store,
            RunQuery {
                limit: 2,
                ..query(None, None, None)
            }
        )
        .await,
        ids(&["run-04", "run-03"])
    );
}

/// `jobs_for_run` lists the run's own pending jobs only.
pub async fn jobs_for_run_lists_only_the_runs_jobs(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 1).await;
    let one = store.jobs_for_run("run-01").await.expect("jobs_for_run");
    let two = store.jobs_for_run("run-02").await.expect("jobs_for_run");
    assert_eq!((one.len(), two.len()), (1, 1));
    assert_ne!(one[0].job_id, two[0].job_id);
    let claimed = sorted(
        claim_all(&*store, T0 + 1)
            .await
            .into_iter()
            .map(|job| (job.run_id, job.job_id))
            .collect(),
    );
    assert_eq!(
        claimed,
        vec![
            ("run-01".to_owned(), one[0].job_id.clone()),
            ("run-02".to_owned(), two[0].job_id.clone()),
        ]
    );
}
