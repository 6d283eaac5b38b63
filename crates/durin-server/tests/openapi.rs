//! `GET /openapi.json`: the document is a well-formed OpenAPI 3 document, it documents exactly the routes the
//! router serves (read from the router itself, so a new undocumented route fails here), each with the methods
//! the router answers, and real answers of the API validate against the schemas the document gives for them.
//!
//! In process: the real router over a real engine on a temporary SQLite store, called with `oneshot`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use durin_engine::{Engine, EngineConfig};
use durin_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Routes the router serves that are not part of the HTTP API: the dashboard's page and its assets.
const NOT_API: &[&str] = &["/", "/ui/{file}"];

/// A method no route serves: the router answers it with 405 and an `Allow` header naming the methods it
/// serves at that path.
const PROBE: &str = "PROBE";

struct Harness {
    app: Router,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    start_with(EngineConfig::default()).await
}

async fn start_with(config: EngineConfig) -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&dir.path().join("durin.db")).expect("store");
    let config = EngineConfig {
        discovery: false,
        poll_interval: None,
        request_timeout: Duration::from_secs(5),
        ..config
    };
    let engine = Engine::new(Arc::new(store), config, true)
        .await
        .expect("engine");
    engine.start();
    Harness {
        app: durin_server::app(engine),
        _dir: dir,
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    allow: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<&Value>) -> Answer {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(value).expect("JSON"))
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("the router answers");
    let text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = text(header::CONTENT_TYPE).unwrap_or_default();
    let allow = text(header::ALLOW);
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Answer {
        status,
        content_type,
        allow,
        body,
    }
}

