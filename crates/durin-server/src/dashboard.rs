//! The web dashboard: a page at `/` and its assets at `/ui/{file}`, all embedded in the binary (plain
//! HTML, CSS and JavaScript in `crates/durin-server/ui/`, no build step). The page reads and steers the
//! engine through the `/v1` REST API only, so it needs nothing of its own on the server.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use durin_engine::Engine;

/// One embedded file: its bytes and its `Content-Type`.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

const INDEX: Asset = Asset {
    body: include_bytes!("../ui/index.html"),
    content_type: "text/html; charset=utf-8",
};

/// The files under `/ui/`, by name.
fn asset(name: &str) -> Option<Asset> {
    Some(match name {
        "app.js" => Asset {
            body: include_bytes!("../ui/app.js"),
            content_type: "text/javascript; charset=utf-8",
        },
        "style.css" => Asset {
            body: include_bytes!("../ui/style.css"),
            content_type: "text/css; charset=utf-8",
        },
        "favicon.svg" => Asset {
            body: include_bytes!("../ui/favicon.svg"),
            content_type: "image/svg+xml",
        },
        _ => return None,
    })
}

fn respond(asset: Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            // The assets change with the binary; a browser must not keep an old copy across upgrades.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

async fn index() -> Response {
    respond(INDEX)
}

async fn ui_file(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some(asset) => respond(asset),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no dashboard file named {name:?}"),
        )
            .into_response(),
    }
}

/// `/` (the dashboard page) and `/ui/{file}` (its script, style sheet and icon).
pub(crate) fn routes() -> Router<Engine> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{file}", get(ui_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_names_is_served() {
        let page = std::str::from_utf8(INDEX.body).expect("index.html is UTF-8");
        for name in ["app.js", "style.css", "favicon.svg"] {
            assert!(
                page.contains(&format!("/ui/{name}")),
                "index.html names {name}"
            );
            let file = asset(name).expect("embedded");
            assert!(!file.body.is_empty(), "{name} is not empty");
        }
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("missing.js").is_none());
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        // Everything is embedded: no CDN, no web font, no remote script.
        let page = std::str::from_utf8(INDEX.body).expect("UTF-8");
        for pattern in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!page.contains(pattern), "index.html loads {pattern}...");
        }
        let script = std::str::from_utf8(include_bytes!("../ui/app.js")).expect("UTF-8");
        let style = std::str::from_utf8(include_bytes!("../ui/style.css")).expect("UTF-8");
        assert!(!script.contains("import ") && !script.contains("import("));
        assert!(!style.contains("url(") && !style.contains("@import"));
    }
}
