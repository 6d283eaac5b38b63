use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How to start the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// App URLs to sync at start (`-u`).
    pub sdk_urls: Vec<String>,
    /// Extra flags, e.g. `["--backoff-scale", "0.01"]`.
    pub args: Vec<String>,
    /// The port to serve on; a free one when None.
    pub port: Option<u16>,
}

/// The engine's keys, passed in its environment (never a developer's own).
#[derive(Debug, Clone, Default)]
pub struct EngineKeys {
    /// `INNGEST_SIGNING_KEY`.
    pub signing_key: Option<String>,
    /// `INNGEST_SIGNING_KEY_FALLBACK`.
    pub signing_key_fallback: Option<String>,
    /// `INNGEST_EVENT_KEY` (comma-joined).
    pub event_keys: Vec<String>,
}

impl EngineKeys {
    /// What [`EngineProcess::start_serve`] uses: [`TEST_SIGNING_KEY`] and [`TEST_EVENT_KEY`].
    pub fn test() -> Self {
        Self {
            signing_key: Some(TEST_SIGNING_KEY.to_owned()),
            signing_key_fallback: None,
            event_keys: vec![TEST_EVENT_KEY.to_owned()],
        }
    }
}

/// The signing key `start_serve` gives an engine unless told otherwise.
pub const TEST_SIGNING_KEY: &str =
    "signkey-test-5b1d0c2e9a7f43c8b6e1d2a3f4c5b6a7d8e9f0a1b2c3d4e5f60718293a4b5c6d";
/// The event key `start_serve` gives an engine unless told otherwise.
pub const TEST_EVENT_KEY: &str = "test-event-key-0123456789";

/// The bearer token the SDKs derive from a signing key: its `signkey-<env>-` prefix followed by the hex
/// SHA-256 of the hex-decoded rest (computed here independently of Durin's own code).
pub fn bearer_token(signing_key: &str) -> anyhow::Result<String> {
    use sha2::Digest;
    let rest = signing_key
        .strip_prefix("signkey-")
        .ok_or_else(|| anyhow!("not a signing key"))?;
    let (env, secret) = rest
        .split_once('-')
        .ok_or_else(|| anyhow!("not a signing key"))?;
    let bytes = hex::decode(secret)?;
    Ok(format!(
        "signkey-{env}-{}",
        hex::encode(sha2::Sha256::digest(&bytes))
    ))
}

/// A real `durin dev` (or `durin serve`) process with its own store directory (also where its log goes).
/// Killed (SIGKILL) when dropped.
pub struct EngineProcess {
    binary: PathBuf,
    /// The subcommand: `dev`, or `serve` (which has no app discovery to turn off).
    command: &'static str,
    options: EngineOptions,
    data_dir: TempDir,
    port: u16,
    /// Seconds between app re-syncs; None passes `--no-poll`.
    poll_interval: Option<u64>,
    child: Option<Child>,
    /// Sends the signing key's bearer token when `keys` has one.
    http: reqwest::Client,
    keys: EngineKeys,
    /// Whether the engine looks for apps on the usual ports.
    discovery: bool,
    /// Where the store lives when not in `data_dir` (e.g. a small filesystem a test fills up); the log
    /// stays in `data_dir`.
    store_dir: Option<PathBuf>,
}

impl EngineProcess {
    /// Starts `binary dev` on a free port and waits until it answers.
    pub async fn start(binary: impl AsRef<Path>, options: EngineOptions) -> anyhow::Result<Self> {
        Self::launch(binary.as_ref(), options, None).await
    }

    /// Starts `binary serve` on a free port and waits until it answers. `options.args` carries the rest,
    /// e.g. `--database-url` and `--instance-id`: several such processes can share one database.
    /// `durin serve` refuses to start without keys: this one has [`EngineKeys::test`], and the helpers
    /// below authenticate with them.
    pub async fn start_serve(
        binary: impl AsRef<Path>,
        options: EngineOptions,
    ) -> anyhow::Result<Self> {
        Self::start_serve_with_keys(binary, options, EngineKeys::test()).await
    }

