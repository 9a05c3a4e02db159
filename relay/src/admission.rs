//! Whether a new connection, a socket or an event stream, is let in: not while the relay shuts down, only with a
//! token the relay accepts (see [`crate::auth`]), and not past the connection limit. Every endpoint that opens one
//! asks here, so each refusal has one answer.

use crate::auth::{self, Refused};
use crate::state::Relay;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrocast_pubsub::Identity;
use std::sync::Arc;

/// Why a connection was not let in.
#[derive(Debug)]
pub(crate) enum Denied {
    /// The relay is shutting down: 503, and the client reconnects, to another relay if there is one.
    ShuttingDown,
    /// The token is missing or bad: 401 or 403 with the reason.
    Token(Refused),
    /// `--max-connections` are open: 503.
    Full,
}

/// The identity a new connection (`what`, for the log) opens with, carrying `token`.
pub(crate) fn admit(relay: &Arc<Relay>, token: Option<&str>, what: &str) -> Result<Identity, Denied> {
    if relay.shutting_down() {
        return Err(Denied::ShuttingDown);
    }
    let identity = auth::identify(relay, token, what).map_err(Denied::Token)?;
    if relay.at_connection_limit() {
        tracing::warn!(max = relay.config.max_connections, "refused a {what} at the connection limit");
        return Err(Denied::Full);
    }
    Ok(identity)
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
            Denied::Token(refused) => refused.into_response(),
            Denied::Full => {
                (StatusCode::SERVICE_UNAVAILABLE, "too many connections: try again later\n").into_response()
            }
        }
    }
}
