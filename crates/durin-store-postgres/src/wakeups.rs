//! Wake-ups from the other instances: a `LISTEN` on the channels the triggers of migration 0002 notify
//! (soon-due jobs, changed functions), turned into [`Notify`]s that `Store::wait_for_jobs` and
//! `Store::wait_for_functions` wait on.
//!
//! The listener has a connection of its own (outside the store's pool, so it never takes a connection
//! from the engine's work) and starts on the first wait: a store nobody waits on (a test, a command) opens
//! none. Notifications are hints: those lost while the connection was down are made up for by a wake-up
//! of every waiter after each (re)connection, and by the engine's own periodic looks.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel `durin_announce_job()` notifies.
const JOBS: &str = "durin_jobs";
/// The channel `durin_announce_functions()` notifies.
const FUNCTIONS: &str = "durin_functions";
/// Pause after a failed (re)connection, doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// What the listener wakes.
#[derive(Default)]
struct Signals {
    jobs: Notify,
    functions: Notify,
}

impl Signals {
    fn all(&self) {
        self.jobs.notify_one();
        self.functions.notify_one();
    }
}

pub(crate) struct Wakeups {
    signals: Arc<Signals>,
    connect: PgConnectOptions,
    listener: OnceLock<JoinHandle<()>>,
}

impl Wakeups {
    pub(crate) fn new(connect: PgConnectOptions) -> Self {
        Self {
            signals: Arc::default(),
            connect,
            listener: OnceLock::new(),
        }
    }

    /// Completes at the next announcement of a soon-due job (or at once, for one that came while nobody
    /// waited).
    pub(crate) async fn jobs(&self) {
        self.start();
        self.signals.jobs.notified().await;
    }

    /// Completes at the next announcement of changed functions (or at once, as [`Wakeups::jobs`]).
    pub(crate) async fn functions(&self) {
        self.start();
        self.signals.functions.notified().await;
    }

    fn start(&self) {
        self.listener.get_or_init(|| {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_lazy_with(self.connect.clone());
            tokio::spawn(listen(pool, Arc::clone(&self.signals)))
        });
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get() {
            listener.abort();
        }
    }
}

/// Listens for as long as the store lives, reconnecting after any failure.
async fn listen(pool: PgPool, signals: Arc<Signals>) {
    let mut pause = FIRST_PAUSE;
    loop {
        let error = listen_until_error(&pool, &signals, &mut pause).await;
        if pause == FIRST_PAUSE {
            tracing::warn!(%error, "lost the wake-up channel from other instances; reconnecting");
        } else {
            tracing::debug!(%error, "cannot listen for wake-ups from other instances yet");
        }
        // Whatever was announced meanwhile is unknown: look again.
        signals.all();
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

async fn listen_until_error(pool: &PgPool, signals: &Signals, pause: &mut Duration) -> sqlx::Error {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    if let Err(error) = listener.listen_all([JOBS, FUNCTIONS]).await {
        return error;
    }
    *pause = FIRST_PAUSE;
    // What was announced before the LISTEN took effect was not heard.
    signals.all();
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) if notification.channel() == FUNCTIONS => {
                signals.functions.notify_one();
            }
            Ok(Some(_)) => signals.jobs.notify_one(),
            // The connection dropped and was re-established: announcements in between are lost.
            Ok(None) => signals.all(),
            Err(error) => return error,
        }
    }
}
