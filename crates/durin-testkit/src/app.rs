use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::Request;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// An axum app served on 127.0.0.1 with an OS-chosen port, stopped when dropped.
pub struct ServedApp {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl ServedApp {
    /// The serve URL of an SDK mounted at `/api/inngest`.
    pub fn serve_url(&self) -> String {
        format!("http://{}/api/inngest", self.address)
    }
}

impl Drop for ServedApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve_app(router: axum::Router) -> anyhow::Result<ServedApp> {
    serve_app_on(0, router).await
}

/// Serves `router` on `127.0.0.1:port` (0: an OS-chosen port), e.g. on a port an engine was told about
/// before the app existed.
pub async fn serve_app_on(port: u16, router: axum::Router) -> anyhow::Result<ServedApp> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(ServedApp { address, task })
}

/// A router whose every request goes to a router that can be swapped while it is served: an app that
/// changes its function list between two syncs, without changing its URL.
#[derive(Clone)]
pub struct RouterSwitch {
    current: Arc<RwLock<Router>>,
}

impl RouterSwitch {
    pub fn new(router: Router) -> Self {
        Self {
            current: Arc::new(RwLock::new(router)),
        }
    }

    /// From now on, requests go to `router`.
    pub fn set(&self, router: Router) {
        match self.current.write() {
            Ok(mut guard) => *guard = router,
            Err(poisoned) => *poisoned.into_inner() = router,
        }
    }

    /// The router to serve: it forwards each request to the current router.
    pub fn router(&self) -> Router {
        let current = Arc::clone(&self.current);
        Router::new().fallback(move |request: Request| {
            let router = match current.read() {
                Ok(guard) => guard.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            };
            async move {
                match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        })
    }
}
