//! `finish_attempt`: the attempt record, the job update, memos, enqueueing, run state, the end of a run,
//! emitted events and the runs they start; runs no longer running; unknown runs.

use std::sync::Arc;

use durin_core::{AttemptOutcome, JobKind, RetryPolicy, RunStatus};
use serde_json::{Value, json};

use super::support::{
    LEASE_MS, T0, attempt_of, claim_all, claim_one, done, event, finish, job_ids, memo, new_job,
    pending, run, start_run, step,
};
use crate::{
    AttemptRecord, ClaimedJob, EventRecord, JobRecord, JobUpdate, RunFinal, RunRecord, Store,
    StoreError,
};

async fn steps(store: &dyn Store, run_id: &str) -> Vec<(String, Value)> {
    store
        .load_run_state(run_id)
        .await
        .expect("load_run_state")
        .steps
}

fn error_value(message: &str) -> Value {
    json!({"name": "Error", "message": message, "stack": "at charge (index.js:1:1)\n  at run"})
}

/// Every field of an attempt is recorded, and `attempts_for_run` returns the run's attempts in the order
/// they were recorded, for every outcome and both job kinds.
pub async fn finish_attempt_records_the_attempt_with_all_fields(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 1_000_000).await;
    let outcomes = [
        AttemptOutcome::Error,
        AttemptOutcome::RetryAfter,
        AttemptOutcome::Interrupted,
        AttemptOutcome::NonRetriable,
    ];
    let mut expected = Vec::new();
    let mut now = T0;
    for (n, outcome) in (0u32..).zip(outcomes) {
        let job = claim_one(&*store, now).await;
        assert_eq!(job.attempt, n);
        let next = now + 1_000;
        // A discovery that ran a step and saw it fail: the attempt names the step.
        let record = AttemptRecord {
            step_id: Some("step-a".into()),
            step_name: Some("charge card".into()),
            started_at: now + 1,
            error: Some(error_value(&format!("failure {n}"))),
            next_attempt_at: Some(next),
            ..attempt_of(&job, outcome, now + 2)
        };
        let update = JobUpdate::Retry {
            attempt: n + 1,
            due_at: next,
            state: durin_core::RetryState::default(),
            spends_run_retry: true,
        };
        store
            .finish_attempt(finish(record.clone(), update))
            .await
            .expect("finish_attempt");
        expected.push(record);
        now = next;
    }

    let job = claim_one(&*store, now).await;
    let mut last = done(&job, now + 3);
    last.enqueue = vec![new_job("job-step-b", "run-01", step("step-b"), now + 10)];
    expected.push(last.attempt.clone());
    store.finish_attempt(last).await.expect("finish_attempt");

    let step_job = claim_one(&*store, now + 10).await;
    assert_eq!(step_job.kind, step("step-b"));
    let step_done = done(&step_job, now + 11);
    expected.push(step_done.attempt.clone());
    store
        .finish_attempt(step_done)
        .await
        .expect("finish_attempt");

    assert_eq!(
        store.attempts_for_run("run-01").await.expect("attempts"),
        expected
    );
    assert_eq!(
        store.attempts_for_run("run-02").await.expect("attempts"),
        vec![]
    );
}

/// `Retry` keeps the same job with the new attempt and due time and ends its lease: it is claimable at
/// the new due time (before the old lease would have expired), not as interrupted.
pub async fn finish_attempt_retry_reschedules_the_same_job(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    let retry_at = T0 + 5_000;
    assert!(retry_at < T0 + LEASE_MS);
    let record = AttemptRecord {
        error: Some(error_value("boom")),
        next_attempt_at: Some(retry_at),
        ..attempt_of(&job, AttemptOutcome::Error, T0 + 10)
    };
    store
        .finish_attempt(finish(
            record,
            JobUpdate::Retry {
                attempt: 1,
                due_at: retry_at,
                state: durin_core::RetryState::default(),
                spends_run_retry: true,
            },
        ))
        .await
        .expect("finish_attempt");

    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        vec![JobRecord {
            job_id: job.job_id.clone(),
            kind: JobKind::Discovery,
            attempt: 1,
            due_at: retry_at,
            leased: false,
        }]
    );
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(retry_at)
    );
    assert_eq!(claim_all(&*store, retry_at - 1).await, vec![]);
    assert_eq!(
        claim_one(&*store, retry_at).await,
        ClaimedJob {
            attempt: 1,
            due_at: retry_at,
            interrupted: false,
            leased_until: retry_at + LEASE_MS,
            ..job
        }
    );
}

