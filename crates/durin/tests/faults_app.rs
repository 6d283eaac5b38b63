//! App faults (issue 7): the app process killed mid-request, answers too slow for the request timeout,
//! answers that are not an SDK's (a proxy's HTML error page, a 200 with HTML, garbage with the SDK header),
//! connections closed without an answer or mid-answer, and 5xx on every try. Each becomes one recorded
//! attempt with an error naming the fault, and follows the retry policy. An app that cannot be reached
//! does not hold up another app's runs.
//!
//! Real processes: a `durin dev` binary and apps served on loopback; in the kill test the app is a
//! separate process (this test binary started again, running only `app_process_for_the_kill_test`).

mod common;

use std::collections::VecDeque;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::{RUN_TIMEOUT, start_as};
use durin_sdk::{Client, Context, Error, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, Recorder, RouterSwitch, free_port, serve_app};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
    <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// What the app in front of the SDK does with the next call request.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// A proxy's HTML error page: 502, no SDK header.
    Html502,
    /// A 200 that is not from an SDK (a web page served at the URL).
    Html200,
    /// The SDK header, and a body that is not JSON.
    Garbage200,
    /// The SDK header, 206, and operations that cannot be read.
    Garbage206,
    /// The SDK header and the start of an answer, then the connection is cut.
    CloseMidAnswer,
    /// The connection is closed before any answer (the handler dies).
    CloseWithoutAnswer,
    /// 503 from a load balancer in front of the app.
    Unavailable503,
}

/// Serves `sdk` behind a front that answers each call request (POST) with the next queued fault, and
/// passes everything else (and every call once the queue is empty, unless `always` is set) to the SDK.
#[derive(Clone)]
struct FaultyFront {
    queue: Arc<Mutex<VecDeque<Fault>>>,
    always: Arc<Mutex<Option<Fault>>>,
}

impl FaultyFront {
    fn new(faults: &[Fault], always: Option<Fault>) -> Self {
        Self {
            queue: Arc::new(Mutex::new(faults.iter().copied().collect())),
            always: Arc::new(Mutex::new(always)),
        }
    }

    fn next(&self) -> Option<Fault> {
        let queued = self.queue.lock().ok().and_then(|mut q| q.pop_front());
        queued.or_else(|| self.always.lock().ok().and_then(|a| *a))
    }

    fn router(&self, sdk: Router) -> Router {
        let front = self.clone();
        sdk.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let front = front.clone();
                async move {
                    let fault = (request.method() == Method::POST)
                        .then(|| front.next())
                        .flatten();
                    match fault {
                        Some(fault) => answer(fault),
                        None => next.run(request).await,
                    }
                }
            },
        ))
    }
}

fn answer(fault: Fault) -> Response {
    let sdk = (durin_protocol::headers::SDK, "rust:v0.1.0");
    let html = (header::CONTENT_TYPE, "text/html");
    match fault {
        Fault::Html502 => (StatusCode::BAD_GATEWAY, [html], NGINX_502).into_response(),
        Fault::Html200 => {
            (StatusCode::OK, [html], "<html><body>Welcome</body></html>").into_response()
        }
        Fault::Garbage200 => (StatusCode::OK, [sdk], "{\"result\": tru").into_response(),
        Fault::Garbage206 => (StatusCode::PARTIAL_CONTENT, [sdk], "[{\"op\": 7,").into_response(),
        Fault::CloseMidAnswer => {
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("{\"result\": "),
                Err(std::io::Error::other("the app died mid-answer")),
            ];
            let body = Body::from_stream(futures::stream::iter(chunks));
            (StatusCode::OK, [sdk], body).into_response()
        }
        // A panicking handler makes the server drop the connection without a word.
        Fault::CloseWithoutAnswer => panic!("deliberate: close the connection without an answer"),
        Fault::Unavailable503 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [html],
            "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        )
            .into_response(),
    }
}

/// A function without steps that records each attempt of its body and returns `{"ok": true}`.
fn recorded_body(slug: &str, event: &str, retries: u32, seen: &Recorder) -> Function {
    let seen = seen.clone();
    Function::new(slug)
        .trigger_event(event)
        .retries(retries)
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                seen.record("body", ctx.attempt);
                Ok(json!({ "ok": true }))
            }
        })
}

