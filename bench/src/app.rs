//! The app under load, written with Durin's Rust SDK and served in this process on loopback. Every
//! function reports to [`Probe`] in-process: the harness learns that a run finished from the function's
//! final call (the body returning after its last step), not by polling the engine per run; the engine's
//! own statuses are checked once at the end of each workload.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

pub(crate) const APP_ID: &str = "durin-bench";
pub(crate) const THREE: &str = "bench/three";
pub(crate) const FLAKY: &str = "bench/flaky";
pub(crate) const FAN: &str = "bench/fan";
pub(crate) const TIMER: &str = "bench/timer";
/// Triggers nothing (W4 ingest).
pub(crate) const UNTRIGGERED: &str = "bench/ingest";

/// The function id the engine gives a function of this app.
pub(crate) fn function_id(slug: &str) -> String {
    format!("{APP_ID}-{slug}")
}

/// A run's final call, as the app saw it.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) at: Instant,
    pub(crate) run_id: String,
}

/// What the flaky step saw for one run.
#[derive(Debug, Default, Clone)]
pub(crate) struct FlakyRun {
    /// Times the flaky step's body ran.
    pub(crate) executions: u32,
    /// `ctx.attempt` when it succeeded.
    pub(crate) succeeded_at_attempt: Option<u32>,
    /// Step 3 ran after it.
    pub(crate) step3_ran: bool,
}

/// A timer run's retry, as the app saw it.
#[derive(Debug, Clone)]
pub(crate) struct TimerHit {
    pub(crate) run_id: String,
    pub(crate) due_ms: f64,
    /// When the retry reached the app (Unix ms, with fractions).
    pub(crate) seen_ms: f64,
    pub(crate) at: Instant,
}

#[derive(Default)]
pub(crate) struct Probe {
    waiters: Mutex<HashMap<String, oneshot::Sender<Finished>>>,
    flaky: Mutex<HashMap<String, FlakyRun>>,
    /// First (failing) attempts of timer runs seen.
    pub(crate) timer_first: AtomicU64,
    timer_hits: Mutex<Vec<TimerHit>>,
    pub(crate) timer_changed: Notify,
    /// TypeScript app only: how long each final-call report took to reach the harness (ms, one way).
    report_delays: Mutex<Vec<f64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn unix_ms(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl Probe {
    /// Registers interest in the run started with harness id `id` (before its event is sent).
    pub(crate) fn expect(&self, id: &str) -> oneshot::Receiver<Finished> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.waiters).insert(id.to_owned(), sender);
        receiver
    }

    /// Drops the interest registered by [`Probe::expect`].
    pub(crate) fn forget(&self, id: &str) {
        lock(&self.waiters).remove(id);
    }

    /// The run started with harness id `id` reached its final call (now).
    pub(crate) fn finished(&self, id: &str, run_id: &str) {
        let at = Instant::now();
        if let Some(waiter) = lock(&self.waiters).remove(id) {
            let _ = waiter.send(Finished {
                at,
                run_id: run_id.to_owned(),
            });
        }
    }

    /// What an app in another process saw of a flaky run (reported with its final call).
    pub(crate) fn set_flaky(&self, run_id: &str, seen: FlakyRun) {
        lock(&self.flaky).insert(run_id.to_owned(), seen);
    }

    pub(crate) fn record_report_delay(&self, ms: f64) {
        lock(&self.report_delays).push(ms);
    }

    /// The report delays recorded since the last call.
    pub(crate) fn take_report_delays(&self) -> Vec<f64> {
        std::mem::take(&mut *lock(&self.report_delays))
    }

    pub(crate) fn flaky_runs(&self) -> HashMap<String, FlakyRun> {
        lock(&self.flaky).clone()
    }

    pub(crate) fn reset_timers(&self) {
        self.timer_first.store(0, Ordering::SeqCst);
        lock(&self.timer_hits).clear();
    }

    pub(crate) fn timer_hits(&self) -> Vec<TimerHit> {
        lock(&self.timer_hits).clone()
    }

    pub(crate) fn timer_hit_count(&self) -> usize {
        lock(&self.timer_hits).len()
    }
}