/// `Remove` deletes the job; the run itself stays running.
pub async fn finish_attempt_remove_deletes_the_job(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    store
        .finish_attempt(done(&job, T0 + 1))
        .await
        .expect("finish_attempt");

    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        vec![]
    );
    assert_eq!(store.next_wake_at().await.expect("next_wake_at"), None);
    assert_eq!(claim_all(&*store, T0 + 10 * LEASE_MS).await, vec![]);
    let run = store
        .get_run("run-01")
        .await
        .expect("get_run")
        .expect("run");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.ended_at, None);
}

/// Memos are appended in the order given, across attempts; `load_run_state` returns them in that order;
/// a memo for a step already memoized is ignored (the first result stands).
pub async fn finish_attempt_appends_memos_in_order_and_never_overwrites(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let discovery = claim_one(&*store, T0).await;
    let mut first = done(&discovery, T0 + 1);
    first.memos = vec![
        memo("s-zeta", json!({"data": 1})),
        memo("s-alpha", json!({"error": error_value("no")})),
    ];
    first.enqueue = vec![new_job("job-d2", "run-01", JobKind::Discovery, T0 + 2)];
    store.finish_attempt(first).await.expect("finish_attempt");
    assert_eq!(
        steps(&*store, "run-01").await,
        vec![
            ("s-zeta".to_owned(), json!({"data": 1})),
            ("s-alpha".to_owned(), json!({"error": error_value("no")})),
        ]
    );

    let second_job = claim_one(&*store, T0 + 2).await;
    let mut second = done(&second_job, T0 + 3);
    second.memos = vec![
        memo("s-sleep", Value::Null),
        memo("s-zeta", json!({"data": "overwritten"})),
        memo("s-beta", json!({"data": {"list": [1, 2, 3], "text": "✓"}})),
    ];
    store.finish_attempt(second).await.expect("finish_attempt");
    assert_eq!(
        steps(&*store, "run-01").await,
        vec![
            ("s-zeta".to_owned(), json!({"data": 1})),
            ("s-alpha".to_owned(), json!({"error": error_value("no")})),
            ("s-sleep".to_owned(), Value::Null),
            (
                "s-beta".to_owned(),
                json!({"data": {"list": [1, 2, 3], "text": "✓"}})
            ),
        ]
    );
}

