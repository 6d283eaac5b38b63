//! Issue 8's retry policy through the public API: rules per error class (each with its own counter and
//! backoff), cool-downs that spend no retry, pausing instead of failing, the run's retry budget, the
//! explanation stored with every attempt, and the JSON a user writes to configure all of it.
//!
//! Multi-attempt cases go through `simulate`, which feeds every returned `state` and `attempt` back into
//! `judge` the way the engine does, so counters are checked as they evolve, not only one call at a time.

use std::collections::BTreeMap;

use durin_core::Verdict::{CoolDown as C, GiveUp as G, Pause as P, Retry as R};
use durin_core::rules::MAX_COOL_DOWN_MS;
use durin_core::{
    Backoff, BackoffKnobs, CoolDown, DEFAULT_TABLE_MS, Decision, ErrorRule, Explanation,
    FailedAttempt, Failure, GiveUpReason, JITTER_MAX_MS, Jitter, Judgement, MAX_RETRIES,
    MAX_RUN_RETRIES, Next, OnExhausted, PolicyOverride, RetryPolicy, RetryState, UnixMillis,
    Verdict, decide, judge,
};
use proptest::prelude::*;
use serde_json::json;

const NOW: UnixMillis = 1_790_000_000_000;

// --- helpers ---

fn knobs() -> BackoffKnobs {
    BackoffKnobs::default()
}

fn rule(error: &str, retries: u32) -> ErrorRule {
    ErrorRule {
        error: error.into(),
        message_contains: None,
        retries,
        backoff: None,
        never: false,
    }
}

fn rule_with_message(error: &str, part: &str, retries: u32) -> ErrorRule {
    ErrorRule {
        message_contains: Some(part.into()),
        ..rule(error, retries)
    }
}

fn never(error: &str) -> ErrorRule {
    ErrorRule {
        never: true,
        ..rule(error, 0)
    }
}

/// 100 ms, 200 ms, 400 ms, ... without jitter.
fn exponential_100ms() -> Backoff {
    Backoff::Exponential {
        initial_interval_ms: 100,
        backoff_coefficient: 2.0,
        maximum_interval_ms: 1_000_000,
        jitter: Jitter::None,
    }
}

fn fixed(interval_ms: i64) -> Backoff {
    Backoff::Fixed {
        interval_ms,
        jitter: Jitter::None,
    }
}

fn policy(retries: u32) -> RetryPolicy {
    RetryPolicy::with_retries(retries)
}

fn with_rules(retries: u32, rules: Vec<ErrorRule>) -> RetryPolicy {
    RetryPolicy {
        rules,
        ..policy(retries)
    }
}

fn with_cool_down(retries: u32, max_total_ms: i64) -> RetryPolicy {
    RetryPolicy {
        cool_down: Some(CoolDown { max_total_ms }),
        ..policy(retries)
    }
}

/// A plain failure of `attempt` with the error `name`, no Retry-After, no run budget used.
fn failure<'a>(attempt: u32, name: Option<&'a str>, state: &'a RetryState) -> Failure<'a> {
    Failure {
        attempt,
        non_retriable: false,
        retry_at: None,
        error_name: name,
        error_message: None,
        state,
        run_retries_used: 0,
    }
}

fn judge_at_now(policy: &RetryPolicy, failure: &Failure<'_>, jitter_ms: u32) -> Judgement {
    judge(policy, &knobs(), failure, NOW, jitter_ms)
}

fn state_with(rules: &[(&str, u32)], cool_downs: u32, cool_down_ms: i64) -> RetryState {
    RetryState {
        rule_failures: rules.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        cool_downs,
        cool_down_ms,
    }
}

/// How one attempt of a job fails.
#[derive(Debug, Clone)]
struct Try {
    name: Option<String>,
    message: Option<String>,
    non_retriable: bool,
    /// The app's Retry-After, in ms from the attempt's start (negative: a time already past).
    retry_after_ms: Option<i64>,
}

fn error(name: &str) -> Try {
    Try {
        name: Some(name.into()),
        message: None,
        non_retriable: false,
        retry_after_ms: None,
    }
}

fn errors(names: &[&str]) -> Vec<Try> {
    names.iter().map(|name| error(name)).collect()
}

fn retry_after(name: &str, ms: i64) -> Try {
    Try {
        retry_after_ms: Some(ms),
        ..error(name)
    }
}

/// One call of `judge` in a simulated job, with what it was given.
#[derive(Debug, Clone)]
struct Step {
    attempt: u32,
    now: UnixMillis,
    retry_at: Option<UnixMillis>,
    state: RetryState,
    run_retries_used: u32,
    judgement: Judgement,
}

impl Step {
    fn next(&self) -> &Next {
        &self.judgement.next
    }
    fn explanation(&self) -> &Explanation {
        &self.judgement.explanation
    }
    fn verdict(&self) -> Verdict {
        self.judgement.explanation.verdict
    }
    /// The wait `judge` chose: `at - now` for a retry.
    fn wait(&self) -> Option<i64> {
        match self.next() {
            Next::Retry { at, .. } => Some(at - self.now),
            _ => None,
        }
    }
}

/// Drives one job the way the engine does: attempt `n` fails as `tries[n]` says, every failure goes
/// through `judge` with the counters the previous call returned, and the next attempt starts at the time
/// it returned (at once when that time is already past). Stops at the first verdict that is not a retry,
/// or when `tries` runs out (the next attempt succeeded). `run_retries_used` is the run's count when the
/// job starts; the job adds one for each retry that spends the run's budget.
fn simulate(
    policy: &RetryPolicy,
    knobs: &BackoffKnobs,
    jitter_ms: u32,
    run_retries_used: u32,
    tries: &[Try],
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut attempt = 0;
    let mut now = NOW;
    let mut state = RetryState::default();
    let mut used = run_retries_used;
    for t in tries {
        let retry_at = t.retry_after_ms.map(|ms| now.saturating_add(ms));
        let failure = Failure {
            attempt,
            non_retriable: t.non_retriable,
            retry_at,
            error_name: t.name.as_deref(),
            error_message: t.message.as_deref(),
            state: &state,
            run_retries_used: used,
        };
        let judgement = judge(policy, knobs, &failure, now, jitter_ms);
        let next = judgement.next.clone();
        steps.push(Step {
            attempt,
            now,
            retry_at,
            state: state.clone(),
            run_retries_used: used,
            judgement,
        });
        match next {
            Next::Retry {
                attempt: next_attempt,
                at,
                state: next_state,
                spends_run_retry,
            } => {
                attempt = next_attempt;
                now = now.max(at);
                state = next_state;
                if spends_run_retry {
                    used = used.saturating_add(1);
                }
            }
            Next::GiveUp(_) | Next::Pause(_) => break,
        }
    }
    steps
}

fn simulate_names(policy: &RetryPolicy, names: &[&str]) -> Vec<Step> {
    simulate(policy, &knobs(), 0, 0, &errors(names))
}

fn verdicts(steps: &[Step]) -> Vec<Verdict> {
    steps.iter().map(Step::verdict).collect()
}

fn waits(steps: &[Step]) -> Vec<Option<i64>> {
    steps.iter().map(Step::wait).collect()
}

fn last_next(steps: &[Step]) -> &Next {
    steps.last().map(Step::next).expect("at least one step")
}

// --- 1. rules per error class ---

#[test]
fn a_matching_failure_counts_on_the_rules_counter_not_the_policys() {
    let policy = with_rules(0, vec![rule("TimeoutError", 3)]);
    let empty = RetryState::default();
    let judgement = judge_at_now(&policy, &failure(0, Some("TimeoutError"), &empty), 0);
    let Next::Retry {
        attempt,
        state,
        spends_run_retry,
        ..
    } = &judgement.next
    else {
        panic!("a rule with 3 retries retries its first failure: {judgement:?}");
    };
    assert_eq!(*attempt, 1);
    assert!(*spends_run_retry);
    assert_eq!(*state, state_with(&[("TimeoutError", 1)], 0, 0));
    // The policy's counter is what the rule did not take: still nothing.
    assert_eq!(state.policy_failures(1), 0);
    let e = &judgement.explanation;
    assert_eq!(e.rule.as_deref(), Some("TimeoutError"));
    assert_eq!((e.failures, e.retries), (1, 3));
}

#[test]
fn a_rule_retries_until_its_failures_exceed_its_retries() {
    for retries in 0..=MAX_RETRIES {
        // The policy itself allows nothing: only the rule's counter matters.
        let policy = with_rules(0, vec![rule("TimeoutError", retries)]);
        let steps = simulate_names(&policy, &["TimeoutError"; 25]);
        assert_eq!(steps.len() as u32, retries + 1, "rule retries {retries}");
        assert!(steps[..retries as usize].iter().all(|s| s.verdict() == R));
        assert_eq!(
            last_next(&steps),
            &Next::GiveUp(GiveUpReason::AttemptsExhausted),
            "rule retries {retries}"
        );
        let failures: Vec<u32> = steps.iter().map(|s| s.explanation().failures).collect();
        assert_eq!(failures, (1..=retries + 1).collect::<Vec<_>>());
        let attempts: Vec<u32> = steps.iter().map(|s| s.attempt).collect();
        assert_eq!(attempts, (0..=retries).collect::<Vec<_>>());
    }
}