/// An engine, and an app serving `functions` behind `front`.
async fn start_behind_front(
    app_id: &str,
    front: &FaultyFront,
    functions: Vec<Function>,
    args: &[&str],
) -> (EngineProcess, durin_testkit::ServedApp) {
    let port = free_port().expect("a free port");
    let client = Client::with_base_url(app_id, format!("http://127.0.0.1:{port}"));
    let app = serve_app(front.router(serve(client, functions)))
        .await
        .expect("serve the app");
    let options = EngineOptions {
        sdk_urls: vec![app.serve_url()],
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        port: Some(port),
    };
    let engine = EngineProcess::start(BINARY, options)
        .await
        .expect("start the engine");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs");
    (engine, app)
}

/// The error name recorded for each attempt, in order.
fn error_names(attempts: &[Value]) -> Vec<String> {
    attempts
        .iter()
        .map(|a| a["error"]["name"].as_str().unwrap_or("-").to_owned())
        .collect()
}

fn run_id(run: &Value) -> String {
    run["run_id"].as_str().expect("a run id").to_owned()
}

#[tokio::test]
async fn non_sdk_answers_garbage_and_closed_connections_are_failed_attempts_that_are_retried() {
    let seen = Recorder::new();
    let faults = [
        Fault::Html502,
        Fault::Html200,
        Fault::Garbage200,
        Fault::Garbage206,
        Fault::CloseMidAnswer,
        Fault::CloseWithoutAnswer,
    ];
    let front = FaultyFront::new(&faults, None);
    let function = recorded_body("fragile", "test/fragile", 7, &seen);
    let (engine, _app) = start_behind_front(
        "faulty-app",
        &front,
        vec![function],
        &["--backoff-scale", "0.01"],
    )
    .await;

    let event = engine.send("test/fragile", json!({})).await.unwrap();
    let run = engine.wait_for_run_end(&event, RUN_TIMEOUT).await.unwrap();
    assert_eq!(run["status"], "Completed", "{run}");
    let attempts = engine.attempts(&run_id(&run)).await.unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        outcomes,
        ["error", "error", "error", "error", "error", "error", "ok"],
        "one failed attempt per fault, then the SDK's answer: {attempts:#?}"
    );
    let numbers: Vec<u64> = attempts
        .iter()
        .filter_map(|a| a["attempt"].as_u64())
        .collect();
    assert_eq!(
        numbers,
        [0, 1, 2, 3, 4, 5, 6],
        "R3: one counter for the job"
    );
    assert_eq!(
        error_names(&attempts)[..6],
        [
            "NotAnSdkResponse",
            "NotAnSdkResponse",
            "InvalidResponse",
            "InvalidResponse",
            "AppConnectionError",
            "AppConnectionError",
        ]
    );
    let message = |n: usize| {
        attempts[n]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        message(0).contains("HTTP 502") && message(0).contains("nginx"),
        "{}",
        message(0)
    );
    assert!(
        message(1).contains("200") && message(1).contains("x-inngest-sdk"),
        "a 200 without the SDK header is not the function's result: {}",
        message(1)
    );
    assert!(message(2).contains("not JSON"), "{}", message(2));
    assert!(message(3).contains("operations"), "{}", message(3));
    assert!(
        message(5).contains("connection closed before the app answered"),
        "{}",
        message(5)
    );
    assert_eq!(
        seen.attempts("body"),
        vec![6],
        "the function ran once, when the SDK answered"
    );
    let full = engine
        .data(&format!("/v1/runs/{}", run_id(&run)))
        .await
        .unwrap();
    assert_eq!(full["output"], json!({ "ok": true }));
}

