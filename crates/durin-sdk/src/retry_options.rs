//! A step's own retry policy, set in code ([`Step::run_with`](crate::Step::run_with)) and sent to the engine
//! with the step's failure: the op's `opts` is `{"durin": {"retry": <policy>}}`, where `<policy>` has the
//! shape of one entry of Durin's retry policy file (`docs/retry-policies.md`) without `function`/`step`.
//!
//! These are plain builders: times are [`Duration`]s, sent as whole milliseconds (rounded up). Obvious
//! mistakes are caught by [`StepOptions::check`], which `run_with` calls before the step runs; the engine
//! checks the policy again when it reads it.

use std::time::Duration;

use serde::Serialize;
use serde::ser::Serializer;
use serde_json::Value;

/// Most retries a policy or a rule may give (the engine's limit).
const MAX_RETRIES: u32 = 20;
/// Longest delay a backoff may give, in milliseconds: a week (the engine's limit).
const MAX_DELAY_MS: i64 = 7 * 24 * 60 * 60 * 1_000;
/// Most rows of a backoff table (the engine's limit).
const MAX_TABLE_ROWS: usize = 100;
/// Largest exponential backoff coefficient (the engine's limit).
const MAX_COEFFICIENT: f64 = 100.0;

/// The options of one step, given to [`Step::run_with`](crate::Step::run_with).
///
/// Without retry options (`StepOptions::new()` alone) the step behaves exactly like `step.run`: it has the
/// function's retries and backoff. With them, the engine decides each failure by the step's own policy.
///
/// ```
/// use std::time::Duration;
/// use durin_sdk::{Backoff, ErrorRule, Jitter, OnExhausted, StepOptions};
///
/// let options = StepOptions::new()
///     .retries(10)
///     .backoff(
///         Backoff::exponential(Duration::from_secs(1), 2.0, Duration::from_secs(60))
///             .jitter(Jitter::Full),
///     )
///     .rule(ErrorRule::named("ValidationError").never())
///     .cool_down(Duration::from_secs(3600))
///     .on_exhausted(OnExhausted::Pause);
/// assert!(options.check().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOptions {
    retry: Option<RetryOptions>,
}

impl StepOptions {
    /// No options: the step behaves like `step.run`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the step's whole retry policy at once (replacing what the shorthands below set).
    pub fn retry(mut self, retry: RetryOptions) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Shorthand for [`RetryOptions::retries`] on this step's retry policy.
    pub fn retries(self, retries: u32) -> Self {
        self.with_retry(|retry| retry.retries(retries))
    }

    /// Shorthand for [`RetryOptions::backoff`] on this step's retry policy.
    pub fn backoff(self, backoff: Backoff) -> Self {
        self.with_retry(|retry| retry.backoff(backoff))
    }

    /// Shorthand for [`RetryOptions::rule`] on this step's retry policy.
    pub fn rule(self, rule: ErrorRule) -> Self {
        self.with_retry(|retry| retry.rule(rule))
    }

    /// Shorthand for [`RetryOptions::cool_down`] on this step's retry policy.
    pub fn cool_down(self, max_total: Duration) -> Self {
        self.with_retry(|retry| retry.cool_down(max_total))
    }

    /// Shorthand for [`RetryOptions::on_exhausted`] on this step's retry policy.
    pub fn on_exhausted(self, on_exhausted: OnExhausted) -> Self {
        self.with_retry(|retry| retry.on_exhausted(on_exhausted))
    }

    /// The step's retry policy, if it has one.
    pub fn retry_options(&self) -> Option<&RetryOptions> {
        self.retry.as_ref()
    }

    /// Finds the obvious mistakes the engine would refuse: more than 20 retries, an impossible backoff
    /// (a table of 0 or more than 100 rows, an exponential starting at 0, a coefficient outside 1-100, a
    /// maximum below the start, any delay above a week, a jitter on `inngest_table`), a rule with a blank
    /// error name, an empty `message_contains`, or `never` together with retries or a backoff.
    pub fn check(&self) -> Result<(), StepOptionsError> {
        match &self.retry {
            Some(retry) => retry.check(),
            None => Ok(()),
        }
    }

