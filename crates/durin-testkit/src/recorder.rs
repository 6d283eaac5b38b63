use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One observation made inside a test function: which step (or "body"), which attempt, and when.
#[derive(Debug, Clone)]
pub struct Seen {
    pub what: String,
    pub attempt: u32,
    pub at: Instant,
}

/// Collects what test functions observed, shared between the test and the app it serves.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, what: &str, attempt: u32) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Seen {
                what: what.to_owned(),
                attempt,
                at: Instant::now(),
            });
        }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The attempts seen for `what`, in order.
    pub fn attempts(&self, what: &str) -> Vec<u32> {
        self.all()
            .into_iter()
            .filter(|s| s.what == what)
            .map(|s| s.attempt)
            .collect()
    }

    /// The gaps between consecutive observations of `what`, in seconds.
    pub fn gaps(&self, what: &str) -> Vec<f64> {
        let times: Vec<Instant> = self
            .all()
            .into_iter()
            .filter(|s| s.what == what)
            .map(|s| s.at)
            .collect();
        times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect()
    }

    pub fn count(&self, what: &str) -> usize {
        self.attempts(what).len()
    }
}