#[tokio::test]
async fn five_xx_on_every_try_follows_the_backoff_then_fails_the_run_with_the_last_error() {
    let seen = Recorder::new();
    let front = FaultyFront::new(&[], Some(Fault::Unavailable503));
    let function = recorded_body("down", "test/down", 3, &seen);
    let (engine, _app) = start_behind_front(
        "down-app",
        &front,
        vec![function],
        &["--backoff-scale", "0.01"],
    )
    .await;

    let event = engine.send("test/down", json!({})).await.unwrap();
    let run = engine.wait_for_run_end(&event, RUN_TIMEOUT).await.unwrap();
    assert_eq!(run["status"], "Failed", "{run}");
    let attempts = engine.attempts(&run_id(&run)).await.unwrap();
    assert_eq!(
        attempts.len(),
        4,
        "R1: retries 3 is 4 attempts: {attempts:#?}"
    );
    assert!(
        error_names(&attempts)
            .iter()
            .all(|n| n == "NotAnSdkResponse"),
        "{attempts:#?}"
    );
    // R4 scaled by 0.01: after failed attempt n the next is due TABLE[n] to TABLE[n] + 30 s later, / 100.
    const TABLE_MS: [i64; 3] = [15_000, 30_000, 60_000];
    for (n, pair) in attempts.windows(2).enumerate() {
        let ended = pair[0]["ended_at_ms"].as_i64().unwrap();
        let due = pair[0]["next_attempt_at_ms"]
            .as_i64()
            .expect("a retry is scheduled");
        let delay = due - ended;
        assert!(
            (TABLE_MS[n] / 100..=(TABLE_MS[n] + 30_000) / 100).contains(&delay),
            "retry {n} was scheduled {delay} ms after the failure"
        );
        let next_start = pair[1]["started_at_ms"].as_i64().unwrap();
        assert!(next_start >= due, "retry {n} started before it was due");
    }
    assert!(
        attempts[3]["next_attempt_at_ms"].is_null(),
        "no retry after the last attempt"
    );
    let full = engine
        .data(&format!("/v1/runs/{}", run_id(&run)))
        .await
        .unwrap();
    let output = full["output"].to_string();
    assert!(
        output.contains("HTTP 503") && output.contains("Service Temporarily Unavailable"),
        "the run's output is the last error: {output}"
    );
    assert!(seen.attempts("body").is_empty(), "the function never ran");
}

#[tokio::test]
async fn a_slow_app_fails_each_attempt_as_a_timeout_and_is_retried() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let slow = Function::new("slow")
        .trigger_event("test/slow")
        .retries(4)
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                if ctx.attempt < 2 {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                }
                Ok::<_, Error>(json!({ "attempt": ctx.attempt }))
            }
        });
    let h = start_as(
        "slow-app",
        vec![slow],
        &["--backoff-scale", "0.01", "--request-timeout", "1"],
    )
    .await;
    let event = h.engine.send("test/slow", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(run["status"], "Completed", "{run}");
    let attempts = h.engine.attempts(&run_id(&run)).await.unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(outcomes, ["error", "error", "ok"], "{attempts:#?}");
    for timed_out in &attempts[..2] {
        assert_eq!(timed_out["error"]["name"], "TimeoutError", "{timed_out}");
        assert_eq!(
            timed_out["error"]["message"],
            "the app did not answer within 1 s"
        );
        let took = timed_out["duration_ms"].as_i64().unwrap();
        // Cut at the timeout: not before it, and long before the app's 4 s (a loaded machine adds some).
        assert!(
            (1_000..3_000).contains(&took),
            "a timed-out attempt took {took} ms"
        );
    }
    assert_eq!(seen.attempts("body"), vec![0, 1, 2]);
}

