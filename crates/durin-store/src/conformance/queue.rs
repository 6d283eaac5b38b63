//! Claiming: `claim_due_jobs`, leases and their expiry, `expire_all_leases`, `next_wake_at`.

use std::sync::Arc;

use durin_core::JobKind;
use serde_json::json;

use super::support::{ALL, LEASE_MS, T0, claim_all, claim_one, done, memo, pending, start_run};
use crate::{ClaimedJob, Store, StoreError};

fn run_ids(jobs: &[crate::ClaimedJob]) -> Vec<&str> {
    jobs.iter().map(|job| job.run_id.as_str()).collect()
}

/// A job is due from its due time on (inclusive); earlier claims return nothing.
pub async fn claim_due_jobs_returns_only_due_jobs(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 1_000).await;

    assert_eq!(claim_all(&*store, T0 - 1).await, vec![]);
    let claimed = claim_all(&*store, T0).await;
    assert_eq!(run_ids(&claimed), vec!["run-01"]);
    assert_eq!(claim_all(&*store, T0 + 999).await, vec![]);
    let claimed = claim_all(&*store, T0 + 1_000).await;
    assert_eq!(run_ids(&claimed), vec!["run-02"]);
}

/// Due jobs come earliest due first, at most `limit` of them; the rest stay for the next claim.
pub async fn claim_due_jobs_orders_by_due_time_and_respects_the_limit(store: Arc<dyn Store>) {
    // Created out of order so that the order cannot come from insertion.
    start_run(&*store, "run-03", "fn", T0 + 30).await;
    start_run(&*store, "run-01", "fn", T0 + 10).await;
    start_run(&*store, "run-04", "fn", T0 + 40).await;
    start_run(&*store, "run-02", "fn", T0 + 20).await;

    let now = T0 + 100;
    let first = store.claim_due_jobs(now, 2, LEASE_MS).await.expect("claim");
    assert_eq!(run_ids(&first), vec!["run-01", "run-02"]);
    let second = store.claim_due_jobs(now, 1, LEASE_MS).await.expect("claim");
    assert_eq!(run_ids(&second), vec!["run-03"]);
    let rest = store
        .claim_due_jobs(now, ALL, LEASE_MS)
        .await
        .expect("claim");
    assert_eq!(run_ids(&rest), vec!["run-04"]);
    assert_eq!(claim_all(&*store, now).await, vec![]);
}

/// A claimed job is leased: claiming again before the lease ends returns nothing, and the job shows as
/// leased.
pub async fn claim_due_jobs_leases_the_jobs(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let jobs = store.jobs_for_run("run-01").await.expect("jobs_for_run");
    assert!(!jobs[0].leased, "{jobs:?}");

    let job = claim_one(&*store, T0).await;
    assert!(!job.interrupted);
    assert_eq!(claim_all(&*store, T0).await, vec![]);
    assert_eq!(claim_all(&*store, T0 + LEASE_MS - 1).await, vec![]);
    let jobs = store.jobs_for_run("run-01").await.expect("jobs_for_run");
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].leased, "{jobs:?}");
    assert_eq!(jobs[0].job_id, job.job_id);
}

/// Once a lease has expired (at `now + lease_ms`), the job is returned again, unchanged but marked
/// interrupted, and leased anew.
pub async fn claim_due_jobs_returns_a_job_again_as_interrupted_once_its_lease_expired(
    store: Arc<dyn Store>,
) {
    start_run(&*store, "run-01", "fn", T0).await;
    let first = store
        .claim_due_jobs(T0 + 5, ALL, 1_000)
        .await
        .expect("claim")
        .pop()
        .expect("one job");
    assert_eq!(claim_all(&*store, T0 + 1_004).await, vec![]);

    let again = store
        .claim_due_jobs(T0 + 1_005, ALL, 1_000)
        .await
        .expect("claim")
        .pop()
        .expect("the job again");
    let mut expected = first.clone();
    expected.interrupted = true;
    expected.leased_until = T0 + 2_005;
    assert_eq!(again, expected);

    // Leased anew by the second claim.
    assert_eq!(claim_all(&*store, T0 + 2_004).await, vec![]);
    let third = claim_one(&*store, T0 + 2_005).await;
    expected.leased_until = T0 + 2_005 + LEASE_MS;
    assert_eq!(third, expected);
}

