//! `durin serve`: the engine as a server. On PostgreSQL (`--database-url`, `DATABASE_URL`) any number of
//! instances share one database; without it, the embedded store in `--data-dir` (one instance). Apps are
//! synced by URL (`-u`, the API, or their own registration), never discovered on local ports.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::engine_config::engine_config;
use crate::keys::serve_security;
use crate::server::{self, Serving};
use crate::store_choice::{PostgresFlags, StoreChoice};

pub(crate) async fn run(
    args: ServeArgs,
    signing_key: Option<&str>,
    event_keys: &[String],
) -> anyhow::Result<ExitCode> {
    let mut config = engine_config(&args.engine)?;
    config.lease_margin = Duration::from_secs(args.lease_margin);
    // Closed by default: no keys, no start (before anything is created on disk).
    config.security = serve_security(
        signing_key,
        args.signing_key_fallback.as_deref(),
        event_keys,
    )?;
    let store = StoreChoice::from_flags(
        args.database_url.as_deref(),
        &args.engine.data_dir,
        PostgresFlags {
            instance_id: args.instance_id,
            max_connections: Some(args.database_max_connections),
        },
    )?;
    server::run(Serving {
        command: "durin serve",
        args: &args.engine,
        config,
        store,
    })
    .await
}