/// The app of `an_app_process_killed_mid_request_...`, run as a process of its own: this test binary
/// started again with only this test, told its port, the engine and a file to log step executions to.
#[tokio::test]
#[ignore = "the app process of the kill test; does nothing unless that test starts it"]
async fn app_process_for_the_kill_test() {
    let (Ok(port), Ok(engine_url), Ok(log)) = (
        std::env::var("DURIN_FAULTS_APP_PORT"),
        std::env::var("DURIN_FAULTS_ENGINE_URL"),
        std::env::var("DURIN_FAULTS_APP_LOG"),
    ) else {
        return;
    };
    let port: u16 = port.parse().expect("a port");
    let function = Function::new("killable")
        .trigger_event("test/killable")
        .retries(6)
        .handler(move |ctx: Context| {
            let log = log.clone();
            async move {
                let attempt = ctx.attempt;
                let value: Value = ctx
                    .step
                    .run("work", || async move {
                        let mut file = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .map_err(|e| Error::msg(e.to_string()))?;
                        writeln!(file, "work {attempt}").map_err(|e| Error::msg(e.to_string()))?;
                        if attempt == 0 {
                            // Killed during this sleep.
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        Ok::<_, Error>(json!({ "worked_on_attempt": attempt }))
                    })
                    .await?;
                Ok(value)
            }
        });
    let client = Client::with_base_url("killable-app", engine_url);
    let _app = durin_testkit::serve_app_on(port, serve(client, vec![function]))
        .await
        .expect("serve the app");
    std::future::pending::<()>().await;
}

fn start_app_process(port: u16, engine_url: &str, log: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "app_process_for_the_kill_test",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DURIN_FAULTS_APP_PORT", port.to_string())
        .env("DURIN_FAULTS_ENGINE_URL", engine_url)
        .env("DURIN_FAULTS_APP_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the app process")
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the app process did not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_app_process_killed_mid_request_is_a_failed_attempt_and_the_step_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("executions.log");
    let (app_port, engine_port) = (free_port().unwrap(), free_port().unwrap());
    let engine_url = format!("http://127.0.0.1:{engine_port}");
    let mut app = start_app_process(app_port, &engine_url, &log);
    wait_listening(app_port).await;
    let serve_url = format!("http://127.0.0.1:{app_port}/api/inngest");
    let options = EngineOptions {
        sdk_urls: vec![serve_url.clone()],
        // 0.05: the first retry comes 0.75-2.25 s later, time for the app process to start again.
        args: vec!["--backoff-scale".into(), "0.05".into()],
        port: Some(engine_port),
    };
    let engine = EngineProcess::start(BINARY, options).await.unwrap();
    engine
        .wait_for_app(&serve_url, Duration::from_secs(20))
        .await
        .unwrap();

    let event = engine.send("test/killable", json!({})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("work 0")) {
        assert!(Instant::now() < deadline, "the step did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.kill().expect("SIGKILL the app process");
    app.wait().expect("reap the app process");
    let mut app = start_app_process(app_port, &engine_url, &log);

    let run = engine.wait_for_run_end(&event, RUN_TIMEOUT).await.unwrap();
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(run["status"], "Completed", "{run}");
    let attempts = engine.attempts(&run_id(&run)).await.unwrap();
    let first = &attempts[0];
    assert_eq!(first["attempt"], 0);
    assert_eq!(first["outcome"], "error", "{first}");
    assert_eq!(first["error"]["name"], "AppConnectionError", "{first}");
    assert!(
        first["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("connection closed before the app answered")),
        "{first}"
    );
    // Any attempt of that job while the app was down was refused (unreachable); then the step ran again
    // and passed (the body's next request, a new job, then completed the run).
    let job: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["job_id"] == first["job_id"])
        .collect();
    let numbers: Vec<u64> = job.iter().filter_map(|a| a["attempt"].as_u64()).collect();
    let last = *numbers.last().unwrap();
    assert_eq!(numbers, (0..=last).collect::<Vec<_>>(), "R3: {attempts:#?}");
    for attempt in job {
        let n = attempt["attempt"].as_u64().unwrap();
        if n == last {
            assert_eq!(attempt["outcome"], "ok", "{attempts:#?}");
        } else if n > 0 {
            assert_eq!(attempt["error"]["name"], "AppUnreachable", "{attempt}");
        }
    }
    let executions = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = executions.lines().collect();
    assert_eq!(lines.len(), 2, "the step ran twice: {executions}");
    assert_eq!(lines[0], "work 0");
    let full = engine
        .data(&format!("/v1/runs/{}", run_id(&run)))
        .await
        .unwrap();
    assert_eq!(
        lines[1],
        format!("work {}", full["output"]["worked_on_attempt"]),
        "the passing execution is the one whose result was stored"
    );
}

/// A listener whose accept queue is full: the kernel drops further connection attempts (SYNs), as a
/// firewall or a vanished host does. The returned handles keep it so.
async fn blackhole(port: u16) -> (tokio::net::TcpListener, Vec<tokio::task::JoinHandle<()>>) {
    // The app's listener closes once its aborted task is dropped: try until the port is free.
    let deadline = Instant::now() + Duration::from_secs(5);
    let socket = loop {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        match socket.bind(([127, 0, 0, 1], port).into()) {
            Ok(()) => break socket,
            Err(error) => {
                assert!(Instant::now() < deadline, "bind the blackhole: {error}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let listener = socket.listen(0).expect("listen");
    let fillers = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    // Held open so that it keeps its place in the queue.
                    std::future::pending::<()>().await;
                    drop(stream);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await;
    assert!(
        probe.is_err(),
        "the blackhole accepted a connection: this kernel does not drop connections to a full accept \
         queue, so the test cannot make an app unreachable this way"
    );
    (listener, fillers)
}

#[tokio::test]
async fn an_unreachable_app_does_not_hold_up_another_apps_runs() {
    const RUNS: usize = 10;
    let (seen_a, seen_b) = (Recorder::new(), Recorder::new());
    let engine_port = free_port().unwrap();
    let engine_url = format!("http://127.0.0.1:{engine_port}");
    // App A goes dark once synced: its router hangs every request (a connection the engine already has
    // open), and its port drops new connections.
    let switch = RouterSwitch::new(serve(
        Client::with_base_url("app-a", &engine_url),
        vec![recorded_body("stuck", "test/a", 1, &seen_a)],
    ));
    let app_a = serve_app(switch.router()).await.unwrap();
    let app_b = serve_app(serve(
        Client::with_base_url("app-b", &engine_url),
        vec![recorded_body("fine", "test/b", 1, &seen_b)],
    ))
    .await
    .unwrap();
    let options = EngineOptions {
        sdk_urls: vec![app_a.serve_url(), app_b.serve_url()],
        args: ["--backoff-scale", "0.01", "--request-timeout", "4"]
            .map(str::to_owned)
            .to_vec(),
        port: Some(engine_port),
    };
    let engine = EngineProcess::start(BINARY, options).await.unwrap();
    for app in [&app_a, &app_b] {
        engine
            .wait_for_app(&app.serve_url(), Duration::from_secs(20))
            .await
            .unwrap();
    }
    switch.set(Router::new().fallback(std::future::pending::<Response>));
    let port_a = app_a.address.port();
    drop(app_a);
    let (_blackhole, fillers) = blackhole(port_a).await;

    let mut a_events = Vec::new();
    for n in 0..RUNS {
        a_events.push(engine.send("test/a", json!({ "n": n })).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent_b = Instant::now();
    let mut b_events = Vec::new();
    for n in 0..RUNS {
        b_events.push(engine.send("test/b", json!({ "n": n })).await.unwrap());
    }
    for event in &b_events {
        let run = engine.wait_for_run_end(event, RUN_TIMEOUT).await.unwrap();
        assert_eq!(run["status"], "Completed", "{run}");
    }
    let b_took = sent_b.elapsed();
    eprintln!("app B's {RUNS} runs completed {b_took:?} after they were sent, while app A hung");
    // App A's calls hang for the 4 s request timeout; B's runs do not wait for them (measured well under
    // a second; the bound leaves room for a loaded machine).
    assert!(
        b_took < Duration::from_secs(3),
        "app B's runs took {b_took:?}: they waited for app A"
    );
    let a_runs = futures::future::join_all(
        a_events
            .iter()
            .map(|event| engine.wait_for_run_end(event, RUN_TIMEOUT)),
    )
    .await;
    for run in a_runs {
        let run = run.unwrap();
        assert_eq!(run["status"], "Failed", "{run}");
        let attempts = engine.attempts(&run_id(&run)).await.unwrap();
        assert_eq!(attempts.len(), 2, "R1: retries 1: {attempts:#?}");
        for attempt in &attempts {
            let name = attempt["error"]["name"].as_str().unwrap_or("-");
            assert!(
                name == "AppUnreachable" || name == "TimeoutError",
                "{attempt}"
            );
            let took = attempt["duration_ms"].as_i64().unwrap();
            assert!(
                (3_900..8_000).contains(&took),
                "an attempt on the unreachable app took {took} ms, not the 4 s timeout"
            );
        }
    }
    assert!(seen_a.all().is_empty(), "app A never ran");
    for filler in fillers {
        filler.abort();
    }
}
