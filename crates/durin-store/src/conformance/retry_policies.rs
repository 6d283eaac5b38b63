//! Retry policies (issue 8): a job's retry state through `Retry` and the next claim, the run's retry
//! count, `Pause` (a paused job is never due, while the run's other jobs and waits go on), `resume_run`,
//! `fail_paused_run`, cancelling a paused run, and the explanation of an attempt.

use std::sync::Arc;

use durin_core::{AttemptOutcome, JobKind, RetryState, RunStatus, UnixMillis};
use serde_json::json;

use super::support::*;
use crate::{
    AttemptRecord, ClaimedJob, JobCounts, JobRecord, JobUpdate, NewPause, PAUSED_DUE_AT, PauseKind,
    PauseResolution, RunFinal, RunQuery, RunRecord, Store,
};

/// A time long after any other in the tests, as late as a claim can be without its lease overflowing.
const FAR: UnixMillis = PAUSED_DUE_AT - LEASE_MS;

/// A state with every counter set.
fn full_state() -> RetryState {
    let mut state = RetryState::default();
    state.rule_failures.insert("TimeoutError".into(), 2);
    state.rule_failures.insert("rate-limited ✓".into(), 1);
    state.cool_downs = 3;
    state.cool_down_ms = 45_000;
    state
}

fn retry(attempt: u32, due_at: UnixMillis, state: RetryState, spends_run_retry: bool) -> JobUpdate {
    JobUpdate::Retry {
        attempt,
        due_at,
        state,
        spends_run_retry,
    }
}

/// A failed attempt of `job` ended at `ended_at`, with `update`.
fn failed(job: &ClaimedJob, ended_at: UnixMillis, update: JobUpdate) -> crate::AttemptFinish {
    let mut finish = finish(
        AttemptRecord {
            error: Some(json!({"name": "Error", "message": "boom"})),
            ..attempt_of(job, AttemptOutcome::Error, ended_at)
        },
        update,
    );
    finish.lease = Some(job.leased_until);
    finish
}

/// Out of retries under a policy that pauses.
fn paused(job: &ClaimedJob, ended_at: UnixMillis) -> crate::AttemptFinish {
    failed(job, ended_at, JobUpdate::Pause)
}

async fn run_record(store: &dyn Store, run_id: &str) -> RunRecord {
    store
        .get_run(run_id)
        .await
        .expect("get_run")
        .expect("the run exists")
}

async fn status(store: &dyn Store, run_id: &str) -> RunStatus {
    run_record(store, run_id).await.status
}

async fn retries_used(store: &dyn Store, run_id: &str) -> u32 {
    store
        .load_run_state(run_id)
        .await
        .expect("load_run_state")
        .retries_used
}

/// Starts `run_id` and pauses its first discovery job at once (attempt 0); returns the paused job as it
/// was claimed.
async fn start_paused_run(store: &dyn Store, run_id: &str, at: UnixMillis) -> ClaimedJob {
    start_run(store, run_id, "fn", at).await;
    let job = claim_one(store, at).await;
    store
        .finish_attempt(paused(&job, at + 1))
        .await
        .expect("finish_attempt");
    job
}

/// Starts `run_id` and plans the steps `s1` and `s2` (due at `at + 10`), with `extra` added to that finish;
/// returns the two step jobs, claimed, `s1` first.
async fn start_run_with_two_steps(
    store: &dyn Store,
    run_id: &str,
    at: UnixMillis,
    extra: impl FnOnce(&mut crate::AttemptFinish),
) -> (ClaimedJob, ClaimedJob) {
    start_run(store, run_id, "fn", at).await;
    let discovery = claim_one(store, at).await;
    let mut planned = done(&discovery, at + 1);
    planned.enqueue = vec![
        new_job(&format!("{run_id}-s1"), run_id, step("s1"), at + 10),
        new_job(&format!("{run_id}-s2"), run_id, step("s2"), at + 10),
    ];
    extra(&mut planned);
    store.finish_attempt(planned).await.expect("finish_attempt");
    let mut steps = claim_all(store, at + 10).await;
    assert_eq!(steps.len(), 2, "{steps:?}");
    steps.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    let s2 = steps.pop().expect("s2");
    let s1 = steps.pop().expect("s1");
    assert_eq!((s1.kind.clone(), s2.kind.clone()), (step("s1"), step("s2")));
    (s1, s2)
}

