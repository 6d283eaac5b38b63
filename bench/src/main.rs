//! `durin-bench`: starts a real `durin dev` release binary with a fresh store, serves an app (written with
//! Durin's Rust SDK in this process, or with the official TypeScript SDK in a node process: `--sdk ts`),
//! and drives the workloads of BENCHMARKS.md (the same definitions as the peer measurements in
//! `../shared/bench/README.md`). Prints one JSON line per repetition (also written to `bench/results/`)
//! and a markdown table of medians at the end.
//!
//! ```sh
//! cargo build --release -p durin
//! cargo run --release -p durin-bench -- --workloads w1seq,w1,w2,w3,w4,w5 --reps 3
//! cargo run --release -p durin-bench -- --sdk ts --ts-mode checkpoint --workloads w1seq,w1,w3
//! ```

mod app;
mod engine;
mod report;
mod stats;
mod ts;
mod workloads;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use durin_sdk::{Checkpointing, Client, serve};
use durin_testkit::{ServedApp, free_port, serve_app};

use crate::app::{APP_ID, Probe};
use crate::report::Report;
use crate::ts::TsApp;

/// How the SDK executes; the engine decides by offering checkpointing or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// `durin dev --no-checkpointing`: one step per call request; every call resends the earlier steps'
    /// results.
    Classic,
    /// `durin dev` (its default): several steps per request, each POSTed to `/v1/checkpoint/{run}/async`.
    Checkpoint,
}

/// The SDK the app under load is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Sdk {
    /// Durin's Rust SDK, served in the harness's process.
    Rust,
    /// The official TypeScript SDK (npm `inngest` 4.24.0, `bench/ts-app/`), served by node on `node:http`.
    Ts,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "durin-bench",
    about = "Durin's benchmark harness (see BENCHMARKS.md)"
)]
pub(crate) struct Opts {
    /// Workloads to run, in this order: w1seq, w1, w2, w3, w4, w5, w6.
    #[arg(long, value_delimiter = ',', default_value = "w1seq,w1,w2,w3,w4,w5,w6")]
    pub(crate) workloads: Vec<String>,
    /// The app's SDK. `ts` runs W1seq, W1, W2 and W3 (and W4, which calls no app); W5 and W6 are Rust only.
    #[arg(long, value_enum, default_value_t = Sdk::Rust)]
    pub(crate) sdk: Sdk,
    /// How the SDK executes: `classic` starts every engine with `--no-checkpointing`.
    #[arg(long, alias = "ts-mode", value_enum, default_value_t = Mode::Checkpoint)]
    pub(crate) mode: Mode,
    /// With `--sdk rust` in checkpoint mode: the SDK's `Checkpointing::buffered_steps` (1 stores every step
    /// before the next starts; N lets N - 1 finished steps be unstored while reports go out in the
    /// background).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) buffered_steps: u16,
    /// Repetitions per figure (the table shows their median). W6 always runs once.
    #[arg(long, default_value_t = 3)]
    pub(crate) reps: usize,
    /// The `durin` binary under test (a release build).
    #[arg(long, env = "DURIN_BIN")]
    pub(crate) durin_bin: Option<PathBuf>,
    /// `DURIN_LOG` for the engine (its own default is `info`: one line per attempt, to a file here).
    #[arg(long, default_value = "info")]
    pub(crate) durin_log: String,
    /// Where the JSON lines go (default: bench/results/ in the repository).
    #[arg(long)]
    pub(crate) out_dir: Option<PathBuf>,
    /// Runs in flight for W1 and W2 (closed loop).
    #[arg(long, default_value_t = 100)]
    pub(crate) conc: usize,
    /// Warm-up W1 runs on each fresh engine before measuring.
    #[arg(long, default_value_t = 200)]
    pub(crate) warmup: usize,
    /// W1 run counts.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    pub(crate) w1_n: Vec<usize>,
    /// W1seq run count (1 in flight).
    #[arg(long, default_value_t = 100)]
    pub(crate) w1seq_n: usize,
    /// W2 run count.
    #[arg(long, default_value_t = 200)]
    pub(crate) w2_n: usize,
    /// `--backoff-scale` for W2: 0.0003 makes the two retries wait 5 ms + [0, 9) ms and 9 ms + [0, 9) ms
    /// (mean ≈ 23 ms in total; the peers used 2 × 10 ms).
    #[arg(long, default_value = "0.0003")]
    pub(crate) w2_backoff_scale: String,
    /// W3: steps in the one sequential run.
    #[arg(long, default_value_t = 1000)]
    pub(crate) w3_steps: u64,
    /// W4: single events sent (one per request).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) w4_events: usize,
    /// W4: requests in flight for single events.
    #[arg(long, default_value_t = 50)]
    pub(crate) w4_conc: usize,
    /// W4: batches of 100 events sent.
    #[arg(long, default_value_t = 200)]
    pub(crate) w4_batches: usize,
    /// W4: batch requests in flight.
    #[arg(long, default_value_t = 4)]
    pub(crate) w4_batch_conc: usize,
    /// W5: retries due within one second.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) w5_n: usize,
    /// W5: seconds from the start of a repetition to the due second (all first attempts must have failed
    /// before it; the repetition is marked invalid otherwise).
    #[arg(long, default_value_t = 25)]
    pub(crate) w5_lead_secs: u64,
    /// W6: runs waiting in backoff.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) w6_n: usize,
    /// W6: seconds from the start to the due second; 0 picks it from the W5 set-up rate (or 1000/s).
    #[arg(long, default_value_t = 0)]
    pub(crate) w6_lead_secs: u64,
    /// W6: seconds of idle CPU measurement (before and after the restart).
    #[arg(long, default_value_t = 10)]
    pub(crate) w6_idle_secs: u64,
}

