//! The workloads. Definitions (same as the peers', `../shared/bench/README.md`):
//! - W1: N runs of a 3-step function, `conc` in flight (closed loop); W1seq: the same, 1 in flight.
//! - W2: 200 runs whose 2nd step fails on its first two executions; verified per run.
//! - W3: one run of 1000 sequential steps: ms per step.
//! - W4: events/s through `POST /e/{key}`, single events and batches of 100 (no function triggered).
//! - W5: 10,000 retries due within one second: lateness after the due time.
//! - W6: many runs waiting in backoff: RSS, idle CPU, restart time, drain time.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::Bench;
use crate::app::{FAN, FLAKY, Probe, THREE, TIMER, UNTRIGGERED, function_id, unix_ms};
use crate::engine::{Engine, clock_ticks_per_second};
use crate::stats::{loadavg, max, median, percentile, r1, r3};

/// Longest a single W1/W2 run may take before the workload fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the engine may take to show every finished run as Completed.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A unique tag per repetition, so that harness ids never repeat within a process.
fn tag(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<usize> {
    let response = http.post(url).json(body).send().await?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url} answered {status}: {answer}");
    }
    Ok(answer["ids"].as_array().map_or(0, Vec::len))
}

/// POSTs one event; returns the id the engine gave it.
async fn post_event(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<Option<String>> {
    let response = http.post(url).json(body).send().await?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url} answered {status}: {answer}");
    }
    Ok(answer["ids"][0].as_str().map(str::to_owned))
}

struct LoopResult {
    wall_ms: f64,
    lat_ms: Vec<f64>,
    run_ids: Vec<String>,
}

/// `n` runs of `event` with at most `conc` in flight: a new run starts as soon as one finishes. Latency is
/// from just before the event is POSTed to the function's final call (observed in-process).
async fn closed_loop(
    engine: &Engine,
    probe: &Arc<Probe>,
    event: &'static str,
    n: usize,
    conc: usize,
    tag: &str,
) -> anyhow::Result<LoopResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/e/bench", engine.url());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..conc.min(n).max(1) {
        let next = Arc::clone(&next);
        let http = engine.http.clone();
        let url = url.clone();
        let probe = Arc::clone(probe);
        let tag = tag.to_owned();
        let base = engine.url();
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return Ok::<_, anyhow::Error>(out);
                }
                let id = format!("{tag}-{i}");
                let waiter = probe.expect(&id);
                let sent = Instant::now();
                let event_id =
                    post_event(&http, &url, &json!({"name": event, "data": {"id": id}})).await?;
                let Ok(finished) = tokio::time::timeout(RUN_TIMEOUT, waiter).await else {
                    // What the engine knows of it, for the report.
                    let runs = match &event_id {
                        Some(event_id) => match http
                            .get(format!("{base}/v1/events/{event_id}/runs"))
                            .send()
                            .await
                        {
                            Ok(response) => response.text().await.unwrap_or_default(),
                            Err(error) => error.to_string(),
                        },
                        None => String::new(),
                    };
                    bail!(
                        "run {id} did not finish within {RUN_TIMEOUT:?} (event {event_id:?}; its runs: {runs})"
                    );
                };
                let finished =
                    finished.map_err(|_| anyhow!("run {id}: the probe dropped its waiter"))?;
                out.push((finished.at, ms(finished.at - sent), finished.run_id));
            }
        });
    }
    let mut last = start;
    let mut lat_ms = Vec::with_capacity(n);
    let mut run_ids = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        let finished = joined?
            .map_err(|error| error.context(format!("engine log (tail):\n{}", engine.log_tail())))?;
        for (at, latency, run_id) in finished {
            last = last.max(at);
            lat_ms.push(latency);
            run_ids.push(run_id);
        }
    }
    Ok(LoopResult {
        wall_ms: ms(last - start),
        lat_ms,
        run_ids,
    })
}