fn wait_pause(pause_id: &str, run_id: &str, expires_at: UnixMillis) -> NewPause {
    NewPause {
        pause_id: pause_id.to_owned(),
        run_id: run_id.to_owned(),
        step_id: "wait".to_owned(),
        step_name: "wait (name)".to_owned(),
        kind: PauseKind::WaitForEvent,
        event_name: "test/approved".to_owned(),
        expression: None,
        timeout_memo: json!(null),
        policy: durin_core::RetryPolicy::with_retries(2),
        expires_at,
    }
}

/// The state given with `Retry` comes back with the next claim of the job, exactly; an empty state (and a
/// job never retried) comes back empty.
pub async fn retry_state_round_trips_through_retry_and_claim(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let first = claim_one(&*store, T0).await;
    assert_eq!(first.retry_state, RetryState::default());

    store
        .finish_attempt(failed(
            &first,
            T0 + 1,
            retry(1, T0 + 10, full_state(), true),
        ))
        .await
        .expect("finish_attempt");
    let second = claim_one(&*store, T0 + 10).await;
    assert_eq!(
        (second.job_id.as_str(), second.attempt, &second.retry_state),
        (first.job_id.as_str(), 1, &full_state())
    );

    // A state with one counter only, then the empty state again: each replaces the one before.
    let cool_down = RetryState {
        cool_downs: 1,
        ..RetryState::default()
    };
    store
        .finish_attempt(failed(
            &second,
            T0 + 11,
            retry(2, T0 + 20, cool_down.clone(), false),
        ))
        .await
        .expect("finish_attempt");
    let third = claim_one(&*store, T0 + 20).await;
    assert_eq!((third.attempt, &third.retry_state), (2, &cool_down));

    store
        .finish_attempt(failed(
            &third,
            T0 + 21,
            retry(3, T0 + 30, RetryState::default(), true),
        ))
        .await
        .expect("finish_attempt");
    let fourth = claim_one(&*store, T0 + 30).await;
    assert_eq!(
        (fourth.attempt, &fourth.retry_state),
        (3, &RetryState::default())
    );
}

/// `spends_run_retry` counts one retry of the run (`RunState::retries_used`); a retry that spends none (a
/// cool-down) leaves the count. Each run has its own count.
pub async fn spends_run_retry_counts_the_runs_retries(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 1_000_000).await;
    assert_eq!(retries_used(&*store, "run-01").await, 0);

    let mut now = T0;
    let mut expected = 0;
    for (n, spends) in (1u32..).zip([true, false, true, false, false, true]) {
        let job = claim_one(&*store, now).await;
        store
            .finish_attempt(failed(
                &job,
                now + 1,
                retry(n, now + 10, RetryState::default(), spends),
            ))
            .await
            .expect("finish_attempt");
        expected += u32::from(spends);
        assert_eq!(
            retries_used(&*store, "run-01").await,
            expected,
            "after retry {n}"
        );
        now += 10;
    }
    assert_eq!(expected, 3);
    assert_eq!(retries_used(&*store, "run-02").await, 0);
}

/// `Pause`: the run is `Paused` and its job waits, never due (not even at the latest time a claim can
/// ask for), left out of `next_wake_at` and of `count_jobs`, and not made due by `retry_now`.
pub async fn a_paused_job_is_never_due(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let first = claim_one(&*store, T0).await;
    store
        .finish_attempt(failed(
            &first,
            T0 + 1,
            retry(1, T0 + 10, full_state(), true),
        ))
        .await
        .expect("finish_attempt");
    let job = claim_one(&*store, T0 + 10).await;
    store
        .finish_attempt(paused(&job, T0 + 11))
        .await
        .expect("finish_attempt");

    let run = run_record(&*store, "run-01").await;
    assert_eq!((run.status, run.ended_at), (RunStatus::Paused, None));
    let listed = store
        .list_runs(RunQuery {
            status: Some(RunStatus::Paused),
            function_id: None,
            started_after: None,
            cursor: None,
            limit: 10,
        })
        .await
        .expect("list_runs");
    assert_eq!(listed, vec![run]);
    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        vec![JobRecord {
            job_id: job.job_id.clone(),
            kind: JobKind::Discovery,
            attempt: 1,
            due_at: PAUSED_DUE_AT,
            leased: false,
        }]
    );

    assert_eq!(claim_all(&*store, T0 + 100 * LEASE_MS).await, vec![]);
    assert_eq!(claim_all(&*store, FAR).await, vec![]);
    assert_eq!(store.next_wake_at().await.expect("next_wake_at"), None);
    assert_eq!(
        store.count_jobs(T0 + 20).await.expect("count_jobs"),
        JobCounts::default()
    );
    assert_eq!(
        store.retry_now("run-01", T0 + 20).await.expect("retry_now"),
        0
    );
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 1, PAUSED_DUE_AT, false)]
    );
    assert_eq!(
        store
            .attempts_for_run("run-01")
            .await
            .expect("attempts")
            .len(),
        2
    );

    // Other runs' jobs are still counted, woken for and claimed.
    start_run(&*store, "run-02", "fn", T0 + 50).await;
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 50)
    );
    assert_eq!(
        store.count_jobs(T0 + 20).await.expect("count_jobs"),
        JobCounts {
            due: 0,
            scheduled: 1,
            leased: 0
        }
    );
    assert_eq!(claim_one(&*store, FAR).await.run_id, "run-02");
}

