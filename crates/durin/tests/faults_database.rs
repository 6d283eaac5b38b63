//! Store faults on PostgreSQL (issue 7): the database becomes unreachable for a few seconds while runs are
//! in flight. `durin serve` answers new events with 503 and a JSON error (never 2xx for events it cannot
//! keep), stays up, and once the database is back accepts events again and finishes every run, with every
//! event it answered 2xx stored and every attempt that finished during the outage recorded.
//!
//! The outage is a TCP proxy in front of the test server that the test cuts (every open connection
//! closed, new ones dropped at once) and restores, so no other test's database is touched.

mod common;

use common::{EventAnswer, post_events};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use durin_sdk::{Client, Context, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, TestDatabase, free_port, serve_app};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const BINARY: &str = env!("CARGO_BIN_EXE_durin");

/// A loopback TCP proxy to `upstream` that can be cut and restored.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    /// Bumped on every cut: each relayed connection watches it and closes.
    cuts: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accepting, watcher) = (Arc::clone(&open), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = watcher.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, open, cuts }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` with the host and port replaced by the proxy's.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').expect("a database path");
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host_port)) => (format!("{user}@"), host_port),
        None => (String::new(), authority),
    };
    (
        format!("{scheme}://{user}127.0.0.1:{port}/{path}"),
        host_port.to_owned(),
    )
}

async fn post(http: &reqwest::Client, engine: &EngineProcess, event: &Value) -> EventAnswer {
    post_events(http, &engine.url(), engine.event_key(), event)
        .await
        .expect("the engine answers")
}

#[tokio::test]
async fn a_database_outage_refuses_events_with_503_and_nothing_acknowledged_is_lost() {
    let database = TestDatabase::create().await.expect("a test database");
    let (upstream_url, upstream) = through_proxy(database.url(), 0);
    drop(upstream_url);
    let proxy = Proxy::start(upstream).await;
    let (url, _) = through_proxy(database.url(), proxy.port);

    let port = free_port().expect("free port");
    let function =
        Function::new("keep")
            .trigger_event("test/keep")
            .handler(|ctx: Context| async move {
                let n = ctx.event.data.get("n").cloned().unwrap_or(Value::Null);
                let copied: Value = ctx
                    .step
                    .run("copy", || async move {
                        // Long enough that some attempts finish while the database is away.
                        tokio::time::sleep(Duration::from_millis(800)).await;
                        Ok::<_, durin_sdk::Error>(json!({ "n": n }))
                    })
                    .await?;
                Ok(copied)
            });
    let client = Client::with_base_url("db-app", format!("http://127.0.0.1:{port}"))
        .with_signing_key(durin_testkit::TEST_SIGNING_KEY)
        .expect("the test signing key");
    let app = serve_app(serve(client, vec![function]))
        .await
        .expect("serve the app");
    let options = EngineOptions {
        sdk_urls: vec![app.serve_url()],
        args: vec![
            "--database-url".into(),
            url,
            "--backoff-scale".into(),
            "0.01".into(),
        ],
        port: Some(port),
    };
    let engine = EngineProcess::start_serve(BINARY, options)
        .await
        .expect("start durin serve");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs");
    let http = reqwest::Client::new();
    let event = |n: usize| json!({ "name": "test/keep", "data": { "n": n } });

    let mut accepted: Vec<(usize, String)> = Vec::new();
    for n in 0..20 {
        let (status, _, body) = post(&http, &engine, &event(n)).await;
        assert_eq!(status, 200, "before the outage: {body}");
        accepted.push((n, body["ids"][0].as_str().expect("an id").to_owned()));
    }

    proxy.cut();
    let cut_at = Instant::now();
    let mut n = 20;
    let (retry_after, body) = loop {
        let (status, retry_after, body) = post(&http, &engine, &event(n)).await;
        match status {
            // A commit that got through before the cut reached it.
            200 => accepted.push((n, body["ids"][0].as_str().expect("an id").to_owned())),
            503 => break (retry_after, body),
            other => panic!("event {n} during the outage answered {other}: {body}"),
        }
        n += 1;
        assert!(n < 40, "20 events accepted with the database cut off");
    };
    let refused_after = cut_at.elapsed();
    assert!(
        refused_after < Duration::from_secs(15),
        "the first refusal came {refused_after:?} after the cut (acquire timeout: 5 s)"
    );
    assert_eq!(body["ids"], json!([]), "nothing of the request was stored");
    let error = body["error"].as_str().expect("a JSON error");
    assert!(error.contains("store unavailable"), "{error}");
    assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
    let (status, _) = engine.get_text("/health").await.expect("health");
    assert_eq!(status, 200, "the engine keeps running during the outage");
    // Away for 2 s more: the steps in flight (800 ms each) finish meanwhile and cannot be recorded yet;
    // every event sent is refused.
    let hold_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < hold_until {
        n += 1;
        let (status, _, body) = post(&http, &engine, &event(n)).await;
        assert_eq!(status, 503, "event {n} while the database is away: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut m = n + 1;
    loop {
        let (status, _, body) = post(&http, &engine, &event(m)).await;
        if status == 200 {
            accepted.push((m, body["ids"][0].as_str().expect("an id").to_owned()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events are still refused 30 s after the database came back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for extra in m + 1..m + 10 {
        let (status, _, body) = post(&http, &engine, &event(extra)).await;
        assert_eq!(status, 200, "after the outage: {body}");
        accepted.push((extra, body["ids"][0].as_str().expect("an id").to_owned()));
    }
    m += 10;

    // Every event answered 2xx is stored and its run completes with the step's result; each run's
    // attempts are recorded once, in order.
    for (n, id) in &accepted {
        let stored = engine
            .data(&format!("/v1/events/{id}"))
            .await
            .unwrap_or_else(|e| panic!("event {n} ({id}) was answered 2xx but is missing: {e}"));
        assert_eq!(stored["data"]["n"], json!(n), "{stored}");
        let runs = engine.runs_of_event(id).await.expect("runs of the event");
        assert_eq!(runs.len(), 1, "event {n}: {runs:?}");
        let run_id = runs[0]["run_id"].as_str().expect("run id");
        let run = engine
            .wait_for_run(run_id, common::RUN_TIMEOUT)
            .await
            .expect("the run ends");
        assert_eq!(run["status"], "Completed", "event {n}: {run}");
        let attempts = engine.attempts(run_id).await.expect("attempts");
        // One record per (job, attempt, step): a checkpointed step and the call's answer share the job.
        let numbers: Vec<(Value, Value, Value)> = attempts
            .iter()
            .map(|a| {
                (
                    a["job_id"].clone(),
                    a["attempt"].clone(),
                    a["step_id"].clone(),
                )
            })
            .collect();
        let mut unique = numbers.clone();
        unique.dedup();
        assert_eq!(numbers, unique, "an attempt recorded twice: {attempts:#?}");
    }
    eprintln!(
        "{} events accepted, first refusal {refused_after:?} after the cut, last n {m}",
        accepted.len()
    );
}
