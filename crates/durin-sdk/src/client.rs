//! The app's handle on the engine: app id, engine URL, event key; sends events and registers functions.

use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use durin_protocol::{
    CheckpointRequest, RegisterRequest, RegisterResponse, SendEventsResponse, headers,
};
use serde::Serialize;
use serde_json::Value;

use crate::auth::Keys;
use crate::checkpoint::Checkpointing;
use crate::error::ClientError;
use crate::function::Function;

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8288";
const DEV_EVENT_KEY: &str = "NO_EVENT_KEY_SET";

/// The `x-inngest-sdk` header value.
pub(crate) const SDK_HEADER: &str = concat!("durin-rs:v", env!("CARGO_PKG_VERSION"));
/// The `sdk` field of the register payload.
pub(crate) const SDK_FIELD: &str = concat!("rs:v", env!("CARGO_PKG_VERSION"));
pub(crate) const FRAMEWORK: &str = "axum";

/// An app: its id, the engine it talks to and (once [`crate::serve`] was called) its functions.
/// Cheap to clone; clones share the function list.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: String,
    base_url: String,
    event_key: Option<String>,
    http: reqwest::Client,
    functions: RwLock<Vec<Function>>,
    /// `None`: answer after every step even when the engine offers checkpointing.
    checkpointing: RwLock<Option<Checkpointing>>,
    /// `Some`: production mode (signed requests only, bearer token on requests to the engine).
    keys: RwLock<Option<Keys>>,
}

/// An event to send to the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub name: String,
    pub data: Value,
    /// Idempotency key: a second event with the same id does not start the same functions again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Value>,
    /// Milliseconds since the Unix epoch; the engine uses the receive time when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
}

impl Event {
    pub fn new(name: impl Into<String>, data: Value) -> Self {
        Self {
            name: name.into(),
            data,
            id: None,
            user: None,
            ts: None,
        }
    }

    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn user(mut self, user: Value) -> Self {
        self.user = Some(user);
        self
    }

    pub fn ts(mut self, millis: i64) -> Self {
        self.ts = Some(millis);
        self
    }
}

