//! Engine crash under load (issue 7): 1,000 runs with failing and retried steps in flight on the embedded
//! SQLite store, the `durin dev` process killed with SIGKILL several times at moments drawn from a seeded
//! generator, and started again on the same data directory each time. Afterwards:
//! - every run has reached its correct final state (Completed, or Failed for the runs whose step always
//!   fails), one run per event id;
//! - every event answered 2xx is stored;
//! - no step whose result was stored ran again (the app logs every execution of every step);
//! - the attempt records obey R1-R3 with R11: per job the attempt numbers are 0, 1, 2, ... with no gap
//!   and no repeat, at most `retries + 1` of them, an attempt lost with the engine is recorded as
//!   `interrupted` and counts, and a job that fails for good has used exactly its budget.
//!
//! Longer soak (the same test, more runs and kills, another seed; a release build):
//!   DURIN_FAULTS_SEED=$RANDOM DURIN_FAULTS_RUNS=10000 DURIN_FAULTS_KILLS=20 \
//!     cargo test --release -p durin --test faults_crash -- --nocapture
//! The seed is printed; a failure is replayed with the same seed (the moments are the same; what is in
//! flight at each kill depends on timing).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::executions::{Execution, Executions, all_runs_of, numbered_flaky};
use durin_sdk::{Client, Context, Error, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, free_port, serve_app};
use futures::StreamExt;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
const APP: &str = "crash-app";
const FLAKY_EVENT: &str = "test/crash.flaky";
const DOOMED_EVENT: &str = "test/crash.doomed";
/// Retries of the function whose steps fail a few times: room for its failures and for every kill
/// interrupting one of its attempts.
const FLAKY_RETRIES: u32 = 10;
/// Retries of the function whose step always fails: it must fail after exactly 3 attempts of that step.
const DOOMED_RETRIES: u32 = 2;
/// Requests in flight at once, sending events and reading the results back.
const PARALLEL: usize = 16;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: a small seeded generator, so the kill moments are reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn flaky(executions: &Executions) -> Function {
    numbered_flaky(
        "flaky",
        FLAKY_EVENT,
        FLAKY_RETRIES,
        executions,
        Duration::from_millis(20),
    )
}

/// One step that fails on every attempt: the run fails once the step's budget is spent.
fn doomed(executions: &Executions) -> Function {
    let executions = executions.clone();
    Function::new("doomed")
        .trigger_event(DOOMED_EVENT)
        .retries(DOOMED_RETRIES)
        .handler(move |ctx: Context| {
            let executions = executions.clone();
            async move {
                let attempt = ctx.attempt;
                let run_id = ctx.run_id.clone();
                let _: Value = ctx
                    .step
                    .run("doomed", || async move {
                        executions.record(&run_id, "doomed", attempt);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Err::<Value, _>(Error::msg(format!("doomed on attempt {attempt}")))
                    })
                    .await?;
                Ok(json!("unreachable"))
            }
        })
}