/// Enqueued jobs are pending with attempt 0 and claimable with their kind and policy. A job is not
/// enqueued while the run has a pending job of the same kind and step (in the store or earlier in the
/// same call); once a job is gone, the same step can be enqueued again. A discovery waits until no step
/// of the run is outstanding: the last branch of a parallel group to end enqueues it.
pub async fn finish_attempt_enqueue_dedupes_pending_jobs(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let discovery = claim_one(&*store, T0).await;
    let mut first = done(&discovery, T0 + 1);
    first.enqueue = vec![
        new_job("job-s1a", "run-01", step("s1"), T0 + 10),
        new_job("job-s1b", "run-01", step("s1"), T0 + 20),
        new_job("job-s2", "run-01", step("s2"), T0 + 10),
        new_job("job-d2", "run-01", JobKind::Discovery, T0 + 30),
    ];
    store.finish_attempt(first).await.expect("finish_attempt");
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![
            (step("s1"), 0, T0 + 10, false),
            (step("s2"), 0, T0 + 10, false),
        ],
        "the discovery waits for the planned steps"
    );
    assert_eq!(job_ids(&*store, "run-01").await, vec!["job-s1a", "job-s2"]);

    let mut claimed = claim_all(&*store, T0 + 10).await;
    claimed.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    assert_eq!(
        claimed,
        vec![
            ClaimedJob {
                job_id: "job-s1a".into(),
                run_id: "run-01".into(),
                function_id: "fn".into(),
                kind: step("s1"),
                attempt: 0,
                policy: RetryPolicy::with_retries(7),
                retry_state: durin_core::RetryState::default(),
                due_at: T0 + 10,
                interrupted: false,
                leased_until: T0 + 10 + LEASE_MS,
            },
            ClaimedJob {
                job_id: "job-s2".into(),
                run_id: "run-01".into(),
                function_id: "fn".into(),
                kind: step("s2"),
                attempt: 0,
                policy: RetryPolicy::with_retries(7),
                retry_state: durin_core::RetryState::default(),
                due_at: T0 + 10,
                interrupted: false,
                leased_until: T0 + 10 + LEASE_MS,
            },
        ]
    );
    let (s1, s2) = (&claimed[0], &claimed[1]);

    // s1 is still outstanding (leased): enqueueing it again is a no-op, and the discovery waits.
    let mut second = done(s2, T0 + 11);
    second.enqueue = vec![
        new_job("job-s1c", "run-01", step("s1"), T0 + 40),
        new_job("job-d3", "run-01", JobKind::Discovery, T0 + 40),
    ];
    store.finish_attempt(second).await.expect("finish_attempt");
    assert_eq!(job_ids(&*store, "run-01").await, vec!["job-s1a"]);

    // Removing s1 and enqueueing it again (it was not memoized) creates it anew.
    let mut third = done(s1, T0 + 12);
    third.enqueue = vec![new_job("job-s1d", "run-01", step("s1"), T0 + 50)];
    store.finish_attempt(third).await.expect("finish_attempt");
    assert_eq!(job_ids(&*store, "run-01").await, vec!["job-s1d"]);

    // The last branch ends: its discovery is enqueued.
    let last = claim_one(&*store, T0 + 50).await;
    let mut fourth = done(&last, T0 + 51);
    fourth.enqueue = vec![new_job("job-d4", "run-01", JobKind::Discovery, T0 + 51)];
    store.finish_attempt(fourth).await.expect("finish_attempt");
    assert_eq!(job_ids(&*store, "run-01").await, vec!["job-d4"]);
}

/// A step job whose step is already memoized is not enqueued.
pub async fn finish_attempt_enqueue_skips_memoized_steps(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let discovery = claim_one(&*store, T0).await;
    let mut first = done(&discovery, T0 + 1);
    first.memos = vec![memo("s1", json!({"data": "done"}))];
    first.enqueue = vec![new_job("job-d2", "run-01", JobKind::Discovery, T0 + 2)];
    store.finish_attempt(first).await.expect("finish_attempt");

    let second_job = claim_one(&*store, T0 + 2).await;
    let mut second = done(&second_job, T0 + 3);
    second.enqueue = vec![
        new_job("job-s1", "run-01", step("s1"), T0 + 4),
        new_job("job-s2", "run-01", step("s2"), T0 + 4),
    ];
    store.finish_attempt(second).await.expect("finish_attempt");
    assert_eq!(job_ids(&*store, "run-01").await, vec!["job-s2"]);
}

/// A discovery asked for while the run's discovery job is in flight cannot be a second job, and must not
/// be lost either: the in-flight job runs again, as a fresh job at attempt 0, once it is done, so its next
/// request carries the newer state.
pub async fn finish_attempt_reruns_a_discovery_requested_while_one_is_in_flight(
    store: Arc<dyn Store>,
) {
    start_run(&*store, "run-01", "fn", T0).await;
    let in_flight = claim_one(&*store, T0).await;
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 0, T0, true)]
    );

    // Another attempt of the run (e.g. a checkpointed or resumed step) asks for a discovery meanwhile.
    let other = ClaimedJob {
        job_id: "job-other".into(),
        ..in_flight.clone()
    };
    let mut asks = done(&other, T0 + 1);
    asks.memos = vec![memo("s1", json!({"data": 1}))];
    asks.enqueue = vec![new_job("job-d2", "run-01", JobKind::Discovery, T0 + 1)];
    store.finish_attempt(asks).await.expect("finish_attempt");
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 0, T0, true)]
    );

    store
        .finish_attempt(done(&in_flight, T0 + 4))
        .await
        .expect("finish_attempt");
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 0, T0 + 4, false)]
    );
    let rerun = claim_one(&*store, T0 + 4).await;
    assert_ne!(rerun.job_id, in_flight.job_id, "the rerun is a new job");
    store
        .finish_attempt(done(&rerun, T0 + 5))
        .await
        .expect("finish_attempt");
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![],
        "a rerun happens once"
    );
}

