//! Several Durin instances on one database: each a `PostgresStore` with its own pool and instance id.
//! Needs a server: `eval "$(scripts/postgres)"` exports `DURIN_TEST_DATABASE_URL`.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use durin_core::RetryPolicy;
use durin_store::{NewEvent, NewRun, Store, StoreError};
use durin_store_postgres::PostgresStore;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use support::TestDatabase;
use tokio::task::JoinSet;

const T0: i64 = 1_700_000_000_000;
const LEASE_MS: i64 = 60_000;

async fn start_runs(store: &dyn Store, count: usize) {
    let events = (0..count)
        .map(|n| NewEvent {
            internal_id: format!("evt-{n:03}"),
            name: "test/started".to_owned(),
            payload: json!({"name": "test/started", "data": {"n": n}}),
            received_at: T0,
        })
        .collect();
    let runs = (0..count)
        .map(|n| NewRun {
            run_id: format!("run-{n:03}"),
            function_id: "fn".to_owned(),
            event_internal_id: format!("evt-{n:03}"),
            idempotency_key: format!("key-{n:03}"),
            started_at: T0,
            policy: RetryPolicy::with_retries(1),
        })
        .collect();
    let created = store
        .accept_events(events, runs)
        .await
        .expect("accept_events");
    assert_eq!(created.created_runs.len(), count);
}

/// Instances claiming from one queue at once never lease a job twice, and together drain it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_claiming_at_once_never_share_a_job() {
    const JOBS: usize = 120;
    let database = TestDatabase::create().await;
    let instances = [
        Arc::new(database.instance("node-a").await),
        Arc::new(database.instance("node-b").await),
        Arc::new(database.instance("node-c").await),
    ];
    start_runs(&*instances[0], JOBS).await;

    let mut claims = JoinSet::new();
    for instance in &instances {
        for _ in 0..3 {
            let instance = Arc::clone(instance);
            claims.spawn(async move {
                let mut claimed = Vec::new();
                loop {
                    let jobs = instance
                        .claim_due_jobs(T0, 7, LEASE_MS)
                        .await
                        .expect("claim_due_jobs");
                    if jobs.is_empty() {
                        return claimed;
                    }
                    claimed.extend(jobs.into_iter().map(|job| job.job_id));
                }
            });
        }
    }
    let mut all = Vec::new();
    while let Some(joined) = claims.join_next().await {
        all.extend(joined.expect("claim task"));
    }
    let distinct: BTreeSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a job was leased twice");
    assert_eq!(all.len(), JOBS);
}

/// `expire_all_leases` at an instance's start expires its own leases only: another instance's attempts
/// may still be in flight. An instance restarted under the same id gets its jobs back as interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_all_leases_expires_only_the_instances_own_leases() {
    let database = TestDatabase::create().await;
    let node_a = database.instance("node-a").await;
    let node_b = database.instance("node-b").await;
    start_runs(&node_a, 3).await;
    let by_a = node_a.claim_due_jobs(T0, 1, LEASE_MS).await.expect("claim");
    let by_b = node_b.claim_due_jobs(T0, 1, LEASE_MS).await.expect("claim");
    assert_eq!((by_a.len(), by_b.len()), (1, 1));
    drop(node_a);

    let node_a_again = database.instance("node-a").await;
    assert_eq!(node_a_again.instance_id(), "node-a");
    assert_eq!(node_a_again.expire_all_leases().await.expect("expire"), 1);

    let mut claimed = node_a_again
        .claim_due_jobs(T0, 10, LEASE_MS)
        .await
        .expect("claim");
    claimed.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    let seen: Vec<_> = claimed
        .iter()
        .map(|job| (job.job_id.clone(), job.interrupted))
        .collect();
    let never_claimed = ["run-000-0", "run-001-0", "run-002-0"]
        .into_iter()
        .find(|id| *id != by_a[0].job_id && *id != by_b[0].job_id)
        .expect("a third job");
    let mut expected = vec![
        (by_a[0].job_id.clone(), true),
        (never_claimed.to_owned(), false),
    ];
    expected.sort();
    assert_eq!(seen, expected, "node-b's lease is untouched");
    assert_eq!(node_b.expire_all_leases().await.expect("expire"), 1);
}

