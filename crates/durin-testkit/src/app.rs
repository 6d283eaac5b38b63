use std::net::SocketAddr;

use tokio::task::JoinHandle;

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(ServedApp { address, task })
}
