//! `durin dev`: the engine on the embedded store, serving the HTTP API.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use durin_core::BackoffKnobs;
use durin_engine::{Engine, EngineConfig};
use durin_store_sqlite::SqliteStore;

use crate::cli::{DevArgs, LogFormat, UsageError};

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let config = config(&args)?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let path = args.data_dir.join("durin.db");
    let store = SqliteStore::open(&path)
        .with_context(|| format!("cannot open the store at {}", path.display()))?;
    durin_server::install_metrics()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let engine = Engine::new(Arc::new(store), config, true).await?;
    let address: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|_| {
            UsageError(format!(
                "--host {:?} and --port {} do not form an address",
                args.host, args.port
            ))
        })?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    engine.start();
    tracing::info!(address = %local, store = %path.display(), "durin dev is serving");
    println!(
        "durin dev: serving on http://{local} (store: {})",
        path.display()
    );
    axum::serve(listener, durin_server::app(engine))
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(ExitCode::SUCCESS)
}

fn config(args: &DevArgs) -> anyhow::Result<EngineConfig> {
    if !args.backoff_scale.is_finite() || args.backoff_scale <= 0.0 {
        return Err(UsageError(format!(
            "--backoff-scale must be a positive number, not {}",
            args.backoff_scale
        ))
        .into());
    }
    if args.poll_interval == 0 {
        return Err(UsageError("--poll-interval must be at least 1 second".into()).into());
    }
    if args.request_timeout == 0 {
        return Err(UsageError("--request-timeout must be at least 1 second".into()).into());
    }
    for url in &args.sdk_url {
        reqwest::Url::parse(url)
            .map_err(|e| UsageError(format!("--sdk-url {url:?} is not a URL: {e}")))?;
    }
    let fixed = (args.retry_interval > 0)
        .then(|| i64::try_from(args.retry_interval.saturating_mul(1000)).unwrap_or(i64::MAX));
    Ok(EngineConfig {
        knobs: BackoffKnobs {
            scale: args.backoff_scale,
            fixed_interval_ms: fixed,
        },
        request_timeout: Duration::from_secs(args.request_timeout),
        sdk_urls: args.sdk_url.clone(),
        poll_interval: (!args.no_poll).then(|| Duration::from_secs(args.poll_interval)),
        discovery: !args.no_discovery,
        public_url: format!("http://{}:{}", args.host, args.port),
        checkpointing: !args.no_checkpointing,
        ..EngineConfig::default()
    })
}

/// Every line logged while an attempt runs carries its `run_id`, `fn_id`, `step_id` and `attempt` (the
/// attempt's span); `--log-format json` writes one JSON object per line for log pipelines.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DURIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
