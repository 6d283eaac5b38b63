//! The SQLite store's hot paths on a temporary database (WAL, synchronous=FULL, as in production):
//! claiming a due job and finishing its attempt (one step memoized, the next discovery enqueued, as the
//! engine does after a step ran), one at a time and 64 at once (group commit), and accepting events.
//! Every write waits for its commit to be durable, so these figures include the fsync of this disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use durin_core::{AttemptOutcome, FunctionConfig, JobKind, RetryPolicy, Trigger};
use durin_store::{
    AppSync, AttemptFinish, AttemptRecord, ClaimedJob, JobUpdate, NewEvent, NewJob, NewRun,
    StepMemo, Store,
};
use durin_store_sqlite::SqliteStore;
use serde_json::json;
use tempfile::TempDir;
use tokio::runtime::Runtime;

const FUNCTION: &str = "bench-three";
/// Runs kept in the store; each always has exactly one due discovery job.
const RUNS: usize = 2_000;
/// Far enough in the future that every job is due, whatever the wall clock says.
const NOW: i64 = 4_000_000_000_000;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn next_id(prefix: &str) -> String {
    format!("{prefix}-{:012}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn function() -> FunctionConfig {
    FunctionConfig {
        id: FUNCTION.to_owned(),
        name: "three".to_owned(),
        app_name: "bench".to_owned(),
        url: "http://127.0.0.1:1/api/inngest".to_owned(),
        triggers: vec![Trigger {
            event: "bench/three".to_owned(),
            expression: None,
        }],
        policy: RetryPolicy::default(),
    }
}

fn events_and_runs(count: usize, at: i64) -> (Vec<NewEvent>, Vec<NewRun>) {
    (0..count)
        .map(|_| {
            let event_id = next_id("evt");
            let run_id = next_id("run");
            (
                NewEvent {
                    internal_id: event_id.clone(),
                    name: "bench/three".to_owned(),
                    payload: json!({"name": "bench/three", "data": {"id": event_id}, "id": event_id}),
                    received_at: at,
                },
                NewRun {
                    run_id: run_id.clone(),
                    function_id: FUNCTION.to_owned(),
                    event_internal_id: event_id,
                    idempotency_key: run_id,
                    started_at: at,
                    policy: RetryPolicy::default(),
                },
            )
        })
        .unzip()
}

/// A store with `RUNS` runs, each with its first discovery job due.
async fn populated() -> (Arc<SqliteStore>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("durin.db")).expect("open the store");
    store
        .save_app_sync(AppSync {
            name: "bench".into(),
            url: "http://127.0.0.1:1/api/inngest".into(),
            sdk: None,
            framework: None,
            functions: vec![function()],
            synced_at: 1,
        })
        .await
        .expect("sync");
    for _ in 0..RUNS / 500 {
        let (events, runs) = events_and_runs(500, 1);
        store.accept_events(events, runs).await.expect("accept");
    }
    (Arc::new(store), dir)
}

/// What the engine commits after a discovery executed one step: the attempt, the job removed, the step's
/// memo, and the run's next discovery job.
fn step_ran(job: &ClaimedJob) -> AttemptFinish {
    let step_id = next_id("step");
    AttemptFinish {
        attempt: AttemptRecord {
            run_id: job.run_id.clone(),
            job_id: job.job_id.clone(),
            kind: job.kind.clone(),
            step_id: Some(step_id.clone()),
            step_name: Some("s1".into()),
            attempt: job.attempt,
            started_at: NOW,
            ended_at: NOW,
            outcome: AttemptOutcome::Ok,
            error: None,
            next_attempt_at: None,
            explanation: None,
        },
        job: JobUpdate::Remove,
        memos: vec![StepMemo {
            step_id,
            name: "s1".into(),
            memo: json!({"data": {"step": 1, "id": job.run_id}}),
        }],
        enqueue: vec![NewJob {
            job_id: next_id("job"),
            run_id: job.run_id.clone(),
            kind: JobKind::Discovery,
            policy: job.policy.clone(),
            due_at: 1,
        }],
        request_version: Some(1),
        disable_immediate_execution: false,
        finish_run: None,
        emit_events: Vec::new(),
        start_runs: Vec::new(),
        pauses: Vec::new(),
        resolve_pauses: Vec::new(),
        // As the scheduler finishes: under the claim's lease (the fencing check is part of the cost).
        lease: Some(job.leased_until),
    }
}

fn bench_queue(c: &mut Criterion) {
    let rt = runtime();
    let (store, _dir) = rt.block_on(populated());
    let mut group = c.benchmark_group("sqlite_queue");
    group.throughput(Throughput::Elements(1));
    group.bench_function("claim_1_then_finish_attempt", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let jobs = store.claim_due_jobs(NOW, 1, 60_000).await.expect("claim");
                    let job = jobs.first().expect("a due job");
                    store.finish_attempt(step_ran(job)).await.expect("finish");
                }
                start.elapsed()
            })
        })
    });
    // 64 jobs claimed at once and finished concurrently, as the scheduler does under load: the writer
    // thread commits the finishes that queued up together (group commit). Per job.
    group.throughput(Throughput::Elements(64));
    group.bench_function("claim_64_then_finish_concurrently", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let jobs = store.claim_due_jobs(NOW, 64, 60_000).await.expect("claim");
                    assert_eq!(jobs.len(), 64);
                    let finishes = jobs.iter().map(|job| {
                        let store = Arc::clone(&store);
                        let finish = step_ran(job);
                        tokio::spawn(async move { store.finish_attempt(finish).await })
                    });
                    for finished in futures_join(finishes).await {
                        finished.expect("finish");
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.expect("task"));
    }
    out
}

fn bench_accept_events(c: &mut Criterion) {
    let rt = runtime();
    let (store, _dir) = rt.block_on(populated());
    let mut group = c.benchmark_group("sqlite_accept_events");
    for (name, events) in [("1_event_1_run", 1usize), ("100_events_100_runs", 100)] {
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<_> = (0..iters).map(|_| events_and_runs(events, NOW)).collect();
                rt.block_on(async {
                    let start = Instant::now();
                    for (events, runs) in batches {
                        store.accept_events(events, runs).await.expect("accept");
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_queue, bench_accept_events
}
criterion_main!(benches);
