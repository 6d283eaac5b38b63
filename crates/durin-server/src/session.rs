//! Dashboard sessions in production: the operator logs in once with the signing key (or the bearer token
//! derived from it) and gets an `HttpOnly`, `SameSite=Strict` cookie that the dashboard's API calls then
//! carry. The cookie is `<expiry>.<HMAC of the expiry under the signing key>`: any instance holding the
//! key can check it, nothing is stored, and rotating the key ends every session.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use durin_engine::Engine;
use durin_protocol::SigningKey;
use durin_protocol::signing::secrets_equal;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api_error::{ApiError, ErrorBody};
use crate::auth::engine_now_secs;

pub(crate) const LOGIN_PATH: &str = "/auth/login";
pub(crate) const LOGOUT_PATH: &str = "/auth/logout";
const COOKIE: &str = "durin_session";
/// How long a dashboard login lasts.
const SESSION_SECS: i64 = 12 * 60 * 60;
/// Separates session MACs from every other use of the key.
const CONTEXT: &[u8] = b"durin-dashboard-session:";

/// What the login form sends.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LoginBody {
    /// The signing key (`signkey-<env>-<hex>`) or the bearer token derived from it.
    signing_key: String,
}

/// Log in to the dashboard
///
/// Checks the signing key and answers with a session cookie (`HttpOnly`, `SameSite=Strict`, 12 hours) that
/// authenticates the dashboard's API calls. Without keys (`durin dev`) no login is needed.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "operations",
    request_body(content = LoginBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Logged in: the session cookie is set."),
        (status = 400, description = "The body is not `{\"signing_key\": ...}`.", body = ErrorBody),
        (status = 401, description = "The key is not this engine's signing key.", body = ErrorBody),
    ),
)]
pub(crate) async fn login(
    State(engine): State<Engine>,
    request_headers: HeaderMap,
    payload: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = payload.map_err(|rejection| {
        ApiError::bad_request(format!("invalid login body: {}", rejection.body_text()))
    })?;
    let security = &engine.config().security;
    if !security.enforce {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let keys = security.signing_keys();
    // The key itself, or the token derived from it (which has the key's shape too); never compared as
    // plain text.
    let given = body.signing_key.trim();
    let derived = SigningKey::parse(given).map(|key| key.bearer()).ok();
    let tokens = [Some(given.to_owned()), derived];
    let matches = keys.iter().fold(false, |found, key| {
        tokens
            .iter()
            .flatten()
            .fold(found, |found, token| key.accepts_bearer(token) | found)
    });
    let Some(current) = keys.first().filter(|_| matches) else {
        tracing::warn!("dashboard login refused: wrong signing key");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "that is not this engine's signing key",
        ));
    };
    let expiry = engine_now_secs() + SESSION_SECS;
    let secure = forwarded_https(&request_headers);
    let cookie = format!(
        "{COOKIE}={}; Path=/; Max-Age={SESSION_SECS}; HttpOnly; SameSite=Strict{}",
        session_value(current, expiry),
        if secure { "; Secure" } else { "" }
    );
    Ok(with_cookie(&cookie))
}

/// Log out of the dashboard
///
/// Clears the session cookie.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "operations",
    responses((status = 204, description = "The session cookie is cleared.")),
)]
pub(crate) async fn logout() -> Response {
    with_cookie(&format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    ))
}

fn with_cookie(cookie: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Behind a TLS-terminating proxy the cookie is marked `Secure`.
fn forwarded_https(request_headers: &HeaderMap) -> bool {
    request_headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn session_value(key: &SigningKey, expiry: i64) -> String {
    let expiry = expiry.to_string();
    format!(
        "{expiry}.{}",
        hex::encode(key.mac(&[CONTEXT, expiry.as_bytes()]))
    )
}

/// Whether the request carries an unexpired session cookie made with one of `keys`.
pub(crate) fn valid_cookie(
    keys: &[&SigningKey],
    request_headers: &HeaderMap,
    now_secs: i64,
) -> bool {
    let Some(value) = cookie(request_headers) else {
        return false;
    };
    let Some(expiry) = value
        .split_once('.')
        .and_then(|(expiry, _)| expiry.parse::<i64>().ok())
    else {
        return false;
    };
    if expiry <= now_secs {
        return false;
    }
    keys.iter().fold(false, |found, key| {
        secrets_equal(session_value(key, expiry).as_bytes(), value.as_bytes()) | found
    })
}

fn cookie(request_headers: &HeaderMap) -> Option<&str> {
    request_headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: &str) -> SigningKey {
        SigningKey::parse(&format!("signkey-prod-{}", byte.repeat(32))).expect("key")
    }

    fn request_with(cookie_value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={cookie_value}")).expect("header"),
        );
        map
    }

    #[test]
    fn a_session_is_valid_until_it_expires_and_only_under_its_key() {
        let (a, b) = (key("ab"), key("cd"));
        let value = session_value(&a, 2000);
        assert!(valid_cookie(&[&a], &request_with(&value), 1999));
        assert!(valid_cookie(&[&b, &a], &request_with(&value), 1999));
        assert!(!valid_cookie(&[&a], &request_with(&value), 2000), "expired");
        assert!(
            !valid_cookie(&[&b], &request_with(&value), 1000),
            "other key"
        );
        let extended = value.replacen("2000", "9000", 1);
        assert!(
            !valid_cookie(&[&a], &request_with(&extended), 1000),
            "forged expiry"
        );
        assert!(!valid_cookie(&[&a], &HeaderMap::new(), 1000));
    }
}
