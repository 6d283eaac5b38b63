//! A small client for the engine's REST API, used by the CLI commands.

use anyhow::{Context, anyhow};
use serde_json::Value;

pub(crate) struct EngineClient {
    base: String,
    http: reqwest::Client,
}

impl EngineClient {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// GETs a `/v1` path and returns its `data`.
    pub(crate) async fn get_data(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .query(query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let body = read_json(response).await?;
        body.get("data")
            .cloned()
            .ok_or_else(|| anyhow!("the engine's answer has no `data`: {body}"))
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        read_json(response).await
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the engine at {}: {error} (is `durin dev` running? set --url or DURIN_URL)",
            self.base
        )
    }
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
        return Err(anyhow!("the engine answered {status}: {message}"));
    }
    Ok(body)
}