/// `request_version` is saved when given and kept when not. `disable_immediate_execution` (parallel steps
/// were found: plan every step) holds while the run has branches outstanding, and is lifted when the
/// discovery that follows the last branch is enqueued, as Inngest lifts its `ForceStepPlan`.
pub async fn finish_attempt_saves_request_version_and_disable_immediate_execution(
    store: Arc<dyn Store>,
) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 1_000_000).await;
    let read = |store: Arc<dyn Store>| async move {
        let state = store
            .load_run_state("run-01")
            .await
            .expect("load_run_state");
        (state.request_version, state.disable_immediate_execution)
    };
    let discovery = |job_id: &str, due_at| new_job(job_id, "run-01", JobKind::Discovery, due_at);

    // Two parallel steps planned: the flag is set.
    let job = claim_one(&*store, T0).await;
    let mut planned = done(&job, T0);
    planned.request_version = Some(1);
    planned.disable_immediate_execution = true;
    planned.enqueue = vec![
        new_job("job-s0", "run-01", step("s0"), T0 + 1),
        new_job("job-s1", "run-01", step("s1"), T0 + 2),
    ];
    store.finish_attempt(planned).await.expect("finish_attempt");
    assert_eq!(
        read(Arc::clone(&store)).await,
        (1, true),
        "branches planned"
    );

    // The first branch ends; its discovery waits for the other branch, and so does the flag.
    let first = claim_one(&*store, T0 + 1).await;
    let mut ended = done(&first, T0 + 1);
    ended.enqueue = vec![discovery("job-d0", T0 + 1)];
    store.finish_attempt(ended).await.expect("finish_attempt");
    assert_eq!(read(Arc::clone(&store)).await, (1, true), "a branch left");

    // The last branch ends: the discovery is enqueued and immediate execution is back.
    let last = claim_one(&*store, T0 + 2).await;
    let mut ended = done(&last, T0 + 2);
    ended.request_version = Some(2);
    ended.enqueue = vec![discovery("job-d1", T0 + 2)];
    store.finish_attempt(ended).await.expect("finish_attempt");
    assert_eq!(
        read(Arc::clone(&store)).await,
        (2, false),
        "parallelism over"
    );

    // Several ops that left nothing outstanding (steps reported together) do not set it.
    let job = claim_one(&*store, T0 + 3).await;
    let mut reported = done(&job, T0 + 3);
    reported.disable_immediate_execution = true;
    reported.enqueue = vec![discovery("job-d2", T0 + 4)];
    store
        .finish_attempt(reported)
        .await
        .expect("finish_attempt");
    assert_eq!(
        read(Arc::clone(&store)).await,
        (2, false),
        "nothing outstanding"
    );

    let other = store
        .load_run_state("run-02")
        .await
        .expect("load_run_state");
    assert_eq!(
        (other.request_version, other.disable_immediate_execution),
        (-1, false)
    );
}

