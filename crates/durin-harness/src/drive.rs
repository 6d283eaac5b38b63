//! Driving time: let the engine finish the work due now, then move the clock to the next wake-up.
//!
//! The clock moves only when nothing is due and nothing is in flight: leases are computed from the clock,
//! so moving it under a running call could expire the call's lease and have its job claimed again.

use std::time::{Duration, Instant};

use durin_core::UnixMillis;
use durin_store::RunRecord;

use crate::error::{HarnessError, Result};
use crate::harness::Harness;

/// How often, in real time, the store is asked whether the work due now is done.
const POLL: Duration = Duration::from_millis(2);

impl Harness {
    /// Waits (in real time) until no job is due at the harness's time and none is in flight. The clock
    /// does not move.
    pub async fn settle(&self) -> Result<()> {
        let started = Instant::now();
        self.engine.wake_scheduler();
        loop {
            let counts = self.store().count_jobs(self.now_ms()).await?;
            if counts.due == 0 && counts.leased == 0 {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited > self.limits.settle_timeout {
                return Err(HarnessError::Unsettled {
                    waited,
                    due: counts.due,
                    in_flight: counts.leased,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Moves the clock `by` forward, stopping at every wake-up on the way (a retry, a sleep's end, a
    /// timeout) to let the engine do what falls due there, as the time passing for real would.
    pub async fn advance(&self, by: Duration) -> Result<()> {
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let target = self.now_ms().saturating_add(by_ms);
        for _ in 0..self.limits.max_advances {
            self.settle().await?;
            match self.store().next_wake_at().await? {
                Some(at) if at <= target => self.move_clock_to(at),
                _ => {
                    self.move_clock_to(target);
                    return self.settle().await;
                }
            }
        }
        // As many wake-ups as allowed came before the target: stop there rather than skip the rest.
        self.settle().await?;
        Err(HarnessError::AdvanceLimit {
            advances: self.limits.max_advances,
            now_ms: self.now_ms(),
            target_ms: target,
        })
    }

    /// Runs `run_id` to its end: lets the engine finish the work due now, and while the run has not ended,
    /// moves the clock to the next wake-up. Returns the ended run. Other runs progress meanwhile.
    pub async fn run_until_finished(&self, run_id: &str) -> Result<RunRecord> {
        for _ in 0..self.limits.max_advances {
            self.settle().await?;
            let run = self.run(run_id).await?;
            if run.status.is_final() {
                return Ok(run);
            }
            match self.store().next_wake_at().await? {
                Some(at) => self.move_clock_to(at),
                None => {
                    return Err(HarnessError::Stuck {
                        run_id: run_id.to_owned(),
                        status: run.status,
                    });
                }
            }
        }
        self.settle().await?;
        let run = self.run(run_id).await?;
        if run.status.is_final() {
            return Ok(run);
        }
        Err(HarnessError::TooManyAdvances {
            run_id: run_id.to_owned(),
            status: run.status,
            advances: self.limits.max_advances,
        })
    }

    /// Only called once the work due now is settled.
    fn move_clock_to(&self, at: UnixMillis) {
        self.clock.advance_to(at);
        self.engine.wake_scheduler();
    }
}