    pub(crate) fn into_retry(self) -> Option<RetryOptions> {
        self.retry
    }

    fn with_retry(mut self, change: impl FnOnce(RetryOptions) -> RetryOptions) -> Self {
        self.retry = Some(change(self.retry.take().unwrap_or_default()));
        self
    }
}

impl From<RetryOptions> for StepOptions {
    fn from(retry: RetryOptions) -> Self {
        Self::new().retry(retry)
    }
}

/// A step's retry policy. Everything is optional: what it leaves out stays the function's (its retries,
/// Inngest's backoff), and the step fails for good when its retries are spent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RetryOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backoff: Option<Backoff>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<ErrorRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cool_down: Option<CoolDown>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_exhausted: Option<OnExhausted>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct CoolDown {
    max_total_ms: i64,
}

impl RetryOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Retries after the first attempt (0 to 20): the step is tried at most `retries + 1` times, counting
    /// only failures that no [`ErrorRule`] matched.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// The delay between attempts (default: Inngest's table with 0-30 s of jitter).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Adds a rule for some errors. Rules are matched in the order they were added; the first that
    /// matches a failure decides it.
    pub fn rule(mut self, rule: ErrorRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Lets waits asked for by [`Error::retry_after`](crate::Error::retry_after) (Retry-After) spend no
    /// retry, up to `max_total` of such waiting in all.
    pub fn cool_down(mut self, max_total: Duration) -> Self {
        self.cool_down = Some(CoolDown {
            max_total_ms: millis(max_total),
        });
        self
    }

    /// What happens when the retries are spent: the step fails (the default) or the run pauses.
    pub fn on_exhausted(mut self, on_exhausted: OnExhausted) -> Self {
        self.on_exhausted = Some(on_exhausted);
        self
    }

    /// See [`StepOptions::check`].
    pub fn check(&self) -> Result<(), StepOptionsError> {
        if let Some(retries) = self.retries {
            check_retries("retries", retries)?;
        }
        if let Some(backoff) = &self.backoff {
            backoff.check("backoff")?;
        }
        for (index, rule) in self.rules.iter().enumerate() {
            rule.check(&format!("rules[{index}]"))?;
        }
        Ok(())
    }

    /// The `opts` of the step's failure op: `{"durin": {"retry": <this policy>}}`.
    pub(crate) fn op_opts(&self) -> Value {
        // Serializing plain fields into a `Value` cannot fail; an empty policy is the harmless fallback.
        let policy =
            serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Default::default()));
        let mut retry = serde_json::Map::new();
        retry.insert("retry".to_owned(), policy);
        let mut durin = serde_json::Map::new();
        durin.insert("durin".to_owned(), Value::Object(retry));
        Value::Object(durin)
    }
}

/// What happens when a step's retries are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// The step fails for good, and the function can catch the error (the default).
    Fail,
    /// The run pauses, to be resumed once the cause is fixed.
    Pause,
}

/// How a rule's or a policy's delays between attempts grow. Build one with [`Backoff::inngest_table`],
/// [`Backoff::table`], [`Backoff::exponential`] or [`Backoff::fixed`], then spread it with
/// [`Backoff::jitter`] (none unless given).
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    shape: Shape,
    jitter: Option<Jitter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    InngestTable,
    Table {
        delays_ms: Vec<i64>,
    },
    Exponential {
        initial_interval_ms: i64,
        backoff_coefficient: f64,
        maximum_interval_ms: i64,
    },
    Fixed {
        interval_ms: i64,
    },
}

impl Backoff {
    /// Inngest's table (15 s, 30 s, 1 min, ... 2 h) with its own 0-30 s jitter: the default.
    pub fn inngest_table() -> Self {
        Self::shaped(Shape::InngestTable)
    }