fn harness_id(ctx: &Context) -> String {
    ctx.event
        .data
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The functions the workloads trigger.
pub(crate) fn functions(probe: &Arc<Probe>) -> Vec<Function> {
    vec![three(probe), flaky(probe), fan(probe), timer(probe)]
}

/// W1: three sequential steps, each returning a small JSON object.
fn three(probe: &Arc<Probe>) -> Function {
    let probe = Arc::clone(probe);
    Function::new("three")
        .trigger_event(THREE)
        .handler(move |ctx: Context| {
            let probe = Arc::clone(&probe);
            async move {
                let id = harness_id(&ctx);
                let a: Value = ctx
                    .step
                    .run("s1", || async {
                        Ok::<_, Error>(json!({"step": 1, "id": id}))
                    })
                    .await?;
                let b: Value = ctx
                    .step
                    .run("s2", || async move {
                        Ok::<_, Error>(json!({"step": 2, "prev": a["step"]}))
                    })
                    .await?;
                let c: Value = ctx
                    .step
                    .run("s3", || async move {
                        Ok::<_, Error>(json!({"step": 3, "prev": b["step"]}))
                    })
                    .await?;
                probe.finished(&id, &ctx.run_id);
                Ok(json!({"id": id, "last": c["step"]}))
            }
        })
}

/// W2: like `three`, but step 2 throws on its first two executions (counted per run id).
fn flaky(probe: &Arc<Probe>) -> Function {
    let probe = Arc::clone(probe);
    Function::new("flaky")
        .trigger_event(FLAKY)
        .retries(9)
        .handler(move |ctx: Context| {
            let probe = Arc::clone(&probe);
            async move {
                let id = harness_id(&ctx);
                let run_id = ctx.run_id.clone();
                let attempt = ctx.attempt;
                let a: Value = ctx
                    .step
                    .run("s1", || async {
                        Ok::<_, Error>(json!({"step": 1, "id": id}))
                    })
                    .await?;
                let p = Arc::clone(&probe);
                let r = run_id.clone();
                let b: Value = ctx
                    .step
                    .run("s2", || async move {
                        let mut flaky = lock(&p.flaky);
                        let seen = flaky.entry(r).or_default();
                        let n = seen.executions;
                        seen.executions += 1;
                        if n < 2 {
                            return Err(Error::msg(format!("flaky attempt {n}")));
                        }
                        seen.succeeded_at_attempt = Some(attempt);
                        Ok(json!({"step": 2, "attempt": attempt, "prev": a["step"]}))
                    })
                    .await?;
                let p = Arc::clone(&probe);
                let r = run_id.clone();
                let prev = b["step"].clone();
                let c: Value = ctx
                    .step
                    .run("s3", || async move {
                        lock(&p.flaky).entry(r).or_default().step3_ran = true;
                        Ok::<_, Error>(json!({"step": 3, "prev": prev}))
                    })
                    .await?;
                probe.finished(&id, &run_id);
                Ok(json!({"id": id, "flakyAttempt": b["attempt"], "last": c["step"]}))
            }
        })
}

/// W3: `steps` sequential steps in one run.
fn fan(probe: &Arc<Probe>) -> Function {
    let probe = Arc::clone(probe);
    Function::new("fan")
        .trigger_event(FAN)
        .handler(move |ctx: Context| {
            let probe = Arc::clone(&probe);
            async move {
                let id = harness_id(&ctx);
                let steps = ctx
                    .event
                    .data
                    .get("steps")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let mut acc = 0u64;
                for i in 0..steps {
                    let r: Value = ctx
                        .step
                        .run(&format!("s{i}"), || async move {
                            Ok::<_, Error>(json!({"i": i}))
                        })
                        .await?;
                    acc += r["i"].as_u64().unwrap_or(0);
                }
                probe.finished(&id, &ctx.run_id);
                Ok(json!({"steps": steps, "acc": acc}))
            }
        })
}

/// W5/W6: the body fails on attempt 0 asking to be retried at `due_ms` (Unix ms, from the event), and
/// succeeds on attempt 1, recording when the retry arrived.
fn timer(probe: &Arc<Probe>) -> Function {
    let probe = Arc::clone(probe);
    Function::new("timer")
        .trigger_event(TIMER)
        .handler(move |ctx: Context| {
            let probe = Arc::clone(&probe);
            async move {
                let seen = SystemTime::now();
                let at = Instant::now();
                let due_ms = ctx
                    .event
                    .data
                    .get("due_ms")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if ctx.attempt == 0 {
                    probe.timer_first.fetch_add(1, Ordering::SeqCst);
                    let due =
                        UNIX_EPOCH + Duration::from_millis(u64::try_from(due_ms).unwrap_or(0));
                    return Err(Error::retry_at("waiting for the due time", due));
                }
                lock(&probe.timer_hits).push(TimerHit {
                    run_id: ctx.run_id.clone(),
                    due_ms: due_ms as f64,
                    seen_ms: unix_ms(seen),
                    at,
                });
                probe.timer_changed.notify_waiters();
                Ok(json!({"late_ms": unix_ms(seen) - due_ms as f64}))
            }
        })
}
