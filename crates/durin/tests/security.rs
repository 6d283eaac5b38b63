//! Security (issue 7): `durin serve` is closed by default. It refuses to start without a signing key and
//! an event key (exit 2); events need a configured event key; SDK, API, GraphQL and metrics calls need the
//! bearer token derived from the signing key (or its fallback, for rotation); the dashboard logs in with
//! the key and gets an HttpOnly cookie. The engine signs every request to apps, so a Rust SDK app in
//! production mode runs with it and refuses forged requests. No secret shows in the log, `/metrics`, the
//! dashboard or `--help`. `durin dev` stays open, on 127.0.0.1, and signs when given a key.

use std::process::{Command, Stdio};
use std::time::Duration;

use durin_protocol::SigningKey;
use durin_sdk::{Client, Context, Error, Function, serve};
use durin_testkit::{
    EngineKeys, EngineOptions, EngineProcess, ServedApp, TEST_EVENT_KEY, TEST_SIGNING_KEY,
    bearer_token, free_port, serve_app,
};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const OLD_KEY: &str =
    "signkey-prod-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const NEW_KEY: &str =
    "signkey-prod-ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/// One function with two steps: a run completes only if every call request was accepted by the app.
fn functions() -> Vec<Function> {
    vec![
        Function::new("two-steps")
            .trigger_event("test/secure")
            .retries(0)
            .handler(|ctx: Context| async move {
                let a: u32 = ctx.step.run("a", || async { Ok::<_, Error>(1) }).await?;
                let b: u32 = ctx.step.run("b", || async { Ok::<_, Error>(2) }).await?;
                Ok(json!({ "sum": a + b }))
            }),
    ]
}

/// A Rust SDK app talking to the engine on `engine_port`, in production mode when given keys.
async fn start_app(engine_port: u16, key: Option<&str>, fallback: Option<&str>) -> ServedApp {
    let mut client = Client::with_base_url("secure-app", format!("http://127.0.0.1:{engine_port}"));
    if let Some(key) = key {
        client = client.with_signing_key(key).expect("a valid key");
    }
    if let Some(fallback) = fallback {
        client = client
            .with_signing_key_fallback(fallback)
            .expect("a valid key");
    }
    serve_app(serve(client, functions()))
        .await
        .expect("serve the app")
}

fn options(sdk_urls: Vec<String>, port: u16) -> EngineOptions {
    EngineOptions {
        sdk_urls,
        args: vec!["--backoff-scale".into(), "0.01".into()],
        port: Some(port),
    }
}

/// Sends the event and waits for its run to end; returns the run.
async fn run_once(engine: &EngineProcess) -> Value {
    let id = engine
        .send("test/secure", json!({}))
        .await
        .expect("event accepted");
    engine
        .wait_for_run_end(&id, RUN_TIMEOUT)
        .await
        .expect("the run ends")
}

