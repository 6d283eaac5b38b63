//! The HTTP surface around execution: introspection, trust probe, sync (PUT and `Client::sync`), sending
//! events, malformed requests. The engine is played by a tiny mock bound to 127.0.0.1:0.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Call, MockEngine, request};
use durin_sdk::{Client, ClientError, Context, Error, Event, Function, serve};
use serde_json::json;

fn functions() -> Vec<Function> {
    vec![
        Function::new("two-steps")
            .trigger_event("probe/two")
            .handler(|_ctx: Context| async move { Ok("ok") }),
        Function::new("configured")
            .name("Configured fn")
            .retries(7)
            .trigger_event_if("probe/cfg", "event.data.ok == true")
            .trigger_cron("0 0 * * *")
            .handler(|_ctx: Context| async move { Ok("ok") }),
    ]
}

fn step_def(url: &str, fn_id: &str, retries: Option<i64>) -> serde_json::Value {
    let mut step = json!({"id": "step", "name": "step",
        "runtime": {"type": "http", "url": format!("{url}?fnId={fn_id}&stepId=step")}});
    if let Some(attempts) = retries {
        step["retries"] = json!({"attempts": attempts});
    }
    json!({"step": step})
}

#[tokio::test]
async fn get_answers_introspection() {
    let router = serve(
        Client::with_base_url(common::APP, "http://127.0.0.1:9"),
        functions(),
    );
    let answer = request(&router, Method::GET, "/api/inngest", Body::empty()).await;
    answer.assert_sdk_headers();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["schema_version"], "2024-05-24");
    assert_eq!(answer.body["function_count"], 2);
    assert_eq!(answer.body["has_signing_key"], false);
    assert_eq!(answer.body["mode"], "dev");
    assert!(answer.body["has_event_key"].is_boolean());
}

#[tokio::test]
async fn trust_probe_is_an_empty_200() {
    let router = serve(
        Client::with_base_url(common::APP, "http://127.0.0.1:9"),
        functions(),
    );
    let answer = request(
        &router,
        Method::POST,
        "/api/inngest?probe=trust",
        Body::empty(),
    )
    .await;
    answer.assert_sdk_headers();
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.raw.is_empty());
}

