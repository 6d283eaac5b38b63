//! Test helpers for Durin's integration tests: a real `durin dev` (or `durin serve`) process on a free port
//! with a temporary store, a fresh PostgreSQL database for instances that share one, test apps served on
//! loopback, and polling helpers that wait for runs to settle.
//!
//! Dev-only: nothing in the product depends on this crate.

mod app;
mod engine;
mod postgres;
mod recorder;

pub use app::{RouterSwitch, ServedApp, serve_app, serve_app_on};
pub use engine::{
    EngineKeys, EngineOptions, EngineProcess, TEST_EVENT_KEY, TEST_SIGNING_KEY, bearer_token,
    free_port,
};
pub use postgres::{DATABASE_URL_VARIABLE, TestDatabase};
pub use recorder::{Recorder, Seen};