/// `finish_run` sets the status, output and end time and deletes the run's remaining jobs (not other
/// runs' jobs).
pub async fn finish_attempt_finish_run_ends_the_run_and_deletes_its_jobs(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 100_000).await;
    let discovery = claim_one(&*store, T0).await;
    let mut first = done(&discovery, T0 + 1);
    first.enqueue = vec![
        new_job("job-s1", "run-01", step("s1"), T0 + 10),
        new_job("job-s2", "run-01", step("s2"), T0 + 50_000),
    ];
    store.finish_attempt(first).await.expect("finish_attempt");

    let s1 = claim_one(&*store, T0 + 10).await;
    let mut last = done(&s1, T0 + 11);
    last.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(json!({"total": 3, "items": ["a", "b"]})),
        ended_at: T0 + 12,
    });
    store.finish_attempt(last).await.expect("finish_attempt");

    let ended = RunRecord {
        run_id: "run-01".into(),
        function_id: "fn".into(),
        event_internal_id: "run-01-event".into(),
        status: RunStatus::Completed,
        started_at: T0,
        ended_at: Some(T0 + 12),
        output: Some(json!({"total": 3, "items": ["a", "b"]})),
        original_run_id: None,
    };
    assert_eq!(
        store.get_run("run-01").await.expect("get_run"),
        Some(ended.clone())
    );
    assert_eq!(
        store.load_run_state("run-01").await.expect("state").run,
        ended
    );
    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        vec![]
    );
    assert_eq!(pending(&*store, "run-02").await.len(), 1);
    let claimed = claim_all(&*store, T0 + 200_000).await;
    assert_eq!(
        claimed
            .iter()
            .map(|job| job.run_id.as_str())
            .collect::<Vec<_>>(),
        vec!["run-02"]
    );
}

/// A run can end with any final status, with or without output.
pub async fn finish_attempt_finish_run_with_each_final_status(store: Arc<dyn Store>) {
    let finals = [
        (RunStatus::Completed, None),
        (RunStatus::Failed, Some(error_value("gave up"))),
        (RunStatus::Cancelled, None),
    ];
    for (n, (status, output)) in (0i64..).zip(finals) {
        let run_id = format!("run-{n:02}");
        start_run(&*store, &run_id, "fn", T0 + n).await;
        let job = claim_one(&*store, T0 + n).await;
        let mut last = done(&job, T0 + n);
        last.finish_run = Some(RunFinal {
            status,
            output: output.clone(),
            ended_at: T0 + n + 1,
        });
        store.finish_attempt(last).await.expect("finish_attempt");
        let run = store.get_run(&run_id).await.expect("get_run").expect("run");
        assert_eq!(
            (run.status, run.output, run.ended_at),
            (status, output, Some(T0 + n + 1))
        );
    }
}

/// Emitted events are stored and the runs they start are created with their first job; a duplicate run
/// is skipped.
pub async fn finish_attempt_emits_events_and_starts_runs(store: Arc<dyn Store>) {
    let first = start_run(&*store, "run-01", "fn-a", T0).await;
    let job = claim_one(&*store, T0).await;
    let finished = event("evt-finished", "inngest/function.finished", T0 + 5);
    let mut last = done(&job, T0 + 5);
    last.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(json!("ok")),
        ended_at: T0 + 5,
    });
    last.emit_events = vec![finished.clone()];
    let mut duplicate = run("run-03", "fn-a", "evt-finished", T0 + 5);
    duplicate.idempotency_key = first.idempotency_key.clone();
    last.start_runs = vec![run("run-02", "fn-b", "evt-finished", T0 + 5), duplicate];
    store.finish_attempt(last).await.expect("finish_attempt");

    assert_eq!(
        store.get_event("evt-finished").await.expect("get_event"),
        Some(EventRecord {
            internal_id: finished.internal_id,
            name: finished.name,
            payload: finished.payload,
            received_at: finished.received_at,
        })
    );
    assert_eq!(
        store.get_run("run-02").await.expect("get_run"),
        Some(RunRecord {
            run_id: "run-02".into(),
            function_id: "fn-b".into(),
            event_internal_id: "evt-finished".into(),
            status: RunStatus::Running,
            started_at: T0 + 5,
            ended_at: None,
            output: None,
            original_run_id: None,
        })
    );
    assert_eq!(store.get_run("run-03").await.expect("get_run"), None);
    assert_eq!(
        pending(&*store, "run-02").await,
        vec![(JobKind::Discovery, 0, T0 + 5, false)]
    );
    let claimed = claim_one(&*store, T0 + 5).await;
    assert_eq!(
        (claimed.run_id.as_str(), claimed.function_id.as_str()),
        ("run-02", "fn-b")
    );
}