    /// Like [`EngineProcess::start_serve`], with `keys`.
    pub async fn start_serve_with_keys(
        binary: impl AsRef<Path>,
        options: EngineOptions,
        keys: EngineKeys,
    ) -> anyhow::Result<Self> {
        let mut engine = Self::prepare(binary.as_ref(), options, None)?;
        engine.command = "serve";
        engine.set_keys(keys)?;
        engine.spawn().await?;
        Ok(engine)
    }

    /// Like [`EngineProcess::start`], with the embedded store in `store_dir` (which must exist) instead
    /// of the temporary directory; the log stays there.
    pub async fn start_with_store_dir(
        binary: impl AsRef<Path>,
        options: EngineOptions,
        store_dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut engine = Self::prepare(binary.as_ref(), options, None)?;
        engine.store_dir = Some(store_dir.to_owned());
        engine.spawn().await?;
        Ok(engine)
    }

    /// Like [`EngineProcess::start`], but with app polling on: no `--no-poll`, and
    /// `--poll-interval poll_interval_secs` (at least 1), so known apps are re-synced on every poll.
    pub async fn start_polling(
        binary: impl AsRef<Path>,
        options: EngineOptions,
        poll_interval_secs: u64,
    ) -> anyhow::Result<Self> {
        Self::launch(binary.as_ref(), options, Some(poll_interval_secs)).await
    }

    /// Like [`EngineProcess::start`], but with app discovery on (no `--no-discovery`): the engine scans the
    /// usual local ports and paths for apps.
    pub async fn start_discovering(
        binary: impl AsRef<Path>,
        options: EngineOptions,
    ) -> anyhow::Result<Self> {
        let mut engine = Self::prepare(binary.as_ref(), options, None)?;
        engine.discovery = true;
        engine.spawn().await?;
        Ok(engine)
    }

    /// Like [`EngineProcess::start`] (`durin dev`), with `keys` in its environment.
    pub async fn start_with_keys(
        binary: impl AsRef<Path>,
        options: EngineOptions,
        keys: EngineKeys,
    ) -> anyhow::Result<Self> {
        let mut engine = Self::prepare(binary.as_ref(), options, None)?;
        engine.set_keys(keys)?;
        engine.spawn().await?;
        Ok(engine)
    }

    /// From now on the engine gets `keys`, and the helpers authenticate like an SDK holding them.
    fn set_keys(&mut self, keys: EngineKeys) -> anyhow::Result<()> {
        let mut default_headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &keys.signing_key {
            let value = format!("Bearer {}", bearer_token(key)?);
            default_headers.insert(reqwest::header::AUTHORIZATION, value.parse()?);
        }
        self.http = reqwest::Client::builder()
            .default_headers(default_headers)
            .build()?;
        self.keys = keys;
        Ok(())
    }

    async fn launch(
        binary: &Path,
        options: EngineOptions,
        poll_interval: Option<u64>,
    ) -> anyhow::Result<Self> {
        let mut engine = Self::prepare(binary, options, poll_interval)?;
        engine.spawn().await?;
        Ok(engine)
    }

