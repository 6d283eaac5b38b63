//! Drives a served router in-process, with call requests shaped like the engine's (and the TS probe's).
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const APP: &str = "probe-ts-app";

/// An answer of the SDK router.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The op list of a 206, normalized for comparison with the TS captures.
    pub fn ops(&self) -> Value {
        assert_eq!(
            self.status,
            StatusCode::PARTIAL_CONTENT,
            "body: {}",
            self.body
        );
        normalize_ops(self.body.clone())
    }

    /// The headers every SDK answer must carry.
    pub fn assert_sdk_headers(&self) {
        assert_eq!(
            self.header("x-inngest-sdk"),
            Some(concat!("durin-rs:v", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(self.header("x-inngest-req-version"), Some("2"));
        assert_eq!(self.header("x-inngest-framework"), Some("axum"));
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

/// Drops what legitimately differs between SDKs: `timing`, `data: null` placeholders, the `data` copy TS
/// puts on `StepFailed`, error stacks and `__serialized`.
pub fn normalize_ops(ops: Value) -> Value {
    let Value::Array(ops) = ops else {
        panic!("ops must be an array: {ops}")
    };
    Value::Array(
        ops.into_iter()
            .map(|mut op| {
                let map = op.as_object_mut().expect("op object");
                map.remove("timing");
                let is_failed = map.get("op") == Some(&json!("StepFailed"));
                if map.get("data") == Some(&Value::Null) || is_failed {
                    map.remove("data");
                }
                if let Some(Value::Object(error)) = map.get_mut("error") {
                    error.remove("stack");
                    error.remove("__serialized");
                }
                op
            })
            .collect(),
    )
}

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON literal")
}

/// A call request as the TS probe (and the engine) sends it.
#[derive(Clone)]
pub struct Call {
    pub event: Value,
    pub steps: Value,
    pub attempt: u32,
    pub max_attempts: Option<u32>,
    pub disable_immediate_execution: bool,
}

impl Call {
    pub fn new(event_name: &str, data: Value) -> Self {
        Self {
            event: json!({"name": event_name, "data": data, "id": "01KPROBEEVT0000000000000000",
                          "ts": 1767225600000i64, "user": {}}),
            steps: json!({}),
            attempt: 0,
            max_attempts: None,
            disable_immediate_execution: false,
        }
    }

    pub fn steps(mut self, steps: Value) -> Self {
        self.steps = steps;
        self
    }

    pub fn attempt(mut self, attempt: u32, max_attempts: Option<u32>) -> Self {
        self.attempt = attempt;
        self.max_attempts = max_attempts;
        self
    }

    pub fn planned(mut self) -> Self {
        self.disable_immediate_execution = true;
        self
    }

    pub fn body(&self, step_id: &str) -> Value {
        let stack: Vec<String> = self
            .steps
            .as_object()
            .map(|steps| steps.keys().cloned().collect())
            .unwrap_or_default();
        let mut ctx = json!({
            "run_id": "01KPROBERUN0000000000000000", "attempt": self.attempt,
            "disable_immediate_execution": self.disable_immediate_execution, "use_api": false,
            "env": "", "step_id": step_id, "stack": {"stack": stack, "current": stack.len()},
        });
        if let Some(max) = self.max_attempts {
            ctx["max_attempts"] = json!(max);
        }
        json!({"event": self.event, "events": [self.event], "steps": self.steps, "ctx": ctx,
               "version": -1, "use_api": false})
    }
}

pub async fn request(router: &Router, method: Method, uri: &str, body: Body) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("host", "127.0.0.1:3939")
        .body(body)
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        raw,
        body,
    }
}

/// `POST /api/inngest?fnId=<app>-<slug>&stepId=<step_id>` with the call's body.
pub async fn call(router: &Router, slug: &str, step_id: &str, call: &Call) -> Answer {
    let uri = format!("/api/inngest?fnId={APP}-{slug}&stepId={step_id}");
    let answer = request(
        router,
        Method::POST,
        &uri,
        Body::from(call.body(step_id).to_string()),
    )
    .await;
    answer.assert_sdk_headers();
    answer
}

/// A request the mock engine received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A stand-in for the engine's HTTP API in SDK tests: answers every request with `status` and `reply`
/// (or with `reply_for(path)` when given) and records what it received.
pub struct MockEngine {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl MockEngine {
    pub async fn start(status: StatusCode, reply: Value) -> Self {
        Self::start_with(move |_| (status, reply.clone())).await
    }

    pub async fn start_with(
        reply_for: impl Fn(&str) -> (StatusCode, Value) + Clone + Send + Sync + 'static,
    ) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let router = Router::new().fallback(move |request: Request<Body>| {
            let log = log.clone();
            let reply_for = reply_for.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let path_and_query = parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_default();
                let (status, reply) = reply_for(parts.uri.path());
                log.lock().expect("log").push(Received {
                    method: parts.method.to_string(),
                    path_and_query,
                    headers: parts.headers,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                });
                (status, axum::Json(reply))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }
}
