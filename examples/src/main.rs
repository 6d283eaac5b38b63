//! `retries-doc-app`: serves the retry documentation's functions on `127.0.0.1:$PORT` (default 3000) at
//! `/api/inngest`, and registers them with the engine (`INNGEST_DEV` / `INNGEST_BASE_URL` / `DURIN_URL`,
//! default `http://127.0.0.1:8288`).

use anyhow::Context as _;
use durin_sdk::{Client, SERVE_PATH, serve};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .with_context(|| format!("PORT={port:?} is not a port"))?,
        Err(_) => 3000,
    };
    let client = Client::new(durin_examples::APP_ID);
    let router = serve(client.clone(), durin_examples::functions());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let serve_url = format!("http://{}{SERVE_PATH}", listener.local_addr()?);
    tracing::info!(url = %serve_url, engine = client.base_url(), "retries-doc-app listening");

    // Register at once; the engine can also sync the app later with a PUT to the serve URL.
    tokio::spawn(async move {
        match client.sync(&serve_url).await {
            Ok(()) => tracing::info!("functions registered with the engine"),
            Err(error) => tracing::warn!(%error, "could not register with the engine yet"),
        }
    });

    axum::serve(listener, router).await?;
    Ok(())
}
