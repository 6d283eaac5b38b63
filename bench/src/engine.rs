//! The engine under test: a real `durin dev` process (a release build) on a free loopback port with a fresh
//! temporary store, plus what the harness reads about it from `/proc` (RSS, CPU time).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tempfile::TempDir;

pub(crate) struct Engine {
    binary: PathBuf,
    args: Vec<String>,
    app_url: String,
    log_level: String,
    data_dir: TempDir,
    port: u16,
    child: Option<Child>,
    pub(crate) http: reqwest::Client,
}

impl Engine {
    /// Starts `binary dev` on `port`, syncing the app at `app_url`, and waits until the app is synced.
    pub(crate) async fn start(
        binary: &Path,
        port: u16,
        app_url: &str,
        args: &[String],
        log_level: &str,
    ) -> anyhow::Result<Self> {
        let mut engine = Self {
            binary: binary.to_owned(),
            args: args.to_vec(),
            app_url: app_url.to_owned(),
            log_level: log_level.to_owned(),
            data_dir: tempfile::Builder::new().prefix("durin-bench-").tempdir()?,
            port,
            child: None,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .build()?,
        };
        engine.spawn().await?;
        engine.wait_for_app(Duration::from_secs(30)).await?;
        Ok(engine)
    }

    /// Spawns the process and waits for `/health`; returns how long that took.
    async fn spawn(&mut self) -> anyhow::Result<Duration> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.path().join("engine.log"))?;
        let started = Instant::now();
        let child = Command::new(&self.binary)
            .arg("dev")
            .args(["--port", &self.port.to_string()])
            .args(["--no-discovery", "--no-poll"])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(["-u", &self.app_url])
            .args(&self.args)
            .env("DURIN_LOG", &self.log_level)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with `cargo build --release -p durin`, or set DURIN_BIN)",
                    self.binary.display()
                )
            })?;
        self.child = Some(child);
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the engine exited with {status}; log:\n{}", self.log_tail());
            }
            if let Ok(response) = self.http.get(format!("{}/health", self.url())).send().await
                && response.status().is_success()
            {
                return Ok(started.elapsed());
            }
            if Instant::now() > deadline {
                bail!(
                    "the engine did not answer within 60 s; log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn wait_for_app(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let apps = self.get("/v1/apps").await.unwrap_or(Value::Null);
            let synced = apps["data"].as_array().into_iter().flatten().any(|app| {
                app["url"] == self.app_url.as_str()
                    && app["function_count"].as_u64().unwrap_or(0) > 0
            });
            if synced {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the app did not sync: {apps}; log:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub(crate) fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.data_dir.path().join("engine.log")).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        log.get(start..).unwrap_or_default().to_owned()
    }

    /// SIGKILL, then start again on the same port and store. Returns the time from spawn to `/health`.
    pub(crate) async fn restart(&mut self) -> anyhow::Result<Duration> {
        self.kill();
        self.spawn().await
    }

    /// SIGKILL: no shutdown code runs.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(body)
    }

    pub(crate) async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .await?
            .text()
            .await?)
    }

    /// POSTs events (one object or an array) to `/e/bench`; returns the event ids.
    pub(crate) async fn send(&self, body: &Value) -> anyhow::Result<Vec<String>> {
        let response = self
            .http
            .post(format!("{}/e/bench", self.url()))
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST /e/bench answered {status}: {answer}");
        }
        Ok(answer["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect())
    }

    /// The `durin_queue_jobs` gauges of `/metrics`: (due, scheduled, in flight).
    pub(crate) async fn queue(&self) -> anyhow::Result<(u64, u64, u64)> {
        let text = self.get_text("/metrics").await?;
        let gauge = |state: &str| {
            let prefix = format!("durin_queue_jobs{{state=\"{state}\"}} ");
            text.lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .map_or(0, |value| value as u64)
        };
        Ok((gauge("due"), gauge("scheduled"), gauge("in_flight")))
    }

    /// The samples of `metric` in `/metrics` as (label set, value), e.g.
    /// `durin_http_request_duration_seconds_count` → (`route="/e/{key}",method="POST",status="200"`, 30).
    pub(crate) async fn metric_samples(&self, metric: &str) -> anyhow::Result<Vec<(String, f64)>> {
        let text = self.get_text("/metrics").await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(metric)?;
                let (label_set, value) = match rest.strip_prefix('{') {
                    // Label values may hold braces (`route="/v1/runs/{id}"`): the set ends at the last one.
                    Some(inner) => inner.rsplit_once('}')?,
                    None if rest.starts_with(' ') => ("", rest),
                    None => return None,
                };
                Some((label_set.to_owned(), value.trim().parse::<f64>().ok()?))
            })
            .collect())
    }

    /// The sum of the samples of `metric` whose label set contains every one of `labels` (e.g.
    /// `durin_app_request_duration_seconds_count` with `function="durin-bench-three"`).
    pub(crate) async fn metric_sum(&self, metric: &str, labels: &[&str]) -> anyhow::Result<f64> {
        Ok(self
            .metric_samples(metric)
            .await?
            .iter()
            .filter(|(label_set, _)| labels.iter().all(|label| label_set.contains(label)))
            .map(|(_, value)| value)
            .sum())
    }

    /// Every run of `function_id` as (run id, status), paging through `/v1/runs`.
    pub(crate) async fn runs_of(&self, function_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        let mut runs = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/runs?function_id={function_id}&limit=1000");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = self.get(&path).await?;
            let items = page["data"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                return Ok(runs);
            }
            for run in &items {
                runs.push((
                    run["run_id"].as_str().unwrap_or_default().to_owned(),
                    run["status"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            cursor = runs.last().map(|(id, _)| id.clone());
        }
    }

    /// Resident and peak resident memory of the process, in KiB (`VmRSS`, `VmHWM`).
    pub(crate) fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// User plus system CPU time the process has used, in clock ticks (`/proc/<pid>/stat` fields 14, 15).
    pub(crate) fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        let after_name = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 when unknown).
pub(crate) fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}