/// `expire_all_leases` ends every lease at once and says how many: the jobs are claimable now, as
/// interrupted; a job that was never leased is not.
pub async fn expire_all_leases_makes_leased_jobs_claimable_as_interrupted(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    start_run(&*store, "run-02", "fn", T0 + 1).await;
    start_run(&*store, "run-03", "fn", T0 + 2).await;
    let leased = store
        .claim_due_jobs(T0 + 10, 2, LEASE_MS)
        .await
        .expect("claim");
    assert_eq!(run_ids(&leased), vec!["run-01", "run-02"]);

    assert_eq!(store.expire_all_leases().await.expect("expire"), 2);
    let mut claimed = claim_all(&*store, T0 + 10).await;
    claimed.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let seen: Vec<_> = claimed
        .iter()
        .map(|job| (job.run_id.as_str(), job.interrupted))
        .collect();
    assert_eq!(
        seen,
        vec![("run-01", true), ("run-02", true), ("run-03", false)]
    );
    for (before, after) in leased.iter().zip(&claimed) {
        assert_eq!(after.job_id, before.job_id);
        assert_eq!(after.attempt, before.attempt);
        assert_eq!(after.due_at, before.due_at);
    }
}

/// With nothing leased, `expire_all_leases` changes nothing and returns 0.
pub async fn expire_all_leases_without_leases_returns_zero(store: Arc<dyn Store>) {
    assert_eq!(store.expire_all_leases().await.expect("expire"), 0);
    start_run(&*store, "run-01", "fn", T0).await;
    assert_eq!(store.expire_all_leases().await.expect("expire"), 0);
    let job = claim_one(&*store, T0).await;
    assert!(!job.interrupted);
}

/// After `expire_all_leases` the store wants to be woken at once.
pub async fn next_wake_at_after_expire_all_leases_is_not_later_than_now(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    claim_one(&*store, T0).await;
    store.expire_all_leases().await.expect("expire");
    let wake = store.next_wake_at().await.expect("next_wake_at");
    assert!(matches!(wake, Some(at) if at <= T0), "{wake:?}");
}

/// `next_wake_at` is the earliest due time of a free job or lease expiry of a leased one; `None` when the
/// queue is empty.
pub async fn next_wake_at_is_the_earliest_due_time_or_lease_expiry(store: Arc<dyn Store>) {
    assert_eq!(store.next_wake_at().await.expect("next_wake_at"), None);
    start_run(&*store, "run-01", "fn", T0 + 100).await;
    start_run(&*store, "run-02", "fn", T0 + 200).await;
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 100)
    );

    // run-01 leased until T0 + 150: that is the next wake.
    let claimed = store
        .claim_due_jobs(T0 + 100, ALL, 50)
        .await
        .expect("claim");
    assert_eq!(run_ids(&claimed), vec!["run-01"]);
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 150)
    );

    // run-01 leased again until T0 + 1150: run-02's due time comes first.
    let claimed = store
        .claim_due_jobs(T0 + 150, ALL, 1_000)
        .await
        .expect("claim");
    assert_eq!(run_ids(&claimed), vec!["run-01"]);
    assert_eq!(
        store.next_wake_at().await.expect("next_wake_at"),
        Some(T0 + 200)
    );
}

/// Concurrent claims never hand out the same job twice.
pub async fn concurrent_claims_never_return_a_job_twice(store: Arc<dyn Store>) {
    for n in 0..60 {
        start_run(&*store, &format!("run-{n:03}"), "fn", T0 + n).await;
    }
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        claims.spawn(async move { store.claim_due_jobs(T0 + 100, 10, LEASE_MS).await });
    }
    let mut job_ids = Vec::new();
    while let Some(joined) = claims.join_next().await {
        let jobs = joined.expect("claim task").expect("claim_due_jobs");
        assert!(jobs.len() <= 10, "limit exceeded: {}", jobs.len());
        job_ids.extend(jobs.into_iter().map(|job| job.job_id));
    }
    let claimed = job_ids.len();
    job_ids.sort();
    job_ids.dedup();
    assert_eq!(job_ids.len(), claimed, "a job was claimed twice");
    let rest = claim_all(&*store, T0 + 100).await;
    assert_eq!(claimed + rest.len(), 60);
}

