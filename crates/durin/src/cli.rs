//! Command-line flags. `durin dev` uses Inngest's dev-server flag names where Inngest has them; `durin
//! serve` shares its engine flags.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, Parser, Subcommand};

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
    /// The signing key, signkey-<env>-<hex>. `durin serve` requires it: it signs every request to apps
    /// with it, and SDKs, API clients and the dashboard must prove they hold it. `durin dev` signs with it
    /// when given and requires nothing. The client commands authenticate with it.
    #[arg(
        long,
        global = true,
        env = "INNGEST_SIGNING_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub(crate) signing_key: Option<String>,
    /// An event key (repeatable, or comma-separated). `durin serve` requires at least one and accepts
    /// events only on /e/{key} with one of them; `durin send` sends with the first.
    #[arg(
        long = "event-key",
        global = true,
        env = "INNGEST_EVENT_KEY",
        hide_env_values = true,
        value_delimiter = ',',
        value_name = "KEY"
    )]
    pub(crate) event_keys: Vec<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the engine for development, with the embedded store in --data-dir.
    Dev(DevArgs),
    /// Run the engine as a server: on PostgreSQL (--database-url, DATABASE_URL) as one of several
    /// instances, or on the embedded store in --data-dir.
    Serve(ServeArgs),
    /// Send an event.
    Send(SendArgs),
    /// List recent runs, newest first.
    Runs(RunsArgs),
    /// Show one run: every step with every attempt, its error and when it is tried next.
    Run(RunArgs),
    /// List recent events, newest first.
    Events(EventsArgs),
    /// Start a run again: from the start, or from a step keeping the earlier steps' results; or rerun
    /// many runs of a function at once (--function).
    Rerun(RerunArgs),
    /// Cancel a running (or paused) run.
    Cancel(RunIdArgs),
    /// Make a run's steps that wait in backoff due now.
    RetryNow(RunIdArgs),
    /// Resume a run paused by its retry policy: each paused step starts again with fresh retries.
    Resume(RunIdArgs),
    /// Fail a run paused by its retry policy, with the error its step paused on.
    Fail(RunIdArgs),
    /// Say why each attempt of a run led where it did: the policy and rule it counted on, the verdict
    /// (retry, cool-down, give up, pause), the counter and the delay with its parts.
    Explain(RunIdArgs),
    /// List the registered functions.
    Functions(JsonArgs),
    /// List the apps with their sync status; `apps add <url>` and `apps sync <url>` sync one now.
    Apps(AppsArgs),
    /// Read (`policies get`) or replace (`policies set FILE`) the retry policies every instance decides
    /// by (see docs/retry-policies.md).
    Policies(PoliciesArgs),
}

/// `--json`, for the commands that take no other flag.
#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    /// Print the engine's answer as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `durin dev`: the engine for development.
#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// Do not look for apps on the usual local ports.
    #[arg(long)]
    pub(crate) no_discovery: bool,
    /// A PostgreSQL store instead of the embedded one: postgres://user:password@host:port/database.
    /// Only this flag selects it: `DATABASE_URL` is left to the apps being developed.
    #[arg(long, value_name = "URL")]
    pub(crate) database_url: Option<String>,
}

/// `durin serve`: the engine for production, one of several instances when they share PostgreSQL.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// The PostgreSQL store shared by every instance: postgres://user:password@host:port/database
    /// (`postgresql://` too). Without it, the embedded SQLite store in --data-dir (one instance only).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Names this instance's leases in PostgreSQL (default: a new random id at every start). Give each
    /// instance a stable id of its own (e.g. its host name): restarted, it then retries the attempts it
    /// had in flight at once instead of when their leases expire. Two live instances must never share
    /// one.
    #[arg(long, env = "DURIN_INSTANCE_ID", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) instance_id: Option<String>,
    /// Most PostgreSQL connections this instance opens for its work (one more listens for wake-ups).
    #[arg(long, env = "DURIN_DATABASE_MAX_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) database_max_connections: u32,
    /// Seconds a job's lease outlives --request-timeout. A crashed instance's attempts are retried by
    /// the others this long after the request timeout; it must cover clock differences between hosts.
    #[arg(long, env = "DURIN_LEASE_MARGIN", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) lease_margin: u64,
    /// A second signing key accepted from SDKs, API clients and dashboard logins while keys are rotated
    /// (never used to sign): see docs/deployment.md.
    #[arg(
        long,
        env = "INNGEST_SIGNING_KEY_FALLBACK",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub(crate) signing_key_fallback: Option<String>,
}

