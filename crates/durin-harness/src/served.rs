//! An axum router served on 127.0.0.1 with an OS-chosen port, stopped when dropped.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{HarnessError, Result};

pub(crate) struct Served {
    pub(crate) address: SocketAddr,
    task: JoinHandle<()>,
}

/// A listener on 127.0.0.1 with an OS-chosen port, bound before the router exists: the engine and the
/// app each need the other's address.
pub(crate) async fn listen() -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(HarnessError::Listen)?;
    let address = listener.local_addr().map_err(HarnessError::Listen)?;
    Ok((listener, address))
}

pub(crate) fn serve(listener: TcpListener, address: SocketAddr, router: Router) -> Served {
    let task = tokio::spawn(async move {
        // Ends only when the listener fails; the harness is gone by then or the test fails on its own.
        let _ = axum::serve(listener, router).await;
    });
    Served { address, task }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}