/// Fencing: a finish carrying a lease that expired, after the job was claimed again, is refused whole
/// (`LeaseLost`: no attempt record, no memo, the job untouched), also once the new claim has finished the
/// job; the new claim's finish goes through.
pub async fn a_finish_under_a_lost_lease_is_refused_whole(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let first = claim_one(&*store, T0).await;
    assert_eq!(first.leased_until, T0 + LEASE_MS);
    let second = claim_one(&*store, T0 + LEASE_MS).await;
    assert!(second.interrupted);
    assert!(second.leased_until > first.leased_until);

    let late = |job: &ClaimedJob, at: i64| {
        let mut finish = done(job, at);
        finish.lease = Some(job.leased_until);
        finish.memos = vec![memo("s1", json!({ "data": job.leased_until }))];
        finish
    };
    let refused = store.finish_attempt(late(&first, T0 + LEASE_MS + 1)).await;
    assert!(
        matches!(refused, Err(StoreError::LeaseLost(_))),
        "{refused:?}"
    );
    let attempts = store.attempts_for_run("run-01").await.expect("attempts");
    assert_eq!(
        attempts,
        vec![],
        "nothing of the refused finish is recorded"
    );
    let state = store.load_run_state("run-01").await.expect("state");
    assert_eq!(state.steps, vec![]);
    assert_eq!(
        pending(&*store, "run-01").await,
        vec![(JobKind::Discovery, 0, T0, true)]
    );

    store
        .finish_attempt(late(&second, T0 + LEASE_MS + 2))
        .await
        .expect("the current claim's finish");
    let state = store.load_run_state("run-01").await.expect("state");
    assert_eq!(
        state.steps,
        vec![("s1".to_owned(), json!({ "data": second.leased_until }))]
    );
    let again = store.finish_attempt(late(&first, T0 + LEASE_MS + 3)).await;
    assert!(matches!(again, Err(StoreError::LeaseLost(_))), "{again:?}");
    assert_eq!(
        store
            .attempts_for_run("run-01")
            .await
            .expect("attempts")
            .len(),
        1
    );
}

/// Fencing once the run has ended: a finish whose attempt is already recorded (the claim that took the
/// job over recorded it as interrupted) is refused; one whose attempt is not (the run ended while it was
/// in flight: cancelled, or failed by another branch) is recorded, as without a lease.
pub async fn a_leased_finish_on_an_ended_run_is_recorded_once(store: Arc<dyn Store>) {
    start_run(&*store, "run-01", "fn", T0).await;
    let first = claim_one(&*store, T0).await;
    let second = claim_one(&*store, T0 + LEASE_MS).await;
    let mut interrupted = done(&second, T0 + LEASE_MS + 1);
    interrupted.attempt.outcome = durin_core::AttemptOutcome::Interrupted;
    interrupted.lease = Some(second.leased_until);
    interrupted.finish_run = Some(crate::RunFinal {
        status: durin_core::RunStatus::Failed,
        output: None,
        ended_at: T0 + LEASE_MS + 1,
    });
    store
        .finish_attempt(interrupted)
        .await
        .expect("the takeover");

    let mut stale = done(&first, T0 + LEASE_MS + 2);
    stale.lease = Some(first.leased_until);
    let refused = store.finish_attempt(stale).await;
    assert!(
        matches!(refused, Err(StoreError::LeaseLost(_))),
        "{refused:?}"
    );
    assert_eq!(
        store
            .attempts_for_run("run-01")
            .await
            .expect("attempts")
            .len(),
        1
    );

    // Another run, cancelled while its attempt was in flight: the attempt is still recorded.
    start_run(&*store, "run-02", "fn", T0 + 10 * LEASE_MS).await;
    let job = claim_one(&*store, T0 + 10 * LEASE_MS).await;
    store
        .cancel_run("run-02", T0 + 10 * LEASE_MS + 1, vec![], vec![])
        .await
        .expect("cancel");
    let mut late = done(&job, T0 + 10 * LEASE_MS + 2);
    late.lease = Some(job.leased_until);
    store
        .finish_attempt(late)
        .await
        .expect("recorded on the cancelled run");
    assert_eq!(
        store
            .attempts_for_run("run-02")
            .await
            .expect("attempts")
            .len(),
        1
    );
}