    /// Your own delays, the `n`-th after the `n`-th failure; the last one repeats. 1 to 100 rows.
    pub fn table(delays: impl IntoIterator<Item = Duration>) -> Self {
        Self::shaped(Shape::Table {
            delays_ms: delays.into_iter().map(millis).collect(),
        })
    }

    /// `initial × coefficient^n` after the `n`-th failure (0-based), at most `maximum`. `initial` above 0,
    /// `coefficient` from 1 to 100, `maximum` at least `initial`.
    pub fn exponential(initial: Duration, coefficient: f64, maximum: Duration) -> Self {
        Self::shaped(Shape::Exponential {
            initial_interval_ms: millis(initial),
            backoff_coefficient: coefficient,
            maximum_interval_ms: millis(maximum),
        })
    }

    /// The same delay after every failure.
    pub fn fixed(interval: Duration) -> Self {
        Self::shaped(Shape::Fixed {
            interval_ms: millis(interval),
        })
    }

    /// Spreads the delays (not for [`Backoff::inngest_table`], which has its own).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = Some(jitter);
        self
    }

    fn shaped(shape: Shape) -> Self {
        Self {
            shape,
            jitter: None,
        }
    }

    fn check(&self, at: &str) -> Result<(), StepOptionsError> {
        let field = |name: &str| format!("{at}.{name}");
        let delay = |name: &str, ms: i64| {
            if (0..=MAX_DELAY_MS).contains(&ms) {
                Ok(())
            } else {
                Err(StepOptionsError::new(
                    field(name),
                    format!("{ms} ms is above a week ({MAX_DELAY_MS} ms)"),
                ))
            }
        };
        match &self.shape {
            Shape::InngestTable => {
                if self.jitter.is_some() {
                    return Err(StepOptionsError::new(
                        field("jitter"),
                        "inngest_table has its own jitter (0-30 s)",
                    ));
                }
            }
            Shape::Table { delays_ms } => {
                if delays_ms.is_empty() || delays_ms.len() > MAX_TABLE_ROWS {
                    return Err(StepOptionsError::new(
                        field("delays_ms"),
                        format!(
                            "has {} rows; a table has 1 to {MAX_TABLE_ROWS}",
                            delays_ms.len()
                        ),
                    ));
                }
                for ms in delays_ms {
                    delay("delays_ms", *ms)?;
                }
            }
            Shape::Exponential {
                initial_interval_ms,
                backoff_coefficient,
                maximum_interval_ms,
            } => {
                delay("initial_interval_ms", *initial_interval_ms)?;
                if *initial_interval_ms == 0 {
                    return Err(StepOptionsError::new(
                        field("initial_interval_ms"),
                        "must be above 0",
                    ));
                }
                // `contains` is false for NaN.
                if !(1.0..=MAX_COEFFICIENT).contains(backoff_coefficient) {
                    return Err(StepOptionsError::new(
                        field("backoff_coefficient"),
                        format!("{backoff_coefficient} is outside 1 to {MAX_COEFFICIENT}"),
                    ));
                }
                delay("maximum_interval_ms", *maximum_interval_ms)?;
                if maximum_interval_ms < initial_interval_ms {
                    return Err(StepOptionsError::new(
                        field("maximum_interval_ms"),
                        format!(
                            "{maximum_interval_ms} ms is below initial_interval_ms ({initial_interval_ms} ms)"
                        ),
                    ));
                }
            }
            Shape::Fixed { interval_ms } => delay("interval_ms", *interval_ms)?,
        }
        if let Some(Jitter::Additive(max)) = self.jitter {
            delay("jitter.max_ms", millis(max))?;
        }
        Ok(())
    }
}

