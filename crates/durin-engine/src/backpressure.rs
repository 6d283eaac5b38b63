//! Back-pressure on event intake: a bounded number of intake commits in flight, a bounded queue of
//! requests waiting for one, and an explicit "busy" answer beyond that, so that a burst far beyond what the
//! store can commit is refused (503 with Retry-After) instead of piling up in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::Engine;
use crate::error::EngineError;

/// Intake requests being read, validated and committed at once. Group commit takes every write queued
/// meanwhile in one transaction, so more than this gains little throughput and only costs memory (each
/// holds its body, up to the request body limit).
pub const INTAKE_MAX_IN_FLIGHT: usize = 128;
/// Requests allowed to wait for a slot; later ones are refused at once.
pub const INTAKE_MAX_WAITING: usize = 1024;
/// Longest a request waits for a slot before it is refused.
pub const INTAKE_MAX_WAIT: Duration = Duration::from_secs(2);
/// What a refused sender is told to wait before trying again (`Retry-After`, seconds).
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

pub(crate) struct IntakeGate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Default for IntakeGate {
    fn default() -> Self {
        Self {
            slots: Arc::new(Semaphore::new(INTAKE_MAX_IN_FLIGHT)),
            waiting: AtomicUsize::new(0),
        }
    }
}

/// A slot for one intake request; held while its body is read and its events committed.
#[derive(Debug)]
pub struct IntakePermit {
    _slot: OwnedSemaphorePermit,
}

/// Gives the waiting count back however the wait ends (slot, timeout, or the request dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Engine {
    /// A slot to accept one request of events, taken before its body is read. Fails with
    /// [`EngineError::Busy`] when too many requests are in flight and waiting already, or none finished
    /// within [`INTAKE_MAX_WAIT`].
    pub async fn intake_permit(&self) -> Result<IntakePermit, EngineError> {
        let gate = &self.inner.intake;
        if let Ok(slot) = Arc::clone(&gate.slots).try_acquire_owned() {
            return Ok(IntakePermit { _slot: slot });
        }
        if gate.waiting.fetch_add(1, Ordering::SeqCst) >= INTAKE_MAX_WAITING {
            gate.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let _waiting = Waiting(&gate.waiting);
        match tokio::time::timeout(INTAKE_MAX_WAIT, Arc::clone(&gate.slots).acquire_owned()).await {
            Ok(Ok(slot)) => Ok(IntakePermit { _slot: slot }),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
    }
}

fn busy() -> EngineError {
    crate::telemetry::intake_refused();
    EngineError::Busy {
        message: format!(
            "the engine is busy: {INTAKE_MAX_IN_FLIGHT} requests of events are being stored and more \
             are waiting; send again in {BUSY_RETRY_AFTER_SECS} s"
        ),
        retry_after_secs: BUSY_RETRY_AFTER_SECS,
    }
}