/// While one step of a run is paused, its other jobs are claimed and finished as usual (under their lease):
/// the memo is stored, the attempt recorded, and the run stays `Paused`. The discovery that would follow
/// waits for the paused step, as for any outstanding branch.
pub async fn a_paused_runs_other_jobs_still_finish(store: Arc<dyn Store>) {
    let (s1, s2) = start_run_with_two_steps(&*store, "run-01", T0, |_| {}).await;
    store
        .finish_attempt(paused(&s1, T0 + 11))
        .await
        .expect("finish_attempt");
    assert_eq!(status(&*store, "run-01").await, RunStatus::Paused);
    // The leased step is the next wake-up; the paused one is not.
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(s2.leased_until)
    );
    assert_eq!(
        store.count_jobs(T0 + 12).await.expect("count_jobs"),
        JobCounts {
            due: 0,
            scheduled: 0,
            leased: 1
        }
    );

    let mut s2_done = done(&s2, T0 + 12);
    s2_done.lease = Some(s2.leased_until);
    s2_done.memos = vec![memo("s2", json!({"data": "two"}))];
    s2_done.enqueue = vec![new_job("run-01-d2", "run-01", JobKind::Discovery, T0 + 12)];
    store.finish_attempt(s2_done).await.expect("finish_attempt");

    assert_eq!(status(&*store, "run-01").await, RunStatus::Paused);
    assert_eq!(
        store
            .steps_for_run("run-01")
            .await
            .expect("steps")
            .into_iter()
            .map(|s| (s.step_id, s.memo))
            .collect::<Vec<_>>(),
        vec![("s2".to_owned(), json!({"data": "two"}))]
    );
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(step("s1"), 0, PAUSED_DUE_AT, false)]
    );
    let attempts = store.attempts_for_run("run-01").await.expect("attempts");
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.kind.clone(), a.outcome))
            .collect::<Vec<_>>(),
        vec![
            (JobKind::Discovery, AttemptOutcome::Ok),
            (step("s1"), AttemptOutcome::Error),
            (step("s2"), AttemptOutcome::Ok),
        ]
    );
    assert_eq!(store.next_wake_at().await.expect("next_wake_at"), None);
}