#[test]
fn an_unmatched_failure_counts_on_the_policys_retries() {
    let policy = with_rules(2, vec![rule("TimeoutError", 10)]);
    let steps = simulate_names(&policy, &["Other"; 10]);
    assert_eq!(verdicts(&steps), [R, R, G]);
    assert_eq!(
        last_next(&steps),
        &Next::GiveUp(GiveUpReason::AttemptsExhausted)
    );
    for step in &steps {
        assert_eq!(step.explanation().rule, None);
        assert_eq!(step.explanation().retries, 2);
        // Nothing on any rule's counter.
        assert!(step.state.is_empty());
    }
}

#[test]
fn a_failure_without_a_name_counts_on_the_policys_retries() {
    let policy = with_rules(1, vec![rule("TimeoutError", 10)]);
    let tries = vec![
        Try {
            name: None,
            message: Some("TimeoutError".into()),
            non_retriable: false,
            retry_after_ms: None,
        };
        5
    ];
    let steps = simulate(&policy, &knobs(), 0, 0, &tries);
    assert_eq!(verdicts(&steps), [R, G]);
    assert!(steps.iter().all(|s| s.explanation().rule.is_none()));
}

#[test]
fn interleaved_classes_keep_independent_counters() {
    // TimeoutError has 3 retries of its own; everything else shares the policy's 1.
    let policy = with_rules(1, vec![rule("TimeoutError", 3)]);
    let steps = simulate_names(
        &policy,
        &[
            "TimeoutError",
            "TimeoutError",
            "Other",
            "TimeoutError",
            "TimeoutError",
        ],
    );
    assert_eq!(verdicts(&steps), [R, R, R, R, G]);
    let counters: Vec<(Option<&str>, u32, u32)> = steps
        .iter()
        .map(|s| {
            let e = s.explanation();
            (e.rule.as_deref(), e.failures, e.retries)
        })
        .collect();
    assert_eq!(
        counters,
        [
            (Some("TimeoutError"), 1, 3),
            (Some("TimeoutError"), 2, 3),
            // Other used the policy's one retry, untouched by the two timeouts before it.
            (None, 1, 1),
            (Some("TimeoutError"), 3, 3),
            // TimeoutError's 4th failure: its 3 retries are spent.
            (Some("TimeoutError"), 4, 3),
        ]
    );
    assert_eq!(
        last_next(&steps),
        &Next::GiveUp(GiveUpReason::AttemptsExhausted)
    );
    assert_eq!(steps[4].attempt, 4);
    assert_eq!(steps[4].state, state_with(&[("TimeoutError", 3)], 0, 0));
}

#[test]
fn a_second_unmatched_failure_gives_up_on_the_policys_counter_whatever_came_between() {
    let policy = with_rules(1, vec![rule("TimeoutError", 3)]);
    let steps = simulate_names(&policy, &["TimeoutError", "Other", "Other"]);
    assert_eq!(verdicts(&steps), [R, R, G]);
    assert_eq!(steps[2].explanation().rule, None);
    assert_eq!(
        (
            steps[2].explanation().failures,
            steps[2].explanation().retries
        ),
        (2, 1)
    );
    // Three timeouts between the two don't change that.
    let steps = simulate_names(
        &policy,
        &[
            "Other",
            "TimeoutError",
            "TimeoutError",
            "TimeoutError",
            "Other",
        ],
    );
    assert_eq!(verdicts(&steps), [R, R, R, R, G]);
    assert_eq!(steps[4].attempt, 4);
    assert_eq!(steps[4].explanation().failures, 2);
    // And the rule keeps retrying after the policy's counter is spent.
    let policy = with_rules(0, vec![rule("TimeoutError", 3)]);
    let steps = simulate_names(&policy, &["TimeoutError", "TimeoutError", "Other"]);
    assert_eq!(verdicts(&steps), [R, R, G]);
}

#[test]
fn a_rules_backoff_is_indexed_by_its_own_failure_count() {
    let policy = RetryPolicy {
        backoff: fixed(5_000),
        rules: vec![ErrorRule {
            backoff: Some(exponential_100ms()),
            ..rule("TimeoutError", 3)
        }],
        ..policy(2)
    };
    let steps = simulate_names(
        &policy,
        &[
            "TimeoutError",
            "Other",
            "TimeoutError",
            "Other",
            "TimeoutError",
        ],
    );
    assert_eq!(verdicts(&steps), [R, R, R, R, R]);
    assert_eq!(
        waits(&steps),
        [Some(100), Some(5_000), Some(200), Some(5_000), Some(400)]
    );
    let backoffs: Vec<Option<i64>> = steps.iter().map(|s| s.explanation().backoff_ms).collect();
    assert_eq!(
        backoffs,
        [Some(100), Some(5_000), Some(200), Some(5_000), Some(400)]
    );
}

#[test]
fn the_policys_backoff_is_indexed_by_its_own_failure_count() {
    let policy = RetryPolicy {
        backoff: exponential_100ms(),
        rules: vec![ErrorRule {
            backoff: Some(fixed(7)),
            ..rule("TimeoutError", 5)
        }],
        ..policy(5)
    };
    let steps = simulate_names(
        &policy,
        &[
            "TimeoutError",
            "TimeoutError",
            "Other",
            "TimeoutError",
            "Other",
            "Other",
        ],
    );
    assert_eq!(
        waits(&steps),
        [Some(7), Some(7), Some(100), Some(7), Some(200), Some(400)]
    );
}

#[test]
fn a_rule_without_a_backoff_uses_the_policys() {
    let policy = RetryPolicy {
        backoff: fixed(250),
        ..with_rules(4, vec![rule("TimeoutError", 3)])
    };
    let steps = simulate_names(&policy, &["TimeoutError", "TimeoutError"]);
    assert_eq!(waits(&steps), [Some(250), Some(250)]);
    // Inngest's table, indexed by the rule's count: its first failure waits the first row even when it
    // comes third.
    let policy = with_rules(4, vec![rule("TimeoutError", 3)]);
    let steps = simulate(
        &policy,
        &knobs(),
        7,
        0,
        &errors(&["Other", "Other", "TimeoutError"]),
    );
    assert_eq!(
        waits(&steps),
        [
            Some(DEFAULT_TABLE_MS[0] + 7),
            Some(DEFAULT_TABLE_MS[1] + 7),
            Some(DEFAULT_TABLE_MS[0] + 7)
        ]
    );
}

#[test]
fn message_contains_narrows_a_rule() {
    let policy = with_rules(0, vec![rule_with_message("Error", "429", 5)]);
    let empty = RetryState::default();
    let with_message = |message: Option<&'static str>| {
        let f = Failure {
            error_message: message,
            ..failure(0, Some("Error"), &empty)
        };
        judge_at_now(&policy, &f, 0)
    };
    let matched = with_message(Some("HTTP 429 Too Many Requests"));
    assert_eq!(matched.explanation.rule.as_deref(), Some("Error ~ \"429\""));
    assert_eq!(matched.explanation.verdict, R);
    let Next::Retry { state, .. } = &matched.next else {
        panic!("{matched:?}");
    };
    assert_eq!(*state, state_with(&[("Error ~ \"429\"", 1)], 0, 0));
    for message in [Some("HTTP 500"), None] {
        let unmatched = with_message(message);
        assert_eq!(unmatched.explanation.rule, None, "{message:?}");
        assert_eq!(
            unmatched.next,
            Next::GiveUp(GiveUpReason::AttemptsExhausted),
            "{message:?}"
        );
    }
}

#[test]
fn two_rules_for_one_name_with_different_messages_count_separately() {
    let policy = with_rules(
        0,
        vec![
            rule_with_message("Error", "429", 1),
            rule_with_message("Error", "503", 1),
        ],
    );
    let t = |message: &str| Try {
        message: Some(message.into()),
        ..error("Error")
    };
    let steps = simulate(&policy, &knobs(), 0, 0, &[t("429"), t("503"), t("503")]);
    assert_eq!(verdicts(&steps), [R, R, G]);
    assert_eq!(
        steps[2].state,
        state_with(&[("Error ~ \"429\"", 1), ("Error ~ \"503\"", 1)], 0, 0)
    );
    assert_eq!(
        steps[2].explanation().rule.as_deref(),
        Some("Error ~ \"503\"")
    );
}

