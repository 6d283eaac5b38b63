//! The one function that decides, for every error path, whether a job is tried again and when.

use crate::UnixMillis;
use crate::backoff::BackoffKnobs;
use crate::policy::RetryPolicy;
use crate::retry_state::RetryState;
use crate::verdict::{Failure, Next, judge};

/// What the engine knows about an attempt that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The 0-based number of the attempt that failed.
    pub attempt: u32,
    /// The app said the failure is final (`X-Inngest-No-Retry: true`, a non-retriable error).
    pub non_retriable: bool,
    /// When the app asked to be tried again (`Retry-After`, already parsed and clamped).
    pub retry_at: Option<UnixMillis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try the same job again as attempt `attempt`, not before `at`.
    Retry { attempt: u32, at: UnixMillis },
    /// The job has failed for good.
    GiveUp(GiveUpReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    NonRetriable,
    AttemptsExhausted,
    /// A rule of the policy says the error is never retried.
    RuleSaysNever,
    /// The run's retry budget is spent.
    RunRetriesExhausted,
}

/// Retry or give up (retries.md R1-R6). `jitter_ms` is a sample in `[0, JITTER_MAX_MS)` drawn by the caller.
///
/// In order: a non-retriable failure gives up at once (R6); a failed last attempt gives up even when the
/// app sent `Retry-After` (R1, R5); otherwise the same job is tried again as `attempt + 1`, at `retry_at`
/// when the app sent one (never scaled, R5) or after the policy's backoff (R4).
pub fn decide(
    policy: &RetryPolicy,
    knobs: &BackoffKnobs,
    failed: &FailedAttempt,
    now_ms: UnixMillis,
    jitter_ms: u32,
) -> Decision {
    let state = RetryState::default();
    let failure = Failure {
        attempt: failed.attempt,
        non_retriable: failed.non_retriable,
        retry_at: failed.retry_at,
        error_name: None,
        error_message: None,
        state: &state,
        run_retries_used: 0,
    };
    match judge(policy, knobs, &failure, now_ms, jitter_ms).next {
        Next::Retry { attempt, at, .. } => Decision::Retry { attempt, at },
        Next::GiveUp(reason) | Next::Pause(reason) => Decision::GiveUp(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::{DEFAULT_TABLE_MS, JITTER_MAX_MS};
    use crate::retry_after::parse_retry_after;
    use proptest::prelude::*;

    const NOW: UnixMillis = 1_790_000_000_000;

    fn failed(attempt: u32) -> FailedAttempt {
        FailedAttempt {
            attempt,
            non_retriable: false,
            retry_at: None,
        }
    }

    fn default_decide(policy: &RetryPolicy, failed: &FailedAttempt, jitter_ms: u32) -> Decision {
        decide(policy, &BackoffKnobs::default(), failed, NOW, jitter_ms)
    }

    // --- every path of decide() ---

    #[test]
    fn non_retriable_gives_up_at_any_attempt() {
        let policy = RetryPolicy::with_retries(20);
        for attempt in [0, 1, 3, 19, 20, 21, u32::MAX] {
            let failure = FailedAttempt {
                attempt,
                non_retriable: true,
                retry_at: None,
            };
            assert_eq!(
                default_decide(&policy, &failure, 0),
                Decision::GiveUp(GiveUpReason::NonRetriable),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn non_retriable_wins_over_retry_after() {
        let failure = FailedAttempt {
            attempt: 0,
            non_retriable: true,
            retry_at: Some(NOW + 5_000),
        };
        assert_eq!(
            default_decide(&RetryPolicy::default(), &failure, 0),
            Decision::GiveUp(GiveUpReason::NonRetriable)
        );
    }

    #[test]
    fn non_retriable_wins_even_on_the_last_attempt() {
        let failure = FailedAttempt {
            attempt: 4,
            non_retriable: true,
            retry_at: None,
        };
        assert_eq!(
            default_decide(&RetryPolicy::default(), &failure, 0),
            Decision::GiveUp(GiveUpReason::NonRetriable)
        );
    }

    #[test]
    fn last_attempt_gives_up() {
        for retries in 0..=20 {
            let policy = RetryPolicy::with_retries(retries);
            assert_eq!(
                default_decide(&policy, &failed(retries), 0),
                Decision::GiveUp(GiveUpReason::AttemptsExhausted),
                "retries {retries}"
            );
        }
    }

    #[test]
    fn last_attempt_gives_up_even_with_retry_after() {
        let failure = FailedAttempt {
            attempt: 4,
            non_retriable: false,
            retry_at: Some(NOW + 3_000),
        };
        assert_eq!(
            default_decide(&RetryPolicy::default(), &failure, 0),
            Decision::GiveUp(GiveUpReason::AttemptsExhausted)
        );
    }

    #[test]
    fn attempts_past_the_budget_give_up() {
        let policy = RetryPolicy::default();
        for attempt in [5, 6, 100, u32::MAX] {
            assert_eq!(
                default_decide(&policy, &failed(attempt), 0),
                Decision::GiveUp(GiveUpReason::AttemptsExhausted),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn retries_zero_gives_up_at_once() {
        let policy = RetryPolicy::with_retries(0);
        assert_eq!(policy.max_attempts(), 1);
        assert_eq!(
            default_decide(&policy, &failed(0), 0),
            Decision::GiveUp(GiveUpReason::AttemptsExhausted)
        );
    }

    #[test]
    fn retry_increments_the_attempt_and_uses_the_table() {
        let policy = RetryPolicy::with_retries(20);
        for attempt in 0..20 {
            let base = DEFAULT_TABLE_MS[(attempt as usize).min(9)];
            assert_eq!(
                default_decide(&policy, &failed(attempt), 1_234),
                Decision::Retry {
                    attempt: attempt + 1,
                    at: NOW + base + 1_234,
                },
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn retry_at_overrides_the_backoff() {
        let failure = FailedAttempt {
            attempt: 1,
            non_retriable: false,
            retry_at: Some(NOW + 3_000),
        };
        assert_eq!(
            default_decide(&RetryPolicy::default(), &failure, 29_999),
            Decision::Retry {
                attempt: 2,
                at: NOW + 3_000,
            }
        );
    }

    #[test]
    fn retry_at_is_used_as_given_even_when_later_than_the_table() {
        let failure = FailedAttempt {
            attempt: 0,
            non_retriable: false,
            retry_at: Some(NOW + 24 * 3_600_000),
        };
        assert_eq!(
            default_decide(&RetryPolicy::default(), &failure, 0),
            Decision::Retry {
                attempt: 1,
                at: NOW + 24 * 3_600_000,
            }
        );
    }

    #[test]
    fn retry_at_is_neither_scaled_nor_replaced_by_the_fixed_interval() {
        let failure = FailedAttempt {
            attempt: 0,
            non_retriable: false,
            retry_at: Some(NOW + 3_000),
        };
        for knobs in [
            BackoffKnobs {
                scale: 0.01,
                fixed_interval_ms: None,
            },
            BackoffKnobs {
                scale: 1.0,
                fixed_interval_ms: Some(1_000),
            },
        ] {
            assert_eq!(
                decide(&RetryPolicy::default(), &knobs, &failure, NOW, 0),
                Decision::Retry {
                    attempt: 1,
                    at: NOW + 3_000,
                }
            );
        }
    }

    #[test]
    fn knobs_shape_the_backoff() {
        let scaled = BackoffKnobs {
            scale: 0.01,
            fixed_interval_ms: None,
        };
        assert_eq!(
            decide(&RetryPolicy::default(), &scaled, &failed(0), NOW, 29_999),
            Decision::Retry {
                attempt: 1,
                at: NOW + 150 + 299,
            }
        );
        let fixed = BackoffKnobs {
            scale: 1.0,
            fixed_interval_ms: Some(2_000),
        };
        assert_eq!(
            decide(&RetryPolicy::default(), &fixed, &failed(3), NOW, 29_999),
            Decision::Retry {
                attempt: 4,
                at: NOW + 2_000,
            }
        );
    }

    #[test]
    fn extreme_times_saturate_instead_of_overflowing() {
        let knobs = BackoffKnobs {
            scale: f64::INFINITY,
            fixed_interval_ms: None,
        };
        assert_eq!(
            decide(&RetryPolicy::default(), &knobs, &failed(0), NOW, 0),
            Decision::Retry {
                attempt: 1,
                at: i64::MAX,
            }
        );
        let fixed = BackoffKnobs {
            scale: 1.0,
            fixed_interval_ms: Some(i64::MAX),
        };
        assert_eq!(
            decide(&RetryPolicy::default(), &fixed, &failed(0), i64::MAX - 1, 0),
            Decision::Retry {
                attempt: 1,
                at: i64::MAX,
            }
        );
    }

    // --- the worked examples of retries.md, as sequences of decide() calls ---

    /// What the app does on one attempt of a job.
    #[derive(Clone, Copy)]
    enum Try {
        Ok,
        Fail,
        NonRetriable,
        RetryAfter(&'static str),
    }

    #[derive(Debug, PartialEq)]
    enum End {
        Succeeded,
        GaveUp(GiveUpReason),
    }

    #[derive(Debug)]
    struct JobRun {
        /// `ctx.attempt` of every request, in order.
        attempts: Vec<u32>,
        /// When each attempt started.
        started: Vec<UnixMillis>,
        end: End,
    }

    /// Drives one job the way the engine does: every failure goes through `decide`, and the next attempt
    /// starts exactly at the time it returns. `app(attempt)` says how the attempt ends.
    fn run_job(
        policy: &RetryPolicy,
        knobs: &BackoffKnobs,
        start: UnixMillis,
        jitter_ms: u32,
        mut app: impl FnMut(u32) -> Try,
    ) -> JobRun {
        let mut attempts = Vec::new();
        let mut started = Vec::new();
        let mut attempt = 0;
        let mut now = start;
        loop {
            assert!(attempts.len() <= 21, "a job never runs more than 21 times");
            attempts.push(attempt);
            started.push(now);
            let failure = match app(attempt) {
                Try::Ok => {
                    return JobRun {
                        attempts,
                        started,
                        end: End::Succeeded,
                    };
                }
                Try::Fail => failed(attempt),
                Try::NonRetriable => FailedAttempt {
                    attempt,
                    non_retriable: true,
                    retry_at: None,
                },
                Try::RetryAfter(header) => FailedAttempt {
                    attempt,
                    non_retriable: false,
                    retry_at: parse_retry_after(header, now),
                },
            };
            match decide(policy, knobs, &failure, now, jitter_ms) {
                Decision::Retry { attempt: next, at } => {
                    assert_eq!(next, attempt + 1);
                    assert!(at >= now);
                    attempt = next;
                    now = at;
                }
                Decision::GiveUp(reason) => {
                    return JobRun {
                        attempts,
                        started,
                        end: End::GaveUp(reason),
                    };
                }
            }
        }
    }

    fn fails_then_ok(failures: u32) -> impl FnMut(u32) -> Try {
        move |attempt| {
            if attempt < failures {
                Try::Fail
            } else {
                Try::Ok
            }
        }
    }

    fn knobs() -> BackoffKnobs {
        BackoffKnobs::default()
    }

    #[test]
    fn example_1_click_recorder_fails_twice_then_succeeds() {
        let run = run_job(
            &RetryPolicy::from_configured(None).policy,
            &knobs(),
            NOW,
            0,
            fails_then_ok(2),
        );
        assert_eq!(run.attempts, [0, 1, 2]);
        assert_eq!(run.end, End::Succeeded);
    }

    #[test]
    fn example_2_sync_systems_each_step_has_its_own_budget() {
        let policy = RetryPolicy::with_retries(4);
        let get_data = run_job(&policy, &knobs(), NOW, 0, fails_then_ok(1));
        assert_eq!(get_data.attempts, [0, 1]);
        assert_eq!(get_data.end, End::Succeeded);
        // A new job (the next step) starts at attempt 0, untouched by get-data's failure.
        let save_data = run_job(&policy, &knobs(), NOW, 0, fails_then_ok(4));
        assert_eq!(save_data.attempts, [0, 1, 2, 3, 4]);
        assert_eq!(save_data.end, End::Succeeded);
    }

    #[test]
    fn example_3_save_data_fails_five_times_and_fails_for_good() {
        let policy = RetryPolicy::with_retries(4);
        let save_data = run_job(&policy, &knobs(), NOW, 0, |_| Try::Fail);
        assert_eq!(save_data.attempts, [0, 1, 2, 3, 4]);
        assert_eq!(save_data.end, End::GaveUp(GiveUpReason::AttemptsExhausted));
    }

    #[test]
    fn example_4_user_weekly_digest_caught_step_error_becomes_non_retriable() {
        let policy = RetryPolicy::default();
        let get_user_email = run_job(&policy, &knobs(), NOW, 0, |_| Try::Fail);
        assert_eq!(get_user_email.attempts, [0, 1, 2, 3, 4]);
        assert_eq!(
            get_user_email.end,
            End::GaveUp(GiveUpReason::AttemptsExhausted)
        );
        // The discovery job that follows starts at 0; the body raises NonRetriableError: no more attempts.
        let discovery = run_job(&policy, &knobs(), NOW, 0, |_| Try::NonRetriable);
        assert_eq!(discovery.attempts, [0]);
        assert_eq!(discovery.end, End::GaveUp(GiveUpReason::NonRetriable));
    }

    #[test]
    fn example_4_variant_non_retriable_inside_the_step_is_tried_once() {
        let step = run_job(&RetryPolicy::default(), &knobs(), NOW, 0, |_| {
            Try::NonRetriable
        });
        assert_eq!(step.attempts, [0]);
        assert_eq!(step.end, End::GaveUp(GiveUpReason::NonRetriable));
    }

    #[test]
    fn example_5_retry_after_three_seconds() {
        let app = |attempt| {
            if attempt == 0 {
                Try::RetryAfter("3")
            } else {
                Try::Ok
            }
        };
        let run = run_job(&RetryPolicy::default(), &knobs(), NOW, 29_999, app);
        assert_eq!(run.attempts, [0, 1]);
        assert_eq!(run.started, [NOW, NOW + 3_000]);
        assert_eq!(run.end, End::Succeeded);
        // With a small backoff scale it is still 3 s: Retry-After is never scaled.
        let small = BackoffKnobs {
            scale: 0.01,
            fixed_interval_ms: None,
        };
        let run = run_job(&RetryPolicy::default(), &small, NOW, 29_999, app);
        assert_eq!(run.started, [NOW, NOW + 3_000]);
    }

    #[test]
    fn example_5_python_sends_an_iso_date() {
        let app = |attempt| {
            if attempt == 0 {
                Try::RetryAfter("2026-09-21T17:33:23.000Z")
            } else {
                Try::Ok
            }
        };
        // NOW is 2026-09-21T14:13:20Z.
        let run = run_job(&RetryPolicy::default(), &knobs(), NOW, 0, app);
        assert_eq!(run.started, [NOW, NOW + 12_003_000]);
    }

    #[test]
    fn example_6_retries_zero_tries_a_failing_step_once() {
        let run = run_job(&RetryPolicy::with_retries(0), &knobs(), NOW, 0, |_| {
            Try::Fail
        });
        assert_eq!(run.attempts, [0]);
        assert_eq!(run.end, End::GaveUp(GiveUpReason::AttemptsExhausted));
    }

    #[test]
    fn example_7_default_schedule_for_two_failures() {
        for jitter in [0, 1, 15_000, JITTER_MAX_MS - 1] {
            let run = run_job(
                &RetryPolicy::default(),
                &knobs(),
                NOW,
                jitter,
                fails_then_ok(2),
            );
            assert_eq!(run.attempts, [0, 1, 2]);
            let first_wait = run.started[1] - run.started[0];
            let second_wait = run.started[2] - run.started[1];
            assert!((15_000..45_000).contains(&first_wait), "{first_wait}");
            assert!((30_000..60_000).contains(&second_wait), "{second_wait}");
        }
    }

    #[test]
    fn r2_three_failing_steps_make_fifteen_attempts() {
        let policy = RetryPolicy::with_retries(4);
        let total: usize = (0..3)
            .map(|_| {
                run_job(&policy, &knobs(), NOW, 0, |_| Try::Fail)
                    .attempts
                    .len()
            })
            .sum();
        assert_eq!(total, 15);
    }

    #[test]
    fn max_retries_allows_twenty_one_attempts() {
        let policy = RetryPolicy::from_configured(Some(25)).policy;
        let run = run_job(&policy, &knobs(), NOW, 0, |_| Try::Fail);
        assert_eq!(run.attempts, (0..=20).collect::<Vec<_>>());
    }

    #[test]
    fn retry_after_on_the_last_attempt_grants_nothing() {
        let run = run_job(&RetryPolicy::with_retries(1), &knobs(), NOW, 0, |_| {
            Try::RetryAfter("3")
        });
        assert_eq!(run.attempts, [0, 1]);
        assert_eq!(run.end, End::GaveUp(GiveUpReason::AttemptsExhausted));
    }

    #[test]
    fn unreadable_retry_after_falls_back_to_the_backoff() {
        let app = |attempt| {
            if attempt == 0 {
                Try::RetryAfter("soon")
            } else {
                Try::Ok
            }
        };
        let run = run_job(&RetryPolicy::default(), &knobs(), NOW, 7, app);
        assert_eq!(run.started, [NOW, NOW + 15_007]);
    }

    fn any_knobs() -> impl Strategy<Value = BackoffKnobs> {
        prop_oneof![
            (0.0f64..=10.0).prop_map(|scale| BackoffKnobs {
                scale,
                fixed_interval_ms: None,
            }),
            (-10i64..10_000_000).prop_map(|fixed| BackoffKnobs {
                scale: 1.0,
                fixed_interval_ms: Some(fixed),
            }),
        ]
    }

    proptest! {
        #[test]
        fn never_retries_past_the_budget(
            retries in 0u32..=25,
            attempt in any::<u32>(),
            non_retriable in any::<bool>(),
            retry_at in proptest::option::of(any::<i64>()),
            knobs in any_knobs(),
            now in any::<i64>(),
            jitter in any::<u32>(),
        ) {
            let policy = RetryPolicy::with_retries(retries);
            let failure = FailedAttempt { attempt, non_retriable, retry_at };
            match decide(&policy, &knobs, &failure, now, jitter) {
                Decision::Retry { attempt: next, .. } => {
                    prop_assert!(!non_retriable);
                    prop_assert!(next < policy.max_attempts());
                    prop_assert_eq!(next, attempt + 1);
                }
                Decision::GiveUp(GiveUpReason::NonRetriable) => prop_assert!(non_retriable),
                Decision::GiveUp(GiveUpReason::AttemptsExhausted) => {
                    prop_assert!(!non_retriable);
                    prop_assert!(attempt.saturating_add(1) >= policy.max_attempts());
                }
                Decision::GiveUp(other) => prop_assert!(false, "no rule nor budget gave {other:?}"),
            }
        }

        #[test]
        fn never_schedules_before_now_unless_retry_after_says_so(
            retries in 1u32..=20,
            attempt in 0u32..20,
            retry_at in proptest::option::of(any::<i64>()),
            knobs in any_knobs(),
            now in any::<i64>(),
            jitter in any::<u32>(),
        ) {
            let policy = RetryPolicy::with_retries(retries);
            let failure = FailedAttempt { attempt, non_retriable: false, retry_at };
            if let Decision::Retry { at, .. } = decide(&policy, &knobs, &failure, now, jitter) {
                match retry_at {
                    Some(wanted) => prop_assert_eq!(at, wanted),
                    None => prop_assert!(at >= now),
                }
            }
        }

        #[test]
        fn default_knobs_wait_the_table_plus_jitter(
            attempt in 0u32..19,
            jitter in 0..JITTER_MAX_MS,
            now in 0i64..4_000_000_000_000,
        ) {
            let policy = RetryPolicy::with_retries(20);
            let decision = decide(&policy, &BackoffKnobs::default(), &failed(attempt), now, jitter);
            let base = DEFAULT_TABLE_MS[(attempt as usize).min(9)];
            prop_assert_eq!(
                decision,
                Decision::Retry { attempt: attempt + 1, at: now + base + i64::from(jitter) }
            );
        }

        #[test]
        fn a_job_that_always_fails_makes_exactly_max_attempts(
            retries in 0u32..=20,
            jitter in 0..JITTER_MAX_MS,
        ) {
            let policy = RetryPolicy::with_retries(retries);
            let run = run_job(&policy, &BackoffKnobs::default(), NOW, jitter, |_| Try::Fail);
            prop_assert_eq!(run.attempts, (0..=retries).collect::<Vec<_>>());
            prop_assert!(run.started.windows(2).all(|w| w[1] > w[0]));
        }
    }
}