/// The flags `durin dev` and `durin serve` share: HTTP, app syncing, retries, logs, the embedded store.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// Port to serve on.
    #[arg(short, long, default_value_t = 8288)]
    pub(crate) port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// An app's serve URL to sync at start and on every poll (repeatable).
    #[arg(short = 'u', long = "sdk-url")]
    pub(crate) sdk_url: Vec<String>,
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
    /// Do not offer checkpointing (`ctx.fn_id`, `ctx.qi_id`): SDKs then answer after every step instead of
    /// running several steps per request and reporting each to `/v1/checkpoint/{run}/async`.
    #[arg(long)]
    pub(crate) no_checkpointing: bool,
    /// Most steps one run may store; a run that would store more fails with StepLimitExceeded.
    #[arg(long, default_value_t = durin_engine::DEFAULT_MAX_STEPS_PER_RUN as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) max_steps_per_run: u64,
    /// Most MiB of step results one run may store; a run that would store more fails with StateTooLarge.
    #[arg(long, default_value_t = durin_engine::DEFAULT_MAX_RUN_STATE_BYTES >> 20,
          value_parser = clap::value_parser!(u64).range(1..=16_384))]
    pub(crate) max_run_state_mib: u64,
    /// A JSON file of retry policies per function and per step, applied on Durin's side: apps on any SDK
    /// get them without a change (see docs/retry-policies.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) retry_policies: Option<PathBuf>,
    /// Log lines as human-readable text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// Where the embedded store keeps its files (unused with --database-url).
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
    /// Print the engine's answer as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Only runs with this status (running, paused, completed, failed, cancelled).
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Only runs of this function id.
    #[arg(long)]
    pub(crate) function: Option<String>,
    /// Only runs started within this long ago, e.g. 30m, 1h, 2d.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// How many runs at most (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) limit: u16,
    /// The next page: only runs older than this run id (the last one of the previous page).
    #[arg(long, value_name = "RUN_ID")]
    pub(crate) before: Option<String>,
    /// Print the runs as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[arg(value_parser = NonEmptyStringValueParser::new())]
    pub(crate) run_id: String,
    /// Print the run, its steps and its attempts as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Only events with exactly this name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Only events received within this long ago, e.g. 30m, 1h, 2d.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// How many events at most (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) limit: u16,
    /// The next page: only events older than this event (the last one of the previous page).
    #[arg(long, value_name = "EVENT_ID")]
    pub(crate) before: Option<String>,
    /// Print the events as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("runs").required(true).args(["run_id", "function"])))]
pub(crate) struct RerunArgs {
    /// The run to start again.
    #[arg(value_parser = NonEmptyStringValueParser::new())]
    pub(crate) run_id: Option<String>,
    /// Keep the results of the steps before this step (its id as written in the code) and resume there.
    #[arg(long, value_name = "STEP_ID", conflicts_with = "function")]
    pub(crate) from_step: Option<String>,
    /// Rerun, from the start, every run of this function id that matches --status, --since and --until.
    #[arg(long, value_name = "FUNCTION_ID", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) function: Option<String>,
    /// With --function: the status of the runs to rerun (running, paused, completed, failed,
    /// cancelled).
    #[arg(long, default_value = "failed", conflicts_with = "run_id")]
    pub(crate) status: String,
    /// With --function: only runs started within this long ago, e.g. 1h.
    #[arg(long, conflicts_with = "run_id")]
    pub(crate) since: Option<String>,
    /// With --function: only runs started at least this long ago, e.g. 10m.
    #[arg(long, conflicts_with = "run_id")]
    pub(crate) until: Option<String>,
    /// Print the engine's answer as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunIdArgs {
    #[arg(value_parser = NonEmptyStringValueParser::new())]
    pub(crate) run_id: String,
    /// Print the engine's answer as JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AppsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<AppsAction>,
    /// Print the apps (or the app added or synced) as JSON, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppsAction {
    /// Add the app served at a URL and sync it now.
    Add(AppUrlArgs),
    /// Sync a known app again now (after deploying new functions).
    Sync(AppUrlArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PoliciesArgs {
    #[command(subcommand)]
    pub(crate) action: PoliciesAction,
    /// Print the engine's whole answer as JSON on one line (with `updated_at`), for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PoliciesAction {
    /// Print the retry policy document (JSON, as `--retry-policies` and `policies set` take it).
    Get,
    /// Replace the retry policy document with FILE's; a refused document exits 2 naming the field.
    Set {
        /// A JSON file of retry policies, as `--retry-policies` takes.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AppUrlArgs {
    /// The app's serve URL, e.g. http://127.0.0.1:3000/api/inngest.
    #[arg(value_name = "URL", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) serve_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// A mistake in how the command was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);
