//! Discovery: with nothing named on the command line, `durin dev` finds an app serving on one of the usual
//! local ports and paths (as Inngest's dev server does), syncs it, and runs its functions.

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::RUN_TIMEOUT;
use durin_sdk::{Client, Context, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, free_port, serve_app_on};
use serde_json::json;

/// Some of the ports the engine scans; the test takes the first one free on this machine.
const CANDIDATE_PORTS: &[u16] = &[8915, 8914, 8913, 8912, 8911, 8910, 3010, 3009, 3008, 4321];

#[tokio::test]
async fn an_app_on_a_usual_port_is_found_without_being_named() {
    let engine_port = free_port().unwrap();
    let port = CANDIDATE_PORTS
        .iter()
        .copied()
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("one of the candidate ports is free");
    let client = Client::with_base_url("found-app", format!("http://127.0.0.1:{engine_port}"));
    let hello = Function::new("hello")
        .trigger_event("app/hello")
        .handler(|_ctx: Context| async { Ok(json!("hi")) });
    let _app = serve_app_on(port, serve(client, vec![hello]))
        .await
        .unwrap();

    let options = EngineOptions {
        port: Some(engine_port),
        ..EngineOptions::default()
    };
    let engine = EngineProcess::start_discovering(env!("CARGO_BIN_EXE_durin"), options)
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/inngest");
    engine
        .wait_for_app(&url, Duration::from_secs(20))
        .await
        .unwrap();

    let event = engine.send("app/hello", json!({})).await.unwrap();
    let run = engine.wait_for_run_end(&event, RUN_TIMEOUT).await.unwrap();
    assert_eq!(run["status"], "Completed");
}