/// A paused run's waits go on: its pause is still listed for the event, and an event resolves it (the
/// memo stored, the pause and its timeout job gone), while the paused step keeps waiting.
pub async fn a_paused_runs_pause_still_matches_an_event(store: Arc<dyn Store>) {
    let (s1, s2) = start_run_with_two_steps(&*store, "run-01", T0, |planned| {
        planned.pauses = vec![wait_pause("pause-1", "run-01", T0 + 100_000)];
    })
    .await;
    store
        .finish_attempt(paused(&s1, T0 + 11))
        .await
        .expect("finish_attempt");
    store
        .finish_attempt(done(&s2, T0 + 12))
        .await
        .expect("finish_attempt");
    assert_eq!(status(&*store, "run-01").await, RunStatus::Paused);
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 100_000),
        "the timeout is still due"
    );

    let pauses = store
        .pending_pauses(&["test/approved".to_owned()])
        .await
        .expect("pending_pauses");
    assert_eq!(
        pauses
            .iter()
            .map(|p| (p.pause_id.as_str(), p.run_id.as_str()))
            .collect::<Vec<_>>(),
        vec![("pause-1", "run-01")]
    );
    assert_eq!(pauses[0].trigger_event["name"], "test/started");

    store
        .accept_events_resolving(
            vec![event("evt-ok", "test/approved", T0 + 20)],
            vec![],
            vec![PauseResolution {
                pause_id: "pause-1".into(),
                memo: Some(json!({"name": "test/approved"})),
                discovery: new_job("run-01-d2", "run-01", JobKind::Discovery, T0 + 20),
            }],
        )
        .await
        .expect("accept_events_resolving");
    assert!(
        store
            .pending_pauses(&["test/approved".to_owned()])
            .await
            .expect("pending_pauses")
            .is_empty()
    );
    assert_eq!(
        store
            .load_run_state("run-01")
            .await
            .expect("load_run_state")
            .steps,
        vec![("wait".to_owned(), json!({"name": "test/approved"}))]
    );
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(step("s1"), 0, PAUSED_DUE_AT, false)],
        "the timeout job is gone; the discovery waits for the paused step"
    );
    assert_eq!(status(&*store, "run-01").await, RunStatus::Paused);
}

/// `resume_run` makes each paused job a fresh job (a new id, attempt 0, an empty state) due at `now`, and
/// the run `Running`; the job is claimed as any new job.
pub async fn resume_run_makes_paused_jobs_fresh_and_due_now(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let first = claim_one(&*store, T0).await;
    store
        .finish_attempt(failed(
            &first,
            T0 + 1,
            retry(1, T0 + 10, full_state(), true),
        ))
        .await
        .expect("finish_attempt");
    let job = claim_one(&*store, T0 + 10).await;
    store
        .finish_attempt(paused(&job, T0 + 11))
        .await
        .expect("finish_attempt");

    let resumed = store
        .resume_run("run-01", T0 + 500)
        .await
        .expect("resume_run")
        .expect("the run exists");
    assert_eq!(
        (resumed.status, resumed.ended_at),
        (RunStatus::Running, None)
    );
    assert_eq!(resumed, run_record(&*store, "run-01").await);

    let jobs = store.jobs_for_run("run-01").await.expect("jobs_for_run");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let fresh = &jobs[0];
    assert_ne!(fresh.job_id, job.job_id, "a fresh job id");
    assert_eq!(
        (&fresh.kind, fresh.attempt, fresh.due_at, fresh.leased),
        (&JobKind::Discovery, 0, T0 + 500, false)
    );
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 500)
    );
    assert_eq!(
        store.count_jobs(T0 + 500).await.expect("count_jobs"),
        JobCounts {
            due: 1,
            scheduled: 0,
            leased: 0
        }
    );

    assert_eq!(claim_all(&*store, T0 + 499).await, vec![]);
    assert_eq!(
        claim_one(&*store, T0 + 500).await,
        ClaimedJob {
            job_id: fresh.job_id.clone(),
            attempt: 0,
            retry_state: RetryState::default(),
            due_at: T0 + 500,
            interrupted: false,
            leased_until: T0 + 500 + LEASE_MS,
            ..job
        }
    );
    // The run's retry count is the run's, not the job's: resuming keeps it.
    assert_eq!(retries_used(&*store, "run-01").await, 1);
}

