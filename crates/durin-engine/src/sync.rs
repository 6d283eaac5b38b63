//! Syncing apps: the engine PUTs an app's serve URL, and the app answers by registering (`/fn/register`).
//! Known apps are re-synced on every poll; discovery looks for apps on the usual local ports.

use std::collections::BTreeSet;
use std::time::Duration;

use durin_protocol::headers;
use serde_json::{Value, json};

use crate::engine::Engine;

/// Ports and paths Inngest's dev server scans for apps.
const DISCOVERY_PORTS: &[u16] = &[
    80, 443, 3000, 3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008, 3009, 3010, 4321, 5000, 5173,
    8000, 8080, 8081, 8787, 8888, 8910, 8911, 8912, 8913, 8914, 8915,
];
const DISCOVERY_PATHS: &[&str] = &[
    "/api/inngest",
    "/x/inngest",
    "/.netlify/functions/inngest",
    "/.redwood/functions/inngest",
];
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

impl Engine {
    /// Asks the app at `url` to register. On failure the app is recorded with the error, never a crash.
    pub async fn sync_app(&self, url: &str) -> Result<(), String> {
        let result = self.put_app(url).await;
        if let Err(error) = &result {
            tracing::warn!(%url, %error, "app sync failed");
            if let Err(store_error) = self
                .inner
                .store
                .save_app_error(url, error, self.now())
                .await
            {
                tracing::error!(%url, %store_error, "could not record the app's sync error");
            }
        }
        result
    }

    async fn put_app(&self, url: &str) -> Result<(), String> {
        let builder = self
            .inner
            .http
            .put(url)
            .header(headers::SERVER_KIND, self.server_kind())
            .timeout(SYNC_TIMEOUT);
        let response = self
            .signed_json(builder, &json!({ "url": url }))
            .send()
            .await
            .map_err(|e| format!("unreachable: {}", error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("error"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or(body);
        Err(format!("the app answered {status}: {message}"))
    }

    /// Whether `url` answers like an SDK (a GET carrying `x-inngest-sdk`).
    async fn looks_like_app(&self, url: &str) -> bool {
        let builder = self.inner.http.get(url).timeout(PROBE_TIMEOUT);
        match self.signed_empty(builder).send().await {
            Ok(response) => response.headers().contains_key(headers::SDK),
            Err(_) => false,
        }
    }

    async fn discover(&self) -> Vec<String> {
        let mut found = Vec::new();
        for port in DISCOVERY_PORTS {
            // One connection attempt per port first: most ports have nothing listening.
            if tokio::time::timeout(
                PROBE_TIMEOUT,
                tokio::net::TcpStream::connect(("127.0.0.1", *port)),
            )
            .await
            .map(|r| r.is_err())
            .unwrap_or(true)
            {
                continue;
            }
            for path in DISCOVERY_PATHS {
                let url = format!("http://127.0.0.1:{port}{path}");
                if self.looks_like_app(&url).await {
                    found.push(url);
                    break;
                }
            }
        }
        found
    }
}

/// The sync loop: sync `-u` URLs at start, then re-sync known apps and discover new ones on every poll.
pub(crate) async fn run(engine: Engine) {
    let config = engine.config().clone();
    let mut discovered = BTreeSet::new();
    loop {
        let mut urls: BTreeSet<String> = config.sdk_urls.iter().cloned().collect();
        urls.extend(discovered.iter().cloned());
        if config.poll_interval.is_some()
            && let Ok(apps) = engine.store().list_apps().await
        {
            urls.extend(apps.into_iter().map(|a| a.url));
        }
        if config.discovery {
            for url in engine.discover().await {
                if discovered.insert(url.clone()) {
                    tracing::info!(%url, "discovered an app");
                    urls.insert(url);
                }
            }
        }
        let syncs = urls.iter().map(|url| engine.sync_app(url));
        futures::future::join_all(syncs).await;
        // An app may have registered with another instance sharing the store (an app's registration
        // goes to whichever instance its engine URL reaches); `watch_functions` hears of it at once when
        // the store can say so, this catches up otherwise.
        if let Err(error) = engine.refresh_functions().await {
            tracing::error!(%error, "cannot reload the functions from the store");
        }
        if let Err(error) = engine.refresh_retry_policies().await {
            tracing::error!(%error, "cannot reload the retry policies from the store");
        }
        match config.poll_interval {
            Some(interval) => tokio::time::sleep(interval).await,
            None if config.discovery => tokio::time::sleep(Duration::from_secs(5)).await,
            None => return,
        }
    }
}

/// Reloads the functions and the retry policies whenever another instance sharing the store changed them
/// (never, on a store with one user): an event it receives then starts runs of an app synced through
/// another instance, with the policies set through another instance.
pub(crate) async fn watch_functions(engine: Engine) {
    loop {
        engine.store().wait_for_functions().await;
        let reloaded = match engine.refresh_functions().await {
            Ok(()) => engine.refresh_retry_policies().await,
            Err(error) => Err(error),
        };
        if let Err(error) = reloaded {
            tracing::error!(%error, "cannot reload the functions and retry policies from the store");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
