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
    http: reqwest::Client,
    /// Whether the engine looks for apps on the usual ports.
    discovery: bool,
}

impl EngineProcess {
    /// Starts `binary dev` on a free port and waits until it answers.
    pub async fn start(binary: impl AsRef<Path>, options: EngineOptions) -> anyhow::Result<Self> {
        Self::launch(binary.as_ref(), options, None).await
    }

    /// Starts `binary serve` on a free port and waits until it answers. `options.args` carries the rest,
    /// e.g. `--database-url` and `--instance-id`: several such processes can share one database.
    pub async fn start_serve(
        binary: impl AsRef<Path>,
        options: EngineOptions,
    ) -> anyhow::Result<Self> {
        let mut engine = Self::prepare(binary.as_ref(), options, None)?;
        engine.command = "serve";
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
            child: None,
            http: reqwest::Client::new(),
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
            .arg(self.data_dir.path())
            .args(&self.options.args)
            .env("DURIN_LOG", "info")
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
            .post(format!("{}/e/test-key", self.url()))
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
