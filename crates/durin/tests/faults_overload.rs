//! Overload (issue 7): a burst of event requests far beyond what the engine can store at once. Every
//! request is either accepted (200) or refused explicitly (503 with `Retry-After` and a JSON error
//! saying the engine is busy); nothing else, no dropped connection. The engine's memory (RSS, read from
//! /proc) stays bounded during the burst, refused requests sent again later are accepted, and every run
//! the accepted events started completes: the queue drains.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use durin_sdk::{Client, Context, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, free_port, serve_app};
use futures::StreamExt;
use serde_json::{Value, json};

use common::{EventAnswer, post_events};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
/// Requests sent at once.
const BURST: usize = 2_000;
/// Events per request: one starts a run, the rest are only stored.
const EVENTS_PER_REQUEST: usize = 50;
/// The engine's resident memory must stay under this during the burst (a debug build idles at a few
/// tens of MiB; without a bound on intake, the burst's bodies alone would be queued in memory).
const RSS_LIMIT_KIB: u64 = 400 * 1024;

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

fn request(n: usize) -> Value {
    let mut events =
        vec![json!({ "name": "test/burst.run", "id": format!("burst-{n}"), "data": { "n": n } })];
    events.extend((1..EVENTS_PER_REQUEST).map(|k| {
        json!({ "name": "test/burst.noise", "data": { "n": n, "k": k, "text": "some payload to store" } })
    }));
    Value::Array(events)
}

/// One answer: the status (0: no answer), `Retry-After`, and the JSON body.
type Answer = EventAnswer;

async fn send(http: &reqwest::Client, url: &str, body: &Value) -> Answer {
    post_events(http, url, "test-key", body)
        .await
        .unwrap_or_else(|error| (0, None, json!({ "transport": error.to_string() })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_capacity_is_accepted_or_refused_explicitly_and_drains() {
    let port = free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let function = Function::new("burst")
        .trigger_event("test/burst.run")
        .handler(
            |ctx: Context| async move { Ok(json!({ "n": ctx.event.data.get("n").cloned() })) },
        );
    let app = serve_app(serve(
        Client::with_base_url("burst-app", &url),
        vec![function],
    ))
    .await
    .unwrap();
    let options = EngineOptions {
        sdk_urls: vec![app.serve_url()],
        args: Vec::new(),
        port: Some(port),
    };
    let engine = EngineProcess::start(BINARY, options).await.unwrap();
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .unwrap();
    let pid = engine.pid().expect("the engine runs");
    let idle_rss = rss_kib(pid).expect("read the engine's RSS from /proc");

    // Sample the engine's memory while the burst lasts.
    let bursting = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(idle_rss));
    let sampler = tokio::spawn({
        let (bursting, peak) = (Arc::clone(&bursting), Arc::clone(&peak));
        async move {
            while bursting.load(Ordering::SeqCst) {
                if let Some(rss) = rss_kib(pid) {
                    peak.fetch_max(rss, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let started = Instant::now();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(BURST)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let answers: Vec<(usize, Answer)> = {
        let (http, url) = (&http, &url);
        futures::stream::iter(0..BURST)
            .map(|n| async move { (n, send(http, url, &request(n)).await) })
            .buffer_unordered(BURST)
            .collect()
            .await
    };
    let burst_took = started.elapsed();
    bursting.store(false, Ordering::SeqCst);
    sampler.await.unwrap();

    let mut refused = Vec::new();
    for (n, (status, retry_after, body)) in &answers {
        match status {
            200 => assert_eq!(
                body["ids"].as_array().map(Vec::len),
                Some(EVENTS_PER_REQUEST),
                "{body}"
            ),
            503 => {
                assert_eq!(
                    retry_after.as_deref(),
                    Some("1"),
                    "a refusal says when to retry"
                );
                let error = body["error"].as_str().unwrap_or_default();
                assert!(error.contains("busy"), "request {n}: {body}");
                assert_eq!(
                    body["ids"],
                    json!([]),
                    "nothing of a refused request is stored"
                );
                refused.push(*n);
            }
            other => {
                panic!("request {n} was neither accepted nor refused explicitly: {other} {body}")
            }
        }
    }
    let peak = peak.load(Ordering::SeqCst);
    eprintln!(
        "{BURST} requests of {EVENTS_PER_REQUEST} events in {burst_took:?}: {} accepted, {} refused \
         (503); RSS {} MiB idle, {} MiB at most",
        BURST - refused.len(),
        refused.len(),
        idle_rss / 1024,
        peak / 1024
    );
    assert!(
        peak < RSS_LIMIT_KIB,
        "the engine grew to {} MiB during the burst",
        peak / 1024
    );

    // The refused requests, sent again as they were told, are accepted.
    for n in &refused {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _, body) = send(&http, &url, &request(*n)).await;
            if status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "request {n} still refused: {status} {body}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    // The queue drains: one completed run per request.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, counts) = engine
            .get("/v1/runs?function_id=burst-app-burst&limit=1")
            .await
            .unwrap();
        let completed = count_completed(&engine).await;
        if completed == BURST {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{completed} of {BURST} runs completed: the queue did not drain ({counts})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("drained after {:?}", started.elapsed());
}

async fn count_completed(engine: &EngineProcess) -> usize {
    let mut completed = 0;
    let mut cursor = String::new();
    loop {
        let page = engine
            .data(&format!(
                "/v1/runs?function_id=burst-app-burst&limit=500&cursor={cursor}"
            ))
            .await
            .expect("list runs");
        let page = page.as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else {
            return completed;
        };
        completed += page.iter().filter(|r| r["status"] == "Completed").count();
        cursor = last["run_id"].as_str().expect("run id").to_owned();
    }
}
