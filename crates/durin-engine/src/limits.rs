//! Per-run limits. Every call to an app carries the run's stored step results, and a run that loops over
//! `step.run` with fresh ids would otherwise grow without end; so a run may store at most so many steps,
//! and so many bytes of results in all. Inngest's limits are the defaults. A run that would pass one fails
//! for good with an error naming the limit and the flag that sets it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::executor::error_object;

/// Inngest's limit on steps per function run.
pub const DEFAULT_MAX_STEPS_PER_RUN: usize = 1_000;
/// Inngest's limit on a function run's state.
pub const DEFAULT_MAX_RUN_STATE_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Most step results one run stores (`--max-steps-per-run`).
    pub max_steps: usize,
    /// Most bytes of step results one run stores, as JSON text (`--max-run-state-mib`).
    pub max_state_bytes: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            max_steps: DEFAULT_MAX_STEPS_PER_RUN,
            max_state_bytes: DEFAULT_MAX_RUN_STATE_BYTES,
        }
    }
}

impl RunLimits {
    /// The error ending a run that would store `steps` results of `bytes` in all, if that passes a limit.
    pub(crate) fn exceeded(&self, steps: usize, bytes: u64) -> Option<Value> {
        if steps > self.max_steps {
            return Some(error_object(
                "StepLimitExceeded",
                &format!(
                    "the run would store {steps} steps; the limit is {} per run (--max-steps-per-run)",
                    self.max_steps
                ),
            ));
        }
        if bytes > self.max_state_bytes {
            return Some(error_object(
                "StateTooLarge",
                &format!(
                    "the run's step results would total {bytes} bytes; the limit is {} bytes per run (--max-run-state-mib)",
                    self.max_state_bytes
                ),
            ));
        }
        None
    }
}

/// What one live call request's run has stored, counting the steps it checkpointed meanwhile. Shared by
/// the executor awaiting the answer and the checkpoint handler; a checkpoint that would pass a limit is
/// refused and the call's answer then fails the run.
#[derive(Clone)]
pub(crate) struct RunBudget {
    limits: RunLimits,
    used: Arc<Mutex<Used>>,
}

struct Used {
    steps: usize,
    bytes: u64,
    exceeded: Option<Value>,
}

impl RunBudget {
    pub(crate) fn new(limits: RunLimits, steps: usize, bytes: u64) -> Self {
        Self {
            limits,
            used: Arc::new(Mutex::new(Used {
                steps,
                bytes,
                exceeded: None,
            })),
        }
    }

    fn used(&self) -> MutexGuard<'_, Used> {
        // Nothing panics while holding the lock; a poisoned count is still a count.
        self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Charges these memos, or refuses them all (and remembers why) if they would pass a limit.
    pub(crate) fn charge<'a>(&self, memos: impl Iterator<Item = &'a Value>) -> Result<(), String> {
        let mut used = self.used();
        let (steps, bytes) = memos.fold((used.steps, used.bytes), |(steps, bytes), memo| {
            (steps + 1, bytes.saturating_add(memo_bytes(memo)))
        });
        if let Some(error) = self.limits.exceeded(steps, bytes) {
            let message = error["message"].as_str().unwrap_or_default().to_owned();
            used.exceeded = Some(error);
            return Err(message);
        }
        used.steps = steps;
        used.bytes = bytes;
        Ok(())
    }

    /// The limit error a refused checkpoint recorded, if any.
    pub(crate) fn exceeded(&self) -> Option<Value> {
        self.used().exceeded.clone()
    }
}

impl PartialEq for RunBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.used, &other.used)
    }
}

impl std::fmt::Debug for RunBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.used();
        write!(f, "RunBudget({} steps, {} bytes)", used.steps, used.bytes)
    }
}

/// Bytes a memo takes when stored (its JSON text).
pub(crate) fn memo_bytes(memo: &Value) -> u64 {
    serde_json::to_vec(memo).map_or(u64::MAX, |text| text.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_limits_is_allowed_one_past_is_not() {
        let limits = RunLimits {
            max_steps: 3,
            max_state_bytes: 100,
        };
        assert_eq!(limits.exceeded(3, 100), None);
        let steps = limits.exceeded(4, 0).expect("over the step limit");
        assert_eq!(steps["name"], "StepLimitExceeded");
        assert!(
            steps["message"]
                .as_str()
                .unwrap_or("")
                .contains("4 steps; the limit is 3")
        );
        let bytes = limits.exceeded(0, 101).expect("over the state limit");
        assert_eq!(bytes["name"], "StateTooLarge");
        assert!(
            bytes["message"]
                .as_str()
                .unwrap_or("")
                .contains("101 bytes")
        );
    }

    #[test]
    fn a_budget_refuses_a_batch_that_would_pass_a_limit_and_remembers_why() {
        let limits = RunLimits {
            max_steps: 3,
            max_state_bytes: 1_000,
        };
        let budget = RunBudget::new(limits, 1, 0);
        let memo = serde_json::json!({"data": 1});
        assert_eq!(budget.charge([&memo, &memo].into_iter()), Ok(()));
        assert_eq!(budget.exceeded(), None);
        let refused = budget.charge([&memo].into_iter()).expect_err("a 4th step");
        assert!(refused.contains("4 steps"), "{refused}");
        assert_eq!(
            budget.exceeded().map(|e| e["name"].clone()),
            Some("StepLimitExceeded".into())
        );
    }

    #[test]
    fn memo_bytes_is_the_stored_text_length() {
        assert_eq!(memo_bytes(&serde_json::json!({"data": "ab"})), 13);
    }
}