/// Instances starting together on an empty database migrate it once, one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_once() {
    let database = TestDatabase::create().await;
    let mut starts = JoinSet::new();
    for n in 0..6 {
        let url = database.url().to_owned();
        starts.spawn(async move {
            let mut options = durin_store_postgres::PostgresOptions::new(url);
            options.instance_id = format!("node-{n}");
            PostgresStore::connect_with(options).await
        });
    }
    while let Some(joined) = starts.join_next().await {
        joined.expect("task").expect("connect");
    }
    let mut connection = PgConnection::connect(database.url())
        .await
        .expect("connect");
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM durin_schema_migrations ORDER BY version")
            .fetch_all(&mut connection)
            .await
            .expect("versions");
    assert_eq!(versions, vec![1, 2, 3, 4]);
    connection.close().await.ok();
}

/// A database migrated by a newer Durin is refused rather than misread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_the_build_is_refused() {
    let database = TestDatabase::create().await;
    database.instance("node-a").await;
    let mut connection = PgConnection::connect(database.url())
        .await
        .expect("connect");
    sqlx::query("INSERT INTO durin_schema_migrations (version, applied_at) VALUES (99, 0)")
        .execute(&mut connection)
        .await
        .expect("insert");
    connection.close().await.ok();
    match PostgresStore::connect(database.url()).await {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("99"), "{message}"),
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("expected Corrupt, got a store"),
    }
}

/// A server that cannot be reached is `Unavailable`, not a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let mut options =
        durin_store_postgres::PostgresOptions::new("postgres://durin@127.0.0.1:1/durin");
    options.max_connections = 1;
    options.acquire_timeout = std::time::Duration::from_secs(1);
    match PostgresStore::connect_with(options).await {
        Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("expected Unavailable, got a store"),
    }
}

