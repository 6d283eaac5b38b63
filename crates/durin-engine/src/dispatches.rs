//! The call requests this process has in flight that may checkpoint, by `qi_id`. A checkpoint for one of
//! them is checked against this table instead of the store: the dispatch is live for exactly as long as
//! the executor waits for its answer. A `qi_id` not found here (another instance dispatched it, or it
//! ended) is looked up in the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use durin_core::JobKind;

/// The job a live dispatch runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dispatch {
    pub(crate) run_id: String,
    pub(crate) job_id: String,
    pub(crate) kind: JobKind,
    pub(crate) attempt: u32,
    /// What the run has stored, for its limits; `None` for a dispatch read back from the store.
    pub(crate) budget: Option<crate::limits::RunBudget>,
}

#[derive(Default, Clone)]
pub(crate) struct Dispatches {
    live: Arc<Mutex<HashMap<String, Dispatch>>>,
}

impl Dispatches {
    fn live(&self) -> MutexGuard<'_, HashMap<String, Dispatch>> {
        // Nothing panics while holding the lock; a poisoned map is still consistent.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks `qi_id` live until the returned guard is dropped (when the call's answer is in, or the
    /// executor gave up on it).
    pub(crate) fn begin(&self, qi_id: String, dispatch: Dispatch) -> DispatchGuard {
        self.live().insert(qi_id.clone(), dispatch);
        DispatchGuard {
            dispatches: self.clone(),
            qi_id,
        }
    }

    /// Forgets the dispatches of a run that ended (cancelled): their checkpoints then go to the store,
    /// which calls them stale.
    pub(crate) fn end_run(&self, run_id: &str) {
        self.live().retain(|_, dispatch| dispatch.run_id != run_id);
    }

    pub(crate) fn get(&self, qi_id: &str) -> Option<Dispatch> {
        self.live().get(qi_id).cloned()
    }
}

pub(crate) struct DispatchGuard {
    dispatches: Dispatches,
    qi_id: String,
}

impl Drop for DispatchGuard {
    fn drop(&mut self) {
        self.dispatches.live().remove(&self.qi_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_is_live_while_its_guard_is_held() {
        let dispatches = Dispatches::default();
        let dispatch = Dispatch {
            run_id: "run".into(),
            job_id: "job".into(),
            kind: JobKind::Discovery,
            attempt: 0,
            budget: None,
        };
        let guard = dispatches.begin("job:0".into(), dispatch.clone());
        assert_eq!(dispatches.get("job:0"), Some(dispatch));
        assert_eq!(dispatches.get("job:1"), None);
        drop(guard);
        assert_eq!(dispatches.get("job:0"), None);
    }

    #[test]
    fn ending_a_run_forgets_its_dispatches_only() {
        let dispatches = Dispatches::default();
        let of_run = |run: &str, job: &str| Dispatch {
            run_id: run.into(),
            job_id: job.into(),
            kind: JobKind::Discovery,
            attempt: 0,
            budget: None,
        };
        let _a = dispatches.begin("a:0".into(), of_run("r1", "a"));
        let _b = dispatches.begin("b:0".into(), of_run("r2", "b"));
        dispatches.end_run("r1");
        assert_eq!(dispatches.get("a:0"), None);
        assert_eq!(dispatches.get("b:0"), Some(of_run("r2", "b")));
    }
}