/// A request without the testkit's credentials.
async fn bare(method: reqwest::Method, url: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .json(&json!({}))
        .send()
        .await
        .expect("the engine answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[track_caller]
fn assert_refused(what: &str, answer: &(u16, Value)) {
    assert_eq!(answer.0, 401, "{what}: {answer:?}");
    assert_eq!(
        answer.1["status"], 401,
        "{what}: the JSON body repeats the status: {answer:?}"
    );
    assert!(
        answer.1["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {answer:?}"
    );
}

#[test]
fn serve_refuses_to_start_without_keys_naming_the_flag() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let store = data_dir.path().join("store");
    let run = |env: &[(&str, &str)]| {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--port", &free_port().expect("port").to_string()])
            .arg("--data-dir")
            .arg(&store)
            .env_remove("INNGEST_SIGNING_KEY")
            .env_remove("INNGEST_SIGNING_KEY_FALLBACK")
            .env_remove("INNGEST_EVENT_KEY")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("durin runs")
    };
    // (environment, what the message must name)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (&[], &["--signing-key", "INNGEST_SIGNING_KEY"]),
        (&[("INNGEST_EVENT_KEY", TEST_EVENT_KEY)], &["--signing-key"]),
        (
            &[("INNGEST_SIGNING_KEY", TEST_SIGNING_KEY)],
            &["--event-key", "INNGEST_EVENT_KEY"],
        ),
        (
            &[
                (
                    "INNGEST_SIGNING_KEY",
                    "signkey-prod-notasecrethexvaluenotasecrethexvalue",
                ),
                ("INNGEST_EVENT_KEY", TEST_EVENT_KEY),
            ],
            &["--signing-key", "signkey-<env>-", "hexadecimal"],
        ),
        (
            &[
                ("INNGEST_SIGNING_KEY", "sk-live-0123"),
                ("INNGEST_EVENT_KEY", TEST_EVENT_KEY),
            ],
            &["--signing-key", "signkey-<env>-<hex>"],
        ),
        (
            &[
                ("INNGEST_SIGNING_KEY", TEST_SIGNING_KEY),
                ("INNGEST_SIGNING_KEY_FALLBACK", "signkey-prod-abcd"),
                ("INNGEST_EVENT_KEY", TEST_EVENT_KEY),
            ],
            &["--signing-key-fallback", "at least 32"],
        ),
    ];
    for (env, needles) in cases {
        let output = run(env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
        for needle in *needles {
            assert!(
                stderr.contains(needle),
                "{env:?}: {needle:?} not in {stderr}"
            );
        }
        for (_, value) in *env {
            if value.starts_with("signkey-") || value.starts_with("sk-") {
                assert!(!stderr.contains(value), "the key shows in: {stderr}");
            }
        }
    }
    assert!(
        !store.exists(),
        "nothing is created before the keys are checked"
    );
}

#[tokio::test]
async fn events_need_a_configured_event_key() {
    let keys = EngineKeys {
        event_keys: vec!["first-key".into(), "second-key".into()],
        ..EngineKeys::test()
    };
    let engine = EngineProcess::start_serve_with_keys(
        BINARY,
        options(Vec::new(), free_port().expect("port")),
        keys,
    )
    .await
    .expect("serve starts");
    let event = json!({ "name": "test/anything", "data": {} });
    for key in [
        "wrong-key",
        "first-ke",
        "FIRST-KEY",
        "NO_EVENT_KEY_SET",
        "%20",
    ] {
        let answer = engine
            .post_json(&format!("/e/{key}"), &event)
            .await
            .expect("answer");
        assert_refused(key, &answer);
        assert_eq!(answer.1["ids"], json!([]), "{answer:?}");
    }
    assert_refused(
        "no key",
        &engine.post_json("/e/", &event).await.expect("answer"),
    );
    for key in ["first-key", "second-key"] {
        let (status, body) = engine
            .post_json(&format!("/e/{key}"), &event)
            .await
            .expect("answer");
        assert_eq!(status, 200, "{key}: {body}");
    }
}

#[tokio::test]
async fn sdk_api_graphql_and_metrics_calls_need_the_bearer_token() {
    let engine =
        EngineProcess::start_serve(BINARY, options(Vec::new(), free_port().expect("port")))
            .await
            .expect("serve starts");
    let url = engine.url();
    let bearer = bearer_token(TEST_SIGNING_KEY).expect("bearer");
    let paths = [
        (reqwest::Method::POST, "/fn/register"),
        (reqwest::Method::GET, "/v1/runs"),
        (reqwest::Method::GET, "/v1/apps"),
        (
            reqwest::Method::POST,
            "/v1/runs/01J00000000000000000000000/resume",
        ),
        (
            reqwest::Method::POST,
            "/v1/runs/01J00000000000000000000000/fail",
        ),
        (
            reqwest::Method::POST,
            "/v1/checkpoint/01J00000000000000000000000/async",
        ),
        (reqwest::Method::POST, "/v0/gql"),
        (
            reqwest::Method::GET,
            "/v0/runs/01J00000000000000000000000/batch",
        ),
        (reqwest::Method::GET, "/metrics"),
        (reqwest::Method::GET, "/no-such-path"),
    ];
    let other = bearer_token(NEW_KEY).expect("bearer");
    for (method, path) in &paths {
        let target = format!("{url}{path}");
        assert_refused(path, &bare(method.clone(), &target, None).await);
        assert_refused(path, &bare(method.clone(), &target, Some(&other)).await);
        assert_refused(
            path,
            &bare(method.clone(), &target, Some("undefined")).await,
        );
        // The key itself is not a token: only what is derived from it travels.
        assert_refused(
            path,
            &bare(method.clone(), &target, Some(TEST_SIGNING_KEY)).await,
        );
    }
    // With the token (as TypeScript sends it, and bare as Python does) the API answers.
    let python_style = bearer.rsplit('-').next().expect("hash").to_owned();
    for token in [&bearer, &python_style] {
        let (status, body) =
            bare(reqwest::Method::GET, &format!("{url}/v1/runs"), Some(token)).await;
        assert_eq!(status, 200, "{body}");
        let response = reqwest::Client::new()
            .get(format!("{url}/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .expect("metrics");
        assert_eq!(response.status().as_u16(), 200);
    }
    // Health checks, the API description and the dashboard's files stay open.
    for path in ["/health", "/openapi.json", "/", "/ui/app.js"] {
        let response = reqwest::get(format!("{url}{path}")).await.expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn a_production_app_runs_on_signed_requests_and_registers_with_its_token() {
    let port = free_port().expect("port");
    let app = start_app(port, Some(TEST_SIGNING_KEY), None).await;
    let engine = EngineProcess::start_serve(BINARY, options(vec![app.serve_url()], port))
        .await
        .expect("serve starts");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect(
            "the app syncs: the engine's PUT was signed and the app's register carried its token",
        );
    let run = run_once(&engine).await;
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(run["output"], json!({ "sum": 3 }), "{run}");
    // The app also registers by itself with its token, and expects a `cloud` server.
    let client = Client::with_base_url("secure-app", engine.url())
        .with_signing_key(TEST_SIGNING_KEY)
        .expect("valid key");
    let _served = serve(client.clone(), functions());
    client
        .sync(&app.serve_url())
        .await
        .expect("register with the token");
    let unauthenticated = Client::with_base_url("secure-app", engine.url());
    let _served = serve(unauthenticated.clone(), functions());
    let refused = unauthenticated
        .sync(&app.serve_url())
        .await
        .expect_err("no token");
    assert!(refused.to_string().contains("401"), "{refused}");
}

#[tokio::test]
async fn a_production_app_refuses_forged_unsigned_and_stale_requests() {
    let app = start_app(free_port().expect("port"), Some(TEST_SIGNING_KEY), None).await;
    let url = format!("{}?fnId=secure-app-two-steps&stepId=step", app.serve_url());
    let body = json!({
        "event": { "name": "test/secure", "data": {} },
        "events": [{ "name": "test/secure", "data": {} }],
        "steps": {},
        "ctx": { "run_id": "01J00000000000000000000000", "attempt": 0, "stack": { "stack": [], "current": 0 } },
    });
    let key = SigningKey::parse(TEST_SIGNING_KEY).expect("key");
    let other = SigningKey::parse(NEW_KEY).expect("key");
    let now = jiff::Timestamp::now().as_second();
    let post = |signature: Option<String>, body: Vec<u8>| {
        let mut request = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-inngest-signature", signature);
        }
        request.send()
    };
    let (canonical, good) = durin_protocol::signing::sign_json(&body, &key, now);
    let (_, forged) = durin_protocol::signing::sign_json(&body, &other, now);
    let (_, stale) = durin_protocol::signing::sign_json(&body, &key, now - 600);
    let tampered = {
        let mut changed = body.clone();
        changed["event"]["data"] = json!({ "admin": true });
        durin_protocol::jcs::canonicalize(&changed)
    };
    for (what, signature, sent) in [
        ("unsigned", None, canonical.clone()),
        ("signed with another key", Some(forged), canonical.clone()),
        ("signed ten minutes ago", Some(stale), canonical.clone()),
        ("a body changed after signing", Some(good.clone()), tampered),
        ("garbage", Some("t=abc&s=zz".to_owned()), canonical.clone()),
    ] {
        let response = post(signature, sent).await.expect("the app answers");
        assert_eq!(response.status().as_u16(), 401, "{what}");
    }
    let response = post(Some(good), canonical).await.expect("the app answers");
    assert_eq!(
        response.status().as_u16(),
        206,
        "a signed request runs the function's first step"
    );
    // A sync (PUT) must be signed too: a forged one could point the engine elsewhere.
    let response = reqwest::Client::new()
        .put(app.serve_url())
        .json(&json!({ "url": "http://127.0.0.1:9/evil" }))
        .send()
        .await
        .expect("the app answers");
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn the_fallback_key_carries_a_rotation_through() {
    // Mid-rotation: the engine signs with the new key and still accepts the old one; the app still
    // authenticates with the old key and already accepts signatures made with the new one.
    let port = free_port().expect("port");
    let app = start_app(port, Some(OLD_KEY), Some(NEW_KEY)).await;
    let keys = EngineKeys {
        signing_key: Some(NEW_KEY.into()),
        signing_key_fallback: Some(OLD_KEY.into()),
        ..EngineKeys::test()
    };
    let engine =
        EngineProcess::start_serve_with_keys(BINARY, options(vec![app.serve_url()], port), keys)
            .await
            .expect("serve starts");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs with the old key's token");
    let run = run_once(&engine).await;
    assert_eq!(run["status"], "Completed", "{run}");
    let url = engine.url();
    for key in [OLD_KEY, NEW_KEY] {
        let token = bearer_token(key).expect("bearer");
        let (status, body) = bare(
            reqwest::Method::GET,
            &format!("{url}/v1/runs"),
            Some(&token),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    drop(engine);

    // Once the rotation is over (no fallback), the old key is refused everywhere: the app still on it
    // cannot sync, and its signatures are not the engine's.
    let port = free_port().expect("port");
    let stale_app = start_app(port, Some(OLD_KEY), None).await;
    let keys = EngineKeys {
        signing_key: Some(NEW_KEY.into()),
        ..EngineKeys::test()
    };
    let engine = EngineProcess::start_serve_with_keys(
        BINARY,
        options(vec![stale_app.serve_url()], port),
        keys,
    )
    .await
    .expect("serve starts");
    let token = bearer_token(OLD_KEY).expect("bearer");
    assert_refused(
        "old key",
        &bare(
            reqwest::Method::GET,
            &format!("{}/v1/runs", engine.url()),
            Some(&token),
        )
        .await,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let apps = engine.data("/v1/apps").await.expect("apps");
        let listed = apps
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["url"] == stale_app.serve_url() && !a["error"].is_null())
            .cloned();
        match listed {
            Some(listed) => break listed,
            None if std::time::Instant::now() > deadline => panic!("no sync error: {apps}"),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(
        listed["function_count"].as_u64().unwrap_or(0),
        0,
        "{listed}"
    );
    assert!(
        listed["error"].as_str().is_some_and(|e| e.contains("401")),
        "{listed}"
    );
}

#[tokio::test]
async fn the_dashboard_logs_in_with_the_key_and_gets_an_http_only_cookie() {
    let engine =
        EngineProcess::start_serve(BINARY, options(Vec::new(), free_port().expect("port")))
            .await
            .expect("serve starts");
    let url = engine.url();
    let http = reqwest::Client::new();
    let login = |key: &str| {
        http.post(format!("{url}/auth/login"))
            .json(&json!({ "signing_key": key }))
            .send()
    };
    let refused = login(NEW_KEY).await.expect("answer");
    assert_eq!(refused.status().as_u16(), 401);
    assert!(refused.headers().get("set-cookie").is_none());
    for key in [
        TEST_SIGNING_KEY.to_owned(),
        bearer_token(TEST_SIGNING_KEY).expect("bearer"),
    ] {
        let response = login(&key).await.expect("answer");
        assert_eq!(response.status().as_u16(), 204);
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_owned();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(
            !cookie.contains(&TEST_SIGNING_KEY[13..]),
            "the cookie is not the key: {cookie}"
        );
        let session = cookie.split(';').next().expect("name=value").to_owned();
        let runs = http
            .get(format!("{url}/v1/runs"))
            .header("cookie", &session)
            .send()
            .await
            .expect("answer");
        assert_eq!(runs.status().as_u16(), 200);
        let tampered = format!("{}0", session);
        let runs = http
            .get(format!("{url}/v1/runs"))
            .header("cookie", tampered)
            .send()
            .await
            .expect("answer");
        assert_eq!(runs.status().as_u16(), 401);
    }
    let logout = http
        .post(format!("{url}/auth/logout"))
        .send()
        .await
        .expect("answer");
    assert_eq!(logout.status().as_u16(), 204);
    let cleared = logout
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn the_cli_authenticates_with_the_signing_key_and_sends_with_the_event_key() {
    let engine =
        EngineProcess::start_serve(BINARY, options(Vec::new(), free_port().expect("port")))
            .await
            .expect("serve starts");
    let url = engine.url();
    let cli = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .args(["--url", &url])
            .env_remove("INNGEST_SIGNING_KEY")
            .env_remove("INNGEST_EVENT_KEY")
            .stdin(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("durin runs")
    };
    let output = cli(&["runs"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("--signing-key"),
        "{stderr}"
    );
    let output = cli(&["runs", "--signing-key", TEST_SIGNING_KEY], &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = cli(&["functions"], &[("INNGEST_SIGNING_KEY", TEST_SIGNING_KEY)]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = cli(&["send", "test/cli"], &[]);
    assert_eq!(output.status.code(), Some(1), "no event key: refused");
    let output = cli(&["send", "test/cli", "--event-key", TEST_EVENT_KEY], &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = cli(
        &["send", "test/cli"],
        &[("INNGEST_EVENT_KEY", TEST_EVENT_KEY)],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn no_secret_shows_in_the_log_metrics_dashboard_or_help() {
    let port = free_port().expect("port");
    let app = start_app(port, Some(NEW_KEY), Some(OLD_KEY)).await;
    let keys = EngineKeys {
        signing_key: Some(NEW_KEY.into()),
        signing_key_fallback: Some(OLD_KEY.into()),
        event_keys: vec![TEST_EVENT_KEY.into()],
    };
    let engine =
        EngineProcess::start_serve_with_keys(BINARY, options(vec![app.serve_url()], port), keys)
            .await
            .expect("serve starts");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs");
    assert_eq!(run_once(&engine).await["status"], "Completed");
    // Failed attempts too: a wrong key in the path, a key as a bearer token, a bad login.
    let url = engine.url();
    let _ = bare(
        reqwest::Method::POST,
        &format!("{url}/e/{}", &OLD_KEY[13..]),
        None,
    )
    .await;
    let _ = bare(
        reqwest::Method::GET,
        &format!("{url}/v1/runs"),
        Some(NEW_KEY),
    )
    .await;
    let _ = reqwest::Client::new()
        .post(format!("{url}/auth/login"))
        .json(&json!({ "signing_key": OLD_KEY.replace("00", "01") }))
        .send()
        .await;
    let (_, metrics) = engine.get_text("/metrics").await.expect("metrics");
    let (_, page) = engine.get_text("/").await.expect("dashboard");
    let (_, apps) = engine.get_text("/v1/apps").await.expect("apps");
    let help = Command::new(BINARY)
        .args(["serve", "--help"])
        .env("INNGEST_SIGNING_KEY", NEW_KEY)
        .env("INNGEST_SIGNING_KEY_FALLBACK", OLD_KEY)
        .env("INNGEST_EVENT_KEY", TEST_EVENT_KEY)
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let secrets = [
        NEW_KEY[13..].to_owned(),
        OLD_KEY[13..].to_owned(),
        OLD_KEY.replace("00", "01")[13..].to_owned(),
        TEST_EVENT_KEY.to_owned(),
        bearer_token(NEW_KEY).expect("bearer")[13..].to_owned(),
        bearer_token(OLD_KEY).expect("bearer")[13..].to_owned(),
    ];
    for (place, text) in [
        ("the log", engine.log()),
        ("/metrics", metrics),
        ("the dashboard", page),
        ("/v1/apps", apps),
        ("--help", help),
    ] {
        assert!(!text.is_empty(), "{place} is empty");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret shows in {place}:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn dev_stays_open_on_loopback_and_signs_when_given_a_key() {
    // `durin dev` with a signing key: a production-mode app accepts its requests; nothing is required
    // of callers.
    let port = free_port().expect("port");
    let app = start_app(port, Some(TEST_SIGNING_KEY), None).await;
    let keys = EngineKeys {
        signing_key: Some(TEST_SIGNING_KEY.into()),
        ..EngineKeys::default()
    };
    let engine = EngineProcess::start_with_keys(BINARY, options(vec![app.serve_url()], port), keys)
        .await
        .expect("dev starts");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .expect("the app syncs");
    assert_eq!(run_once(&engine).await["status"], "Completed");
    let url = engine.url();
    let (status, body) = bare(reqwest::Method::GET, &format!("{url}/v1/runs"), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = bare(reqwest::Method::POST, &format!("{url}/e/any-key"), None).await;
    assert_ne!(status, 401, "{body}");
    assert!(
        engine
            .log()
            .contains(&format!("serving on http://127.0.0.1:{port}")),
        "{}",
        engine.log()
    );

    // Without a key `dev` still binds loopback only by default.
    let help = Command::new(BINARY)
        .args(["dev", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 127.0.0.1]"), "{help}");
}