async fn document(app: &Router) -> Value {
    let answer = call(app, "GET", "/openapi.json", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    answer.json()
}

/// The paths the router serves, read from its `Debug` output (axum has no API to list them; its `Debug`
/// prints every path it routes, nested routers included, as `RouteId(n): "/path"`).
fn served_paths(app: &Router) -> BTreeSet<String> {
    let debug = format!("{app:?}");
    let mut paths = BTreeSet::new();
    let mut rest = debug.as_str();
    while let Some(start) = rest.find("RouteId(") {
        rest = &rest[start..];
        let Some(colon) = rest.find("): \"") else {
            break;
        };
        let after = &rest[colon + 4..];
        let end = after.find('"').expect("a closing quote");
        let path = &after[..end];
        if !path.contains("__private__axum") {
            paths.insert(path.to_owned());
        }
        rest = &after[end..];
    }
    assert!(
        paths.contains("/e/{key}") && paths.contains("/v1/runs/{id}"),
        "cannot read the router's paths from its Debug output (did axum change it?): {paths:?}"
    );
    paths
}

/// `/v1/runs/{id}` becomes `/v1/runs/probe`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "probe"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

const OPERATION_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn the_document_is_openapi_3_and_documents_every_route_the_router_serves() {
    let h = start().await;
    let doc = document(&h.app).await;

    // A well-formed OpenAPI 3 document: utoipa's own model reads it back, and the basics hold.
    let version = doc["openapi"].as_str().expect("`openapi` version");
    assert!(version.starts_with("3."), "openapi {version}");
    assert_eq!(doc["info"]["title"], "Durin");
    assert!(doc["info"]["version"].is_string());
    // (utoipa's own model cannot read the document back: it does not parse the "any value" schema `{}`
    // it writes for `serde_json::Value` fields. The schemas are checked against JSON Schema's metaschema
    // below instead.)
    let paths = doc["paths"].as_object().expect("`paths`");

    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item");
        let declared: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, operation) in item {
            assert!(
                OPERATION_METHODS.contains(&method.as_str()),
                "{path}: {method}"
            );
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} twice"
            );
            assert!(
                operation["summary"].is_string(),
                "{method} {path} has a summary"
            );
            // Every path parameter is described, and nothing else is said to be in the path.
            let in_path: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().expect("parameter name"))
                .collect();
            assert_eq!(in_path, declared, "{method} {path}: path parameters");
            // A success answer, and for JSON routes the error answers with their bodies.
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}: no 2xx"
            );
            for (status, response) in responses {
                if !status.starts_with('2') && path.starts_with("/v1/") {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}: the error body"
                    );
                }
            }
            if path.starts_with("/v1/") || path == "/fn/register" {
                assert!(
                    responses
                        .keys()
                        .any(|s| s.starts_with('4') || s.starts_with('5')),
                    "{method} {path}: no error answer documented"
                );
            }
        }
    }

    // Every `$ref` points at a schema of the document.
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("component schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        assert!(schemas.contains_key(name), "$ref {reference} resolves");
    }

    // Every schema is a valid JSON Schema (2020-12, as OpenAPI 3.1 says).
    let mut validator = Validator::new(doc.clone());
    for name in schemas.keys() {
        validator.compile(&format!("/components/schemas/{name}"));
    }

    // The router serves exactly the documented paths (plus the dashboard's). The paths are read from the
    // router itself: a route added anywhere shows up (checked here with one added on purpose).
    let extra = h
        .app
        .clone()
        .route("/added-on-purpose/{x}", axum::routing::get(|| async { "" }));
    assert!(served_paths(&extra).contains("/added-on-purpose/{x}"));
    let served: BTreeSet<String> = served_paths(&h.app)
        .into_iter()
        .filter(|p| !NOT_API.contains(&p.as_str()))
        .collect();
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in /openapi.json: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "in /openapi.json but not served: {unserved:?}"
    );

    // ... and at each path exactly the documented methods.
    for (path, item) in paths {
        let answer = call(&h.app, PROBE, &concrete(path), None).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{PROBE} {path}"
        );
        let allow = answer.allow.expect("an Allow header");
        let mut served: BTreeSet<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        if served.contains("get") {
            served.remove("head"); // axum answers HEAD wherever it answers GET
        }
        let documented: BTreeSet<String> = item
            .as_object()
            .expect("a path item")
            .keys()
            .cloned()
            .collect();
        assert_eq!(served, documented, "methods of {path}");
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                    _ => collect_refs(value, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Validates answers against the schemas the document gives for them (JSON Schema 2020-12, which OpenAPI
/// 3.1 schemas are). Strictly: every object schema that lists its properties gets
/// `additionalProperties: false`, so an answer with a field the document does not name fails too.
struct Validator {
    doc: Value,
    compiler: boon::Compiler,
    schemas: boon::Schemas,
    checked: BTreeMap<(String, String, u16), usize>,
}

const DOC_URL: &str = "http://durin.test/openapi.json";

impl Validator {
    fn new(doc: Value) -> Self {
        let mut strict = doc.clone();
        close_objects(&mut strict);
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler
            .add_resource(DOC_URL, strict)
            .expect("the document as a schema resource");
        Self {
            doc,
            compiler,
            schemas: boon::Schemas::new(),
            checked: BTreeMap::new(),
        }
    }

    /// Checks that the document has a JSON answer for `method path status` and that `answer` matches it.
    fn check(&mut self, method: &str, path: &str, answer: &Answer) {
        let status = answer.status.as_u16();
        let method = method.to_ascii_lowercase();
        let response = &self.doc["paths"][path][&method]["responses"][status.to_string()];
        assert!(
            !response.is_null(),
            "{method} {path}: status {status} is not documented (body {})",
            String::from_utf8_lossy(&answer.body)
        );
        assert!(
            response["content"]["application/json"]["schema"].is_object(),
            "{method} {path} {status}: no JSON schema"
        );
        assert!(
            answer.content_type.starts_with("application/json"),
            "{method} {path} {status}: {}",
            answer.content_type
        );
        let index = self.compile(&format!(
            "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            path.replace('~', "~0").replace('/', "~1")
        ));
        let instance = answer.json();
        if let Err(error) = self.schemas.validate(&instance, index) {
            panic!(
                "{method} {path} {status}: the answer does not match its schema: {error:#}\n{}",
                serde_json::to_string_pretty(&instance).unwrap_or_default()
            );
        }
        // The validation is not vacuous: the same answer with an unnamed field, or with `data` of another
        // type, does not match.
        if let Value::Object(mut fields) = instance {
            fields.insert("unnamed".into(), Value::Bool(true));
            assert!(
                self.schemas
                    .validate(&Value::Object(fields.clone()), index)
                    .is_err(),
                "{method} {path} {status}: an unnamed field passes"
            );
            fields.remove("unnamed");
            if let Some(data) = fields.get_mut("data") {
                *data = json!("not the data");
                assert!(
                    self.schemas
                        .validate(&Value::Object(fields), index)
                        .is_err(),
                    "{method} {path} {status}: a string as `data` passes"
                );
            }
        }
        *self
            .checked
            .entry((method, path.to_owned(), status))
            .or_default() += 1;
    }
}

impl Validator {
    /// Compiles the schema at a JSON pointer of the document (checking it against the metaschema).
    fn compile(&mut self, pointer: &str) -> boon::SchemaIndex {
        self.compiler
            .compile(&format!("{DOC_URL}#{pointer}"), &mut self.schemas)
            .unwrap_or_else(|error| panic!("the schema at {pointer}: {error:#}"))
    }
}

fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// A URL nothing listens on: calls to it fail at once.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/api/inngest")
}

const APP: &str = "openapi-test";

fn register_payload(url: &str) -> Value {
    json!({
        "url": url,
        "deployType": "ping",
        "framework": "test",
        "appName": APP,
        "sdk": "test:v0",
        "v": "0.1",
        "functions": [{
            "id": format!("{APP}-hello"),
            "name": "hello",
            "triggers": [
                { "event": "test/hello" },
                { "event": "test/filtered", "expression": "event.data.n == 1" },
            ],
            "steps": { "step": { "id": "step", "name": "step", "retries": { "attempts": 2 }, "runtime": {
                "type": "http", "url": format!("{url}?fnId={APP}-hello&stepId=step") } } },
        }],
    })
}

#[tokio::test]
async fn real_answers_match_their_schemas() {
    let h = start().await;
    let app = &h.app;
    let mut v = Validator::new(document(app).await);
    let url = dead_url();

    // Register an app whose URL is dead: its runs fail their first attempt and wait in backoff.
    let register = call(app, "POST", "/fn/register", Some(&register_payload(&url))).await;
    assert_eq!(register.status, StatusCode::OK);
    v.check("POST", "/fn/register", &register);
    let refused = call(app, "POST", "/fn/register", Some(&json!({ "url": url }))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    v.check("POST", "/fn/register", &refused);

    // Events: accepted, and refused.
    let event = json!({
        "name": "test/hello",
        "data": { "n": 1 },
        "id": "openapi-1",
        "ts": 1_790_000_000_000_i64,
    });
    let sent = call(app, "POST", "/e/test-key", Some(&event)).await;
    assert_eq!(sent.status, StatusCode::OK);
    v.check("POST", "/e/{key}", &sent);
    let event_id = sent.json()["ids"][0]
        .as_str()
        .expect("an event id")
        .to_owned();
    let batch = json!([{ "name": "test/other" }, { "name": "test/other", "user": { "u": 1 } }]);
    let sent = call(app, "POST", "/e/test-key", Some(&batch)).await;
    assert_eq!(sent.status, StatusCode::OK);
    v.check("POST", "/e/{key}", &sent);
    let nameless = call(app, "POST", "/e/test-key", Some(&json!({ "data": {} }))).await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    v.check("POST", "/e/{key}", &nameless);

    for uri in [
        "/v1/events".to_owned(),
        "/v1/events?name=test/hello&limit=5".to_owned(),
        format!("/v1/events/{event_id}"),
        format!("/v1/events/{event_id}/runs"),
        "/v1/events/nope".to_owned(),
        "/v1/events?received_after=yesterday".to_owned(),
        "/v1/apps".to_owned(),
        "/v1/functions".to_owned(),
    ] {
        let answer = call(app, "GET", &uri, None).await;
        v.check("GET", &template_of(&uri), &answer);
    }
    let runs = call(app, "GET", &format!("/v1/events/{event_id}/runs"), None)
        .await
        .json();
    let run_id = runs["data"][0]["run_id"]
        .as_str()
        .expect("the event started a run")
        .to_owned();

    // Wait for the first attempt to fail.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let attempts = call(app, "GET", &format!("/v1/runs/{run_id}/attempts"), None)
            .await
            .json();
        if attempts["data"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt was recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for uri in [
        format!("/v1/runs/{run_id}"),
        format!("/v1/runs/{run_id}/attempts"),
        format!("/v1/runs/{run_id}/steps"),
        format!("/v1/runs/{run_id}/jobs"),
        "/v1/runs".to_owned(),
        format!("/v1/runs?status=Running&function_id={APP}-hello&since=0&limit=10"),
        "/v1/runs?status=Sleeping".to_owned(),
        "/v1/runs/nope".to_owned(),
        "/v1/runs/nope/attempts".to_owned(),
        "/v1/runs/nope/steps".to_owned(),
    ] {
        let answer = call(app, "GET", &uri, None).await;
        v.check("GET", &template_of(&uri), &answer);
    }
    let attempts = call(app, "GET", &format!("/v1/runs/{run_id}/attempts"), None)
        .await
        .json();
    assert_eq!(attempts["data"][0]["outcome"], "error");
    assert!(attempts["data"][0]["next_attempt_at_ms"].is_i64());

    // Actions.
    let retried = call(app, "POST", &format!("/v1/runs/{run_id}/retry-now"), None).await;
    v.check("POST", "/v1/runs/{id}/retry-now", &retried);
    let rerun = call(
        app,
        "POST",
        &format!("/v1/runs/{run_id}/rerun"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(rerun.status, StatusCode::OK);
    v.check("POST", "/v1/runs/{id}/rerun", &rerun);
    let no_step = json!({ "from_step": "no-such-step" });
    let rerun = call(
        app,
        "POST",
        &format!("/v1/runs/{run_id}/rerun"),
        Some(&no_step),
    )
    .await;
    assert_eq!(rerun.status, StatusCode::BAD_REQUEST);
    v.check("POST", "/v1/runs/{id}/rerun", &rerun);
    let bulk = json!({
        "function_id": format!("{APP}-hello"),
        "status": "Running",
        "since": 0,
        "until": "2999-01-01T00:00:00Z",
    });
    let rerun = call(app, "POST", "/v1/runs/rerun", Some(&bulk)).await;
    assert_eq!(rerun.status, StatusCode::OK);
    v.check("POST", "/v1/runs/rerun", &rerun);
    let rerun = call(
        app,
        "POST",
        "/v1/runs/rerun",
        Some(&json!({ "function_id": "" })),
    )
    .await;
    v.check("POST", "/v1/runs/rerun", &rerun);
    // Resume and fail act on paused runs only: this one is Running (the 200 answers are checked in
    // `a_paused_run_answers_as_documented`).
    for action in ["resume", "fail"] {
        let refused = call(app, "POST", &format!("/v1/runs/{run_id}/{action}"), None).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        v.check("POST", &format!("/v1/runs/{{id}}/{action}"), &refused);
        let unknown = call(app, "POST", &format!("/v1/runs/nope/{action}"), None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        v.check("POST", &format!("/v1/runs/{{id}}/{action}"), &unknown);
    }
    let cancelled = call(app, "DELETE", &format!("/v1/runs/{run_id}"), None).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.json()["data"]["status"], "Cancelled");
    v.check("DELETE", "/v1/runs/{id}", &cancelled);
    let unknown = call(app, "DELETE", "/v1/runs/nope", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    v.check("DELETE", "/v1/runs/{id}", &unknown);
    let steps = call(app, "GET", &format!("/v1/runs/{run_id}/steps"), None).await;
    v.check("GET", "/v1/runs/{id}/steps", &steps);
    // GraphQL: an answer, an answer with errors (a query that does not parse), and a body that is not a
    // GraphQL request at all.
    let query = json!({
        "query": "query ($id: String!) { run(runID: $id) { status output trace { name childrenSpans { name } } } }",
        "variables": { "id": run_id },
    });
    let answered = call(app, "POST", "/v0/gql", Some(&query)).await;
    assert_eq!(answered.status, StatusCode::OK);
    assert!(answered.json()["data"]["run"]["status"].is_string());
    v.check("POST", "/v0/gql", &answered);
    let broken = call(app, "POST", "/v0/gql", Some(&json!({ "query": "{ run(" }))).await;
    assert_eq!(broken.status, StatusCode::OK);
    assert!(broken.json()["errors"][0]["message"].is_string());
    v.check("POST", "/v0/gql", &broken);
    let not_graphql = call(app, "POST", "/v0/gql", Some(&json!({ "variables": 1 }))).await;
    assert_eq!(not_graphql.status, StatusCode::BAD_REQUEST);
    v.check("POST", "/v0/gql", &not_graphql);
    let retried = call(app, "POST", "/v1/runs/nope/retry-now", None).await;
    v.check("POST", "/v1/runs/{id}/retry-now", &retried);
    let checkpoint = json!({ "run_id": "nope", "fn_id": "x", "steps": [] });
    let stale = call(app, "POST", "/v1/checkpoint/nope/async", Some(&checkpoint)).await;
    v.check("POST", "/v1/checkpoint/{id}/async", &stale);

    // Apps: a failed sync still adds the app, with its error; a bad URL is refused.
    let added = call(app, "POST", "/v1/apps", Some(&json!({ "url": dead_url() }))).await;
    assert_eq!(added.status, StatusCode::OK);
    assert!(added.json()["data"]["error"].is_string());
    v.check("POST", "/v1/apps", &added);
    let synced = call(app, "POST", "/v1/apps/sync", Some(&json!({ "url": url }))).await;
    v.check("POST", "/v1/apps/sync", &synced);
    let refused = call(
        app,
        "POST",
        "/v1/apps",
        Some(&json!({ "url": "not a url" })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    v.check("POST", "/v1/apps", &refused);
    let apps = call(app, "GET", "/v1/apps", None).await;
    v.check("GET", "/v1/apps", &apps);
    // Retry policies: none yet, set, refused.
    let none = call(app, "GET", "/v1/policies", None).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.json()["data"], json!({"policies": []}));
    v.check("GET", "/v1/policies", &none);
    let document = json!({"policies": [{"function": "f", "retries": 1}]});
    let set = call(app, "PUT", "/v1/policies", Some(&document)).await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.json()["data"], document);
    v.check("PUT", "/v1/policies", &set);
    let got = call(app, "GET", "/v1/policies", None).await;
    assert_eq!(got.json()["data"], document);
    v.check("GET", "/v1/policies", &got);
    let refused = call(
        app,
        "PUT",
        "/v1/policies",
        Some(&json!({"policies": [{"function": "f", "retries": 21}]})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json()["error"],
        "policies[0]: `retries` is 21; the most is 20"
    );
    v.check("PUT", "/v1/policies", &refused);
    // The dashboard login's only JSON answer is its refusal of a body without `signing_key`.
    let bad_login = call(app, "POST", "/auth/login", Some(&json!({ "key": "x" }))).await;
    assert_eq!(bad_login.status, StatusCode::BAD_REQUEST);
    v.check("POST", "/auth/login", &bad_login);

    // Every JSON operation of the document was checked with at least one real answer.
    let checked: BTreeSet<(String, String)> = v
        .checked
        .keys()
        .map(|(method, path, _)| (method.clone(), path.clone()))
        .collect();
    for (path, item) in v.doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let json = operation["responses"]
                .as_object()
                .expect("responses")
                .values()
                .any(|r| r["content"]["application/json"].is_object());
            if json && path != "/openapi.json" {
                assert!(
                    checked.contains(&(method.clone(), path.clone())),
                    "{method} {path} was not checked against a real answer"
                );
            }
        }
    }
}

/// Polls `GET /v1/runs/{id}` until the run has `status`.
async fn wait_for_status(app: &Router, run_id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let run = call(app, "GET", &format!("/v1/runs/{run_id}"), None)
            .await
            .json();
        if run["data"]["status"] == status {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never became {status}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_paused_run_answers_as_documented() {
    // One retry 20 ms after the first failure, then the run pauses instead of failing.
    let policies = format!(
        r#"{{"policies": [{{"function": "{APP}-hello", "retries": 1, "on_exhausted": "pause",
            "backoff": {{"kind": "fixed", "interval_ms": 20}}}}]}}"#
    );
    let config = EngineConfig {
        retry_policies: Some(Arc::new(
            durin_engine::RetryPolicies::from_json(&policies).expect("the policy file"),
        )),
        ..EngineConfig::default()
    };
    let h = start_with(config).await;
    let app = &h.app;
    let mut v = Validator::new(document(app).await);
    let url = dead_url();
    let register = call(app, "POST", "/fn/register", Some(&register_payload(&url))).await;
    assert_eq!(register.status, StatusCode::OK);
    let sent = call(
        app,
        "POST",
        "/e/test-key",
        Some(&json!({ "name": "test/hello" })),
    )
    .await;
    let event_id = sent.json()["ids"][0]
        .as_str()
        .expect("an event id")
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let run_id = loop {
        let runs = call(app, "GET", &format!("/v1/events/{event_id}/runs"), None)
            .await
            .json();
        if let Some(id) = runs["data"][0]["run_id"].as_str() {
            break id.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no run started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Paused after two attempts, and the answers say why.
    let run = wait_for_status(app, &run_id, "Paused").await;
    let paused = &run["data"]["paused"];
    assert_eq!(paused["attempts"], 2, "{run}");
    assert_eq!(paused["error"]["name"], "AppUnreachable", "{run}");
    let reason = paused["reason"].as_str().expect("a reason");
    assert!(reason.contains("pauses the run"), "{reason}");
    for uri in [
        format!("/v1/runs/{run_id}"),
        format!("/v1/runs/{run_id}/attempts"),
        format!("/v1/runs/{run_id}/steps"),
        format!("/v1/runs/{run_id}/jobs"),
        format!("/v1/events/{event_id}/runs"),
        "/v1/runs?status=Paused".to_owned(),
    ] {
        let answer = call(app, "GET", &uri, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        v.check("GET", &template_of(&uri), &answer);
    }
    let listed = call(app, "GET", "/v1/runs?status=Paused", None)
        .await
        .json();
    assert_eq!(listed["data"][0]["run_id"], run_id.as_str());
    assert_eq!(listed["data"][0]["paused"]["reason"], reason);
    let attempts = call(app, "GET", &format!("/v1/runs/{run_id}/attempts"), None)
        .await
        .json();
    let verdicts: Vec<&Value> = attempts["data"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["explanation"]["verdict"])
        .collect();
    assert_eq!(verdicts, [&json!("retry"), &json!("pause")], "{attempts}");
    assert_eq!(
        attempts["data"][0]["explanation"]["policy"],
        "the policy file's entry for the function"
    );
    let steps = call(app, "GET", &format!("/v1/runs/{run_id}/steps"), None)
        .await
        .json();
    assert_eq!(steps["data"][0]["status"], "paused", "{steps}");
    assert_eq!(
        steps["data"][0]["attempts"][1]["explanation"]["reason"],
        reason
    );
    let jobs = call(app, "GET", &format!("/v1/runs/{run_id}/jobs"), None)
        .await
        .json();
    assert_eq!(jobs["data"][0]["paused"], true, "{jobs}");

    // Resume: Running again, and (the app still unreachable) paused again after two fresh attempts.
    let resumed = call(app, "POST", &format!("/v1/runs/{run_id}/resume"), None).await;
    assert_eq!(resumed.status, StatusCode::OK);
    v.check("POST", "/v1/runs/{id}/resume", &resumed);
    assert_ne!(resumed.json()["data"]["status"], "Paused");
    wait_for_status(app, &run_id, "Paused").await;
    let attempts = call(app, "GET", &format!("/v1/runs/{run_id}/attempts"), None)
        .await
        .json();
    let numbers: Vec<&Value> = attempts["data"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["attempt"])
        .collect();
    assert_eq!(numbers, [0, 1, 0, 1], "{attempts}");

    // Fail: the step's error becomes the run's output; a second fail or resume is refused by status.
    let failed = call(app, "POST", &format!("/v1/runs/{run_id}/fail"), None).await;
    assert_eq!(failed.status, StatusCode::OK);
    v.check("POST", "/v1/runs/{id}/fail", &failed);
    let failed = failed.json();
    assert_eq!(failed["data"]["status"], "Failed");
    assert_eq!(failed["data"]["output"]["name"], "AppUnreachable");
    assert!(failed["data"].get("paused").is_none(), "{failed}");
    for action in ["resume", "fail"] {
        let refused = call(app, "POST", &format!("/v1/runs/{run_id}/{action}"), None).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        v.check("POST", &format!("/v1/runs/{{id}}/{action}"), &refused);
        let error = refused.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            error.contains("not paused") && error.contains("Failed"),
            "{error}"
        );
    }
}

/// The documented template of a concrete URI: `/v1/runs/01J.../steps?x=1` is `/v1/runs/{id}/steps`.
fn template_of(uri: &str) -> String {
    let path = uri.split('?').next().unwrap_or(uri);
    let segments: Vec<&str> = path.split('/').collect();
    let templated: Vec<&str> = match segments.as_slice() {
        ["", "v1", collection, _id, rest @ ..] if matches!(*collection, "events" | "runs") => {
            let mut out = vec!["", "v1", collection, "{id}"];
            out.extend(rest);
            out
        }
        _ => segments,
    };
    templated.join("/")
}