impl Opts {
    fn binary(&self) -> PathBuf {
        if let Some(binary) = &self.durin_bin {
            return binary.clone();
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        target.join("release").join("durin")
    }

    /// `rust` (classic), `rust-checkpoint`, `ts-classic` or `ts-checkpoint`: the `sdk` of every JSON line.
    pub(crate) fn sdk_label(&self) -> &'static str {
        match (self.sdk, self.mode) {
            (Sdk::Rust, Mode::Classic) => "rust",
            (Sdk::Rust, Mode::Checkpoint) => "rust-checkpoint",
            (Sdk::Ts, Mode::Classic) => "ts-classic",
            (Sdk::Ts, Mode::Checkpoint) => "ts-checkpoint",
        }
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// What every workload needs: the options, the served app and its probe, the report.
pub(crate) struct Bench {
    pub(crate) opts: Opts,
    pub(crate) binary: PathBuf,
    pub(crate) port: u16,
    pub(crate) app_url: String,
    pub(crate) probe: Arc<Probe>,
    pub(crate) report: Report,
    /// Set-up rate of W5 (runs/s into backoff), used to size W6's lead time.
    pub(crate) setup_rate: Option<f64>,
}

impl Bench {
    /// A fresh engine (new store) on the harness's port, with extra flags, once an event starts a run of the
    /// app (one run of the 3-step function, before any warm-up).
    pub(crate) async fn engine(&self, args: &[&str]) -> anyhow::Result<engine::Engine> {
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        if self.opts.mode == Mode::Classic {
            args.push("--no-checkpointing".into());
        }
        // W3 may run longer than the engine's default per-run step limit (1,000).
        args.push("--max-steps-per-run".into());
        args.push(self.opts.w3_steps.max(1_000).to_string());
        let engine = engine::Engine::start(
            &self.binary,
            self.port,
            &self.app_url,
            &args,
            &self.opts.durin_log,
        )
        .await?;
        workloads::until_triggers_match(&engine, &self.probe).await?;
        Ok(engine)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let binary = opts.binary();
    if !binary.exists() {
        anyhow::bail!(
            "{} does not exist: run `cargo build --release -p durin` first (or set DURIN_BIN)",
            binary.display()
        );
    }
    let port = free_port()?;
    let probe = Arc::new(Probe::default());
    let (app, app_url, app_meta) = match opts.sdk {
        Sdk::Rust => {
            let client = Client::with_base_url(APP_ID, format!("http://127.0.0.1:{port}"))
                .with_checkpointing(Checkpointing {
                    buffered_steps: usize::from(opts.buffered_steps),
                    ..Checkpointing::default()
                });
            let app = serve_app(serve(client, app::functions(&probe)))
                .await
                .context("serving the app")?;
            let url = app.serve_url();
            let meta = serde_json::json!({
                "app": "durin-sdk, in the harness's process",
                "mode": format!("{:?}", opts.mode).to_ascii_lowercase(),
                "buffered_steps": opts.buffered_steps,
            });
            (
                App {
                    _rust: Some(app),
                    ts: None,
                },
                url,
                meta,
            )
        }
        Sdk::Ts => {
            let app = TsApp::start(&probe, port).await?;
            let url = app.serve_url.clone();
            let meta = serde_json::json!({
                "app": "bench/ts-app/server.mjs: inngest/node on node:http, its own process",
                "node": app.node_version, "inngest": app.inngest_version,
                "mode": format!("{:?}", opts.mode).to_ascii_lowercase(),
                "finish_report": "the final call POSTs {id, runId, sentAtMs} to the harness on loopback (not awaited); finish = arrival",
            });
            (
                App {
                    _rust: None,
                    ts: Some(app),
                },
                url,
                meta,
            )
        }
    };
    let out_dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| workspace_root().join("bench").join("results"));
    let report = Report::create(&out_dir, &opts, &binary, app_meta)?;
    let mut bench = Bench {
        opts: opts.clone(),
        binary,
        port,
        app_url,
        probe,
        report,
        setup_rate: None,
    };
    for workload in &opts.workloads {
        let tmp = std::env::temp_dir();
        bench.report.emit(serde_json::json!({
            "w": workload, "kind": "conditions", "loadavg": stats::loadavg(),
            "fdatasync_8k_ms": report::fdatasync_ms(&tmp),
        }))?;
        let name = workload.trim().to_ascii_lowercase();
        let result = match name.as_str() {
            "w5" | "w6" if opts.sdk == Sdk::Ts => Err(anyhow::anyhow!(
                "{name} is measured with the Rust SDK app only (the TypeScript app has no timer function)"
            )),
            "w1seq" => workloads::w1seq(&mut bench).await,
            "w1" => workloads::w1(&mut bench).await,
            "w2" => workloads::w2(&mut bench).await,
            "w3" => workloads::w3(&mut bench).await,
            "w4" => workloads::w4(&mut bench).await,
            "w5" => workloads::w5(&mut bench).await,
            "w6" => workloads::w6(&mut bench).await,
            other => Err(anyhow::anyhow!("unknown workload {other:?}")),
        };
        if let Err(error) = result {
            if let Some(ts) = &app.ts {
                eprintln!("node's log (tail):\n{}", ts.log_tail());
            }
            eprintln!("{workload} failed: {error:#}");
            bench.report.failure(workload, &format!("{error:#}"))?;
        }
    }
    bench.report.print_table();
    eprintln!("results: {}", bench.report.path().display());
    drop(app);
    Ok(())
}

/// The served app; dropping it stops it (the Rust app's task, or the node process).
struct App {
    _rust: Option<ServedApp>,
    ts: Option<TsApp>,
}
