//! The retry decision with everything a policy may configure (issue 8) and the reasons for it: which
//! counter a failure counted on, whether it retries, cools down, gives up or pauses, and why the next
//! delay is what it is. [`decide`](crate::decide) is this function for a job with no counters but its
//! attempt number.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;
use crate::backoff::{Backoff, BackoffKnobs};
use crate::decision::GiveUpReason;
use crate::jitter::Jitter;
use crate::policy::{MAX_RETRIES, RetryPolicy};
use crate::retry_state::RetryState;
use crate::rules::OnExhausted;

/// What the engine knows about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    /// The 0-based number of the attempt that failed.
    pub attempt: u32,
    /// The app said the failure is final.
    pub non_retriable: bool,
    /// When the app asked to be tried again (`Retry-After`, already parsed and clamped).
    pub retry_at: Option<UnixMillis>,
    /// The error's `name` and `message`, for the policy's rules.
    pub error_name: Option<&'a str>,
    pub error_message: Option<&'a str>,
    /// The job's counters before this failure.
    pub state: &'a RetryState,
    /// Retries the run has taken so far, for a run budget.
    pub run_retries_used: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Try the same job again as `attempt`, not before `at`, with these counters. `spends_run_retry`: the
    /// retry counts against the run's budget (a cool-down does not).
    Retry {
        attempt: u32,
        at: UnixMillis,
        state: RetryState,
        spends_run_retry: bool,
    },
    /// The step (or the function body) has failed for good.
    GiveUp(GiveUpReason),
    /// Out of retries, and the policy pauses the run instead of failing the step.
    Pause(GiveUpReason),
}

/// The kind of a [`Next`], as explanations name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Retry,
    CoolDown,
    GiveUp,
    Pause,
}

/// Why a failed attempt led where it did. Stored with the attempt; shown by the API, the dashboard and
/// `durin explain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Where the policy came from (the engine fills it in: registered, policy file, step options, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The rule the error matched; `None` for the policy's own retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub verdict: Verdict,
    /// Failures on that counter, this one included, and the retries it allows.
    pub failures: u32,
    pub retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_retries_used: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_retries: Option<u32>,
    /// The wait before the next attempt, and its parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<i64>,
    /// The same, in one sentence.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub next: Next,
    pub explanation: Explanation,
}