/// `resume_run` of a run that is not paused changes nothing: a running run keeps its waiting retry as it
/// is, an ended run stays ended, an unknown run is `None`. Resuming twice resumes once.
pub async fn resume_run_of_a_run_not_paused_changes_nothing(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let job = claim_one(&*store, T0).await;
    store
        .finish_attempt(failed(
            &job,
            T0 + 1,
            retry(1, T0 + 60_000, full_state(), true),
        ))
        .await
        .expect("finish_attempt");
    let before = store.jobs_for_run("run-01").await.expect("jobs_for_run");
    let run = store
        .resume_run("run-01", T0 + 2)
        .await
        .expect("resume_run")
        .expect("the run exists");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        before
    );
    let retried = claim_one(&*store, T0 + 60_000).await;
    assert_eq!(
        (&retried.job_id, retried.attempt, &retried.retry_state),
        (&job.job_id, 1, &full_state())
    );
    store
        .finish_attempt(done(&retried, T0 + 60_001))
        .await
        .expect("finish_attempt");

    start_run(&*store, "run-02", "fn", T0 + 100_000).await;
    let ended_job = claim_one(&*store, T0 + 100_000).await;
    let mut ended = done(&ended_job, T0 + 100_001);
    ended.finish_run = Some(RunFinal {
        status: RunStatus::Completed,
        output: Some(json!("ok")),
        ended_at: T0 + 100_001,
    });
    store.finish_attempt(ended).await.expect("finish_attempt");
    let completed = run_record(&*store, "run-02").await;
    assert_eq!(
        store
            .resume_run("run-02", T0 + 100_002)
            .await
            .expect("resume_run"),
        Some(completed)
    );
    assert_eq!(pending(&*store, "run-02").await, vec![]);

    assert_eq!(
        store.resume_run("run-none", T0).await.expect("resume_run"),
        None
    );

    let paused_job = start_paused_run(&*store, "run-03", T0 + 200_000).await;
    store
        .resume_run("run-03", T0 + 200_010)
        .await
        .expect("resume_run");
    let once = store.jobs_for_run("run-03").await.expect("jobs_for_run");
    store
        .resume_run("run-03", T0 + 200_020)
        .await
        .expect("resume_run");
    assert_eq!(
        store.jobs_for_run("run-03").await.expect("jobs_for_run"),
        once
    );
    assert_ne!(once[0].job_id, paused_job.job_id);
    assert_eq!(once[0].due_at, T0 + 200_010);
}

/// `fail_paused_run` fails a paused run: `Failed` with the output and end time given, its jobs (paused or
/// not) and pauses gone, its events stored and the runs they start created. Again, it changes nothing.
pub async fn fail_paused_run_fails_it_with_its_output(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let discovery = claim_one(&*store, T0).await;
    let mut planned = done(&discovery, T0 + 1);
    planned.enqueue = vec![
        new_job("run-01-s1", "run-01", step("s1"), T0 + 10),
        new_job("run-01-s2", "run-01", step("s2"), T0 + 50),
    ];
    planned.pauses = vec![wait_pause("pause-1", "run-01", T0 + 100_000)];
    store.finish_attempt(planned).await.expect("finish_attempt");
    let s1 = claim_one(&*store, T0 + 10).await;
    store
        .finish_attempt(paused(&s1, T0 + 11))
        .await
        .expect("finish_attempt");
    assert_eq!(pending(&*store, "run-01").await.len(), 3);

    let output = json!({"error": {"name": "Error", "message": "s1 failed", "n": [1, 2.5, null]}});
    let failed_run = store
        .fail_paused_run(
            "run-01",
            RunFinal {
                status: RunStatus::Failed,
                output: Some(output.clone()),
                ended_at: T0 + 30,
            },
            vec![event("evt-failed", "inngest/function.failed", T0 + 30)],
            vec![run("run-handler", "fn-handler", "evt-failed", T0 + 30)],
        )
        .await
        .expect("fail_paused_run")
        .expect("the run exists");
    assert_eq!(
        (
            failed_run.status,
            failed_run.output.clone(),
            failed_run.ended_at
        ),
        (RunStatus::Failed, Some(output), Some(T0 + 30))
    );
    assert_eq!(failed_run, run_record(&*store, "run-01").await);
    assert_eq!(pending(&*store, "run-01").await, vec![]);
    assert!(
        store
            .pending_pauses(&["test/approved".to_owned()])
            .await
            .expect("pending_pauses")
            .is_empty()
    );
    assert!(
        store
            .get_event("evt-failed")
            .await
            .expect("get_event")
            .is_some()
    );
    assert_eq!(status(&*store, "run-handler").await, RunStatus::Running);
    assert_eq!(
        pending(&*store, "run-handler").await,
        vec![(JobKind::Discovery, 0, T0 + 30, false)]
    );

    let again = store
        .fail_paused_run(
            "run-01",
            RunFinal {
                status: RunStatus::Failed,
                output: Some(json!("again")),
                ended_at: T0 + 40,
            },
            vec![event("evt-again", "inngest/function.failed", T0 + 40)],
            vec![],
        )
        .await
        .expect("fail_paused_run");
    assert_eq!(again, Some(failed_run));
    assert_eq!(store.get_event("evt-again").await.expect("get_event"), None);
    assert_eq!(
        store
            .fail_paused_run(
                "run-none",
                RunFinal {
                    status: RunStatus::Failed,
                    output: None,
                    ended_at: T0,
                },
                vec![],
                vec![],
            )
            .await
            .expect("fail_paused_run"),
        None
    );
}