impl Client {
    /// A client for app `app_id`. The engine URL comes from the environment: `INNGEST_DEV` if it is a URL,
    /// else `INNGEST_BASE_URL`, else `DURIN_URL`, else `http://127.0.0.1:8288`. The event key comes from
    /// `INNGEST_EVENT_KEY`; `INNGEST_SIGNING_KEY` (and `INNGEST_SIGNING_KEY_FALLBACK`) put the client in
    /// production mode (see [`Client::with_signing_key`]).
    pub fn new(app_id: impl Into<String>) -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let base_url = var("INNGEST_DEV")
            .filter(|value| value.starts_with("http://") || value.starts_with("https://"))
            .or_else(|| var("INNGEST_BASE_URL"))
            .or_else(|| var("DURIN_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let client = Self::build(app_id.into(), base_url, var("INNGEST_EVENT_KEY"));
        client.keys_from_env();
        client
    }

    /// A client for app `app_id` talking to the engine at `base_url` (e.g. `http://127.0.0.1:8288`).
    pub fn with_base_url(app_id: impl Into<String>, base_url: impl Into<String>) -> Self {
        let event_key = std::env::var("INNGEST_EVENT_KEY")
            .ok()
            .filter(|value| !value.trim().is_empty());
        Self::build(app_id.into(), base_url.into(), event_key)
    }

    fn build(app_id: String, base_url: String, event_key: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                app_id,
                base_url: base_url.trim_end_matches('/').to_owned(),
                event_key,
                http: reqwest::Client::new(),
                functions: RwLock::new(Vec::new()),
                checkpointing: RwLock::new(Some(Checkpointing::default())),
                keys: RwLock::new(None),
            }),
        }
    }

    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Checkpoints with `config` when the engine offers it (the default is [`Checkpointing::default`]).
    pub fn with_checkpointing(self, config: Checkpointing) -> Self {
        self.set_checkpointing(Some(config));
        self
    }

    /// Answers after every step, as in the classic protocol, even when the engine offers checkpointing.
    pub fn without_checkpointing(self) -> Self {
        self.set_checkpointing(None);
        self
    }

    fn set_checkpointing(&self, config: Option<Checkpointing>) {
        *self
            .inner
            .checkpointing
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    pub(crate) fn checkpointing(&self) -> Option<Checkpointing> {
        *self
            .inner
            .checkpointing
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn keys(&self) -> Option<Keys> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_keys(&self, keys: Option<Keys>) {
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
    }

    pub(crate) fn has_event_key(&self) -> bool {
        self.inner.event_key.is_some()
    }

    /// Adds `functions` to the ones [`Client::sync`] registers (a function with the same slug is replaced).
    pub(crate) fn add_functions(&self, functions: &[Function]) {
        let mut known = self
            .inner
            .functions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for function in functions {
            known.retain(|existing| existing.slug() != function.slug());
            known.push(function.clone());
        }
    }

    fn functions(&self) -> Vec<Function> {
        self.inner
            .functions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends one event; returns the ids the engine gave it.
    pub async fn send(&self, event: Event) -> Result<Vec<String>, ClientError> {
        self.send_many(vec![event]).await
    }

    /// Sends several events in one request; returns their ids in order.
    pub async fn send_many(&self, events: Vec<Event>) -> Result<Vec<String>, ClientError> {
        let key = self.inner.event_key.as_deref().unwrap_or(DEV_EVENT_KEY);
        let url = format!("{}/e/{key}", self.inner.base_url);
        let request = self.request(reqwest::Method::POST, &url).json(&events);
        let body = self.exchange(request, &url).await?;
        let reply: SendEventsResponse =
            serde_json::from_slice(&body).map_err(|error| ClientError::Decode {
                url: url.clone(),
                message: error.to_string(),
            })?;
        Ok(reply.ids)
    }

    /// Registers the served functions with the engine (`POST {base}/fn/register`), saying they are served
    /// at `serve_url` (e.g. `http://127.0.0.1:3000/api/inngest`). Call it after [`crate::serve`].
    pub async fn sync(&self, serve_url: &str) -> Result<(), ClientError> {
        self.register(serve_url, self.expected_server_kind(), None)
            .await
            .map(|_| ())
    }

    /// The register payload for the functions served at `serve_url`.
    pub(crate) fn register_request(&self, serve_url: &str) -> RegisterRequest {
        RegisterRequest {
            url: serve_url.to_owned(),
            deploy_type: Some("ping".to_owned()),
            framework: Some(FRAMEWORK.to_owned()),
            app_name: self.inner.app_id.clone(),
            sdk: Some(SDK_FIELD.to_owned()),
            v: Some("0.1".to_owned()),
            functions: self
                .functions()
                .iter()
                .map(|function| function.definition(&self.inner.app_id, serve_url))
                .collect(),
        }
    }

    /// Posts the register payload; returns the engine's reply when it could be read.
    pub(crate) async fn register(
        &self,
        serve_url: &str,
        server_kind: &str,
        deploy_id: Option<&str>,
    ) -> Result<Option<RegisterResponse>, ClientError> {
        let url = format!("{}/fn/register", self.inner.base_url);
        let mut request = self
            .request(reqwest::Method::POST, &url)
            .header(headers::EXPECTED_SERVER_KIND, server_kind)
            .json(&self.register_request(serve_url));
        if let Some(deploy_id) = deploy_id {
            request = request.query(&[("deployId", deploy_id)]);
        }
        let body = self.exchange(request, &url).await?;
        Ok(serde_json::from_slice(&body).ok())
    }

    /// Reports steps finished inside a call request (`POST /v1/checkpoint/{run_id}/async`).
    pub(crate) async fn checkpoint(&self, request: &CheckpointRequest) -> Result<(), ClientError> {
        let url = format!(
            "{}/v1/checkpoint/{}/async",
            self.inner.base_url, request.run_id
        );
        self.exchange(
            self.request(reqwest::Method::POST, &url).json(request),
            &url,
        )
        .await
        .map(|_| ())
    }

    /// A GET of the engine's API (for `use_api` call requests).
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.inner.base_url);
        let body = self
            .exchange(self.request(reqwest::Method::GET, &url), &url)
            .await?;
        serde_json::from_slice(&body).map_err(|error| ClientError::Decode {
            url,
            message: error.to_string(),
        })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.inner
            .http
            .request(method, url)
            .header(headers::SDK, SDK_HEADER)
            .header(reqwest::header::USER_AGENT, SDK_HEADER)
            .header(headers::FRAMEWORK, FRAMEWORK)
            .header(headers::REQ_VERSION, "2")
    }
}

impl Client {
    /// Sends a request to the engine (with the bearer token in production mode) and reads a 2xx answer.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Bytes, ClientError> {
        read_answer(self.send_authenticated(request).await, url).await
    }
}

async fn read_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    url: &str,
) -> Result<Bytes, ClientError> {
    let transport = |error: reqwest::Error| ClientError::Transport {
        url: url.to_owned(),
        message: error.to_string(),
    };
    let response = sent.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(ClientError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    Ok(body)
}