impl Serialize for Backoff {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The wire form, as the engine reads it (`durin_core::Backoff`).
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Wire<'a> {
            InngestTable,
            Table {
                delays_ms: &'a [i64],
                #[serde(skip_serializing_if = "Option::is_none")]
                jitter: Option<Jitter>,
            },
            Exponential {
                initial_interval_ms: i64,
                backoff_coefficient: f64,
                maximum_interval_ms: i64,
                #[serde(skip_serializing_if = "Option::is_none")]
                jitter: Option<Jitter>,
            },
            Fixed {
                interval_ms: i64,
                #[serde(skip_serializing_if = "Option::is_none")]
                jitter: Option<Jitter>,
            },
        }
        let jitter = self.jitter;
        let wire = match &self.shape {
            Shape::InngestTable => Wire::InngestTable,
            Shape::Table { delays_ms } => Wire::Table { delays_ms, jitter },
            Shape::Exponential {
                initial_interval_ms,
                backoff_coefficient,
                maximum_interval_ms,
            } => Wire::Exponential {
                initial_interval_ms: *initial_interval_ms,
                backoff_coefficient: *backoff_coefficient,
                maximum_interval_ms: *maximum_interval_ms,
                jitter,
            },
            Shape::Fixed { interval_ms } => Wire::Fixed {
                interval_ms: *interval_ms,
                jitter,
            },
        };
        wire.serialize(serializer)
    }
}

/// How a backoff's delays are spread, so that many failing runs do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the delay.
    None,
    /// Anywhere in `[0, delay)`.
    Full,
    /// Anywhere in `[delay / 2, delay)`.
    Equal,
    /// The delay plus anywhere in `[0, max)`.
    Additive(Duration),
}

impl Serialize for Jitter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Wire {
            None,
            Full,
            Equal,
            Additive { max_ms: i64 },
        }
        match *self {
            Jitter::None => Wire::None,
            Jitter::Full => Wire::Full,
            Jitter::Equal => Wire::Equal,
            Jitter::Additive(max) => Wire::Additive {
                max_ms: millis(max),
            },
        }
        .serialize(serializer)
    }
}

/// A rule for the failures of one error name (and, optionally, message): its own retry count (its own
/// counter), its own backoff, or no retry at all.
///
/// The name is what the failure is named on the wire: [`Error::name`](crate::Error::name), e.g.
/// `"UserNotFoundError"` for a `struct UserNotFoundError` returned with `?`, or the name given to
/// [`Error::new`](crate::Error::new).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRule {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_contains: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backoff: Option<Backoff>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    never: bool,
}

impl ErrorRule {
    /// A rule for the errors named exactly `name`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            error: name.into(),
            message_contains: None,
            retries: None,
            backoff: None,
            never: false,
        }
    }

    /// Only for the errors whose message contains `text`.
    pub fn message_contains(mut self, text: impl Into<String>) -> Self {
        self.message_contains = Some(text.into());
        self
    }

    /// How many retries the failures matching this rule get (0 to 20), counted apart from the others.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// The delays between the retries of the failures matching this rule.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Such an error fails the step at once, as a non-retriable error does.
    pub fn never(mut self) -> Self {
        self.never = true;
        self
    }

    fn check(&self, at: &str) -> Result<(), StepOptionsError> {
        let field = |name: &str| format!("{at}.{name}");
        if self.error.trim().is_empty() {
            return Err(StepOptionsError::new(field("error"), "is blank"));
        }
        if self.message_contains.as_deref() == Some("") {
            return Err(StepOptionsError::new(
                field("message_contains"),
                "is empty (it would match every message)",
            ));
        }
        if self.never && (self.retries.is_some() || self.backoff.is_some()) {
            return Err(StepOptionsError::new(
                field("never"),
                "a rule that never retries has no retries or backoff",
            ));
        }
        if let Some(retries) = self.retries {
            check_retries(&field("retries"), retries)?;
        }
        if let Some(backoff) = &self.backoff {
            backoff.check(&field("backoff"))?;
        }
        Ok(())
    }
}

