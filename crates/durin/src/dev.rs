//! `durin dev`: the engine for development, on the embedded store unless `--database-url` names a
//! PostgreSQL database; it looks for apps on the usual local ports.

use std::process::ExitCode;

use crate::cli::DevArgs;
use crate::engine_config::engine_config;
use crate::keys::dev_security;
use crate::server::{self, Serving};
use crate::store_choice::{PostgresFlags, StoreChoice};

pub(crate) async fn run(args: DevArgs, signing_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut config = engine_config(&args.engine)?;
    config.discovery = !args.no_discovery;
    config.security = dev_security(signing_key)?;
    let store = StoreChoice::from_flags(
        args.database_url.as_deref(),
        &args.engine.data_dir,
        PostgresFlags::default(),
    )?;
    server::run(Serving {
        command: "durin dev",
        args: &args.engine,
        config,
        store,
    })
    .await
}
