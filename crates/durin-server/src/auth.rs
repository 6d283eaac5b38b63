//! Who may call what, in production (`durin serve`; `durin dev` is open). Default-deny: every path needs
//! the signing key's bearer token (what the SDKs send: `Authorization: Bearer signkey-<env>-<sha256>`,
//! or the bare hash from Python) or a dashboard session cookie, except the few listed as open and the
//! event API, which needs a configured event key in its path.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use durin_engine::{Engine, Security};
use durin_protocol::headers;

use crate::api_error::ApiError;
use crate::session;
use crate::views::SendEventsResponse;

/// What a path needs.
enum Access<'a> {
    /// Health checks, the dashboard's static files, the API description, logging in and out.
    Open,
    /// `/e/{key}`: the key must be a configured event key.
    EventKey(&'a str),
    /// Everything else: the SDKs' calls, the REST API, GraphQL, metrics.
    Bearer,
}

fn access(path: &str) -> Access<'_> {
    if let Some(key) = path.strip_prefix("/e/") {
        return Access::EventKey(key);
    }
    match path {
        "/health" | "/" | "/openapi.json" | session::LOGIN_PATH | session::LOGOUT_PATH => {
            Access::Open
        }
        _ if path.starts_with("/ui/") => Access::Open,
        _ => Access::Bearer,
    }
}

/// The middleware: passes a request that may go on, answers 401 with a JSON body otherwise.
pub(crate) async fn guard(State(engine): State<Engine>, request: Request, next: Next) -> Response {
    let security = &engine.config().security;
    if !security.enforce {
        return next.run(request).await;
    }
    match access(request.uri().path()) {
        Access::Open => next.run(request).await,
        Access::EventKey(key) => {
            if security.accepts_event_key(key) {
                next.run(request).await
            } else {
                event_key_refused()
            }
        }
        Access::Bearer => {
            if authorized(security, request.headers(), engine_now_secs()) {
                next.run(request).await
            } else {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication required: send `Authorization: Bearer <token>` (the SDKs derive it from \
                     INNGEST_SIGNING_KEY; the durin CLI from --signing-key), or log in to the dashboard",
                )
                .into_response()
            }
        }
    }
}

/// Whether the request carries a bearer token derived from the signing key (or its fallback), or a
/// valid dashboard session.
pub(crate) fn authorized(security: &Security, request_headers: &HeaderMap, now_secs: i64) -> bool {
    let keys = security.signing_keys();
    if let Some(token) = bearer(request_headers) {
        // Every key is tried, so the time taken does not say which one matched.
        return keys
            .iter()
            .fold(false, |found, key| key.accepts_bearer(token) | found);
    }
    session::valid_cookie(&keys, request_headers, now_secs)
}

fn bearer(request_headers: &HeaderMap) -> Option<&str> {
    let value = request_headers
        .get(header::AUTHORIZATION)
        .or_else(|| request_headers.get(headers::AUTHORIZATION))?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|token| !token.is_empty())
}

/// The event API's own error shape (`{"ids": [], "status": 401, "error": ...}`), without the key.
fn event_key_refused() -> Response {
    let body = SendEventsResponse {
        ids: Vec::new(),
        status: StatusCode::UNAUTHORIZED.as_u16(),
        error: Some(
            "event key not found: send events to /e/{key} with a key given to the engine with --event-key \
             (INNGEST_EVENT_KEY)"
                .to_owned(),
        ),
    };
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

pub(crate) fn engine_now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use durin_engine::EventKey;
    use durin_protocol::SigningKey;

    fn security() -> Security {
        Security {
            signing_key: SigningKey::parse(&format!("signkey-prod-{}", "12".repeat(32))).ok(),
            signing_key_fallback: SigningKey::parse(&format!("signkey-prod-{}", "34".repeat(32)))
                .ok(),
            event_keys: vec![EventKey::parse("evkey").expect("valid")],
            enforce: true,
        }
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        map
    }

    #[test]
    fn paths_need_what_they_should() {
        assert!(matches!(access("/e/abc"), Access::EventKey("abc")));
        for open in ["/health", "/", "/ui/app.js", "/openapi.json", "/auth/login"] {
            assert!(matches!(access(open), Access::Open), "{open}");
        }
        for closed in [
            "/fn/register",
            "/v1/runs",
            "/v0/gql",
            "/metrics",
            "/v1/checkpoint/r/async",
            "/anything-new",
            "/E/abc",
        ] {
            assert!(matches!(access(closed), Access::Bearer), "{closed}");
        }
    }

    #[test]
    fn bearer_of_either_key_is_accepted_and_nothing_else() {
        let security = security();
        let primary = security.signing_key.clone().expect("key");
        let fallback = security.signing_key_fallback.clone().expect("key");
        let now = 1_700_000_000;
        assert!(authorized(
            &security,
            &with_auth(&format!("Bearer {}", primary.bearer())),
            now
        ));
        assert!(authorized(
            &security,
            &with_auth(&format!("bearer {}", fallback.bearer())),
            now
        ));
        assert!(!authorized(
            &security,
            &with_auth(&format!("Bearer {}", primary.expose())),
            now
        ));
        assert!(!authorized(&security, &with_auth("Bearer undefined"), now));
        assert!(!authorized(&security, &with_auth("Basic abc"), now));
        assert!(!authorized(&security, &HeaderMap::new(), now));
        assert!(security.accepts_event_key("evkey"));
        assert!(!security.accepts_event_key("evkey2"));
        assert!(!security.accepts_event_key(""));
    }
}