/// Sends event n until the engine answers 2xx (a kill refuses or cuts some tries), always with the same
/// event id, so a try whose answer was lost starts no second run. Returns the stored event's id.
async fn send_until_accepted(http: &reqwest::Client, url: &str, n: usize) -> String {
    let name = if n.is_multiple_of(10) {
        DOOMED_EVENT
    } else {
        FLAKY_EVENT
    };
    let event = json!({ "name": name, "id": format!("crash-{n}"), "data": { "n": n } });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(response) = http
            .post(format!("{url}/e/test-key"))
            .json(&event)
            .send()
            .await
            && response.status().is_success()
            && let Ok(body) = response.json::<Value>().await
            && let Some(id) = body["ids"][0].as_str()
        {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "event {n} was never accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One attempt record, as the API reports it.
#[derive(Debug, Clone)]
struct Attempt {
    run_id: String,
    job_id: String,
    step: Option<String>,
    attempt: u32,
    ended_ms: i64,
    outcome: String,
}

impl Attempt {
    fn of(run_id: &str, value: &Value) -> Self {
        Self {
            run_id: run_id.to_owned(),
            job_id: value["job_id"].as_str().expect("job_id").to_owned(),
            step: value["step_name"].as_str().map(str::to_owned),
            attempt: value["attempt"]
                .as_u64()
                .and_then(|a| u32::try_from(a).ok())
                .expect("attempt"),
            ended_ms: value["ended_at_ms"].as_i64().expect("ended_at_ms"),
            outcome: value["outcome"].as_str().expect("outcome").to_owned(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_runs_survive_repeated_sigkills_of_the_engine() {
    let seed: u64 = env_or("DURIN_FAULTS_SEED", 7);
    let runs: usize = env_or("DURIN_FAULTS_RUNS", 1_000);
    let kills: usize = env_or("DURIN_FAULTS_KILLS", 4);
    eprintln!(
        "seed {seed}, {runs} runs, {kills} kills (DURIN_FAULTS_SEED / _RUNS / _KILLS to change)"
    );
    let mut rng = Rng(seed);
    let started = Instant::now();

    let executions = Executions::default();
    let port = free_port().expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::with_base_url(APP, &url);
    let app = serve_app(serve(client, vec![flaky(&executions), doomed(&executions)]))
        .await
        .expect("serve the app");
    let options = EngineOptions {
        sdk_urls: vec![app.serve_url()],
        // Retries 150-450 ms, 300-600 ms, ... later: the whole schedule fits in the test.
        args: vec!["--backoff-scale".into(), "0.01".into()],
        port: Some(port),
    };
    let mut engine = EngineProcess::start(BINARY, options)
        .await
        .expect("start the engine");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs");

    let sender = tokio::spawn({
        let url = url.clone();
        async move {
            let http = reqwest::Client::new();
            let (http, url) = (&http, &url);
            futures::stream::iter(0..runs)
                .map(|n| async move { (n, send_until_accepted(http, url, n).await) })
                .buffer_unordered(PARALLEL)
                .collect::<Vec<(usize, String)>>()
                .await
        }
    });

    // The kills: each a seeded 0.3-3 s after the engine answered again, so they fall while events are
    // being accepted and while the runs' attempts and retries are in flight.
    for kill in 0..kills {
        let wait = rng.between(300, 3_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        engine.kill();
        let down_at = started.elapsed();
        engine.restart().await.expect("the engine starts again");
        eprintln!(
            "kill {} at {down_at:?} (after {wait} ms), up again after {:?}",
            kill + 1,
            started.elapsed() - down_at
        );
    }
    let accepted = sender.await.expect("the sender");
    eprintln!(
        "{} events accepted after {:?}",
        accepted.len(),
        started.elapsed()
    );

    // Every run ends.
    let flaky_id = format!("{APP}-flaky");
    let doomed_id = format!("{APP}-doomed");
    let doomed_count = (0..runs).filter(|n| n.is_multiple_of(10)).count();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (flaky_runs, doomed_runs) = loop {
        let flaky_runs = all_runs_of(&engine, &flaky_id).await;
        let doomed_runs = all_runs_of(&engine, &doomed_id).await;
        let running = flaky_runs
            .iter()
            .chain(&doomed_runs)
            .filter(|r| r["status"] == "Running")
            .count();
        if flaky_runs.len() + doomed_runs.len() >= runs && running == 0 {
            break (flaky_runs, doomed_runs);
        }
        assert!(
            Instant::now() < deadline,
            "{running} runs still Running ({} of {runs} started); engine log:\n{}",
            flaky_runs.len() + doomed_runs.len(),
            tail(&engine.log(), 60)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("every run ended after {:?}", started.elapsed());

    // Every event answered 2xx is stored.
    let engine_ref = &engine;
    let missing: Vec<String> = futures::stream::iter(accepted.iter())
        .map(|(_, id)| async move {
            let (status, _) = engine_ref
                .get(&format!("/v1/events/{id}"))
                .await
                .expect("read the event");
            (status != 200).then(|| id.clone())
        })
        .buffer_unordered(PARALLEL)
        .filter_map(|missing| async move { missing })
        .collect()
        .await;
    assert!(
        missing.is_empty(),
        "{} events answered 2xx are not stored, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // One run per event id; read every attempt.
    assert_eq!(
        doomed_runs.len(),
        doomed_count,
        "one doomed run per event id"
    );
    assert_eq!(
        flaky_runs.len(),
        runs - doomed_count,
        "one flaky run per event id"
    );
    let mut numbers = BTreeSet::new();
    let all_runs: Vec<&Value> = flaky_runs.iter().chain(&doomed_runs).collect();
    let attempts: Vec<Attempt> = futures::stream::iter(all_runs.iter())
        .map(|run| async move {
            let run_id = run["run_id"].as_str().expect("run id");
            let list = engine_ref.attempts(run_id).await.expect("read attempts");
            list.iter()
                .map(|a| Attempt::of(run_id, a))
                .collect::<Vec<_>>()
        })
        .buffer_unordered(PARALLEL)
        .flat_map(futures::stream::iter)
        .collect()
        .await;

    // R1-R3 with R11, job by job.
    let mut by_job: BTreeMap<&str, Vec<&Attempt>> = BTreeMap::new();
    for attempt in &attempts {
        by_job.entry(&attempt.job_id).or_default().push(attempt);
    }
    let budget_of = |run_id: &str| {
        if doomed_runs.iter().any(|r| r["run_id"] == run_id) {
            DOOMED_RETRIES + 1
        } else {
            FLAKY_RETRIES + 1
        }
    };
    let mut exhausted_runs = BTreeSet::new();
    for (job, records) in &by_job {
        // With checkpoints one attempt of a discovery may record each step it ran: group by number.
        let mut numbers: Vec<u32> = records.iter().map(|a| a.attempt).collect();
        numbers.dedup();
        let expected: Vec<u32> = (0..numbers.len() as u32).collect();
        assert_eq!(
            numbers, expected,
            "job {job}: attempt numbers are 0, 1, 2, ... in order: {records:#?}"
        );
        let budget = budget_of(&records[0].run_id);
        assert!(
            numbers.len() as u32 <= budget,
            "R1: job {job} made {} attempts, more than {budget}: {records:#?}",
            numbers.len()
        );
        for number in &numbers {
            let of_number: Vec<&&Attempt> =
                records.iter().filter(|a| a.attempt == *number).collect();
            let failures = of_number.iter().filter(|a| a.outcome != "ok").count();
            assert!(
                failures <= 1,
                "job {job} attempt {number} ended twice (two holders, or recorded twice): \
                 {of_number:#?}"
            );
        }
        let last = records[records.len() - 1];
        if last.outcome != "ok" && numbers.len() as u32 == budget {
            exhausted_runs.insert(last.run_id.clone());
        }
    }
    let interrupted = attempts
        .iter()
        .filter(|a| a.outcome == "interrupted")
        .count();

    // Final states.
    for run in &flaky_runs {
        let run_id = run["run_id"].as_str().expect("run id");
        let n = run["event"]["data"]["n"].as_u64();
        let expected = if exhausted_runs.contains(run_id) {
            "Failed"
        } else {
            "Completed"
        };
        assert_eq!(
            run["status"], expected,
            "flaky run {run_id} (n {n:?}): {run}"
        );
        if expected == "Completed" {
            let n = run["output"]["n"].as_u64().expect("the output names n");
            assert!(numbers.insert(n), "two runs for event {n}");
        }
    }
    for run in &doomed_runs {
        let run_id = run["run_id"].as_str().expect("run id");
        assert_eq!(run["status"], "Failed", "doomed run {run_id}: {run}");
        // The step's job: an interrupted attempt of it does not know which step it was running.
        let job = attempts
            .iter()
            .find(|a| a.run_id == run_id && a.step.as_deref() == Some("doomed"))
            .map(|a| a.job_id.clone());
        let step: Vec<&Attempt> = attempts
            .iter()
            .filter(|a| Some(&a.job_id) == job.as_ref())
            .collect();
        let mut numbers: Vec<u32> = step.iter().map(|a| a.attempt).collect();
        numbers.dedup();
        assert_eq!(
            numbers,
            (0..=DOOMED_RETRIES).collect::<Vec<_>>(),
            "R1/R11: the always-failing step of {run_id} has exactly retries + 1 attempts, \
             interrupted ones included: {step:#?}"
        );
    }

    // No stored step result ran again: no execution of a step started after the attempt that stored
    // its result ended, and none carried a later attempt number than that one.
    let mut stored: BTreeMap<(&str, &str), (i64, u32)> = BTreeMap::new();
    for attempt in attempts.iter().filter(|a| a.outcome == "ok") {
        if let Some(step) = &attempt.step {
            let earlier =
                stored.insert((&attempt.run_id, step), (attempt.ended_ms, attempt.attempt));
            assert!(
                earlier.is_none(),
                "run {} step {step}: two attempts stored a result",
                attempt.run_id
            );
        }
    }
    let executions = executions.all();
    let again: Vec<&Execution> = executions
        .iter()
        .filter(|e| {
            stored
                .get(&(e.run_id.as_str(), e.step))
                .is_some_and(|(at, attempt)| e.started_ms > *at || e.attempt > *attempt)
        })
        .collect();
    assert!(
        again.is_empty(),
        "{} step executions ran after the step's result was stored, e.g. {:?}",
        again.len(),
        &again[..again.len().min(5)]
    );
    // Every step execution the app saw belongs to a recorded attempt (R10/R11: none unaccounted for).
    let recorded: BTreeSet<(&str, u32)> = attempts
        .iter()
        .map(|a| (a.run_id.as_str(), a.attempt))
        .collect();
    let unrecorded: Vec<&Execution> = executions
        .iter()
        .filter(|e| !recorded.contains(&(e.run_id.as_str(), e.attempt)))
        .collect();
    assert!(
        unrecorded.is_empty(),
        "{} step executions match no recorded attempt, e.g. {:?}",
        unrecorded.len(),
        &unrecorded[..unrecorded.len().min(5)]
    );

    assert!(
        interrupted > 0,
        "no attempt was interrupted: the kills found nothing in flight (seed {seed})"
    );
    eprintln!(
        "{} attempts, {interrupted} interrupted, {} executions, {} runs failed for good by their \
         budget, total {:?}",
        attempts.len(),
        executions.len(),
        exhausted_runs.len(),
        started.elapsed()
    );
}