#[test]
fn the_first_matching_rule_wins() {
    let narrow = rule_with_message("Error", "429", 5);
    let broad = rule("Error", 1);
    let empty = RetryState::default();
    let f = Failure {
        error_message: Some("HTTP 429"),
        ..failure(0, Some("Error"), &empty)
    };
    let narrow_first = with_rules(0, vec![narrow.clone(), broad.clone()]);
    let got = judge_at_now(&narrow_first, &f, 0);
    assert_eq!(got.explanation.rule.as_deref(), Some("Error ~ \"429\""));
    assert_eq!(got.explanation.retries, 5);
    let other = Failure {
        error_message: Some("HTTP 500"),
        ..f
    };
    assert_eq!(
        judge_at_now(&narrow_first, &other, 0)
            .explanation
            .rule
            .as_deref(),
        Some("Error")
    );
    // In the other order the broad rule shadows the narrow one.
    let broad_first = with_rules(0, vec![broad, narrow]);
    let got = judge_at_now(&broad_first, &f, 0);
    assert_eq!(got.explanation.rule.as_deref(), Some("Error"));
    assert_eq!(got.explanation.retries, 1);
}

#[test]
fn names_match_exactly() {
    let policy = with_rules(0, vec![rule("TimeoutError", 3)]);
    let empty = RetryState::default();
    for name in [
        "timeouterror",
        "TimeoutErrorX",
        "Timeout",
        " TimeoutError",
        "",
    ] {
        let got = judge_at_now(&policy, &failure(0, Some(name), &empty), 0);
        assert_eq!(got.explanation.rule, None, "{name:?}");
        assert_eq!(got.next, Next::GiveUp(GiveUpReason::AttemptsExhausted));
    }
}

#[test]
fn never_gives_up_at_once_even_on_attempt_zero() {
    let policy = with_rules(20, vec![never("ValidationError")]);
    let empty = RetryState::default();
    for attempt in [0, 1, 5, 20] {
        let got = judge_at_now(
            &policy,
            &failure(attempt, Some("ValidationError"), &empty),
            0,
        );
        assert_eq!(
            got.next,
            Next::GiveUp(GiveUpReason::RuleSaysNever),
            "{attempt}"
        );
        assert_eq!(got.explanation.verdict, G);
        assert_eq!(got.explanation.rule.as_deref(), Some("ValidationError"));
        assert_eq!(
            got.explanation.reason,
            "rule ValidationError says never retry; the step fails"
        );
    }
    let steps = simulate_names(&policy, &["Other", "ValidationError", "Other"]);
    assert_eq!(verdicts(&steps), [R, G]);
}

#[test]
fn never_does_not_pause_and_wins_over_retry_after_cool_downs_and_budgets() {
    let policy = RetryPolicy {
        on_exhausted: OnExhausted::Pause,
        cool_down: Some(CoolDown {
            max_total_ms: 60_000,
        }),
        run_retries: Some(100),
        ..with_rules(5, vec![never("ValidationError")])
    };
    let empty = RetryState::default();
    let f = Failure {
        retry_at: Some(NOW + 1_000),
        ..failure(0, Some("ValidationError"), &empty)
    };
    let got = judge_at_now(&policy, &f, 0);
    assert_eq!(got.next, Next::GiveUp(GiveUpReason::RuleSaysNever));
    assert_eq!(got.explanation.verdict, G);
}

#[test]
fn non_retriable_wins_over_every_rule() {
    let policy = RetryPolicy {
        cool_down: Some(CoolDown {
            max_total_ms: 60_000,
        }),
        on_exhausted: OnExhausted::Pause,
        ..with_rules(5, vec![rule("TimeoutError", 10), never("ValidationError")])
    };
    let empty = RetryState::default();
    for name in ["TimeoutError", "ValidationError", "Other"] {
        let f = Failure {
            non_retriable: true,
            retry_at: Some(NOW + 1_000),
            ..failure(0, Some(name), &empty)
        };
        let got = judge_at_now(&policy, &f, 0);
        assert_eq!(got.next, Next::GiveUp(GiveUpReason::NonRetriable), "{name}");
        assert_eq!(
            got.explanation.reason,
            "the app marked the error non-retriable; the step fails"
        );
    }
}

#[test]
fn a_rules_retries_above_the_maximum_are_clamped() {
    // Not something `check` lets through, but a stored policy is never trusted further than this.
    let policy = with_rules(0, vec![rule("TimeoutError", 1_000)]);
    let steps = simulate_names(&policy, &["TimeoutError"; 30]);
    assert_eq!(steps.len() as u32, MAX_RETRIES + 1);
    assert_eq!(steps[0].explanation().retries, MAX_RETRIES);
    let huge = RetryPolicy {
        retries: u32::MAX,
        ..policy
    };
    assert_eq!(
        simulate_names(&huge, &["Other"; 30]).len() as u32,
        MAX_RETRIES + 1
    );
}