/// Retry, cool down, give up or pause. `jitter_ms` is a sample in `[0, JITTER_MAX_MS)` drawn by the
/// caller.
///
/// In order: a non-retriable failure gives up (retries.md R6), and so does an error a rule says `never`
/// for; a `Retry-After` within the policy's cool-down spends no retry; otherwise the failure counts on
/// its rule's counter (or the policy's own) and, while that counter and the run's budget allow, the job is
/// tried again at `Retry-After` (never scaled, R5) or after the counter's backoff (R4). Out of retries, the
/// step fails, or the run pauses when the policy says so.
pub fn judge(
    policy: &RetryPolicy,
    knobs: &BackoffKnobs,
    failure: &Failure<'_>,
    now_ms: UnixMillis,
    jitter_ms: u32,
) -> Judgement {
    let rule = policy
        .rules
        .iter()
        .find(|rule| rule.matches(failure.error_name, failure.error_message));
    let (label, failures, retries, backoff) = match rule {
        Some(rule) => (
            Some(rule.label()),
            failure.state.rule_failures(&rule.label()).saturating_add(1),
            rule.retries.min(MAX_RETRIES),
            rule.backoff.as_ref().unwrap_or(&policy.backoff),
        ),
        None => (
            None,
            failure
                .state
                .policy_failures(failure.attempt)
                .saturating_add(1),
            policy.retries.min(MAX_RETRIES),
            &policy.backoff,
        ),
    };
    let counter = match &label {
        Some(label) => format!("rule {label}"),
        None => "the policy's retries".to_owned(),
    };
    let mut explanation = Explanation {
        policy: None,
        rule: label.clone(),
        verdict: Verdict::GiveUp,
        failures,
        retries,
        run_retries_used: policy.run_retries.map(|_| failure.run_retries_used),
        run_retries: policy.run_retries,
        delay_ms: None,
        backoff_ms: None,
        jitter_ms: None,
        retry_after_ms: failure.retry_at.map(|at| at.saturating_sub(now_ms).max(0)),
        reason: String::new(),
    };
    let give_up = |mut explanation: Explanation, reason: GiveUpReason, why: String| {
        let pauses = policy.on_exhausted == OnExhausted::Pause
            && matches!(
                reason,
                GiveUpReason::AttemptsExhausted | GiveUpReason::RunRetriesExhausted
            );
        explanation.verdict = if pauses {
            Verdict::Pause
        } else {
            Verdict::GiveUp
        };
        explanation.reason = if pauses {
            format!("{why}; the policy pauses the run until it is resumed or failed")
        } else {
            format!("{why}; the step fails")
        };
        Judgement {
            next: if pauses {
                Next::Pause(reason)
            } else {
                Next::GiveUp(reason)
            },
            explanation,
        }
    };

    if failure.non_retriable {
        return give_up(
            explanation,
            GiveUpReason::NonRetriable,
            "the app marked the error non-retriable".into(),
        );
    }
    if let Some(rule) = rule
        && rule.never
    {
        return give_up(
            explanation,
            GiveUpReason::RuleSaysNever,
            format!("{counter} says never retry"),
        );
    }
    let next_attempt = failure.attempt.saturating_add(1);
    let mut cool_down_note = String::new();
    if let (Some(at), Some(cool_down)) = (failure.retry_at, policy.cool_down) {
        let wait = at.saturating_sub(now_ms).max(0);
        let total = failure.state.cool_down_ms.saturating_add(wait);
        // A cool-down is a wait the app asked for. A retry time already due is no wait (an interrupted
        // attempt is retried "now", and counts, retries.md R11): it spends a retry as any failure does.
        if wait > 0 && total <= cool_down.max_total_ms {
            let mut state = failure.state.clone();
            state.cool_downs = state.cool_downs.saturating_add(1);
            state.cool_down_ms = total;
            explanation.verdict = Verdict::CoolDown;
            explanation.failures = failures.saturating_sub(1);
            explanation.delay_ms = Some(wait);
            explanation.reason = format!(
                "cool-down: the app asked to wait {wait} ms (Retry-After); no retry spent, {total} of {} ms of cool-down used",
                cool_down.max_total_ms
            );
            return Judgement {
                next: Next::Retry {
                    attempt: next_attempt,
                    at,
                    state,
                    spends_run_retry: false,
                },
                explanation,
            };
        }
        cool_down_note = format!(
            " (the {} ms cool-down allowance is spent, so this Retry-After counts as a failure)",
            cool_down.max_total_ms
        );
    }
    if failures > retries {
        return give_up(
            explanation,
            GiveUpReason::AttemptsExhausted,
            format!(
                "retries spent: failure {failures} on {counter}, which allows {}{cool_down_note}",
                count(retries, "retry", "retries")
            ),
        );
    }
    if let Some(budget) = policy.run_retries
        && failure.run_retries_used >= budget
    {
        return give_up(
            explanation,
            GiveUpReason::RunRetriesExhausted,
            format!(
                "the run's retry budget is spent ({} of {budget} retries taken by its steps)",
                failure.run_retries_used
            ),
        );
    }

    let mut state = failure.state.clone();
    if let Some(label) = &label {
        state.rule_failures.insert(label.clone(), failures);
    }
    let (at, why) = match failure.retry_at {
        Some(at) => {
            explanation.delay_ms = explanation.retry_after_ms;
            (
                at,
                format!(
                    "at the app's Retry-After ({} ms)",
                    at.saturating_sub(now_ms).max(0)
                ),
            )
        }
        None => {
            let index = failures - 1;
            let base = backoff.delay_ms(knobs, index, 0);
            let delay = backoff.delay_ms(knobs, index, jitter_ms);
            explanation.delay_ms = Some(delay);
            explanation.backoff_ms = Some(base);
            explanation.jitter_ms = Some(delay.saturating_sub(base));
            let shape = backoff_name(backoff, knobs);
            let drawn = match backoff.jitter() {
                // These draw the whole delay below the nominal one: say so, rather than "0 + jitter".
                Jitter::Full | Jitter::Equal if knobs.fixed_interval_ms.is_none() => {
                    let kind = if backoff.jitter() == Jitter::Full {
                        "full"
                    } else {
                        "equal"
                    };
                    format!(
                        "{shape} backoff {} ms with {kind} jitter",
                        backoff.nominal_ms(knobs, index)
                    )
                }
                _ => format!(
                    "{shape} backoff {base} ms + jitter {} ms",
                    delay.saturating_sub(base)
                ),
            };
            (
                now_ms.saturating_add(delay),
                format!("after {delay} ms: {drawn}{}", knob_note(knobs)),
            )
        }
    };
    explanation.verdict = Verdict::Retry;
    explanation.reason =
        format!("retry {failures} of {retries} on {counter}, {why}{cool_down_note}");
    Judgement {
        next: Next::Retry {
            attempt: next_attempt,
            at,
            state,
            spends_run_retry: true,
        },
        explanation,
    }
}

fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn backoff_name(backoff: &Backoff, knobs: &BackoffKnobs) -> &'static str {
    if knobs.fixed_interval_ms.is_some() {
        return "fixed (--retry-interval)";
    }
    match backoff {
        Backoff::InngestTable => "Inngest's table",
        Backoff::Table { .. } => "table",
        Backoff::Exponential { .. } => "exponential",
        Backoff::Fixed { .. } => "fixed",
    }
}

fn knob_note(knobs: &BackoffKnobs) -> String {
    if knobs.fixed_interval_ms.is_none() && knobs.scale != 1.0 {
        format!(" (scaled by --backoff-scale {})", knobs.scale)
    } else {
        String::new()
    }
}
