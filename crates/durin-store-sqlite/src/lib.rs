//! Durin's embedded default store: one SQLite file in WAL mode, `synchronous=FULL`.
//!
//! Writes go through one writer thread that commits whatever has queued up in a single transaction
//! (group commit): concurrent runs share one fsync instead of paying one each. Each write runs inside its own
//! savepoint, so one failing write does not undo its neighbours. Reads use a small pool of connections and
//! never wait for the writer (WAL).

mod actions;
mod codec;
mod connection;
mod intake;
mod pauses;
mod policies;
mod queue;
mod reads;
mod store;
mod writer;

pub use store::SqliteStore;
