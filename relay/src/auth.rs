//! Who a request is: its token, found where each client puts it, checked against the relay's key.
//!
//! - WebSocket and the event-stream socket: the `token` connect param, or phoenix.js's `authToken`, sent as the
//!   subprotocol `base64url.bearer.phx.<token in base64url>` beside `phoenix`;
//! - `GET /sse` and the HTTP API: `Authorization: Bearer <token>` (or a `token` query param on `/sse`, for a
//!   browser's `EventSource`, which cannot set headers).
//!
//! A refused token gets 403 with the reason in the body (401 when there is none), and the same reason in the log.
//! With no key configured (dev mode) every request is anonymous.

use crate::state::Relay;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use ferrocast_pubsub::{Identity, TokenError};
use std::collections::HashMap;
use std::sync::Arc;

/// The connect param a token travels in.
pub(crate) const TOKEN_PARAM: &str = "token";

/// The prefix of the subprotocol phoenix.js sends its `authToken` in.
const AUTH_TOKEN_PROTOCOL: &str = "base64url.bearer.phx.";

/// A socket's token: the `token` connect param, or phoenix.js's `authToken` subprotocol.
pub(crate) fn socket_token(params: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    if let Some(token) = params.get(TOKEN_PARAM) {
        return Some(token.clone());
    }
    let offered = headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).into_iter().filter_map(|value| value.to_str().ok());
    offered.flat_map(|value| value.split(',')).find_map(|protocol| {
        let encoded = protocol.trim().strip_prefix(AUTH_TOKEN_PROTOCOL)?;
        // phoenix.js 1.8 encodes with `btoa` (the standard alphabet, `+` and `/`) less its padding, whatever the
        // prefix says; our client with the URL-safe one. Both are read.
        let url_safe: String = encoded.trim_end_matches('=').replace('+', "-").replace('/', "_");
        let bytes = BASE64_URL_SAFE_NO_PAD.decode(url_safe).ok()?;
        String::from_utf8(bytes).ok()
    })
}

/// An `Authorization: Bearer` token.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The identity behind `token`, or why it is refused.
pub(crate) fn identify(relay: &Arc<Relay>, token: Option<&str>, what: &str) -> Result<Identity, Refused> {
    let Some(verifier) = &relay.config.tokens else { return Ok(Identity::Anonymous) };
    match verifier.verify(token.unwrap_or_default()) {
        Ok(claims) => Ok(Identity::User(Arc::new(claims))),
        Err(error) => {
            relay.metrics.refused_tokens.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(%error, "refused a {what}");
            Err(Refused(error))
        }
    }
}

/// A refused token, answered with 401 when there was none and 403 with the reason for a bad one: the client
/// should get a new token, not retry this one.
#[derive(Debug)]
pub(crate) struct Refused(TokenError);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let Refused(error) = self;
        match error {
            TokenError::Missing => {
                (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], format!("{error}\n")).into_response()
            }
            _ => (StatusCode::FORBIDDEN, format!("{error}\n")).into_response(),
        }
    }
}

/// 403 for an identity that may not do `what`.
pub(crate) fn forbidden(what: &str) -> Response {
    (StatusCode::FORBIDDEN, format!("the token does not allow {what}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_param_wins_and_the_subprotocol_is_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = BASE64_URL_SAFE_NO_PAD.encode("a.b.c");
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            format!("phoenix, {AUTH_TOKEN_PROTOCOL}{encoded}").parse().unwrap(),
        );
        assert_eq!(socket_token(&HashMap::new(), &headers).as_deref(), Some("a.b.c"));
        let params = HashMap::from([(TOKEN_PARAM.to_owned(), "x.y.z".to_owned())]);
        assert_eq!(socket_token(&params, &headers).as_deref(), Some("x.y.z"));
        assert_eq!(socket_token(&HashMap::new(), &HeaderMap::new()), None);
        // `btoa`'s alphabet, as phoenix.js sends it: "??>" is "Pz8+" in standard base64.
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, format!("phoenix, {AUTH_TOKEN_PROTOCOL}Pz8+").parse().unwrap());
        assert_eq!(socket_token(&HashMap::new(), &headers).as_deref(), Some("??>"));
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_scheme_case() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }
}