/// On a run that is no longer running (ended by another job meanwhile), `finish_attempt` records the
/// attempt and removes the job, and nothing else: no retry, memo, enqueue, version, end, event or run.
pub async fn finish_attempt_on_a_run_no_longer_running_only_records_the_attempt(
    store: Arc<dyn Store>,
) {
    start_run(&*store, "run-01", "fn", T0).await;
    let discovery = claim_one(&*store, T0).await;
    let mut first = done(&discovery, T0 + 1);
    first.enqueue = vec![
        new_job("job-s1", "run-01", step("s1"), T0 + 1),
        new_job("job-s2", "run-01", step("s2"), T0 + 1),
    ];
    let mut expected = vec![first.attempt.clone()];
    store.finish_attempt(first).await.expect("finish_attempt");
    let mut claimed = claim_all(&*store, T0 + 1).await;
    claimed.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    assert_eq!(claimed.len(), 2);

    let mut fail = finish(
        AttemptRecord {
            error: Some(error_value("fatal")),
            ..attempt_of(&claimed[0], AttemptOutcome::NonRetriable, T0 + 2)
        },
        JobUpdate::Remove,
    );
    fail.finish_run = Some(RunFinal {
        status: RunStatus::Failed,
        output: Some(error_value("fatal")),
        ended_at: T0 + 2,
    });
    expected.push(fail.attempt.clone());
    store.finish_attempt(fail).await.expect("finish_attempt");

    let late_record = AttemptRecord {
        error: Some(error_value("late")),
        next_attempt_at: Some(T0 + 100),
        ..attempt_of(&claimed[1], AttemptOutcome::Error, T0 + 3)
    };
    let mut late = finish(
        late_record.clone(),
        JobUpdate::Retry {
            attempt: 1,
            due_at: T0 + 100,
            state: durin_core::RetryState::default(),
            spends_run_retry: true,
        },
    );
    late.memos = vec![memo("s2", json!({"data": "late"}))];
    late.enqueue = vec![new_job("job-d9", "run-01", JobKind::Discovery, T0 + 3)];
    late.request_version = Some(5);
    late.disable_immediate_execution = true;
    late.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(json!("late")),
        ended_at: T0 + 4,
    });
    late.emit_events = vec![event("evt-late", "inngest/function.finished", T0 + 4)];
    late.start_runs = vec![run("run-late", "fn-b", "evt-late", T0 + 4)];
    expected.push(late_record);
    store.finish_attempt(late).await.expect("finish_attempt");

    assert_eq!(
        store.attempts_for_run("run-01").await.expect("attempts"),
        expected
    );
    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        vec![]
    );
    let state = store.load_run_state("run-01").await.expect("state");
    assert_eq!(
        (
            state.run.status,
            state.run.output,
            state.run.ended_at,
            state.steps,
            state.request_version,
            state.disable_immediate_execution
        ),
        (
            RunStatus::Failed,
            Some(error_value("fatal")),
            Some(T0 + 2),
            vec![],
            -1,
            false
        )
    );
    assert_eq!(store.get_event("evt-late").await.expect("get_event"), None);
    assert_eq!(store.get_run("run-late").await.expect("get_run"), None);
    assert_eq!(claim_all(&*store, T0 + 10 * LEASE_MS).await, vec![]);
}

/// `finish_attempt` on a run the store does not know is `NotFound` and changes nothing: no attempt, no
/// event, no run.
pub async fn finish_attempt_on_an_unknown_run_is_not_found(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let mut job = claim_one(&*store, T0).await;
    job.run_id = "ghost".into();
    let mut ghost = done(&job, T0 + 1);
    ghost.memos = vec![memo("s1", json!({"data": 1}))];
    ghost.emit_events = vec![event("evt-ghost", "test/ghost", T0 + 1)];
    ghost.start_runs = vec![run("run-ghost", "fn", "evt-ghost", T0 + 1)];

    match store.finish_attempt(ghost).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        store.attempts_for_run("ghost").await.expect("attempts"),
        vec![]
    );
    assert_eq!(store.get_event("evt-ghost").await.expect("get_event"), None);
    assert_eq!(store.get_run("run-ghost").await.expect("get_run"), None);
    // The real run's job is untouched (still leased).
    assert_eq!(pending(&*store, "run-01").await.len(), 1);
}

