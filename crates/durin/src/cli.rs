//! Command-line flags. `durin dev` uses Inngest's dev-server flag names where Inngest has them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "durin",
    version,
    about = "Durin: durable functions with per-step retries"
)]
pub(crate) struct Cli {
    /// The engine the client commands talk to.
    #[arg(
        long,
        global = true,
        env = "DURIN_URL",
        default_value = "http://127.0.0.1:8288"
    )]
    pub(crate) url: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the engine for development, with the embedded store in --data-dir.
    Dev(DevArgs),
    /// Send an event.
    Send(SendArgs),
    /// List recent runs.
    Runs(RunsArgs),
    /// Show one run with every attempt of every step.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// Port to serve on.
    #[arg(short, long, default_value_t = 8288)]
    pub(crate) port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// An app's serve URL to sync at start and on every poll (repeatable).
    #[arg(short = 'u', long = "sdk-url")]
    pub(crate) sdk_url: Vec<String>,
    /// Do not look for apps on the usual local ports.
    #[arg(long)]
    pub(crate) no_discovery: bool,
    /// Do not re-sync apps periodically.
    #[arg(long)]
    pub(crate) no_poll: bool,
    /// Seconds between app re-syncs.
    #[arg(long, default_value_t = 5)]
    pub(crate) poll_interval: u64,
    /// A fixed delay in seconds between attempts, instead of the backoff table (0: use the table).
    #[arg(long, default_value_t = 0)]
    pub(crate) retry_interval: u64,
    /// Multiplies every backoff delay and its jitter (never Retry-After), e.g. 0.01 for tests.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) backoff_scale: f64,
    /// Seconds a call to an app may take before the attempt fails as a timeout.
    #[arg(long, default_value_t = 300)]
    pub(crate) request_timeout: u64,
    /// Send `ctx.fn_id` so the TypeScript SDK checkpoints: several steps per request, each reported to
    /// `/v1/checkpoint/{run}/async` as it finishes.
    #[arg(long)]
    pub(crate) checkpointing: bool,
    /// Where the embedded store keeps its files.
    #[arg(long, env = "DURIN_DATA_DIR", default_value = ".durin")]
    pub(crate) data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The event name, e.g. app/button.clicked.
    pub(crate) name: String,
    /// The event's data, a JSON object.
    #[arg(long, default_value = "{}")]
    pub(crate) data: String,
    /// An idempotency id for the event.
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Only runs with this status (running, completed, failed, cancelled).
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Only runs of this function id.
    #[arg(long)]
    pub(crate) function: Option<String>,
    /// Only runs started within this long ago, e.g. 30m, 1h, 2d.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// How many runs at most.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    pub(crate) run_id: String,
    #[arg(long)]
    pub(crate) json: bool,
}

/// A mistake in how the command was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);