    fn prepare(
        binary: &Path,
        options: EngineOptions,
        poll_interval: Option<u64>,
    ) -> anyhow::Result<Self> {
        let port = match options.port {
            Some(port) => port,
            None => free_port()?,
        };
        Ok(Self {
            binary: binary.to_owned(),
            command: "dev",
            options,
            data_dir: tempfile::tempdir()?,
            port,
            poll_interval,
            discovery: false,
            store_dir: None,
            child: None,
            http: reqwest::Client::new(),
            keys: EngineKeys::default(),
        })
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.path().join("engine.log"))?;
        let mut command = Command::new(&self.binary);
        command
            .arg(self.command)
            .args(["--port", &self.port.to_string()])
            .arg("--data-dir")
            .arg(self.store_dir.as_deref().unwrap_or(self.data_dir.path()))
            .args(&self.options.args)
            .env("DURIN_LOG", "info")
            // Only the keys given here: never a developer's own.
            .env_remove("INNGEST_SIGNING_KEY")
            .env_remove("INNGEST_SIGNING_KEY_FALLBACK")
            .env_remove("INNGEST_EVENT_KEY")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if !self.discovery && self.command == "dev" {
            command.arg("--no-discovery");
        }
        match self.poll_interval {
            Some(secs) => command.args(["--poll-interval", &secs.to_string()]),
            None => command.arg("--no-poll"),
        };
        for url in &self.options.sdk_urls {
            command.args(["-u", url]);
        }
        if let Some(key) = &self.keys.signing_key {
            command.env("INNGEST_SIGNING_KEY", key);
        }
        if let Some(key) = &self.keys.signing_key_fallback {
            command.env("INNGEST_SIGNING_KEY_FALLBACK", key);
        }
        if !self.keys.event_keys.is_empty() {
            command.env("INNGEST_EVENT_KEY", self.keys.event_keys.join(","));
        }
        self.child = Some(
            command
                .spawn()
                .with_context(|| format!("starting {}", self.binary.display()))?,
        );
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the engine exited with {status}; log:\n{}", self.log());
            }
            if let Ok(response) = self.http.get(format!("{}/health", self.url())).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "the engine did not answer within 20 s; log:\n{}",
            self.log()
        )
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The key events are sent with: the engine's first event key, else any key (`dev` takes every one).
    pub fn event_key(&self) -> &str {
        self.keys
            .event_keys
            .first()
            .map_or("test-key", String::as_str)
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// What the engine has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("engine.log")).unwrap_or_default()
    }

    /// The process id while the engine runs (to signal it from a task that cannot borrow it mutably).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the engine again on the same port and store.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    pub async fn post_event(&self, event: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}/e/{}", self.url(), self.event_key()))
            .json(event)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// POSTs `body` as it is, with `content_type`, to `path`; returns the status and the JSON answer
    /// (Null when the answer is not JSON).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.url()))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.into())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// POSTs a JSON value to `path`; returns the status and the JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.post_raw(path, "application/json", serde_json::to_vec(body)?)
            .await
    }

    /// Sends one event and returns its id.
    pub async fn send(&self, name: &str, data: Value) -> anyhow::Result<String> {
        let (status, body) = self
            .post_event(&json!({ "name": name, "data": data }))
            .await?;
        if status != 200 {
            bail!("sending {name} answered {status}: {body}");
        }
        body["ids"][0]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no id in {body}"))
    }

    /// GETs a path and returns the JSON body with its status.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// GETs a path and returns the body as text (e.g. `/metrics`).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// PUTs a JSON value to `path`; returns the status and the JSON answer (Null when not JSON).
    pub async fn put_json(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .put(format!("{}{path}", self.url()))
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// DELETEs a path and returns the JSON body with its status.
    pub async fn delete(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .delete(format!("{}{path}", self.url()))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Waits until the run `run_id` has ended, and returns it.
    pub async fn wait_for_run(&self, run_id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, body) = self.get(&format!("/v1/runs/{run_id}")).await?;
            if status == 200 && body["data"]["status"] != "Running" {
                return Ok(body["data"].clone());
            }
            if Instant::now() > deadline {
                bail!(
                    "run {run_id} did not end within {timeout:?}: {body}; log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn data(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get(path).await?;
        if status != 200 {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(body["data"].clone())
    }

    pub async fn runs_of_event(&self, event_id: &str) -> anyhow::Result<Vec<Value>> {
        let runs = self.data(&format!("/v1/events/{event_id}/runs")).await?;
        Ok(runs.as_array().cloned().unwrap_or_default())
    }

    pub async fn attempts(&self, run_id: &str) -> anyhow::Result<Vec<Value>> {
        let attempts = self.data(&format!("/v1/runs/{run_id}/attempts")).await?;
        Ok(attempts.as_array().cloned().unwrap_or_default())
    }

    /// Waits until the event's only run has ended, and returns it.
    pub async fn wait_for_run_end(
        &self,
        event_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let runs = self.runs_of_event(event_id).await?;
            if let Some(run) = runs.first()
                && run["status"] != "Running"
            {
                return Ok(run.clone());
            }
            if Instant::now() > deadline {
                bail!(
                    "no run of event {event_id} ended within {timeout:?}: {runs:?}; log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the app at `url` is listed with at least one function.
    pub async fn wait_for_app(&self, url: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let apps = self.data("/v1/apps").await?;
            if apps
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["url"] == url && a["function_count"].as_u64().unwrap_or(0) > 0)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the app {url} did not sync within {timeout:?}: {apps}; log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on right now (the OS picks it).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