/// Waits until the engine lists every one of `run_ids` as Completed; returns how many are.
async fn verify_completed(
    engine: &Engine,
    slug: &str,
    run_ids: &[String],
) -> anyhow::Result<usize> {
    let wanted: HashSet<&str> = run_ids.iter().map(String::as_str).collect();
    let deadline = Instant::now() + VERIFY_TIMEOUT;
    loop {
        let runs = engine.runs_of(&function_id(slug)).await?;
        let completed = runs
            .iter()
            .filter(|(id, status)| status == "Completed" && wanted.contains(id.as_str()))
            .count();
        if completed == wanted.len() || Instant::now() > deadline {
            return Ok(completed);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the engine has counted so far (`/metrics`): calls to the app for one function, and checkpoint
/// POSTs (`/v1/checkpoint/{run}/async`, any function; only the TypeScript SDK in checkpoint mode sends them)
/// by answer status.
#[derive(Debug, Clone)]
struct Wire {
    app_calls: f64,
    /// Seconds the engine spent waiting for those calls (request sent → whole answer read).
    app_call_secs: f64,
    checkpoints: BTreeMap<String, f64>,
}

async fn wire(engine: &Engine, slug: &str) -> Wire {
    let function = format!("function=\"{}\"", function_id(slug));
    let app_calls = engine
        .metric_sum("durin_app_request_duration_seconds_count", &[&function])
        .await
        .unwrap_or(f64::NAN);
    let app_call_secs = engine
        .metric_sum("durin_app_request_duration_seconds_sum", &[&function])
        .await
        .unwrap_or(f64::NAN);
    let mut checkpoints = BTreeMap::new();
    for (labels, count) in engine
        .metric_samples("durin_http_request_duration_seconds_count")
        .await
        .unwrap_or_default()
    {
        if labels.contains("route=\"/v1/checkpoint/") {
            let status = labels
                .split_once("status=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or("?", |(status, _)| status);
            *checkpoints.entry(status.to_owned()).or_default() += count;
        }
    }
    Wire {
        app_calls,
        app_call_secs,
        checkpoints,
    }
}

/// One repetition's calls to the app and checkpoint POSTs per run (and the checkpoint answers by
/// status), and (TypeScript app) how long the finish reports took to reach the harness.
fn wire_json(before: &Wire, after: &Wire, runs: usize, report_delays: &[f64]) -> Value {
    let per_run = |x: f64| r3(x / runs.max(1) as f64);
    let by_status: BTreeMap<&String, f64> = after
        .checkpoints
        .iter()
        .map(|(status, n)| {
            (
                status,
                n - before.checkpoints.get(status).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, n)| *n > 0.0)
        .collect();
    let mut value = json!({
        "appCallsPerRun": per_run(after.app_calls - before.app_calls),
        "appCallMsPerRun": per_run(1000.0 * (after.app_call_secs - before.app_call_secs)),
        // (+ 0.0: an empty f64 sum is -0.0)
        "checkpointPostsPerRun": per_run(by_status.values().sum::<f64>() + 0.0),
        "checkpointPostsByStatus": by_status,
    });
    if !report_delays.is_empty() {
        value["finishReportDelayMs"] = dist(report_delays);
    }
    value
}

/// Polls `GET /v1/runs/{run_id}` every 2 ms until the run is Completed; returns when it first was.
async fn run_completed_at(engine: &Engine, run_id: &str) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + VERIFY_TIMEOUT;
    loop {
        let run = engine.get(&format!("/v1/runs/{run_id}")).await?;
        if run["data"]["status"] == "Completed" {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("run {run_id} is not Completed after {VERIFY_TIMEOUT:?}: {run}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until an event of the 3-step function starts a run, and that run finishes. The engine lists an app
/// in `/v1/apps` once its sync is stored, a moment before its trigger matcher has reloaded the functions: an
/// event accepted in between starts no run (seen once with the TypeScript app: the event's runs were `[]`).
pub(crate) async fn until_triggers_match(engine: &Engine, probe: &Probe) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = tag("ready");
        let waiter = probe.expect(&id);
        let ids = engine
            .send(&json!({"name": THREE, "data": {"id": id}}))
            .await?;
        let event_id = ids.first().context("POST /e/bench answered no event id")?;
        // The runs an event starts are stored with it, before the answer.
        let runs = engine.get(&format!("/v1/events/{event_id}/runs")).await?;
        if runs["data"].as_array().is_some_and(|runs| !runs.is_empty()) {
            tokio::time::timeout(RUN_TIMEOUT, waiter)
                .await
                .map_err(|_| {
                    anyhow!(
                        "the first run did not finish within {RUN_TIMEOUT:?}; engine log (tail):\n{}",
                        engine.log_tail()
                    )
                })?
                .map_err(|_| anyhow!("the probe dropped its waiter"))?;
            return Ok(());
        }
        probe.forget(&id);
        eprintln!(
            "event {event_id} started no run yet (the engine is still loading the app's functions)"
        );
        if Instant::now() > deadline {
            bail!("no event of {THREE} started a run within 30 s of the app's sync");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn warmup(bench: &Bench, engine: &Engine) -> anyhow::Result<()> {
    if bench.opts.warmup == 0 {
        return Ok(());
    }
    let result = closed_loop(
        engine,
        &bench.probe,
        THREE,
        bench.opts.warmup,
        bench.opts.conc,
        &tag("warm"),
    )
    .await?;
    eprintln!(
        "warm-up: {} runs in {:.0} ms",
        bench.opts.warmup, result.wall_ms
    );
    Ok(())
}

pub(crate) async fn w1seq(bench: &mut Bench) -> anyhow::Result<()> {
    let n = bench.opts.w1seq_n;
    let engine = bench.engine(&[]).await?;
    warmup(bench, &engine).await?;
    let load_before = loadavg();
    let mut medians = Vec::new();
    for rep in 0..bench.opts.reps {
        let load = loadavg();
        bench.probe.take_report_delays();
        let before = wire(&engine, "three").await;
        let r = closed_loop(&engine, &bench.probe, THREE, n, 1, &tag("seq")).await?;
        let completed = verify_completed(&engine, "three", &r.run_ids).await?;
        let wire = wire_json(
            &before,
            &wire(&engine, "three").await,
            n,
            &bench.probe.take_report_delays(),
        );
        if completed != n {
            bail!("W1seq: {completed}/{n} runs are Completed");
        }
        medians.push(median(&r.lat_ms));
        bench.report.emit(json!({
            "w": "W1seq", "rep": rep, "n": n, "conc": 1,
            "medLatMs": r1(median(&r.lat_ms)), "p99LatMs": r1(percentile(&r.lat_ms, 0.99)),
            "wallMs": r1(r.wall_ms), "completed": completed, "wire": wire,
            "loadavgBefore": load, "loadavgAfter": loadavg(),
        }))?;
    }
    let load_after = loadavg();
    bench.report.emit(
        json!({"w": "W1seq", "summary": true, "n": n, "medOfReps_medLatMs": r1(median(&medians))}),
    )?;
    bench.report.row(
        &format!("W1seq ({n} runs, 1 in flight)"),
        "median latency (ms)",
        &medians,
        (&load_before, &load_after),
        "event POST → final call of the run",
    );
    Ok(())
}

pub(crate) async fn w1(bench: &mut Bench) -> anyhow::Result<()> {
    let conc = bench.opts.conc;
    for n in bench.opts.w1_n.clone() {
        let engine = bench.engine(&[]).await?;
        warmup(bench, &engine).await?;
        let load_before = loadavg();
        let (mut rates, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..bench.opts.reps {
            let load = loadavg();
            bench.probe.take_report_delays();
            let before = wire(&engine, "three").await;
            let r = closed_loop(&engine, &bench.probe, THREE, n, conc, &tag("w1")).await?;
            let completed = verify_completed(&engine, "three", &r.run_ids).await?;
            let wire = wire_json(
                &before,
                &wire(&engine, "three").await,
                n,
                &bench.probe.take_report_delays(),
            );
            if completed != n {
                bail!("W1: {completed}/{n} runs are Completed");
            }
            let rate = n as f64 / (r.wall_ms / 1000.0);
            rates.push(rate);
            p50s.push(median(&r.lat_ms));
            p99s.push(percentile(&r.lat_ms, 0.99));
            bench.report.emit(json!({
                "w": "W1", "rep": rep, "n": n, "conc": conc, "wallMs": r1(r.wall_ms),
                "runsPerS": r1(rate), "stepsPerS": r1(3.0 * rate),
                "medLatMs": r1(median(&r.lat_ms)), "p90LatMs": r1(percentile(&r.lat_ms, 0.9)),
                "p99LatMs": r1(percentile(&r.lat_ms, 0.99)), "maxLatMs": r1(max(&r.lat_ms)),
                "completed": completed, "wire": wire,
                "loadavgBefore": load, "loadavgAfter": loadavg(),
            }))?;
        }
        let load_after = loadavg();
        bench.report.emit(json!({
            "w": "W1", "summary": true, "n": n, "conc": conc, "runsPerS": r1(median(&rates)),
            "stepsPerS": r1(3.0 * median(&rates)), "medLatMs": r1(median(&p50s)), "p99LatMs": r1(median(&p99s)),
        }))?;
        let name = format!("W1 N={n}, {conc} in flight");
        let load = (load_before.as_str(), load_after.as_str());
        bench.report.row(&name, "runs/s", &rates, load, "");
        let steps: Vec<f64> = rates.iter().map(|r| 3.0 * r).collect();
        bench.report.row(&name, "steps/s", &steps, load, "");
        bench.report.row(&name, "p50 latency (ms)", &p50s, load, "");
        bench.report.row(&name, "p99 latency (ms)", &p99s, load, "");
    }
    Ok(())
}

pub(crate) async fn w2(bench: &mut Bench) -> anyhow::Result<()> {
    let n = bench.opts.w2_n;
    let conc = bench.opts.conc;
    let scale = bench.opts.w2_backoff_scale.clone();
    let engine = bench.engine(&["--backoff-scale", &scale]).await?;
    warmup(bench, &engine).await?;
    let load_before = loadavg();
    let mut walls = Vec::new();
    for rep in 0..bench.opts.reps {
        let load = loadavg();
        bench.probe.take_report_delays();
        let before = wire(&engine, "flaky").await;
        let r = closed_loop(&engine, &bench.probe, FLAKY, n, conc, &tag("w2")).await?;
        let completed = verify_completed(&engine, "flaky", &r.run_ids).await?;
        let wire = wire_json(
            &before,
            &wire(&engine, "flaky").await,
            n,
            &bench.probe.take_report_delays(),
        );
        let seen = bench.probe.flaky_runs();
        let app_ok = r
            .run_ids
            .iter()
            .filter(|id| {
                seen.get(*id).is_some_and(|f| {
                    f.executions == 3 && f.succeeded_at_attempt == Some(2) && f.step3_ran
                })
            })
            .count();
        // The engine's own records: the flaky step has exactly the attempts error, error, ok.
        let mut engine_ok = 0;
        for run_id in &r.run_ids {
            let attempts = engine.get(&format!("/v1/runs/{run_id}/attempts")).await?;
            let s2: Vec<(u64, String)> = attempts["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["step_name"] == "s2")
                .map(|a| {
                    (
                        a["attempt"].as_u64().unwrap_or(u64::MAX),
                        a["outcome"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            if s2 == [(0, "error".into()), (1, "error".into()), (2, "ok".into())] {
                engine_ok += 1;
            }
        }
        walls.push(r.wall_ms / 1000.0);
        bench.report.emit(json!({
            "w": "W2", "rep": rep, "n": n, "conc": conc, "wallMs": r1(r.wall_ms),
            "completed": completed, "exactly3Attempts": app_ok, "engineAttemptsErrorErrorOk": engine_ok,
            "medLatMs": r1(median(&r.lat_ms)), "backoffScale": scale, "wire": wire,
            "loadavgBefore": load, "loadavgAfter": loadavg(),
        }))?;
        if completed != n || app_ok != n || engine_ok != n {
            bail!(
                "W2 verification failed: completed {completed}, app {app_ok}, engine {engine_ok} of {n}"
            );
        }
    }
    let load_after = loadavg();
    bench.report.emit(json!({"w": "W2", "summary": true, "n": n, "wallS": r3(median(&walls)), "backoffScale": scale}))?;
    bench.report.row(
        &format!("W2 N={n}, {conc} in flight"),
        "wall (s), verified",
        &walls,
        (&load_before, &load_after),
        &format!("{n}/{n} every rep; --backoff-scale {scale}"),
    );
    Ok(())
}

pub(crate) async fn w3(bench: &mut Bench) -> anyhow::Result<()> {
    let steps = bench.opts.w3_steps;
    let engine = bench.engine(&[]).await?;
    warmup(bench, &engine).await?;
    let load_before = loadavg();
    let mut per_step = Vec::new();
    let timeout = Duration::from_secs(60 + steps / 2);
    for rep in 0..bench.opts.reps {
        let load = loadavg();
        let id = tag("w3");
        bench.probe.take_report_delays();
        let before = wire(&engine, "fan").await;
        let waiter = bench.probe.expect(&id);
        let sent = Instant::now();
        engine
            .send(&json!({"name": FAN, "data": {"id": id, "steps": steps}}))
            .await?;
        let finished = tokio::time::timeout(timeout, waiter).await.map_err(|_| {
            anyhow!(
                "the W3 run did not finish within {timeout:?}; engine log (tail):\n{}",
                engine.log_tail()
            )
        })??;
        let wall = ms(finished.at - sent);
        // Also: when the engine first lists the run as Completed (polled every 2 ms from the final call).
        let completed_seen = run_completed_at(&engine, &finished.run_id).await?;
        let completed =
            verify_completed(&engine, "fan", std::slice::from_ref(&finished.run_id)).await?;
        if completed != 1 {
            bail!("W3: the run is not Completed");
        }
        let wire = wire_json(
            &before,
            &wire(&engine, "fan").await,
            1,
            &bench.probe.take_report_delays(),
        );
        per_step.push(wall / steps as f64);
        bench.report.emit(json!({
            "w": "W3", "rep": rep, "steps": steps, "wallMs": r1(wall),
            "msPerStep": r3(wall / steps as f64),
            "completedSeenMs": r1(ms(completed_seen - sent)), "wire": wire,
            "loadavgBefore": load, "loadavgAfter": loadavg(),
        }))?;
    }
    let load_after = loadavg();
    bench.report.emit(
        json!({"w": "W3", "summary": true, "steps": steps, "msPerStep": r3(median(&per_step))}),
    )?;
    bench.report.row(
        &format!("W3 ({steps} sequential steps, 1 run)"),
        "ms/step",
        &per_step,
        (&load_before, &load_after),
        "",
    );
    Ok(())
}

/// Sends `requests` POSTs built by `body(i)` with `conc` in flight; returns (wall ms, per-request ms,
/// events accepted).
async fn ingest(
    engine: &Engine,
    requests: usize,
    conc: usize,
    body: fn(usize) -> Value,
) -> anyhow::Result<(f64, Vec<f64>, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/e/bench", engine.url());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..conc.min(requests).max(1) {
        let next = Arc::clone(&next);
        let http = engine.http.clone();
        let url = url.clone();
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= requests {
                    return Ok::<_, anyhow::Error>(out);
                }
                let sent = Instant::now();
                let accepted = post(&http, &url, &body(i)).await?;
                out.push((ms(sent.elapsed()), accepted));
            }
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut accepted = 0;
    while let Some(joined) = tasks.join_next().await {
        for (latency, ids) in joined?? {
            latencies.push(latency);
            accepted += ids;
        }
    }
    Ok((ms(start.elapsed()), latencies, accepted))
}

fn single_event(i: usize) -> Value {
    json!({"name": UNTRIGGERED, "data": {"i": i, "note": "a small payload"}})
}

fn batch_of_100(i: usize) -> Value {
    Value::Array(
        (0..100)
            .map(|j| json!({"name": UNTRIGGERED, "data": {"i": i * 100 + j, "note": "a small payload"}}))
            .collect(),
    )
}

pub(crate) async fn w4(bench: &mut Bench) -> anyhow::Result<()> {
    let (events, conc) = (bench.opts.w4_events, bench.opts.w4_conc);
    let (batches, batch_conc) = (bench.opts.w4_batches, bench.opts.w4_batch_conc);
    let engine = bench.engine(&[]).await?;
    // Warm the connections and the store with a few hundred events.
    ingest(&engine, 300, conc, single_event).await?;
    let load_before = loadavg();
    let (mut single_rates, mut single_p50, mut single_p99, mut batch_rates, mut batch_p50) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..bench.opts.reps {
        let load = loadavg();
        let (wall, lat, accepted) = ingest(&engine, events, conc, single_event).await?;
        if accepted != events {
            bail!("W4: {accepted} of {events} single events accepted");
        }
        let rate = events as f64 / (wall / 1000.0);
        single_rates.push(rate);
        single_p50.push(median(&lat));
        single_p99.push(percentile(&lat, 0.99));
        let (bwall, blat, baccepted) = ingest(&engine, batches, batch_conc, batch_of_100).await?;
        if baccepted != batches * 100 {
            bail!(
                "W4: {baccepted} of {} batched events accepted",
                batches * 100
            );
        }
        let brate = baccepted as f64 / (bwall / 1000.0);
        batch_rates.push(brate);
        batch_p50.push(median(&blat));
        bench.report.emit(json!({
            "w": "W4", "rep": rep, "trigger": "none (no function listens to the event)",
            "single": {"events": events, "conc": conc, "wallMs": r1(wall), "eventsPerS": r1(rate),
                       "medLatMs": r3(median(&lat)), "p99LatMs": r3(percentile(&lat, 0.99))},
            "batch100": {"batches": batches, "conc": batch_conc, "events": baccepted, "wallMs": r1(bwall),
                         "eventsPerS": r1(brate), "medLatMs": r3(median(&blat)), "p99LatMs": r3(percentile(&blat, 0.99))},
            "loadavgBefore": load, "loadavgAfter": loadavg(),
        }))?;
    }
    let load_after = loadavg();
    bench.report.emit(json!({
        "w": "W4", "summary": true, "singleEventsPerS": r1(median(&single_rates)),
        "batch100EventsPerS": r1(median(&batch_rates)),
    }))?;
    let load = (load_before.as_str(), load_after.as_str());
    let single = format!("W4 ingest, single events, {conc} requests in flight");
    bench.report.row(
        &single,
        "events/s",
        &single_rates,
        load,
        "no function triggered; 2xx = durable",
    );
    bench
        .report
        .row(&single, "p50 request (ms)", &single_p50, load, "");
    bench
        .report
        .row(&single, "p99 request (ms)", &single_p99, load, "");
    let batch = format!("W4 ingest, batches of 100, {batch_conc} requests in flight");
    bench.report.row(
        &batch,
        "events/s",
        &batch_rates,
        load,
        "no function triggered; 2xx = durable",
    );
    bench
        .report
        .row(&batch, "p50 request (ms)", &batch_p50, load, "");
    Ok(())
}

/// Timer runs, each retried at `due0 + i * 1000 / n` ms: sent in batches of 100, 4 requests in flight.
async fn start_timer_runs(engine: &Engine, n: usize, due0: i64) -> anyhow::Result<()> {
    let url = format!("{}/e/bench", engine.url());
    let batches: Vec<Value> = (0..n)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|chunk| {
            Value::Array(
                chunk
                    .iter()
                    .map(|&i| {
                        let due = due0 + i64::try_from(i * 1000 / n).unwrap_or(0);
                        json!({"name": TIMER, "data": {"due_ms": due}})
                    })
                    .collect(),
            )
        })
        .collect();
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..4 {
        let (batches, next, http, url) = (
            Arc::clone(&batches),
            Arc::clone(&next),
            engine.http.clone(),
            url.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(batch) = batches.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                post(&http, &url, batch).await?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

/// Waits until `n` first attempts have failed and the engine's queue holds `n` scheduled jobs (nothing
/// due or in flight), or until `deadline_ms` (Unix ms). Returns whether it got there in time.
async fn wait_for_backoff(
    engine: &Engine,
    probe: &Probe,
    n: usize,
    deadline_ms: f64,
) -> anyhow::Result<bool> {
    let mut last_print = Instant::now();
    loop {
        let first = probe.timer_first.load(Ordering::SeqCst) as usize;
        if first >= n {
            let (due, scheduled, in_flight) = engine.queue().await?;
            if scheduled as usize >= n && due == 0 && in_flight == 0 {
                return Ok(true);
            }
        }
        if unix_ms(SystemTime::now()) > deadline_ms {
            return Ok(false);
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            eprintln!("  set-up: {first}/{n} first attempts failed");
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the app has seen `n` retries, or `timeout` passed.
async fn wait_for_hits(probe: &Probe, n: usize, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while probe.timer_hit_count() < n {
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} retries arrived within {timeout:?}",
                probe.timer_hit_count()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Lateness per run from the engine's attempt records: attempt 1's `started_at_ms` minus attempt 0's
/// `next_attempt_at_ms`.
async fn engine_lateness(engine: &Engine, run_ids: &[String]) -> anyhow::Result<Vec<f64>> {
    let ids = Arc::new(run_ids.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let base = engine.url();
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let (ids, next, http, base) = (
            Arc::clone(&ids),
            Arc::clone(&next),
            engine.http.clone(),
            base.clone(),
        );
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(run_id) = ids.get(i) else {
                    return Ok::<_, anyhow::Error>(out);
                };
                let body: Value = http
                    .get(format!("{base}/v1/runs/{run_id}/attempts"))
                    .send()
                    .await?
                    .json()
                    .await?;
                let attempts = body["data"].as_array().cloned().unwrap_or_default();
                let of = |n: u64| attempts.iter().find(|a| a["attempt"].as_u64() == Some(n));
                let (Some(first), Some(second)) = (of(0), of(1)) else {
                    bail!("run {run_id}: attempts 0 and 1 not both recorded: {body}");
                };
                let due = first["next_attempt_at_ms"]
                    .as_f64()
                    .context("no next_attempt_at_ms")?;
                let started = second["started_at_ms"]
                    .as_f64()
                    .context("no started_at_ms")?;
                out.push(started - due);
            }
        });
    }
    let mut lateness = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        lateness.extend(joined??);
    }
    Ok(lateness)
}

fn dist(values: &[f64]) -> Value {
    json!({"p50": r1(median(values)), "p99": r1(percentile(values, 0.99)), "max": r1(max(values))})
}

/// The first whole second at least `lead_secs` from now, in Unix ms.
fn due_second(lead_secs: u64) -> i64 {
    let now = unix_ms(SystemTime::now()) as i64;
    (now / 1000 + i64::try_from(lead_secs).unwrap_or(0) + 1) * 1000
}

pub(crate) async fn w5(bench: &mut Bench) -> anyhow::Result<()> {
    let n = bench.opts.w5_n;
    let engine = bench.engine(&[]).await?;
    warmup(bench, &engine).await?;
    let load_before = loadavg();
    let (mut p50s, mut p99s, mut maxes, mut app_p99s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..bench.opts.reps {
        let load = loadavg();
        bench.probe.reset_timers();
        let start = Instant::now();
        let due0 = due_second(bench.opts.w5_lead_secs);
        start_timer_runs(&engine, n, due0).await?;
        let in_time = wait_for_backoff(&engine, &bench.probe, n, due0 as f64 - 200.0).await?;
        let setup = start.elapsed();
        let setup_rate = n as f64 / setup.as_secs_f64();
        bench.setup_rate = Some(setup_rate);
        if !in_time {
            bail!(
                "W5 set-up did not finish before the due second ({} of {n} first attempts after {:.1} s): raise --w5-lead-secs",
                bench.probe.timer_first.load(Ordering::SeqCst),
                setup.as_secs_f64()
            );
        }
        eprintln!(
            "  W5 set-up: {n} runs in backoff after {:.1} s ({setup_rate:.0}/s); due at {due0}",
            setup.as_secs_f64()
        );
        let wait = Duration::from_millis(
            u64::try_from(due0 - unix_ms(SystemTime::now()) as i64).unwrap_or(0),
        );
        wait_for_hits(&bench.probe, n, wait + Duration::from_secs(300)).await?;
        let hits = bench.probe.timer_hits();
        let app_late: Vec<f64> = hits.iter().map(|h| h.seen_ms - h.due_ms).collect();
        let last_seen = hits.iter().map(|h| h.seen_ms).fold(0.0, f64::max);
        let run_ids: Vec<String> = hits.iter().map(|h| h.run_id.clone()).collect();
        let load_after_rep = loadavg();
        let late = engine_lateness(&engine, &run_ids).await?;
        let completed = verify_completed(&engine, "timer", &run_ids).await?;
        if completed != n {
            bail!("W5: {completed}/{n} runs are Completed");
        }
        p50s.push(median(&late));
        p99s.push(percentile(&late, 0.99));
        maxes.push(max(&late));
        app_p99s.push(percentile(&app_late, 0.99));
        bench.report.emit(json!({
            "w": "W5", "rep": rep, "n": n, "dueWindowMs": 1000, "setupS": r1(setup.as_secs_f64()),
            "setupRunsPerS": r1(setup_rate),
            "latenessMs_engineRecords": dist(&late), "latenessMs_appObserved": dist(&app_late),
            "lastRetrySeenAfterDueSecondStartMs": r1(last_seen - due0 as f64),
            "completed": completed, "loadavgBefore": load, "loadavgAfter": load_after_rep,
        }))?;
    }
    let load_after = loadavg();
    bench.report.emit(json!({
        "w": "W5", "summary": true, "n": n, "p50Ms": r1(median(&p50s)), "p99Ms": r1(median(&p99s)),
        "maxMs": r1(median(&maxes)), "appObservedP99Ms": r1(median(&app_p99s)),
    }))?;
    let name = format!("W5 timers ({n} retries due within one second)");
    let load = (load_before.as_str(), load_after.as_str());
    let note = "attempt records: started_at − previous next_attempt_at";
    bench
        .report
        .row(&name, "lateness p50 (ms)", &p50s, load, note);
    bench
        .report
        .row(&name, "lateness p99 (ms)", &p99s, load, note);
    bench
        .report
        .row(&name, "lateness max (ms)", &maxes, load, note);
    bench.report.row(
        &name,
        "lateness p99, app-observed (ms)",
        &app_p99s,
        load,
        "retry call reaching the app",
    );
    Ok(())
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}

/// CPU used by the engine over `secs` seconds, in percent of one core.
async fn idle_cpu(engine: &Engine, secs: u64) -> f64 {
    let ticks = clock_ticks_per_second() as f64;
    let before = engine.cpu_ticks().unwrap_or(0);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let used = engine.cpu_ticks().unwrap_or(0).saturating_sub(before) as f64 / ticks;
    100.0 * used / start.elapsed().as_secs_f64()
}

pub(crate) async fn w6(bench: &mut Bench) -> anyhow::Result<()> {
    let n = bench.opts.w6_n;
    let idle_secs = bench.opts.w6_idle_secs;
    let mut engine = bench.engine(&[]).await?;
    let lead = match bench.opts.w6_lead_secs {
        0 => {
            let rate = bench.setup_rate.unwrap_or(1000.0);
            // Set-up at the measured rate, with a third to spare, plus two idle windows and a restart.
            (n as f64 / rate * 1.33) as u64 + 2 * idle_secs + 45
        }
        secs => secs,
    };
    let load_before = loadavg();
    bench.probe.reset_timers();
    let start = Instant::now();
    let due0 = due_second(lead);
    eprintln!("W6: {n} runs, due at {due0} ({lead} s from now)");
    let (rss_start, _) = engine.memory_kib().unwrap_or((0, 0));
    start_timer_runs(&engine, n, due0).await?;
    let in_time = wait_for_backoff(
        &engine,
        &bench.probe,
        n,
        due0 as f64 - 1000.0 * (2 * idle_secs + 15) as f64,
    )
    .await?;
    let setup = start.elapsed();
    if !in_time {
        bail!(
            "W6 set-up did not finish in time ({} of {n} after {:.0} s): raise --w6-lead-secs",
            bench.probe.timer_first.load(Ordering::SeqCst),
            setup.as_secs_f64()
        );
    }
    eprintln!(
        "  W6 set-up: {n} runs in backoff after {:.1} s",
        setup.as_secs_f64()
    );
    let (_, rss_setup_peak) = engine.memory_kib().unwrap_or((0, 0));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_idle = idle_cpu(&engine, idle_secs).await;
    let (rss_idle, _) = engine.memory_kib().unwrap_or((0, 0));
    let store_bytes = dir_size(engine.data_dir());
    let restart = engine.restart().await?;
    let (rss_restarted, _) = engine.memory_kib().unwrap_or((0, 0));
    let (_, scheduled_after_restart, _) = engine.queue().await?;
    let cpu_idle_restarted = idle_cpu(&engine, idle_secs).await;
    let (rss_restarted_idle, _) = engine.memory_kib().unwrap_or((0, 0));
    let before_due_ms = due0 as f64 - unix_ms(SystemTime::now());
    if before_due_ms < 0.0 {
        bail!("W6: the due time passed before the idle measurements ended: raise --w6-lead-secs");
    }
    eprintln!(
        "  W6 idle measured; draining at the due time ({:.0} s from now)",
        before_due_ms / 1000.0
    );
    wait_for_hits(
        &bench.probe,
        n,
        Duration::from_millis(before_due_ms as u64) + Duration::from_secs(1800),
    )
    .await?;
    let hits = bench.probe.timer_hits();
    let app_late: Vec<f64> = hits.iter().map(|h| h.seen_ms - h.due_ms).collect();
    let first_seen = hits.iter().map(|h| h.at).min();
    let last_seen = hits.iter().map(|h| h.at).max();
    let drain_s = match (first_seen, last_seen) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };
    let last_after_due = hits.iter().map(|h| h.seen_ms).fold(0.0, f64::max) - due0 as f64;
    let (rss_drained, rss_peak_since_restart) = engine.memory_kib().unwrap_or((0, 0));
    let runs = engine.runs_of(&function_id("timer")).await?;
    let completed = runs
        .iter()
        .filter(|(_, status)| status == "Completed")
        .count();
    let load_after = loadavg();
    let mib = |kib: u64| r1(kib as f64 / 1024.0);
    bench.report.emit(json!({
        "w": "W6", "n": n, "leadS": lead, "setupS": r1(setup.as_secs_f64()),
        "setupRunsPerS": r1(n as f64 / setup.as_secs_f64()),
        "rssMiB": {"fresh": mib(rss_start), "peakDuringSetup": mib(rss_setup_peak), "idleWaiting": mib(rss_idle),
                   "afterRestart": mib(rss_restarted), "afterRestartIdle": mib(rss_restarted_idle),
                   "afterDrain": mib(rss_drained), "peakSinceRestart": mib(rss_peak_since_restart)},
        "idleCpuPercentOfOneCore": {"beforeRestart": r3(cpu_idle), "afterRestart": r3(cpu_idle_restarted), "windowS": idle_secs},
        "storeBytes": store_bytes, "restartToHealthMs": r1(ms(restart)),
        "scheduledAfterRestart": scheduled_after_restart,
        "drainS_firstToLastRetry": r3(drain_s), "drainRunsPerS": r1(n as f64 / drain_s.max(1e-9)),
        "lastRetryAfterDueSecondStartMs": r1(last_after_due), "latenessMs_appObserved": dist(&app_late),
        "completed": completed, "loadavgBefore": load_before, "loadavgAfter": load_after,
    }))?;
    if completed != n {
        bail!("W6: {completed}/{n} runs are Completed");
    }
    let name = format!("W6 idle scale ({n} runs waiting in backoff), 1 rep");
    let load = (load_before.as_str(), load_after.as_str());
    bench.report.row(
        &name,
        "RSS while idle (MiB)",
        &[mib(rss_idle)],
        load,
        "VmRSS of durin",
    );
    bench.report.row(
        &name,
        "peak RSS incl. set-up (MiB)",
        &[mib(rss_setup_peak)],
        load,
        "VmHWM before the restart",
    );
    bench.report.row(
        &name,
        "RSS after restart, idle (MiB)",
        &[mib(rss_restarted_idle)],
        load,
        "",
    );
    bench.report.row(
        &name,
        "peak RSS after restart incl. drain (MiB)",
        &[mib(rss_peak_since_restart)],
        load,
        "",
    );
    bench.report.row(
        &name,
        "idle CPU (% of one core)",
        &[cpu_idle],
        load,
        &format!("{idle_secs} s window, before restart"),
    );
    bench.report.row(
        &name,
        "idle CPU after restart (% of one core)",
        &[cpu_idle_restarted],
        load,
        "",
    );
    bench.report.row(
        &name,
        "restart: SIGKILL → /health (ms)",
        &[ms(restart)],
        load,
        "",
    );
    bench.report.row(
        &name,
        "drain: first → last retry (s)",
        &[drain_s],
        load,
        "all due within one second",
    );
    bench.report.row(
        &name,
        "set-up (s)",
        &[setup.as_secs_f64()],
        load,
        "events + failing first attempts",
    );
    Ok(())
}
