//! Running the engine and its HTTP API until SIGINT or SIGTERM: what `durin dev` and `durin serve` share.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use durin_engine::{Engine, EngineConfig};

use crate::cli::{EngineArgs, LogFormat, UsageError};
use crate::store_choice::StoreChoice;

/// After SIGINT or SIGTERM, how long requests in progress may take to finish before the process exits
/// anyway. Attempts in flight are not waited for: they are retried once their lease is released.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What a command serves.
pub(crate) struct Serving<'a> {
    /// `durin dev` or `durin serve`, for messages.
    pub(crate) command: &'static str,
    pub(crate) args: &'a EngineArgs,
    pub(crate) config: EngineConfig,
    pub(crate) store: StoreChoice,
}

pub(crate) async fn run(serving: Serving<'_>) -> anyhow::Result<ExitCode> {
    let Serving {
        command,
        args,
        config,
        store,
    } = serving;
    init_logging(args.log_format);
    let address: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|_| {
            UsageError(format!(
                "--host {:?} and --port {} do not form an address",
                args.host, args.port
            ))
        })?;
    let opened = store.open().await?;
    durin_server::install_metrics()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let engine = Engine::new(opened.store, config, opened.exclusive).await?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    engine.start();
    tracing::info!(address = %local, store = %opened.description, "{command} is serving");
    println!(
        "{command}: serving on http://{local} (store: {})",
        opened.description
    );
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, durin_server::app(engine)).with_graceful_shutdown(async {
        shutdown_signal().await;
        tracing::info!("stopping: finishing the requests in progress");
        let _ = stopping.send(());
    });
    tokio::select! {
        served = server => served?,
        () = grace_after(stopped) => {
            tracing::warn!("requests still in progress after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Completes `SHUTDOWN_GRACE` after the shutdown began (never, if it does not).
async fn grace_after(stopped: tokio::sync::oneshot::Receiver<()>) {
    if stopped.await.is_ok() {
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    } else {
        std::future::pending::<()>().await;
    }
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (what `systemctl stop` and container runtimes send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
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