/// Why step options cannot be used: the field (as in the policy's JSON, e.g. `rules[0].backoff.interval_ms`)
/// and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry option `{field}`: {problem}")]
pub struct StepOptionsError {
    pub field: String,
    pub problem: String,
}

impl StepOptionsError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

fn check_retries(field: &str, retries: u32) -> Result<(), StepOptionsError> {
    if retries > MAX_RETRIES {
        return Err(StepOptionsError::new(
            field,
            format!("{retries} is above the maximum of {MAX_RETRIES}"),
        ));
    }
    Ok(())
}

/// Whole milliseconds, rounded up (so that no positive duration becomes 0), saturating.
fn millis(duration: Duration) -> i64 {
    let partial = u128::from(!duration.subsec_nanos().is_multiple_of(1_000_000));
    i64::try_from(duration.as_millis() + partial).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn opts(options: &StepOptions) -> Option<Value> {
        options.clone().into_retry().map(|retry| retry.op_opts())
    }

    #[test]
    fn the_contract_example_serializes_exactly() {
        let options = StepOptions::new()
            .retries(3)
            .backoff(Backoff::exponential(secs(1), 2.0, secs(60)).jitter(Jitter::Full))
            .rule(
                ErrorRule::named("TimeoutError")
                    .message_contains("upstream")
                    .retries(10)
                    .backoff(Backoff::fixed(Duration::from_millis(500))),
            )
            .rule(ErrorRule::named("ValidationError").never())
            .cool_down(secs(3600))
            .on_exhausted(OnExhausted::Pause);
        assert_eq!(options.check(), Ok(()));
        assert_eq!(
            opts(&options),
            Some(json!({"durin": {"retry": {
                "retries": 3,
                "backoff": {"kind": "exponential", "initial_interval_ms": 1000, "backoff_coefficient": 2.0,
                            "maximum_interval_ms": 60000, "jitter": {"kind": "full"}},
                "rules": [
                    {"error": "TimeoutError", "message_contains": "upstream", "retries": 10,
                     "backoff": {"kind": "fixed", "interval_ms": 500}},
                    {"error": "ValidationError", "never": true}
                ],
                "cool_down": {"max_total_ms": 3600000},
                "on_exhausted": "pause"
            }}}))
        );
    }

    #[test]
    fn every_backoff_and_jitter_has_its_wire_form() {
        let check = |backoff: Backoff, expected: Value| {
            assert_eq!(serde_json::to_value(&backoff).ok(), Some(expected));
        };
        check(Backoff::inngest_table(), json!({"kind": "inngest_table"}));
        check(
            Backoff::table([secs(1), Duration::from_millis(2500)]).jitter(Jitter::Equal),
            json!({"kind": "table", "delays_ms": [1000, 2500], "jitter": {"kind": "equal"}}),
        );
        check(
            Backoff::fixed(secs(2)).jitter(Jitter::None),
            json!({"kind": "fixed", "interval_ms": 2000, "jitter": {"kind": "none"}}),
        );
        check(
            Backoff::fixed(secs(2)).jitter(Jitter::Additive(secs(30))),
            json!({"kind": "fixed", "interval_ms": 2000, "jitter": {"kind": "additive", "max_ms": 30000}}),
        );
        check(
            Backoff::exponential(Duration::from_millis(100), 1.5, secs(1)),
            json!({"kind": "exponential", "initial_interval_ms": 100, "backoff_coefficient": 1.5,
                   "maximum_interval_ms": 1000}),
        );
    }

    #[test]
    fn a_policy_sends_only_what_was_set() {
        assert_eq!(opts(&StepOptions::new()), None);
        assert_eq!(
            opts(&StepOptions::new().retries(0)),
            Some(json!({"durin": {"retry": {"retries": 0}}}))
        );
        assert_eq!(
            opts(&RetryOptions::new().into()),
            Some(json!({"durin": {"retry": {}}}))
        );
        assert_eq!(
            opts(&StepOptions::new().on_exhausted(OnExhausted::Fail)),
            Some(json!({"durin": {"retry": {"on_exhausted": "fail"}}}))
        );
        // The shorthands and a whole policy give the same thing; `retry` replaces what came before.
        let whole = StepOptions::new()
            .retries(9)
            .retry(RetryOptions::new().retries(2).rule(ErrorRule::named("E")));
        assert_eq!(
            whole,
            StepOptions::new().retries(2).rule(ErrorRule::named("E"))
        );
    }

    #[test]
    fn durations_become_whole_milliseconds_rounded_up() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(1)), 1);
        assert_eq!(millis(Duration::from_micros(1500)), 2);
        assert_eq!(millis(secs(2)), 2000);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }

    #[test]
    fn obvious_mistakes_name_their_field() {
        let field = |options: StepOptions| options.check().err().map(|error| error.field);
        let week = secs(7 * 24 * 3600);
        assert_eq!(field(StepOptions::new().retries(20)), None);
        assert_eq!(
            field(StepOptions::new().retries(21)).as_deref(),
            Some("retries")
        );
        assert_eq!(
            field(StepOptions::new().backoff(Backoff::table([]))).as_deref(),
            Some("backoff.delays_ms")
        );
        assert_eq!(
            field(StepOptions::new().backoff(Backoff::table(vec![secs(1); 101]))).as_deref(),
            Some("backoff.delays_ms")
        );
        assert_eq!(
            field(StepOptions::new().backoff(Backoff::table([week + secs(1)]))).as_deref(),
            Some("backoff.delays_ms")
        );
        assert_eq!(
            field(StepOptions::new().backoff(Backoff::fixed(week))),
            None
        );
        assert_eq!(
            field(StepOptions::new().backoff(Backoff::fixed(Duration::MAX))).as_deref(),
            Some("backoff.interval_ms")
        );
        let exponential = |initial, coefficient, maximum| {
            field(StepOptions::new().backoff(Backoff::exponential(initial, coefficient, maximum)))
        };
        assert_eq!(
            exponential(Duration::ZERO, 2.0, secs(1)).as_deref(),
            Some("backoff.initial_interval_ms")
        );
        for coefficient in [0.5, 100.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                exponential(secs(1), coefficient, secs(2)).as_deref(),
                Some("backoff.backoff_coefficient")
            );
        }
        assert_eq!(
            exponential(secs(2), 2.0, secs(1)).as_deref(),
            Some("backoff.maximum_interval_ms")
        );
        assert_eq!(exponential(secs(1), 1.0, secs(1)), None);
        assert_eq!(
            field(StepOptions::new().backoff(Backoff::inngest_table().jitter(Jitter::Full)))
                .as_deref(),
            Some("backoff.jitter")
        );
        assert_eq!(
            field(
                StepOptions::new()
                    .backoff(Backoff::fixed(secs(1)).jitter(Jitter::Additive(week + secs(1))))
            )
            .as_deref(),
            Some("backoff.jitter.max_ms")
        );
        let rule =
            |rule: ErrorRule| field(StepOptions::new().rule(ErrorRule::named("A")).rule(rule));
        assert_eq!(
            rule(ErrorRule::named(" ")).as_deref(),
            Some("rules[1].error")
        );
        assert_eq!(
            rule(ErrorRule::named("B").message_contains("")).as_deref(),
            Some("rules[1].message_contains")
        );
        assert_eq!(
            rule(ErrorRule::named("B").never().retries(1)).as_deref(),
            Some("rules[1].never")
        );
        assert_eq!(
            rule(ErrorRule::named("B").retries(21)).as_deref(),
            Some("rules[1].retries")
        );
        assert_eq!(
            rule(ErrorRule::named("B").backoff(Backoff::table([]))).as_deref(),
            Some("rules[1].backoff.delays_ms")
        );
        let message = StepOptions::new()
            .retries(25)
            .check()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("retry option `retries`: 25 is above the maximum of 20")
        );
    }
}