/// JSON comes back exactly as it was given, in every place the store keeps some: an event's payload, a
/// step's memo, an attempt's error, a run's output. Serialized again it is the same text, byte for byte:
/// strings with NUL and other control characters, integers at the ends of `u64` and `i64`, fractions and
/// exponents, deep nesting and empty containers.
pub async fn json_values_come_back_exactly(store: Arc<dyn Store>) {
    let tricky = json!({
        "nul": "a\u{0}b",
        "control": "\u{1}\t\n\r\u{1f}\u{7f}",
        "text": "héllo ✓ 🦀 \u{2028} \"quoted\" back\\slash",
        "max_u64": u64::MAX,
        "min_i64": i64::MIN,
        "fraction": 0.1,
        "huge": 1.5e300,
        "tiny": 5e-324,
        "whole_float": 2.0,
        "nested": [[[{"deep": [null, true, false, -0]}]]],
        "empty_object": {},
        "empty_list": [],
        "": "empty key",
    });
    let text = |value: &Value| serde_json::to_string(value).expect("serialize");

    let mut trigger = event("evt-tricky", "test/tricky", T0);
    trigger.payload = tricky.clone();
    let new = run("run-01", "fn", "evt-tricky", T0);
    store
        .accept_events(vec![trigger], vec![new])
        .await
        .expect("accept_events");
    let job = claim_one(&*store, T0).await;
    let mut last = finish(
        AttemptRecord {
            error: Some(tricky.clone()),
            ..attempt_of(&job, AttemptOutcome::Ok, T0 + 1)
        },
        JobUpdate::Remove,
    );
    last.memos = vec![memo("s1", json!({"data": tricky.clone()}))];
    last.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(tricky.clone()),
        ended_at: T0 + 1,
    });
    store.finish_attempt(last).await.expect("finish_attempt");

    let payload = store
        .get_event("evt-tricky")
        .await
        .expect("get_event")
        .expect("event")
        .payload;
    let state = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    let memo = store.steps_for_run("run-01").await.expect("steps")[0]
        .memo
        .clone();
    let error = store.attempts_for_run("run-01").await.expect("attempts")[0]
        .error
        .clone()
        .expect("error");
    let output = state.run.output.clone().expect("output");
    let wrapped = text(&json!({"data": tricky.clone()}));
    for (place, value, expected) in [
        ("event payload", &payload, text(&tricky)),
        ("run state event", &state.event, text(&tricky)),
        ("memo (load_run_state)", &state.steps[0].1, wrapped.clone()),
        ("memo (steps_for_run)", &memo, wrapped),
        ("attempt error", &error, text(&tricky)),
        ("run output", &output, text(&tricky)),
    ] {
        assert_eq!(text(value), expected, "{place}");
    }
}

/// `steps_bytes` is the length of the stored results' JSON text, so the engine's per-run limit means the
/// same on every backend.
pub async fn load_run_state_counts_the_bytes_of_stored_results(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let empty = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    assert_eq!(empty.steps_bytes, 0);
    let results = [
        json!({"data": "é and \u{1F600}"}),
        json!({"data": {"nested": [1, 2.5, null, true]}}),
        json!({"error": {"name": "Error", "message": "x".repeat(10_000)}}),
    ];
    let mut expected = 0;
    let mut now = T0;
    for (n, result) in results.iter().enumerate() {
        let job = claim_one(&*store, now).await;
        let mut finish = done(&job, now + 1);
        finish.memos = vec![memo(&format!("step-{n}"), result.clone())];
        finish.enqueue = vec![new_job(
            &format!("job-{n}"),
            "run-01",
            JobKind::Discovery,
            now + 2,
        )];
        store.finish_attempt(finish).await.expect("finish_attempt");
        expected += serde_json::to_string(result).expect("serializes").len() as u64;
        now += 2;
    }
    let state = store
        .load_run_state("run-01")
        .await
        .expect("load_run_state");
    assert_eq!(state.steps.len(), 3);
    assert_eq!(state.steps_bytes, expected);
}
