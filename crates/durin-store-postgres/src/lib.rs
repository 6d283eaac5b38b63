//! Durin's store on PostgreSQL, for several Durin instances sharing one database. The database is the only
//! coordination point: no instance talks to another.
//!
//! Semantics are the SQLite backend's, checked by the same conformance suite. What several writers add:
//! - **Claims** lease jobs in one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)`: no job is leased
//!   by two instances; a lease carries its expiry and its instance, and an expired lease is claimed again
//!   as an interrupted attempt.
//! - **Run locks**: every write that changes a run's jobs, steps or pauses locks the run's row first (in run
//!   id order), so that decisions SQLite's single writer made safely ("the last parallel branch enqueues the
//!   discovery") hold when two instances finish branches of one run at once.
//! - **Idempotency** across instances comes from unique constraints and `ON CONFLICT`, never from a read
//!   followed by a write.
//! - A transaction PostgreSQL aborts to break a deadlock is run again from the start.
//! - `expire_all_leases` expires only the leases of this store's instance id (see
//!   [`PostgresStore::instance_id`]); another instance's leases may be in flight.
//! - Migrations are embedded and applied at connect under an advisory lock.
//! - **Wake-ups**: triggers announce jobs due soon and changed functions on `LISTEN`/`NOTIFY` channels,
//!   so that every instance hears at once of a job another instance enqueued (`Store::wait_for_jobs`)
//!   and of an app synced through another instance (`Store::wait_for_functions`).
//!
//! Driver: `sqlx` (PostgreSQL, tokio), without its query macros or offline data: a maintained async
//! driver with a connection pool, per-connection prepared-statement caching, URL parsing (`sslmode`, ...)
//! and TLS (rustls) in one crate. `tokio-postgres` with `deadpool-postgres` would serve as well, but needs
//! a third crate for TLS.
//!
//! **Architecture invariant:** no `sqlx` type leaves this crate; every driver error becomes a
//! `StoreError`. No transaction outlives the store method that opened it.

mod actions;
mod codec;
mod connection;
mod error;
mod intake;
mod locks;
mod pauses;
mod policies;
mod queue;
mod reads;
mod store;
mod transaction;
mod wakeups;

pub use store::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, InvalidUrl, PostgresOptions, PostgresStore,
};