#[tokio::test]
async fn put_registers_with_the_ts_payload_shape() {
    let engine = MockEngine::start(StatusCode::OK, json!({"ok": true, "modified": true})).await;
    let router = serve(Client::with_base_url(common::APP, &engine.url), functions());
    let serve_url = "http://127.0.0.1:3939/api/inngest";
    let answer = request(
        &router,
        Method::PUT,
        "/api/inngest",
        Body::from(json!({"url": serve_url}).to_string()),
    )
    .await;
    answer.assert_sdk_headers();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"message": "Successfully registered", "modified": true})
    );

    let received = engine.received();
    assert_eq!(received.len(), 1);
    let register = &received[0];
    assert_eq!(register.method, "POST");
    assert_eq!(register.path_and_query, "/fn/register");
    assert_eq!(
        register
            .headers
            .get("x-inngest-sdk")
            .and_then(|v| v.to_str().ok()),
        Some(concat!("durin-rs:v", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        register
            .headers
            .get("x-inngest-expected-server-kind")
            .and_then(|v| v.to_str().ok()),
        Some("dev")
    );
    assert_eq!(
        register.body,
        json!({
            "url": serve_url, "deployType": "ping", "framework": "axum", "appName": "probe-ts-app",
            "sdk": "rs:v0.1.0", "v": "0.1",
            "functions": [
                {"id": "probe-ts-app-two-steps", "name": "two-steps", "triggers": [{"event": "probe/two"}],
                 "steps": step_def(serve_url, "probe-ts-app-two-steps", None)},
                {"id": "probe-ts-app-configured", "name": "Configured fn",
                 "triggers": [{"event": "probe/cfg", "expression": "event.data.ok == true"}, {"cron": "0 0 * * *"}],
                 "steps": step_def(serve_url, "probe-ts-app-configured", Some(7))},
            ]
        })
    );
    // The parts of the TS capture Durin relies on read back the same through the protocol types.
    let parsed: durin_protocol::RegisterRequest =
        serde_json::from_value(register.body.clone()).unwrap();
    assert_eq!(
        parsed.functions[1]
            .main_step()
            .unwrap()
            .retries
            .unwrap()
            .attempts,
        7
    );
}

#[tokio::test]
async fn put_without_a_url_uses_host_and_path_and_forwards_deploy_id() {
    let engine = MockEngine::start(StatusCode::OK, json!({"ok": true, "modified": false})).await;
    let router = serve(Client::with_base_url(common::APP, &engine.url), functions());
    let answer = request(
        &router,
        Method::PUT,
        "/api/inngest?deployId=d1",
        Body::empty(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["modified"], false);
    let received = engine.received();
    assert_eq!(received[0].path_and_query, "/fn/register?deployId=d1");
    assert_eq!(received[0].body["url"], "http://127.0.0.1:3939/api/inngest");
}

#[tokio::test]
async fn put_reports_a_failed_registration() {
    let engine = MockEngine::start(StatusCode::BAD_REQUEST, json!({"error": "bad config"})).await;
    let router = serve(Client::with_base_url(common::APP, &engine.url), functions());
    let answer = request(
        &router,
        Method::PUT,
        "/api/inngest",
        Body::from(r#"{"url":"http://127.0.0.1:3939/api/inngest"}"#),
    )
    .await;
    answer.assert_sdk_headers();
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["modified"], false);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("bad config")
    );

    // Nobody listening at all.
    let router = serve(
        Client::with_base_url(common::APP, "http://127.0.0.1:9"),
        functions(),
    );
    let answer = request(&router, Method::PUT, "/api/inngest", Body::empty()).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["modified"], false);
}

