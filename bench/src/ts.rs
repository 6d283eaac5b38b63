//! The app on the official TypeScript SDK: `bench/ts-app/server.mjs` (npm `inngest` 4.24.0, pinned in
//! `bench/ts-app/package-lock.json`, served with `inngest/node` on `node:http`) in a node process on
//! loopback, plus the small HTTP endpoint its runs report to.
//!
//! How the harness learns that a run finished: the function's final call (the body after its last step's
//! result came back) POSTs `{id, runId, sentAtMs[, flaky]}` to `POST /finished` on a loopback port the
//! harness serves; the time the harness takes for the run's finish is when that request reaches the
//! handler. Each report's one-way delay (arrival − `sentAtMs`, both wall-clock ms on this machine) is kept
//! so the cost of reporting across processes is on record next to every figure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use durin_testkit::{ServedApp, free_port, serve_app};
use serde_json::Value;
use tempfile::TempDir;

use crate::app::{FlakyRun, Probe, unix_ms};

pub(crate) struct TsApp {
    child: Option<Child>,
    log_dir: TempDir,
    _probe_server: ServedApp,
    pub(crate) serve_url: String,
    pub(crate) node_version: String,
    pub(crate) inngest_version: String,
}

pub(crate) fn app_dir() -> PathBuf {
    crate::workspace_root().join("bench").join("ts-app")
}

fn output(program: &str, args: &[&str], dir: &Path) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Installs the pinned packages (`npm ci`) unless `node_modules` was installed from this very lockfile.
fn ensure_packages(dir: &Path) -> anyhow::Result<()> {
    let stamp = dir.join("node_modules").join(".bench-lock.sha256");
    let hash = output("sha256sum", &["package-lock.json"], dir)?;
    let want = hash
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    if std::fs::read_to_string(&stamp)
        .ok()
        .as_deref()
        .map(str::trim)
        == Some(want.as_str())
    {
        return Ok(());
    }
    eprintln!("installing bench/ts-app's pinned packages (npm ci)");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .context("running npm ci in bench/ts-app (Node 20 or newer and npm are needed)")?;
    if !status.success() {
        bail!("npm ci in {} exited with {status}", dir.display());
    }
    std::fs::write(&stamp, format!("{want}\n"))?;
    Ok(())
}

async fn finished(State(probe): State<Arc<Probe>>, Json(body): Json<Value>) -> &'static str {
    let arrived_ms = unix_ms(SystemTime::now());
    let id = body["id"].as_str().unwrap_or_default();
    let run_id = body["runId"].as_str().unwrap_or_default();
    if let Some(sent) = body["sentAtMs"].as_f64() {
        probe.record_report_delay(arrived_ms - sent);
    }
    if let Some(flaky) = body.get("flaky").filter(|f| f.is_object()) {
        probe.set_flaky(
            run_id,
            FlakyRun {
                executions: flaky["executions"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
                succeeded_at_attempt: flaky["succeededAtAttempt"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok()),
                step3_ran: flaky["step3Ran"].as_bool().unwrap_or(false),
            },
        );
    }
    probe.finished(id, run_id);
    "ok"
}

impl TsApp {
    /// Installs the packages if needed, serves the report endpoint, starts node and waits until it
    /// answers. The app finds the engine at `http://127.0.0.1:{engine_port}` (`INNGEST_DEV`).
    pub(crate) async fn start(probe: &Arc<Probe>, engine_port: u16) -> anyhow::Result<Self> {
        let dir = app_dir();
        ensure_packages(&dir)?;
        let node_version = output("node", &["--version"], &dir)?;
        let inngest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("node_modules/inngest/package.json"))
                .context("reading the installed inngest package.json")?,
        )?;
        let inngest_version = inngest["version"].as_str().unwrap_or_default().to_owned();

        let router = Router::new()
            .route("/finished", post(finished))
            .with_state(Arc::clone(probe));
        let probe_server = serve_app(router)
            .await
            .context("serving the report endpoint")?;
        let probe_url = format!("http://{}/finished", probe_server.address);

        let port = free_port()?;
        let log_dir = tempfile::Builder::new()
            .prefix("durin-bench-ts-")
            .tempdir()?;
        let log = std::fs::File::create(log_dir.path().join("node.log"))?;
        let child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("INNGEST_DEV", format!("http://127.0.0.1:{engine_port}"))
            .env("BENCH_APP_PORT", port.to_string())
            .env("BENCH_PROBE_URL", &probe_url)
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting node (Node 20 or newer is needed)")?;
        let mut app = Self {
            child: Some(child),
            log_dir,
            _probe_server: probe_server,
            serve_url: format!("http://127.0.0.1:{port}/api/inngest"),
            node_version,
            inngest_version,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = app.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("node exited with {status}; log:\n{}", app.log_tail());
            }
            if let Ok(response) = http
                .get(format!("http://127.0.0.1:{port}/health"))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(app);
            }
            if Instant::now() > deadline {
                bail!(
                    "the TypeScript app did not answer within 30 s; log:\n{}",
                    app.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_dir.path().join("node.log")).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        log.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for TsApp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