/// A job another instance enqueues, due now, wakes this instance's `wait_for_jobs`; one due in an hour
/// does not (every scheduler looks at the store at least once a second, and finds it in time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_by_another_instance_wakes_a_waiting_scheduler() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let database = TestDatabase::create().await;
    let node_a = Arc::new(database.instance("node-a").await);
    let node_b = database.instance("node-b").await;
    let wait = |store: &Arc<PostgresStore>, within: Duration| {
        let store = Arc::clone(store);
        async move {
            tokio::time::timeout(within, store.wait_for_jobs())
                .await
                .is_ok()
        }
    };
    // The first wait starts the listener, which wakes it once it listens (what came before is unknown).
    assert!(
        wait(&node_a, Duration::from_secs(10)).await,
        "the listener never started"
    );

    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let run = |n: usize, started_at: i64| {
        let event = NewEvent {
            internal_id: format!("evt-{n}"),
            name: "test/started".to_owned(),
            payload: json!({"name": "test/started", "data": {}}),
            received_at: started_at,
        };
        let run = NewRun {
            run_id: format!("run-{n}"),
            function_id: "fn".to_owned(),
            event_internal_id: format!("evt-{n}"),
            idempotency_key: format!("key-{n}"),
            started_at,
            policy: RetryPolicy::with_retries(1),
        };
        (vec![event], vec![run])
    };

    let (events, runs) = run(1, now + 3_600_000);
    let waiting = tokio::spawn(wait(&node_a, Duration::from_millis(700)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    node_b.accept_events(events, runs).await.expect("accept");
    assert!(
        !waiting.await.expect("task"),
        "a job due in an hour woke the other instance"
    );

    let (events, runs) = run(2, now);
    let waiting = tokio::spawn(wait(&node_a, Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let enqueued = std::time::Instant::now();
    node_b.accept_events(events, runs).await.expect("accept");
    assert!(
        waiting.await.expect("task"),
        "a job due now did not wake the other instance"
    );
    eprintln!("woken {:?} after the enqueue", enqueued.elapsed());
}

/// Node A is listening and quiet (its first `wait_for_functions` returns once it listens, a second one
/// finds nothing changed); then A waits while `change` runs through node B. Answers whether A was woken
/// within 5 s, and node A.
async fn functions_wake_up<F, Fut>(database: &TestDatabase, change: F) -> (bool, Arc<PostgresStore>)
where
    F: FnOnce(PostgresStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use std::time::Duration;
    let node_a = Arc::new(database.instance("node-a").await);
    let node_b = database.instance("node-b").await;
    let wait = |within: Duration| {
        let store = Arc::clone(&node_a);
        async move {
            tokio::time::timeout(within, store.wait_for_functions())
                .await
                .is_ok()
        }
    };
    assert!(
        wait(Duration::from_secs(10)).await,
        "the listener never started"
    );
    assert!(
        !wait(Duration::from_millis(300)).await,
        "woken with nothing changed"
    );
    let waiting = tokio::spawn(wait(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    change(node_b).await;
    (waiting.await.expect("task"), node_a)
}

/// An app synced through another instance wakes this instance's `wait_for_functions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_synced_through_another_instance_wakes_a_waiting_engine() {
    let database = TestDatabase::create().await;
    let (woken, _) = functions_wake_up(&database, |node_b| async move {
        node_b
            .save_app_sync(durin_store::AppSync {
                name: "app".to_owned(),
                url: "http://127.0.0.1:3000/api/inngest".to_owned(),
                sdk: None,
                framework: None,
                functions: Vec::new(),
                synced_at: T0,
            })
            .await
            .expect("save_app_sync");
    })
    .await;
    assert!(
        woken,
        "a sync through another instance did not wake this one"
    );
}

/// A retry policy document saved through another instance wakes this instance's `wait_for_functions`, so
/// that it reloads the document at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_document_saved_through_another_instance_wakes_a_waiting_engine() {
    let database = TestDatabase::create().await;
    let document = json!({"policies": [{"function": "f", "retries": 1}]});
    let saved = document.clone();
    let (woken, node_a) = functions_wake_up(&database, |node_b| async move {
        node_b
            .save_retry_policies(saved, T0)
            .await
            .expect("save_retry_policies");
    })
    .await;
    assert!(
        woken,
        "a policy document saved through another instance did not wake this one"
    );
    assert_eq!(
        node_a.retry_policies().await.expect("retry_policies"),
        Some((document, T0))
    );
}

/// A job paused (out of retries under a policy that pauses) is never due, so it wakes no other instance;
/// resuming its run makes it due now, which does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_job_wakes_no_one_until_its_run_is_resumed() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let database = TestDatabase::create().await;
    let node_a = Arc::new(database.instance("node-a").await);
    let node_b = database.instance("node-b").await;
    let wait = |within: Duration| {
        let store = Arc::clone(&node_a);
        async move {
            tokio::time::timeout(within, store.wait_for_jobs())
                .await
                .is_ok()
        }
    };
    assert!(
        wait(Duration::from_secs(10)).await,
        "the listener never started"
    );
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");

    let waiting = tokio::spawn(wait(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    node_b
        .accept_events(
            vec![NewEvent {
                internal_id: "evt-1".to_owned(),
                name: "test/started".to_owned(),
                payload: json!({"name": "test/started", "data": {}}),
                received_at: now,
            }],
            vec![NewRun {
                run_id: "run-1".to_owned(),
                function_id: "fn".to_owned(),
                event_internal_id: "evt-1".to_owned(),
                idempotency_key: "key-1".to_owned(),
                started_at: now,
                policy: RetryPolicy::with_retries(0),
            }],
        )
        .await
        .expect("accept");
    assert!(waiting.await.expect("task"), "the new job woke no one");

    let waiting = tokio::spawn(wait(Duration::from_millis(700)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = node_b
        .claim_due_jobs(now, 10, LEASE_MS)
        .await
        .expect("claim")
        .pop()
        .expect("the job");
    let mut paused = durin_store::AttemptFinish::new(
        durin_store::AttemptRecord {
            run_id: job.run_id.clone(),
            job_id: job.job_id.clone(),
            kind: job.kind.clone(),
            step_id: None,
            step_name: None,
            attempt: job.attempt,
            started_at: now,
            ended_at: now + 1,
            outcome: durin_core::AttemptOutcome::Error,
            error: Some(json!({"name": "Error", "message": "boom"})),
            next_attempt_at: None,
            explanation: Some(json!({"exhausted": true, "then": "pause"})),
        },
        durin_store::JobUpdate::Pause,
    );
    paused.lease = Some(job.leased_until);
    node_b.finish_attempt(paused).await.expect("pause");
    assert!(
        !waiting.await.expect("task"),
        "a paused job woke the other instance"
    );
    assert_eq!(node_a.next_wake_at().await.expect("next_wake_at"), None);

    let waiting = tokio::spawn(wait(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let resumed = node_b
        .resume_run("run-1", now + 2)
        .await
        .expect("resume_run")
        .expect("the run");
    assert_eq!(resumed.status, durin_core::RunStatus::Running);
    assert!(
        waiting.await.expect("task"),
        "resuming the run did not wake the other instance"
    );
    assert_eq!(
        node_a
            .claim_due_jobs(now + 2, 10, LEASE_MS)
            .await
            .expect("claim")
            .len(),
        1
    );
}