#[test]
fn decide_knows_no_error_name_so_rules_never_match() {
    let policy = with_rules(1, vec![never("Error"), rule("Error", 10)]);
    let failed = |attempt| FailedAttempt {
        attempt,
        non_retriable: false,
        retry_at: None,
    };
    assert!(matches!(
        decide(&policy, &knobs(), &failed(0), NOW, 0),
        Decision::Retry { attempt: 1, .. }
    ));
    assert_eq!(
        decide(&policy, &knobs(), &failed(1), NOW, 0),
        Decision::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

// --- 2. cool-downs ---

#[test]
fn a_retry_after_within_the_allowance_is_a_cool_down() {
    let policy = with_cool_down(4, 60_000);
    let empty = RetryState::default();
    let f = Failure {
        retry_at: Some(NOW + 3_000),
        ..failure(0, Some("RateLimited"), &empty)
    };
    let got = judge_at_now(&policy, &f, 29_999);
    assert_eq!(
        got.next,
        Next::Retry {
            attempt: 1,
            at: NOW + 3_000,
            state: state_with(&[], 1, 3_000),
            spends_run_retry: false,
        }
    );
    assert_eq!(
        got.explanation,
        Explanation {
            policy: None,
            rule: None,
            verdict: C,
            failures: 0,
            retries: 4,
            run_retries_used: None,
            run_retries: None,
            delay_ms: Some(3_000),
            backoff_ms: None,
            jitter_ms: None,
            retry_after_ms: Some(3_000),
            reason: "cool-down: the app asked to wait 3000 ms (Retry-After); no retry spent, 3000 of 60000 ms of cool-down used".into(),
        }
    );
}

#[test]
fn a_cool_down_spends_no_retry() {
    let policy = with_cool_down(4, 60_000);
    let mut tries = vec![retry_after("RateLimited", 1_000); 3];
    tries.extend(errors(&["Other"; 10]));
    let steps = simulate(&policy, &knobs(), 0, 0, &tries);
    // Three cool-downs, then the policy's own 4 retries, then it gives up: 8 attempts.
    assert_eq!(verdicts(&steps), [C, C, C, R, R, R, R, G]);
    let failures: Vec<u32> = steps.iter().map(|s| s.explanation().failures).collect();
    assert_eq!(failures, [0, 0, 0, 1, 2, 3, 4, 5]);
    // The counters only ever moved for the cool-downs.
    assert!(
        steps[3..]
            .iter()
            .all(|s| s.state == state_with(&[], 3, 3_000))
    );
    assert!(steps[..3].iter().all(|s| s.state.rule_failures.is_empty()));
}

#[test]
fn a_cool_down_works_with_retries_zero() {
    let policy = with_cool_down(0, 60_000);
    let steps = simulate(
        &policy,
        &knobs(),
        0,
        0,
        &[
            retry_after("RateLimited", 2_000),
            retry_after("RateLimited", 2_000),
            error("Other"),
        ],
    );
    assert_eq!(verdicts(&steps), [C, C, G]);
    assert_eq!(steps[1].attempt, 1);
    assert_eq!(steps[2].attempt, 2);
    assert_eq!(
        last_next(&steps),
        &Next::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

#[test]
fn a_cool_down_on_an_error_a_rule_matches_leaves_the_rules_counter_alone() {
    let policy = RetryPolicy {
        cool_down: Some(CoolDown {
            max_total_ms: 60_000,
        }),
        ..with_rules(0, vec![rule("RateLimited", 1)])
    };
    let steps = simulate(
        &policy,
        &knobs(),
        0,
        0,
        &[
            retry_after("RateLimited", 5_000),
            error("RateLimited"),
            retry_after("RateLimited", 5_000),
            error("RateLimited"),
        ],
    );
    assert_eq!(verdicts(&steps), [C, R, C, G]);
    assert_eq!(steps[0].explanation().rule.as_deref(), Some("RateLimited"));
    assert_eq!(steps[0].explanation().failures, 0);
    assert_eq!(steps[3].state, state_with(&[("RateLimited", 1)], 2, 10_000));
    assert_eq!(steps[3].explanation().failures, 2);
}

#[test]
fn cool_down_totals_accumulate_and_past_the_maximum_count_as_failures() {
    let policy = with_cool_down(4, 10_000);
    let steps = simulate(
        &policy,
        &knobs(),
        0,
        0,
        &vec![retry_after("RateLimited", 3_000); 5],
    );
    assert_eq!(verdicts(&steps), [C, C, C, R, R]);
    let totals: Vec<i64> = steps.iter().map(|s| s.state.cool_down_ms).collect();
    assert_eq!(totals, [0, 3_000, 6_000, 9_000, 9_000]);
    // The 4th would make 12 s: an ordinary failure at the app's time (R5), which spends a retry.
    let fourth = &steps[3];
    assert_eq!(
        fourth.next(),
        &Next::Retry {
            attempt: 4,
            at: fourth.now + 3_000,
            state: state_with(&[], 3, 9_000),
            spends_run_retry: true,
        }
    );
    assert_eq!(fourth.explanation().failures, 1);
    assert_eq!(
        fourth.explanation().reason,
        "retry 1 of 4 on the policy's retries, at the app's Retry-After (3000 ms) (the 10000 ms cool-down allowance is spent, so this Retry-After counts as a failure)"
    );
    assert_eq!(steps[4].explanation().failures, 2);
}

#[test]
fn a_total_exactly_at_the_maximum_is_still_a_cool_down() {
    let policy = with_cool_down(0, 10_000);
    let state = state_with(&[], 2, 7_000);
    let f = Failure {
        retry_at: Some(NOW + 3_000),
        ..failure(2, None, &state)
    };
    let got = judge_at_now(&policy, &f, 0);
    assert_eq!(got.explanation.verdict, C);
    assert!(matches!(got.next, Next::Retry { state, .. } if state.cool_down_ms == 10_000));
    let f = Failure {
        retry_at: Some(NOW + 3_001),
        ..f
    };
    assert_eq!(
        judge_at_now(&policy, &f, 0).next,
        Next::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

#[test]
fn one_wait_longer_than_the_whole_allowance_counts_as_a_failure() {
    let policy = with_cool_down(1, 1_000);
    let steps = simulate(
        &policy,
        &knobs(),
        0,
        0,
        &vec![retry_after("RateLimited", 3_000); 3],
    );
    assert_eq!(verdicts(&steps), [R, G]);
    assert_eq!(steps[0].wait(), Some(3_000));
    assert_eq!(steps[0].state.cool_downs, 0);
    assert_eq!(
        steps[1].explanation().reason,
        "retries spent: failure 2 on the policy's retries, which allows 1 retry (the 1000 ms cool-down allowance is spent, so this Retry-After counts as a failure); the step fails"
    );
}

#[test]
fn a_smaller_retry_after_still_fits_what_is_left_of_the_allowance() {
    // The allowance is a total, not a switch: after one wait too long for it, a shorter one still fits.
    let policy = with_cool_down(4, 10_000);
    let steps = simulate(
        &policy,
        &knobs(),
        0,
        0,
        &[
            retry_after("RateLimited", 9_000),
            retry_after("RateLimited", 3_000),
            retry_after("RateLimited", 1_000),
        ],
    );
    assert_eq!(verdicts(&steps), [C, R, C]);
}

#[test]
fn a_retry_time_already_due_is_no_cool_down_and_spends_a_retry() {
    // An interrupted attempt is retried "now" (R11) and a Retry-After in the past asks for no wait:
    // neither is a rate limit, so neither is free, or a loop of them would never end.
    let policy = with_cool_down(2, 10_000);
    let state = state_with(&[], 3, 0);
    for at in [NOW, NOW - 5_000] {
        let f = Failure {
            retry_at: Some(at),
            ..failure(3, None, &state)
        };
        let got = judge_at_now(&policy, &f, 0);
        assert_eq!(
            got.next,
            Next::Retry {
                attempt: 4,
                at,
                state: state.clone(),
                spends_run_retry: true,
            }
        );
        assert_eq!(got.explanation.verdict, Verdict::Retry);
        assert_eq!(got.explanation.retry_after_ms, Some(0));
    }
    // With the policy's retries spent, such a failure gives up.
    let spent = state_with(&[], 3, 0);
    let f = Failure {
        retry_at: Some(NOW),
        ..failure(5, None, &spent)
    };
    assert_eq!(
        judge_at_now(&policy, &f, 0).next,
        Next::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

#[test]
fn without_a_cool_down_retry_after_is_r5() {
    for retries in 0..=6 {
        let plain = policy(retries);
        for attempt in 0..=retries + 1 {
            let empty = RetryState::default();
            let f = Failure {
                retry_at: Some(NOW + 3_000),
                ..failure(attempt, Some("RateLimited"), &empty)
            };
            let got = judge_at_now(&plain, &f, 12_345);
            let legacy = decide(
                &plain,
                &knobs(),
                &FailedAttempt {
                    attempt,
                    non_retriable: false,
                    retry_at: Some(NOW + 3_000),
                },
                NOW,
                12_345,
            );
            if attempt < retries {
                // The app's time, not the backoff; and it spends a retry.
                assert_eq!(
                    got.next,
                    Next::Retry {
                        attempt: attempt + 1,
                        at: NOW + 3_000,
                        state: RetryState::default(),
                        spends_run_retry: true,
                    }
                );
                assert_eq!(
                    legacy,
                    Decision::Retry {
                        attempt: attempt + 1,
                        at: NOW + 3_000
                    }
                );
            } else {
                // No extra attempt for a Retry-After on the last one.
                assert_eq!(got.next, Next::GiveUp(GiveUpReason::AttemptsExhausted));
                assert_eq!(legacy, Decision::GiveUp(GiveUpReason::AttemptsExhausted));
            }
        }
    }
}

// --- 3. pause ---

fn pausing(policy: RetryPolicy) -> RetryPolicy {
    RetryPolicy {
        on_exhausted: OnExhausted::Pause,
        ..policy
    }
}

#[test]
fn pause_turns_spent_retries_into_a_pause() {
    let steps = simulate_names(&pausing(policy(1)), &["Other"; 5]);
    assert_eq!(verdicts(&steps), [R, P]);
    assert_eq!(
        last_next(&steps),
        &Next::Pause(GiveUpReason::AttemptsExhausted)
    );
    assert_eq!(
        steps[1].explanation().reason,
        "retries spent: failure 2 on the policy's retries, which allows 1 retry; the policy pauses the run until it is resumed or failed"
    );
    // A rule's spent counter pauses too.
    let steps = simulate_names(
        &pausing(with_rules(5, vec![rule("TimeoutError", 0)])),
        &["TimeoutError"],
    );
    assert_eq!(
        last_next(&steps),
        &Next::Pause(GiveUpReason::AttemptsExhausted)
    );
    assert_eq!(steps[0].verdict(), P);
}

#[test]
fn pause_turns_a_spent_run_budget_into_a_pause() {
    let policy = RetryPolicy {
        run_retries: Some(3),
        ..pausing(policy(10))
    };
    let steps = simulate(&policy, &knobs(), 0, 2, &errors(&["Other"; 5]));
    assert_eq!(verdicts(&steps), [R, P]);
    assert_eq!(
        last_next(&steps),
        &Next::Pause(GiveUpReason::RunRetriesExhausted)
    );
    assert_eq!(
        steps[1].explanation().reason,
        "the run's retry budget is spent (3 of 3 retries taken by its steps); the policy pauses the run until it is resumed or failed"
    );
}

#[test]
fn non_retriable_and_never_still_give_up_under_pause() {
    let policy = pausing(with_rules(5, vec![never("ValidationError")]));
    let empty = RetryState::default();
    let non_retriable = Failure {
        non_retriable: true,
        ..failure(0, Some("Other"), &empty)
    };
    let got = judge_at_now(&policy, &non_retriable, 0);
    assert_eq!(got.next, Next::GiveUp(GiveUpReason::NonRetriable));
    assert_eq!(got.explanation.verdict, G);
    let got = judge_at_now(&policy, &failure(0, Some("ValidationError"), &empty), 0);
    assert_eq!(got.next, Next::GiveUp(GiveUpReason::RuleSaysNever));
    assert_eq!(got.explanation.verdict, G);
}

#[test]
fn decide_reports_a_pause_as_giving_up() {
    let failed = FailedAttempt {
        attempt: 1,
        non_retriable: false,
        retry_at: None,
    };
    assert_eq!(
        decide(&pausing(policy(1)), &knobs(), &failed, NOW, 0),
        Decision::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

// --- 4. the run's retry budget ---

fn budget(retries: u32, run_retries: u32) -> RetryPolicy {
    RetryPolicy {
        run_retries: Some(run_retries),
        ..policy(retries)
    }
}

#[test]
fn a_spent_run_budget_gives_up_though_the_step_could_retry() {
    let policy = budget(20, 5);
    let empty = RetryState::default();
    let f = |used| Failure {
        run_retries_used: used,
        ..failure(0, Some("Other"), &empty)
    };
    let got = judge_at_now(&policy, &f(4), 0);
    assert!(matches!(
        got.next,
        Next::Retry {
            spends_run_retry: true,
            ..
        }
    ));
    assert_eq!(got.explanation.run_retries_used, Some(4));
    assert_eq!(got.explanation.run_retries, Some(5));
    for used in [5, 6, u32::MAX] {
        let got = judge_at_now(&policy, &f(used), 0);
        assert_eq!(got.next, Next::GiveUp(GiveUpReason::RunRetriesExhausted));
        assert_eq!(got.explanation.verdict, G);
    }
    assert_eq!(
        judge_at_now(&policy, &f(5), 0).explanation.reason,
        "the run's retry budget is spent (5 of 5 retries taken by its steps); the step fails"
    );
    // A budget of 0: no ordinary retry at all.
    assert_eq!(
        judge_at_now(&budget(20, 0), &f(0), 0).next,
        Next::GiveUp(GiveUpReason::RunRetriesExhausted)
    );
}

#[test]
fn the_run_budget_is_shared_by_the_steps_of_a_run() {
    let policy = budget(4, 3);
    // Step A fails twice then succeeds: two of the run's three retries.
    let a = simulate(&policy, &knobs(), 0, 0, &errors(&["Other"; 2]));
    assert_eq!(verdicts(&a), [R, R]);
    let used = a
        .iter()
        .filter(|s| {
            matches!(
                s.next(),
                Next::Retry {
                    spends_run_retry: true,
                    ..
                }
            )
        })
        .count() as u32;
    assert_eq!(used, 2);
    // Step B, with its own counter at 0, gets only the one left.
    let b = simulate(&policy, &knobs(), 0, used, &errors(&["Other"; 5]));
    assert_eq!(verdicts(&b), [R, G]);
    assert_eq!(
        last_next(&b),
        &Next::GiveUp(GiveUpReason::RunRetriesExhausted)
    );
    assert_eq!(b[1].explanation().failures, 2);
}

#[test]
fn every_ordinary_retry_spends_the_run_budget() {
    let policy = RetryPolicy {
        run_retries: Some(100),
        ..with_rules(3, vec![rule("TimeoutError", 3)])
    };
    let mut tries = errors(&["TimeoutError", "Other"]);
    tries.push(retry_after("Other", 2_000));
    tries.push(retry_after("TimeoutError", 2_000));
    let steps = simulate(&policy, &knobs(), 0, 10, &tries);
    assert_eq!(verdicts(&steps), [R, R, R, R]);
    let used: Vec<u32> = steps.iter().map(|s| s.run_retries_used).collect();
    assert_eq!(used, [10, 11, 12, 13]);
    assert!(steps.iter().all(|s| matches!(
        s.next(),
        Next::Retry {
            spends_run_retry: true,
            ..
        }
    )));
}

#[test]
fn a_cool_down_is_allowed_when_the_run_budget_is_spent() {
    let policy = RetryPolicy {
        cool_down: Some(CoolDown {
            max_total_ms: 10_000,
        }),
        ..budget(4, 2)
    };
    let mut tries = vec![retry_after("RateLimited", 4_000); 3];
    tries.push(error("Other"));
    let steps = simulate(&policy, &knobs(), 0, 2, &tries);
    // Two cool-downs fit; the third would make 12 s, counts as a failure, and the budget is spent.
    assert_eq!(verdicts(&steps), [C, C, G]);
    assert!(steps[..2].iter().all(|s| matches!(
        s.next(),
        Next::Retry {
            spends_run_retry: false,
            ..
        }
    )));
    assert_eq!(
        last_next(&steps),
        &Next::GiveUp(GiveUpReason::RunRetriesExhausted)
    );
}

#[test]
fn a_spent_step_counter_is_named_before_a_spent_run_budget() {
    let state = RetryState::default();
    let f = Failure {
        run_retries_used: 9,
        ..failure(1, None, &state)
    };
    assert_eq!(
        judge_at_now(&budget(1, 9), &f, 0).next,
        Next::GiveUp(GiveUpReason::AttemptsExhausted)
    );
}

// --- 5. explanations ---

#[test]
fn delay_is_at_minus_now_for_every_retry() {
    let backoffs = [
        Backoff::InngestTable,
        fixed(1_234),
        exponential_100ms(),
        Backoff::Table {
            delays_ms: vec![5, 50, 500],
            jitter: Jitter::Full,
        },
        Backoff::Fixed {
            interval_ms: 10_000,
            jitter: Jitter::Equal,
        },
        Backoff::Fixed {
            interval_ms: 10_000,
            jitter: Jitter::Additive { max_ms: 999 },
        },
    ];
    let all_knobs = [
        knobs(),
        BackoffKnobs {
            scale: 0.01,
            fixed_interval_ms: None,
        },
        BackoffKnobs {
            scale: 1.0,
            fixed_interval_ms: Some(2_000),
        },
    ];
    for backoff in &backoffs {
        for k in &all_knobs {
            for jitter in [0, 1, 15_000, JITTER_MAX_MS - 1] {
                let policy = RetryPolicy {
                    backoff: backoff.clone(),
                    ..policy(10)
                };
                let mut tries = errors(&["Other"; 4]);
                tries.push(retry_after("Other", 3_000));
                let steps = simulate(&policy, k, jitter, 0, &tries);
                assert_eq!(steps.len(), 5);
                for step in &steps {
                    let e = step.explanation();
                    assert_eq!(e.verdict, R);
                    assert_eq!(e.delay_ms, step.wait(), "{backoff:?} {k:?} {jitter}");
                    if step.retry_at.is_none() {
                        assert_eq!(e.retry_after_ms, None);
                        let (Some(b), Some(j), Some(d)) = (e.backoff_ms, e.jitter_ms, e.delay_ms)
                        else {
                            panic!("a backoff retry explains its parts: {e:?}");
                        };
                        assert_eq!(b + j, d, "{backoff:?} {k:?} {jitter}");
                        assert!(b >= 0 && j >= 0);
                    } else {
                        assert_eq!(e.retry_after_ms, Some(3_000));
                        assert_eq!((e.backoff_ms, e.jitter_ms), (None, None));
                    }
                }
            }
        }
    }
}

#[test]
fn retry_after_is_explained_on_every_verdict() {
    let empty = RetryState::default();
    let with_ra = |attempt, non_retriable| Failure {
        non_retriable,
        retry_at: Some(NOW + 2_500),
        ..failure(attempt, None, &empty)
    };
    for (policy, f) in [
        (policy(1), with_ra(0, false)),
        (policy(1), with_ra(1, false)),
        (policy(1), with_ra(0, true)),
        (with_cool_down(1, 60_000), with_ra(5, false)),
    ] {
        let e = judge_at_now(&policy, &f, 0).explanation;
        assert_eq!(e.retry_after_ms, Some(2_500), "{e:?}");
    }
    assert_eq!(
        judge_at_now(&policy(1), &failure(0, None, &empty), 0)
            .explanation
            .retry_after_ms,
        None
    );
}

#[test]
fn reasons_name_the_counter_and_the_verdict() {
    let empty = RetryState::default();
    let reason = |policy: &RetryPolicy, k: &BackoffKnobs, f: &Failure<'_>, jitter| {
        judge(policy, k, f, NOW, jitter).explanation.reason
    };
    assert_eq!(
        reason(&policy(4), &knobs(), &failure(0, None, &empty), 7),
        "retry 1 of 4 on the policy's retries, after 15007 ms: Inngest's table backoff 15000 ms + jitter 7 ms"
    );
    let scaled = BackoffKnobs {
        scale: 0.01,
        fixed_interval_ms: None,
    };
    assert_eq!(
        reason(&policy(4), &scaled, &failure(0, None, &empty), 29_999),
        "retry 1 of 4 on the policy's retries, after 449 ms: Inngest's table backoff 150 ms + jitter 299 ms (scaled by --backoff-scale 0.01)"
    );
    let interval = BackoffKnobs {
        scale: 1.0,
        fixed_interval_ms: Some(2_000),
    };
    assert_eq!(
        reason(&policy(4), &interval, &failure(3, None, &empty), 29_999),
        "retry 4 of 4 on the policy's retries, after 2000 ms: fixed (--retry-interval) backoff 2000 ms + jitter 0 ms"
    );
    let rules = RetryPolicy {
        backoff: fixed(5_000),
        rules: vec![
            ErrorRule {
                backoff: Some(exponential_100ms()),
                ..rule("TimeoutError", 3)
            },
            rule_with_message("Error", "429", 2),
        ],
        ..policy(4)
    };
    let one_timeout = state_with(&[("TimeoutError", 1)], 0, 0);
    assert_eq!(
        reason(
            &rules,
            &knobs(),
            &failure(1, Some("TimeoutError"), &one_timeout),
            0
        ),
        "retry 2 of 3 on rule TimeoutError, after 200 ms: exponential backoff 200 ms + jitter 0 ms"
    );
    assert_eq!(
        reason(&rules, &knobs(), &failure(0, Some("Other"), &empty), 0),
        "retry 1 of 4 on the policy's retries, after 5000 ms: fixed backoff 5000 ms + jitter 0 ms"
    );
    let three_timeouts = state_with(&[("TimeoutError", 3)], 0, 0);
    assert_eq!(
        reason(
            &rules,
            &knobs(),
            &failure(3, Some("TimeoutError"), &three_timeouts),
            0
        ),
        "retries spent: failure 4 on rule TimeoutError, which allows 3 retries; the step fails"
    );
    let message = Failure {
        error_message: Some("HTTP 429"),
        retry_at: Some(NOW + 3_000),
        ..failure(0, Some("Error"), &empty)
    };
    assert_eq!(
        reason(&rules, &knobs(), &message, 0),
        "retry 1 of 2 on rule Error ~ \"429\", at the app's Retry-After (3000 ms)"
    );
    let table = RetryPolicy {
        backoff: Backoff::Table {
            delays_ms: vec![10, 20],
            jitter: Jitter::Full,
        },
        ..policy(4)
    };
    assert_eq!(
        reason(&table, &knobs(), &failure(1, None, &empty), 15_000),
        "retry 2 of 4 on the policy's retries, after 10 ms: table backoff 20 ms with full jitter"
    );
}

#[test]
fn run_budget_fields_appear_only_with_a_budget() {
    let empty = RetryState::default();
    let f = Failure {
        run_retries_used: 7,
        ..failure(0, None, &empty)
    };
    let without = judge_at_now(&policy(2), &f, 0).explanation;
    assert_eq!(
        (without.run_retries_used, without.run_retries),
        (None, None)
    );
    let json = serde_json::to_value(&without).expect("serializes");
    assert!(json.get("run_retries_used").is_none() && json.get("run_retries").is_none());
    let with = judge_at_now(&budget(2, 50), &f, 0).explanation;
    assert_eq!(
        (with.run_retries_used, with.run_retries),
        (Some(7), Some(50))
    );
    let json = serde_json::to_value(&with).expect("serializes");
    assert_eq!(json["run_retries_used"], 7);
    assert_eq!(json["run_retries"], 50);
}

#[test]
fn an_explanation_serializes_compactly_and_round_trips() {
    let policy = with_cool_down(4, 60_000);
    let empty = RetryState::default();
    let f = Failure {
        retry_at: Some(NOW + 3_000),
        ..failure(0, None, &empty)
    };
    let e = judge_at_now(&policy, &f, 0).explanation;
    let json = serde_json::to_value(&e).expect("serializes");
    assert_eq!(
        json,
        json!({
            "verdict": "cool_down",
            "failures": 0,
            "retries": 4,
            "delay_ms": 3000,
            "retry_after_ms": 3000,
            "reason": "cool-down: the app asked to wait 3000 ms (Retry-After); no retry spent, 3000 of 60000 ms of cool-down used",
        })
    );
    assert_eq!(
        serde_json::from_value::<Explanation>(json).expect("parses"),
        e
    );
    for (verdict, text) in [(R, "retry"), (C, "cool_down"), (G, "give_up"), (P, "pause")] {
        assert_eq!(serde_json::to_value(verdict).expect("serializes"), text);
    }
}

#[test]
fn a_retry_state_round_trips_through_json() {
    let state = state_with(&[("TimeoutError", 2), ("Error ~ \"429\"", 1)], 3, 4_500);
    let json = serde_json::to_value(&state).expect("serializes");
    assert_eq!(
        json,
        json!({"rule_failures": {"TimeoutError": 2, "Error ~ \"429\"": 1}, "cool_downs": 3, "cool_down_ms": 4500})
    );
    assert_eq!(
        serde_json::from_value::<RetryState>(json).expect("parses"),
        state
    );
    assert_eq!(state.policy_failures(10), 4);
}

// --- 7. PolicyOverride JSON ---

fn documented_override() -> serde_json::Value {
    json!({
        "retries": 3,
        "backoff": {"kind": "exponential", "initial_interval_ms": 1000, "backoff_coefficient": 2.0, "maximum_interval_ms": 60000},
        "rules": [
            {"error": "TimeoutError", "retries": 10},
            {"error": "ValidationError", "never": true}
        ],
        "cool_down": {"max_total_ms": 60000},
        "on_exhausted": "pause",
        "run_retries": 50
    })
}

fn parse_override(value: serde_json::Value) -> Result<PolicyOverride, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[test]
fn the_documented_override_parses_and_applies() {
    let parsed = parse_override(documented_override()).expect("the documented shape");
    assert_eq!(parsed.check(), Ok(()));
    let applied = parsed.apply(&RetryPolicy::default());
    assert_eq!(
        applied,
        RetryPolicy {
            retries: 3,
            backoff: Backoff::Exponential {
                initial_interval_ms: 1_000,
                backoff_coefficient: 2.0,
                maximum_interval_ms: 60_000,
                jitter: Jitter::None,
            },
            rules: vec![rule("TimeoutError", 10), never("ValidationError")],
            cool_down: Some(CoolDown {
                max_total_ms: 60_000
            }),
            on_exhausted: OnExhausted::Pause,
            run_retries: Some(50),
        }
    );
    assert!(applied.decided_by_engine());
    // A policy round-trips with its new fields; one without them keeps its old JSON shape.
    let json = serde_json::to_value(&applied).expect("serializes");
    assert_eq!(
        serde_json::from_value::<RetryPolicy>(json).expect("parses"),
        applied
    );
    assert_eq!(
        serde_json::to_value(RetryPolicy::with_retries(2)).expect("serializes"),
        json!({"retries": 2, "backoff": {"kind": "inngest_table"}})
    );
    // And the override itself round-trips.
    assert_eq!(
        parse_override(serde_json::to_value(&parsed).expect("serializes")),
        Ok(parsed)
    );
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    let mut top = documented_override();
    top["retry"] = json!(1);
    assert!(
        parse_override(top)
            .unwrap_err()
            .contains("unknown field `retry`")
    );
    let mut in_rule = documented_override();
    in_rule["rules"][0]["attempts"] = json!(1);
    assert!(
        parse_override(in_rule)
            .unwrap_err()
            .contains("unknown field `attempts`")
    );
    let mut in_cool_down = documented_override();
    in_cool_down["cool_down"] = json!({"max_ms": 5});
    assert!(parse_override(in_cool_down).is_err());
    let mut bad_pause = documented_override();
    bad_pause["on_exhausted"] = json!("stop");
    assert!(parse_override(bad_pause).is_err());
    let mut negative = documented_override();
    negative["run_retries"] = json!(-1);
    assert!(parse_override(negative).is_err());
    assert_eq!(parse_override(json!({})), Ok(PolicyOverride::default()));
}

#[test]
fn check_names_the_bad_field() {
    let with = |patch: serde_json::Value| -> Result<(), String> {
        let mut value = documented_override();
        for (key, v) in patch.as_object().expect("an object") {
            value[key] = v.clone();
        }
        parse_override(value).expect("parses").check()
    };
    assert_eq!(
        with(json!({"retries": 21})),
        Err("`retries` is 21; the most is 20".into())
    );
    assert_eq!(
        with(json!({"rules": [{"error": "A", "retries": 1}, {"error": " "}]})),
        Err("rules[1]: `error` is blank".into())
    );
    assert_eq!(
        with(json!({"rules": [{"error": "A", "retries": 21}]})),
        Err("rules[0]: `retries` is 21; the most is 20".into())
    );
    assert_eq!(
        with(json!({"rules": [{"error": "A", "never": true, "retries": 2}]})),
        Err("rules[0]: `never` cannot go with `retries` or `backoff`".into())
    );
    assert_eq!(
        with(json!({"rules": [{"error": "A"}, {"error": "A"}]})),
        Err("rules[1]: a second rule for A".into())
    );
    assert_eq!(
        with(json!({"rules": [{"error": "A", "backoff": {"kind": "fixed", "interval_ms": -1}}]})),
        Err("rules[0]: backoff `interval_ms`: -1 ms is outside 0 to 604800000 ms (a week)".into())
    );
    assert_eq!(
        with(json!({"cool_down": {"max_total_ms": 0}})),
        Err(format!(
            "`cool_down.max_total_ms` is 0; it must be 1..={MAX_COOL_DOWN_MS}"
        ))
    );
    assert!(with(json!({"cool_down": {"max_total_ms": MAX_COOL_DOWN_MS + 1}})).is_err());
    assert_eq!(
        with(json!({"cool_down": {"max_total_ms": MAX_COOL_DOWN_MS}})),
        Ok(())
    );
    assert_eq!(
        with(json!({"run_retries": MAX_RUN_RETRIES + 1})),
        Err("`run_retries` is 10001; the most is 10000".into())
    );
    assert_eq!(with(json!({"run_retries": MAX_RUN_RETRIES})), Ok(()));
    assert_eq!(with(json!({"run_retries": 0})), Ok(()));
    assert_eq!(
        with(json!({"backoff": {"kind": "table", "delays_ms": []}})),
        Err("backoff `delays_ms`: has 0 rows; a table has 1 to 100".into())
    );
}

#[test]
fn a_steps_override_may_not_set_the_run_budget() {
    let function_level = parse_override(documented_override()).expect("parses");
    assert_eq!(
        function_level.check_for_step(),
        Err("`run_retries` belongs on a function's policy, not a step's".into())
    );
    let step_level = PolicyOverride {
        run_retries: None,
        ..function_level
    };
    assert_eq!(step_level.check_for_step(), Ok(()));
    // Other problems are still found for a step.
    let bad = PolicyOverride {
        retries: Some(99),
        ..step_level
    };
    assert_eq!(
        bad.check_for_step(),
        Err("`retries` is 99; the most is 20".into())
    );
}

#[test]
fn apply_keeps_what_is_left_out() {
    let base = parse_override(documented_override())
        .expect("parses")
        .apply(&RetryPolicy::default());
    assert_eq!(PolicyOverride::default().apply(&base), base);
    let retries_only = parse_override(json!({"retries": 7})).expect("parses");
    assert_eq!(
        retries_only.apply(&base),
        RetryPolicy {
            retries: 7,
            ..base.clone()
        }
    );
    let no_rules = parse_override(json!({"rules": [], "on_exhausted": "fail"})).expect("parses");
    assert_eq!(
        no_rules.apply(&base),
        RetryPolicy {
            rules: vec![],
            on_exhausted: OnExhausted::Fail,
            ..base.clone()
        }
    );
    let cool_down = parse_override(json!({"cool_down": {"max_total_ms": 5}, "run_retries": 1}))
        .expect("parses");
    assert_eq!(
        cool_down.apply(&base),
        RetryPolicy {
            cool_down: Some(CoolDown { max_total_ms: 5 }),
            run_retries: Some(1),
            ..base
        }
    );
}

#[test]
fn decided_by_engine_exactly_when_an_engine_only_feature_is_set() {
    let plain = RetryPolicy {
        backoff: exponential_100ms(),
        ..policy(7)
    };
    assert!(!plain.decided_by_engine());
    assert!(!RetryPolicy::default().decided_by_engine());
    let cases = [
        with_rules(7, vec![rule("E", 1)]),
        with_cool_down(7, 1),
        pausing(policy(7)),
        budget(7, 0),
    ];
    for policy in cases {
        assert!(policy.decided_by_engine(), "{policy:?}");
    }
}

// --- 6. properties ---

fn any_jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        (0i64..=60_000).prop_map(|max_ms| Jitter::Additive { max_ms }),
    ]
}

fn any_backoff() -> impl Strategy<Value = Backoff> {
    prop_oneof![
        Just(Backoff::InngestTable),
        (0i64..=100_000, any_jitter()).prop_map(|(interval_ms, jitter)| Backoff::Fixed {
            interval_ms,
            jitter
        }),
        (1i64..=10_000, 1.0f64..=10.0, 0i64..=1_000_000, any_jitter()).prop_map(
            |(initial, coefficient, extra, jitter)| Backoff::Exponential {
                initial_interval_ms: initial,
                backoff_coefficient: coefficient,
                maximum_interval_ms: initial + extra,
                jitter,
            }
        ),
        (prop::collection::vec(0i64..=100_000, 1..5), any_jitter())
            .prop_map(|(delays_ms, jitter)| Backoff::Table { delays_ms, jitter }),
    ]
}

fn any_knobs() -> impl Strategy<Value = BackoffKnobs> {
    prop_oneof![
        Just(BackoffKnobs::default()),
        (0.0f64..=10.0).prop_map(|scale| BackoffKnobs {
            scale,
            fixed_interval_ms: None,
        }),
        (-10i64..1_000_000).prop_map(|fixed| BackoffKnobs {
            scale: 1.0,
            fixed_interval_ms: Some(fixed),
        }),
    ]
}

const NAMES: [&str; 4] = ["A", "B", "C", "D"];
const PARTS: [&str; 2] = ["x", "y"];
const MESSAGES: [&str; 4] = ["x", "xy", "y", "z"];

fn any_rule() -> impl Strategy<Value = ErrorRule> {
    (
        prop::sample::select(&NAMES[..3]),
        prop::option::of(prop::sample::select(&PARTS[..])),
        0u32..=25,
        prop::option::of(any_backoff()),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(error, part, retries, backoff, never)| ErrorRule {
            error: error.into(),
            message_contains: part.map(str::to_owned),
            retries,
            backoff,
            never,
        })
}

fn any_policy() -> impl Strategy<Value = RetryPolicy> {
    (
        0u32..=25,
        any_backoff(),
        prop::collection::vec(any_rule(), 0..4),
        prop::option::of(1i64..=60_000),
        any::<bool>(),
        prop::option::of(0u32..=30),
    )
        .prop_map(
            |(retries, backoff, rules, cool_down, pause, run_retries)| RetryPolicy {
                retries,
                backoff,
                rules,
                cool_down: cool_down.map(|max_total_ms| CoolDown { max_total_ms }),
                on_exhausted: if pause {
                    OnExhausted::Pause
                } else {
                    OnExhausted::Fail
                },
                run_retries,
            },
        )
}

fn any_try() -> impl Strategy<Value = Try> {
    (
        prop::option::weighted(0.9, prop::sample::select(&NAMES[..])),
        prop::option::of(prop::sample::select(&MESSAGES[..])),
        prop::bool::weighted(0.05),
        prop::option::weighted(0.3, -5_000i64..=40_000),
    )
        .prop_map(|(name, message, non_retriable, retry_after_ms)| Try {
            name: name.map(str::to_owned),
            message: message.map(str::to_owned),
            non_retriable,
            retry_after_ms,
        })
}

fn exhausted(policy: &RetryPolicy, reason: GiveUpReason) -> Next {
    match policy.on_exhausted {
        OnExhausted::Pause => Next::Pause(reason),
        OnExhausted::Fail => Next::GiveUp(reason),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Without rules, cool-down, budget or pause, `judge` is retries.md R1-R6 exactly, whatever error
    /// name, message or run count it is given, and `decide` says the same.
    #[test]
    fn a_plain_policy_keeps_the_legacy_semantics(
        retries in 0u32..=25,
        backoff in any_backoff(),
        knobs in any_knobs(),
        attempt in prop_oneof![0u32..30, any::<u32>()],
        non_retriable in any::<bool>(),
        retry_at in prop::option::of(any::<i64>()),
        now in any::<i64>(),
        jitter in any::<u32>(),
        name in prop::option::of(prop::sample::select(&NAMES[..])),
        run_retries_used in any::<u32>(),
    ) {
        let policy = RetryPolicy { retries, backoff: backoff.clone(), ..RetryPolicy::default() };
        prop_assert!(!policy.decided_by_engine());
        let empty = RetryState::default();
        let f = Failure {
            attempt,
            non_retriable,
            retry_at,
            error_name: name,
            error_message: name,
            state: &empty,
            run_retries_used,
        };
        let got = judge(&policy, &knobs, &f, now, jitter);
        let retries_left = u64::from(attempt) + 1 < u64::from(policy.max_attempts());
        let expected = if non_retriable {
            Next::GiveUp(GiveUpReason::NonRetriable)
        } else if !retries_left {
            Next::GiveUp(GiveUpReason::AttemptsExhausted)
        } else {
            Next::Retry {
                attempt: attempt + 1,
                at: retry_at.unwrap_or_else(|| now.saturating_add(backoff.delay_ms(&knobs, attempt, jitter))),
                state: RetryState::default(),
                spends_run_retry: true,
            }
        };
        prop_assert_eq!(&got.next, &expected);
        let verdict = if matches!(expected, Next::Retry { .. }) { R } else { G };
        prop_assert_eq!(got.explanation.verdict, verdict);
        prop_assert_eq!(got.explanation.rule, None);
        prop_assert_eq!(got.explanation.run_retries_used, None);
        let legacy = decide(&policy, &knobs, &FailedAttempt { attempt, non_retriable, retry_at }, now, jitter);
        let expected_decision = match expected {
            Next::Retry { attempt, at, .. } => Decision::Retry { attempt, at },
            Next::GiveUp(reason) | Next::Pause(reason) => Decision::GiveUp(reason),
        };
        prop_assert_eq!(legacy, expected_decision);
    }

    /// Any policy, any sequence of failures fed back through `simulate`: no counter gives more retries
    /// than it allows, the run's budget is never overdrawn, attempts rise by one, a retry is never
    /// scheduled before now unless the app asked for a time already past, and cool-downs stay within
    /// their total.
    #[test]
    fn simulated_jobs_keep_every_budget(
        policy in any_policy(),
        knobs in any_knobs(),
        jitter in 0..JITTER_MAX_MS,
        run_start in 0u32..=30,
        tries in prop::collection::vec(any_try(), 0..40),
    ) {
        let steps = simulate(&policy, &knobs, jitter, run_start, &tries);
        let mut spent: BTreeMap<Option<String>, u32> = BTreeMap::new();
        let mut run_spent = 0u32;
        let mut cool_downs = 0u32;
        for (i, step) in steps.iter().enumerate() {
            let e = step.explanation();
            prop_assert_eq!(step.attempt, i as u32, "attempts rise by exactly one");
            prop_assert_eq!(e.run_retries.is_some(), policy.run_retries.is_some());
            prop_assert_eq!(e.run_retries_used.is_some(), policy.run_retries.is_some());
            match step.next() {
                Next::Retry { attempt, at, state, spends_run_retry } => {
                    prop_assert_eq!(*attempt, step.attempt + 1);
                    if step.retry_at.is_none_or(|wanted| wanted >= step.now) {
                        prop_assert!(*at >= step.now, "{at} before {}", step.now);
                        prop_assert_eq!(e.delay_ms, Some(*at - step.now));
                    }
                    if let Some(wanted) = step.retry_at {
                        prop_assert_eq!(*at, wanted);
                    }
                    if let Some(cool_down) = policy.cool_down {
                        prop_assert!(state.cool_down_ms <= cool_down.max_total_ms);
                    } else {
                        prop_assert_eq!(state.cool_downs, 0);
                        prop_assert_eq!(state.cool_down_ms, 0);
                    }
                    if *spends_run_retry {
                        prop_assert_eq!(e.verdict, R);
                        *spent.entry(e.rule.clone()).or_default() += 1;
                        run_spent += 1;
                        prop_assert!(e.failures <= e.retries);
                    } else {
                        prop_assert_eq!(e.verdict, C);
                        cool_downs += 1;
                    }
                }
                Next::GiveUp(reason) => {
                    prop_assert_eq!(e.verdict, G);
                    if *reason == GiveUpReason::NonRetriable {
                        prop_assert!(tries[i].non_retriable);
                    }
                    if policy.on_exhausted == OnExhausted::Pause {
                        prop_assert!(matches!(reason, GiveUpReason::NonRetriable | GiveUpReason::RuleSaysNever));
                    }
                }
                Next::Pause(reason) => {
                    prop_assert_eq!(e.verdict, P);
                    prop_assert_eq!(policy.on_exhausted, OnExhausted::Pause);
                    prop_assert!(matches!(reason, GiveUpReason::AttemptsExhausted | GiveUpReason::RunRetriesExhausted));
                }
            }
        }
        for (counter, n) in &spent {
            let allowance = match counter {
                Some(label) => policy
                    .rules
                    .iter()
                    .find(|r| &r.label() == label)
                    .map(|r| r.retries)
                    .expect("a counter belongs to a rule"),
                None => policy.retries,
            }
            .min(MAX_RETRIES);
            prop_assert!(*n <= allowance, "{counter:?} gave {n} retries, allows {allowance}");
        }
        if let Some(budget) = policy.run_retries {
            prop_assert!(run_spent <= budget.saturating_sub(run_start), "{run_spent} of {budget} from {run_start}");
        }
        if let Some(last) = steps.last()
            && let Next::Retry { state, .. } = last.next()
        {
            prop_assert_eq!(state.cool_downs, cool_downs);
        }
    }

    /// The same runs checked against a model that counts every counter explicitly (instead of deriving
    /// the policy's from the attempt number): each verdict, time, state and explanation count agree.
    #[test]
    fn simulated_jobs_agree_with_an_explicit_model(
        policy in any_policy(),
        knobs in any_knobs(),
        jitter in 0..JITTER_MAX_MS,
        run_start in 0u32..=30,
        tries in prop::collection::vec(any_try(), 0..40),
    ) {
        let steps = simulate(&policy, &knobs, jitter, run_start, &tries);
        let mut counts: BTreeMap<Option<String>, u32> = BTreeMap::new();
        let mut cool_total = 0i64;
        let mut cool_n = 0u32;
        let mut used = run_start;
        for (step, t) in steps.iter().zip(&tries) {
            let matched = policy
                .rules
                .iter()
                .find(|r| r.matches(t.name.as_deref(), t.message.as_deref()));
            let key = matched.map(ErrorRule::label);
            let allowance = matched.map_or(policy.retries, |r| r.retries).min(MAX_RETRIES);
            let backoff = matched.and_then(|r| r.backoff.as_ref()).unwrap_or(&policy.backoff);
            let count = counts.get(&key).copied().unwrap_or(0);
            let wait = step.retry_at.map(|at| (at - step.now).max(0));
            let cools = match (wait, policy.cool_down) {
                (Some(wait), Some(c)) => wait > 0 && cool_total + wait <= c.max_total_ms,
                _ => false,
            };
            let (expected, spends) = if t.non_retriable {
                (Next::GiveUp(GiveUpReason::NonRetriable), false)
            } else if matched.is_some_and(|r| r.never) {
                (Next::GiveUp(GiveUpReason::RuleSaysNever), false)
            } else if cools {
                cool_total += wait.unwrap_or(0);
                cool_n += 1;
                (Next::Retry { attempt: step.attempt + 1, at: step.retry_at.unwrap_or(0), state: RetryState::default(), spends_run_retry: false }, false)
            } else if count + 1 > allowance {
                (exhausted(&policy, GiveUpReason::AttemptsExhausted), false)
            } else if policy.run_retries.is_some_and(|budget| used >= budget) {
                (exhausted(&policy, GiveUpReason::RunRetriesExhausted), false)
            } else {
                let at = step.retry_at.unwrap_or_else(|| step.now + backoff.delay_ms(&knobs, count, jitter));
                (Next::Retry { attempt: step.attempt + 1, at, state: RetryState::default(), spends_run_retry: true }, true)
            };
            let e = step.explanation();
            prop_assert_eq!(e.rule.as_deref(), key.as_deref());
            prop_assert_eq!(e.retries, allowance);
            prop_assert_eq!(e.failures, if cools && !t.non_retriable && !matched.is_some_and(|r| r.never) { count } else { count + 1 });
            match (&expected, step.next()) {
                (
                    Next::Retry { attempt, at, spends_run_retry, .. },
                    Next::Retry { attempt: got_attempt, at: got_at, state, spends_run_retry: got_spends },
                ) => {
                    prop_assert_eq!((attempt, at, spends_run_retry), (got_attempt, got_at, got_spends));
                    if spends {
                        *counts.entry(key.clone()).or_default() += 1;
                        used += 1;
                    }
                    let rule_counts: BTreeMap<String, u32> = counts
                        .iter()
                        .filter_map(|(k, v)| k.clone().map(|k| (k, *v)))
                        .collect();
                    prop_assert_eq!(&state.rule_failures, &rule_counts);
                    prop_assert_eq!(state.cool_downs, cool_n);
                    prop_assert_eq!(state.cool_down_ms, cool_total);
                }
                (expected, got) => prop_assert_eq!(expected, got),
            }
        }
    }

    /// Whatever counters a stored job carries (even nonsense), `judge` answers without panicking, and
    /// only a retriable failure is retried.
    #[test]
    fn judge_never_panics_on_stored_counters(
        policy in any_policy(),
        knobs in any_knobs(),
        attempt in any::<u32>(),
        rule_failures in prop::collection::btree_map(
            prop::sample::select(vec!["A", "B", "C", "A ~ \"x\"", "B ~ \"y\""]).prop_map(str::to_owned),
            any::<u32>(),
            0..4,
        ),
        cool_downs in any::<u32>(),
        cool_down_ms in any::<i64>(),
        t in any_try(),
        now in any::<i64>(),
        retry_at in prop::option::of(any::<i64>()),
        jitter in any::<u32>(),
        run_retries_used in any::<u32>(),
    ) {
        let state = RetryState { rule_failures, cool_downs, cool_down_ms };
        let f = Failure {
            attempt,
            non_retriable: t.non_retriable,
            retry_at,
            error_name: t.name.as_deref(),
            error_message: t.message.as_deref(),
            state: &state,
            run_retries_used,
        };
        let got = judge(&policy, &knobs, &f, now, jitter);
        if let Next::Retry { attempt: next, .. } = got.next {
            prop_assert!(!t.non_retriable);
            prop_assert_eq!(next, attempt.saturating_add(1));
        }
    }

    /// `decided_by_engine` is true exactly when the policy uses a feature only the engine can count.
    #[test]
    fn decided_by_engine_is_exactly_the_engine_only_features(policy in any_policy()) {
        let expected = !policy.rules.is_empty()
            || policy.cool_down.is_some()
            || policy.on_exhausted == OnExhausted::Pause
            || policy.run_retries.is_some();
        prop_assert_eq!(policy.decided_by_engine(), expected);
    }
}
