//! Test helpers for Durin's integration tests: a real `durin dev` process on a free port with a temporary
//! store, test apps served on loopback, and polling helpers that wait for runs to settle.
//!
//! Dev-only: nothing in the product depends on this crate.

mod app;
mod engine;
mod recorder;

pub use app::{RouterSwitch, ServedApp, serve_app, serve_app_on};
pub use engine::{EngineOptions, EngineProcess, free_port};
pub use recorder::{Recorder, Seen};
