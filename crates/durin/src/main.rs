//! The `durin` binary: `durin dev` and `durin serve` run the engine; the other commands (`send`, `runs`, `run`, `events`,
//! `rerun`, `cancel`, `retry-now`, `resume`, `fail`, `explain`, `functions`, `apps`, `policies`) talk to a running one
//! over its REST API.

mod cli;
mod client;
mod commands;
mod dev;
mod engine_config;
mod keys;
mod output;
mod serve;
mod server;
mod store_choice;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::client::Target;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Filter expressions from apps are parsed and evaluated on these threads.
        .thread_stack_size(durin_core::expression_shape::EVALUATION_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let key = cli.signing_key.as_deref();
        let target = || Target::new(&cli.url, key, cli.event_keys.first().map(String::as_str));
        match cli.command {
            Command::Dev(args) => dev::run(args, key).await,
            Command::Serve(args) => serve::run(args, key, &cli.event_keys).await,
            Command::Send(args) => commands::send(&target()?, args).await,
            Command::Runs(args) => commands::runs(&target()?, args).await,
            Command::Run(args) => commands::run(&target()?, args).await,
            Command::Events(args) => commands::events(&target()?, args).await,
            Command::Rerun(args) => commands::rerun(&target()?, args).await,
            Command::Cancel(args) => commands::cancel(&target()?, args).await,
            Command::RetryNow(args) => commands::retry_now(&target()?, args).await,
            Command::Resume(args) => commands::resume(&target()?, args).await,
            Command::Fail(args) => commands::fail(&target()?, args).await,
            Command::Explain(args) => commands::explain(&target()?, args).await,
            Command::Functions(args) => commands::functions(&target()?, args).await,
            Command::Apps(args) => commands::apps(&target()?, args).await,
            Command::Policies(args) => commands::policies(&target()?, args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            match error.downcast_ref::<cli::UsageError>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::FAILURE,
            }
        }
    }
}