/// `fail_paused_run` on a running run changes nothing: not its status, not its jobs; its events are not
/// stored and its runs not started.
pub async fn fail_paused_run_leaves_a_running_run(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let before = store.jobs_for_run("run-01").await.expect("jobs_for_run");
    let run_before = run_record(&*store, "run-01").await;
    let after = store
        .fail_paused_run(
            "run-01",
            RunFinal {
                status: RunStatus::Failed,
                output: Some(json!("no")),
                ended_at: T0 + 5,
            },
            vec![event("evt-failed", "inngest/function.failed", T0 + 5)],
            vec![run("run-handler", "fn-handler", "evt-failed", T0 + 5)],
        )
        .await
        .expect("fail_paused_run");
    assert_eq!(after, Some(run_before));
    assert_eq!(
        store.jobs_for_run("run-01").await.expect("jobs_for_run"),
        before
    );
    assert_eq!(
        store.get_event("evt-failed").await.expect("get_event"),
        None
    );
    assert_eq!(store.get_run("run-handler").await.expect("get_run"), None);
    assert_eq!(claim_one(&*store, T0).await.run_id, "run-01");
}

/// `cancel_run` cancels a paused run as a running one: its status, its jobs (the paused one too) and
/// pauses gone, its events stored. A cancelled run is neither resumed nor failed afterwards.
pub async fn cancel_run_cancels_a_paused_run(store: Arc<dyn Store>) {
    start_paused_run(&*store, "run-01", T0).await;
    assert_eq!(status(&*store, "run-01").await, RunStatus::Paused);
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
    assert_eq!(
        (cancelled.status, cancelled.ended_at),
        (RunStatus::Cancelled, Some(T0 + 5))
    );
    assert_eq!(pending(&*store, "run-01").await, vec![]);
    assert!(
        store
            .get_event("evt-cancelled")
            .await
            .expect("get_event")
            .is_some()
    );

    let resumed = store
        .resume_run("run-01", T0 + 6)
        .await
        .expect("resume_run");
    assert_eq!(resumed.as_ref(), Some(&cancelled));
    let failed_run = store
        .fail_paused_run(
            "run-01",
            RunFinal {
                status: RunStatus::Failed,
                output: None,
                ended_at: T0 + 7,
            },
            vec![],
            vec![],
        )
        .await
        .expect("fail_paused_run");
    assert_eq!(failed_run, Some(cancelled));
    assert_eq!(pending(&*store, "run-01").await, vec![]);
}

/// An attempt's explanation comes back from `attempts_for_run` exactly, and `None` stays `None`.
pub async fn attempt_explanations_round_trip(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let explanation = json!({
        "policy": {"source": "step", "max_attempts": 5},
        "rule": {"label": "TimeoutError", "matched": true, "counter": 2, "of": 3},
        "delay_ms": 1500,
        "jitter": 0.25,
        "note": "héllo ✓ \"quoted\"",
        "empty": {},
        "none": null,
    });
    let first = claim_one(&*store, T0).await;
    let mut retried = failed(
        &first,
        T0 + 1,
        retry(1, T0 + 10, RetryState::default(), true),
    );
    retried.attempt.next_attempt_at = Some(T0 + 10);
    retried.attempt.explanation = Some(explanation.clone());
    store
        .finish_attempt(retried.clone())
        .await
        .expect("finish_attempt");
    let second = claim_one(&*store, T0 + 10).await;
    let mut ok = done(&second, T0 + 11);
    ok.attempt.explanation = None;
    store
        .finish_attempt(ok.clone())
        .await
        .expect("finish_attempt");

    let attempts = store.attempts_for_run("run-01").await.expect("attempts");
    assert_eq!(attempts, vec![retried.attempt, ok.attempt]);
    assert_eq!(
        serde_json::to_string(attempts[0].explanation.as_ref().expect("explanation"))
            .expect("serializes"),
        serde_json::to_string(&explanation).expect("serializes"),
        "the same text"
    );
}
