//! A small client for the engine's REST API, used by the CLI commands. Every failure is an error that
//! says what went wrong: the engine not reachable (with the URL tried), or its answer's status and `error`.

use anyhow::{Context, anyhow};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::cli::UsageError;
use crate::keys::client_key;

/// The engine a client command talks to, and how it authenticates.
pub(crate) struct Target {
    url: String,
    /// `Authorization: Bearer` for the API, derived from `--signing-key` (never the key itself).
    bearer: Option<String>,
    /// The event key `durin send` posts to.
    event_key: Option<String>,
}

impl Target {
    pub(crate) fn new(
        url: &str,
        signing_key: Option<&str>,
        event_key: Option<&str>,
    ) -> Result<Self, UsageError> {
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            bearer: client_key(signing_key)?.map(|key| key.bearer()),
            event_key: event_key
                .filter(|key| !key.trim().is_empty())
                .map(str::to_owned),
        })
    }

    /// The event key to send with: `--event-key`, or any key (`durin dev` accepts every one).
    pub(crate) fn event_key(&self) -> &str {
        self.event_key.as_deref().unwrap_or("durin-cli")
    }
}

pub(crate) struct EngineClient {
    base: String,
    bearer: Option<String>,
    http: reqwest::Client,
}

impl EngineClient {
    pub(crate) fn new(target: &Target) -> Self {
        Self {
            base: target.url.clone(),
            bearer: target.bearer.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// GETs a `/v1` path and returns its `data`.
    pub(crate) async fn get_data(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let body = self
            .send(self.request(Method::GET, path).query(query))
            .await?;
        data(body)
    }

    /// POSTs a JSON body to a `/v1` path and returns its `data`.
    pub(crate) async fn post_data(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let body = self
            .send(self.request(Method::POST, path).json(body))
            .await?;
        data(body)
    }

    /// PUTs a JSON body to a `/v1` path and returns the whole answer.
    pub(crate) async fn put_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    /// GETs a `/v1` path and returns the whole answer (for answers with more than `data`).
    pub(crate) async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path)).await
    }

    /// DELETEs a `/v1` path and returns its `data`.
    pub(crate) async fn delete_data(&self, path: &str) -> anyhow::Result<Value> {
        let body = self.send(self.request(Method::DELETE, path)).await?;
        data(body)
    }

    /// POSTs a JSON body and returns the whole answer (for paths whose answer is not wrapped in `data`).
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        read_json(response).await
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the engine at {}: {error} (is `durin dev` or `durin serve` running? set --url or DURIN_URL)",
            self.base
        )
    }
}

fn data(body: Value) -> anyhow::Result<Value> {
    body.get("data")
        .cloned()
        .ok_or_else(|| anyhow!("the engine's answer has no `data`: {body}"))
}

async fn read_json(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response
        .text()
        .await
        .context("reading the engine's answer")?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let message = body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| body.to_string());
        let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
            " (give the engine's signing key with --signing-key or INNGEST_SIGNING_KEY, and its event key with --event-key or INNGEST_EVENT_KEY)"
        } else {
            ""
        };
        return Err(Refused {
            status,
            message,
            hint,
        }
        .into());
    }
    Ok(body)
}

/// The engine answered with an error status: its `error` message, for commands that tell some apart.
#[derive(Debug, thiserror::Error)]
#[error("the engine answered {status}: {message}{hint}")]
pub(crate) struct Refused {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) message: String,
    hint: &'static str,
}
