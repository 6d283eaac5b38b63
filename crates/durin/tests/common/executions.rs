//! What the app saw (every execution of a step's code), the numbered flaky function and the run listing
//! that the tests which kill engines (crash and scale-out) share.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use durin_sdk::{Context, Error, Function};
use durin_testkit::EngineProcess;
use serde_json::{Value, json};

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One execution of a step's code inside the app, with the attempt the engine said it was.
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub(crate) run_id: String,
    pub(crate) step: &'static str,
    pub(crate) attempt: u32,
    pub(crate) started_ms: i64,
}

#[derive(Clone, Default)]
pub(crate) struct Executions(Arc<Mutex<Vec<Execution>>>);

impl Executions {
    pub(crate) fn record(&self, run_id: &str, step: &'static str, attempt: u32) {
        let execution = Execution {
            run_id: run_id.to_owned(),
            step,
            attempt,
            started_ms: now_ms(),
        };
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(execution);
    }

    pub(crate) fn all(&self) -> Vec<Execution> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Three steps and a body, failing by the run's number `n` (the event's `data.n`): `first` once when n is
/// even, `second` twice when n is a multiple of 3, the body once (after every step is stored) when n is a
/// multiple of 5. Each step takes `step_time`, so that a kill finds attempts in flight.
pub(crate) fn numbered_flaky(
    slug: &str,
    event: &str,
    retries: u32,
    executions: &Executions,
    step_time: Duration,
) -> Function {
    let executions = executions.clone();
    Function::new(slug)
        .trigger_event(event)
        .retries(retries)
        .handler(move |ctx: Context| {
            let executions = executions.clone();
            async move {
                let n = ctx.event.data.get("n").and_then(Value::as_u64).unwrap_or(0);
                let attempt = ctx.attempt;
                let run_id = ctx.run_id.clone();
                let step = |name: &'static str, fails: u32| {
                    let (executions, run_id) = (executions.clone(), run_id.clone());
                    move || async move {
                        executions.record(&run_id, name, attempt);
                        tokio::time::sleep(step_time).await;
                        if attempt < fails {
                            return Err(Error::msg(format!("{name} failed on attempt {attempt}")));
                        }
                        Ok(json!({ "step": name, "n": n }))
                    }
                };
                let first = u32::from(n.is_multiple_of(2));
                let second = if n.is_multiple_of(3) { 2 } else { 0 };
                let _: Value = ctx.step.run("first", step("first", first)).await?;
                let _: Value = ctx.step.run("second", step("second", second)).await?;
                let _: Value = ctx.step.run("third", step("third", 0)).await?;
                if n.is_multiple_of(5) && attempt == 0 {
                    return Err(Error::msg("the body fails once after its steps"));
                }
                Ok(json!({ "n": n }))
            }
        })
}

/// Every run of `function`, page by page, through the API of `engine`.
pub(crate) async fn all_runs_of(engine: &EngineProcess, function: &str) -> Vec<Value> {
    let mut runs = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = engine
            .data(&format!(
                "/v1/runs?function_id={function}&limit=500&cursor={cursor}"
            ))
            .await
            .expect("list runs");
        let page = page.as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else {
            return runs;
        };
        cursor = last["run_id"].as_str().expect("run id").to_owned();
        runs.extend(page);
    }
}