#[tokio::test]
async fn client_sync_registers_the_served_functions() {
    let engine = MockEngine::start(StatusCode::OK, json!({"ok": true, "modified": true})).await;
    let client = Client::with_base_url(common::APP, format!("{}/", engine.url));
    let _router = serve(client.clone(), functions());
    client
        .sync("http://127.0.0.1:3000/api/inngest")
        .await
        .unwrap();
    let received = engine.received();
    assert_eq!(received[0].path_and_query, "/fn/register");
    assert_eq!(received[0].body["url"], "http://127.0.0.1:3000/api/inngest");
    assert_eq!(received[0].body["functions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn send_posts_events_and_returns_ids() {
    let engine = MockEngine::start(
        StatusCode::OK,
        json!({"ids": ["01A", "01B"], "status": 200}),
    )
    .await;
    let client = Client::with_base_url(common::APP, &engine.url);
    let ids = client
        .send_many(vec![
            Event::new("app/button.clicked", json!({"x": 1})),
            Event::new("app/button.clicked", json!({"x": 2}))
                .id("click-2")
                .ts(1767225600000),
        ])
        .await
        .unwrap();
    assert_eq!(ids, ["01A", "01B"]);
    let received = engine.received();
    let key = std::env::var("INNGEST_EVENT_KEY").unwrap_or_else(|_| "NO_EVENT_KEY_SET".to_owned());
    assert_eq!(received[0].path_and_query, format!("/e/{key}"));
    assert_eq!(
        received[0].body,
        json!([{"name": "app/button.clicked", "data": {"x": 1}},
               {"name": "app/button.clicked", "data": {"x": 2}, "id": "click-2", "ts": 1767225600000i64}])
    );

    let ids = client.send(Event::new("app/one", json!({}))).await.unwrap();
    assert_eq!(ids.len(), 2, "the mock always answers two ids");
}

#[tokio::test]
async fn send_errors_are_std_errors() {
    let engine = MockEngine::start(
        StatusCode::BAD_REQUEST,
        json!({"ids": [], "status": 400, "error": "nope"}),
    )
    .await;
    let client = Client::with_base_url(common::APP, &engine.url);
    let error = client
        .send(Event::new("inngest/x", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Status { status: 400, .. }));
    // Usable with `?` inside a function too.
    let as_sdk_error: Error = error.into();
    assert_eq!(as_sdk_error.name(), "ClientError");
}

#[tokio::test]
async fn unknown_function_and_malformed_bodies() {
    let router = serve(
        Client::with_base_url(common::APP, "http://127.0.0.1:9"),
        functions(),
    );
    let call = Call::new("probe/two", json!({}));
    let unknown = common::call(&router, "does-not-exist", "step", &call).await;
    assert_eq!(unknown.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(unknown.body["name"], "FunctionNotFound");
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap()
            .contains("probe-ts-app-does-not-exist")
    );

    for body in [
        "",
        "{",
        r#"{"event":{}}"#,
        r#"[1,2]"#,
        r#"{"event":{"name":"a"},"ctx":{}}"#,
    ] {
        let answer = request(
            &router,
            Method::POST,
            "/api/inngest?fnId=probe-ts-app-two-steps&stepId=step",
            Body::from(body),
        )
        .await;
        answer.assert_sdk_headers();
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "body {body:?}");
        assert_eq!(answer.body["name"], "InvalidRequest");
        assert!(
            answer.body["message"]
                .as_str()
                .unwrap()
                .contains("malformed")
        );
    }

    let no_fn = request(
        &router,
        Method::POST,
        "/api/inngest?stepId=step",
        Body::from("{}"),
    )
    .await;
    assert_eq!(no_fn.status, StatusCode::BAD_REQUEST);
    assert!(no_fn.body["message"].as_str().unwrap().contains("fnId"));
}

#[tokio::test]
async fn use_api_requests_load_the_state_from_the_engine() {
    let engine = MockEngine::start_with(|path| {
        if path.ends_with("/batch") {
            (
                StatusCode::OK,
                json!([{"name": "probe/big", "data": {"n": 7}}]),
            )
        } else {
            let first = durin_protocol::hashed_step_id("first", 0);
            (StatusCode::OK, json!({first: {"data": 35}}))
        }
    })
    .await;
    let function =
        Function::new("big")
            .trigger_event("probe/big")
            .handler(|ctx: Context| async move {
                let first: i64 = ctx
                    .step
                    .run("first", || async { Ok::<_, Error>(0) })
                    .await?;
                Ok(first + ctx.event.data["n"].as_i64().unwrap_or(0))
            });
    let router = serve(
        Client::with_base_url(common::APP, &engine.url),
        vec![function],
    );
    let mut body = Call::new("probe/big", json!({})).body("step");
    body["use_api"] = json!(true);
    body["events"] = json!([]);
    let answer = request(
        &router,
        Method::POST,
        "/api/inngest?fnId=probe-ts-app-big&stepId=step",
        Body::from(body.to_string()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, json!(42));
    let paths: Vec<String> = engine
        .received()
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(
        paths,
        [
            "/v0/runs/01KPROBERUN0000000000000000/batch",
            "/v0/runs/01KPROBERUN0000000000000000/actions"
        ]
    );
}

#[tokio::test]
async fn served_over_a_real_socket() {
    let engine = MockEngine::start(StatusCode::OK, json!({"ok": true, "modified": true})).await;
    let router = serve(Client::with_base_url(common::APP, &engine.url), functions());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let serve_url = format!("http://{}/api/inngest", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let http = reqwest::Client::new();
    let get = http.get(&serve_url).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert!(get.headers().contains_key("x-inngest-sdk"));

    // The engine's sync: a PUT without body; the SDK derives its URL from Host and path.
    let put = http
        .put(&serve_url)
        .header("x-inngest-server-kind", "dev")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(engine.received()[0].body["url"], serve_url.as_str());

    let body = Call::new("probe/two", json!({})).body("step");
    let post = http
        .post(format!(
            "{serve_url}?fnId=probe-ts-app-two-steps&stepId=step"
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(post.json::<serde_json::Value>().await.unwrap(), json!("ok"));
}
