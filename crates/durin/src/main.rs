//! The `durin` binary: `durin dev` and `durin serve` run the engine; the other commands (`send`, `runs`, `run`, `events`,
//! `rerun`, `cancel`, `retry-now`, `functions`, `apps`) talk to a running one over its REST API.

mod cli;
mod client;
mod commands;
mod dev;
mod engine_config;
mod output;
mod serve;
mod server;
mod store_choice;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Dev(args) => dev::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Send(args) => commands::send(&cli.url, args).await,
            Command::Runs(args) => commands::runs(&cli.url, args).await,
            Command::Run(args) => commands::run(&cli.url, args).await,
            Command::Events(args) => commands::events(&cli.url, args).await,
            Command::Rerun(args) => commands::rerun(&cli.url, args).await,
            Command::Cancel(args) => commands::cancel(&cli.url, args).await,
            Command::RetryNow(args) => commands::retry_now(&cli.url, args).await,
            Command::Functions(args) => commands::functions(&cli.url, args).await,
            Command::Apps(args) => commands::apps(&cli.url, args).await,
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
