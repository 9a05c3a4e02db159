//! Whether a new connection, a socket or an event stream, is let in: not while the relay shuts down, only with a
//! token the relay accepts (see [`crate::auth`]) or, for a socket, the connect hook's yes, and not past the
//! connection limit. Every endpoint that opens one asks here, so each refusal has one answer.
//!
//! With a connect hook (`--proxy-connect`) a socket is let in by its token if it carries one the relay accepts, and
//! otherwise by the backend: its `user` becomes the identity, allowed the topics the join hooks decide and those
//! the answer lists, until its `expire_at` (see [`crate::lifetime`]).

use crate::auth::{self, Refused};
use crate::driver::Sessioned;
use crate::lifetime::Lifetime;
use crate::state::Relay;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrocast_hooks::{Connect, Connected};
use ferrocast_pubsub::{Caller, Claims, Identity, Session};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// Why a connection was not let in.
#[derive(Debug)]
pub(crate) enum Denied {
    /// The relay is shutting down: 503, and the client reconnects, to another relay if there is one.
    ShuttingDown,
    /// The token is missing or bad: 401 or 403 with the reason.
    Token(Refused),
    /// `--max-connections` are open: 503.
    Full,
    /// The connect hook refused (403 with its message), or gave no usable answer (503, 502 for a bad one).
    Backend(StatusCode, String),
    /// The connect hook asked to close the connection at once, with this code and reason.
    Disconnect(u16, String),
}

/// A socket let in: who it is, what the backend hooks are told of it, and until when it may stay (Unix seconds).
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) identity: Identity,
    pub(crate) caller: Caller,
    pub(crate) expires_at: Option<u64>,
}

/// The identity a new connection (`what`, for the log) opens with, carrying `token`.
pub(crate) fn admit(relay: &Arc<Relay>, token: Option<&str>, what: &str) -> Result<Identity, Denied> {
    if relay.shutting_down() {
        return Err(Denied::ShuttingDown);
    }
    let identity = auth::identify(relay, token, what).map_err(Denied::Token)?;
    room_for_one_more(relay)?;
    Ok(identity)
}

/// [`admit`] for a socket (`transport` `websocket` or `sse`, speaking `protocol`), asking the connect hook when
/// there is one and the token does not let it in.
pub(crate) async fn admit_socket(
    relay: &Arc<Relay>,
    token: Option<&str>,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    transport: &'static str,
    protocol: &'static str,
) -> Result<Admitted, Denied> {
    let what = if transport == "websocket" { "socket" } else { "event-stream socket" };
    let Some(hooks) = relay.config.hooks.as_ref() else {
        let identity = admit(relay, token, what)?;
        return Ok(Admitted {
            identity,
            caller: Caller { transport, protocol, ..Caller::default() },
            expires_at: None,
        });
    };
    let forwarded =
        hooks.forwarded(headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))));
    let mut caller = Caller { client: client_id(), transport, protocol, headers: forwarded, info: None };
    let refreshes = hooks.settings().refresh.is_some();
    let by_token = |identity: Identity| {
        // A token's expiry ends the connection only where a refresh hook can extend it (issue: live refresh).
        let expires_at = match &identity {
            Identity::User(claims) if refreshes => Some(claims.exp),
            _ => None,
        };
        (identity, expires_at)
    };
    if hooks.settings().connect.is_none() {
        let (identity, expires_at) = by_token(admit(relay, token, what)?);
        return Ok(Admitted { identity, caller, expires_at });
    }
    if relay.shutting_down() {
        return Err(Denied::ShuttingDown);
    }
    let verified = relay.config.tokens.as_ref().zip(token).and_then(|(tokens, token)| tokens.verify(token).ok());
    if let Some(claims) = verified {
        room_for_one_more(relay)?;
        let (identity, expires_at) = by_token(Identity::User(Arc::new(claims)));
        return Ok(Admitted { identity, caller, expires_at });
    }
    let asked = Instant::now();
    let params: HashMap<String, String> =
        params.iter().filter(|(name, _)| !is_protocol_param(name)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let decided = hooks.connect(Connect { caller: &caller, params: &params }).await;
    let (identity, expires_at) = match decided {
        Some(Connected::Accepted { user, expire_at, info, topics }) => {
            caller.info = info;
            let topics = hooks.join_patterns().map(str::to_owned).chain(topics).collect();
            let claims = Claims {
                sub: user,
                exp: expire_at.unwrap_or(u64::MAX),
                topics,
                zones: BTreeMap::new(),
                publish: false,
            };
            (Identity::User(Arc::new(claims)), expire_at)
        }
        Some(Connected::Refused { message }) => {
            tracing::info!(%message, "the connect hook refused a {what}");
            return Err(Denied::Backend(StatusCode::FORBIDDEN, message));
        }
        Some(Connected::Disconnect { code, reason }) => return Err(Denied::Disconnect(code, reason)),
        Some(Connected::Failed { reason, detail }) => {
            tracing::warn!(reason, %detail, took_ms = asked.elapsed().as_millis() as u64, "no usable connect hook answer");
            let status =
                if reason == "backend_bad_answer" { StatusCode::BAD_GATEWAY } else { StatusCode::SERVICE_UNAVAILABLE };
            return Err(Denied::Backend(status, reason.to_owned()));
        }
        None => return Err(Denied::Backend(StatusCode::SERVICE_UNAVAILABLE, "no connect hook".to_owned())),
    };
    room_for_one_more(relay)?;
    Ok(Admitted { identity, caller, expires_at })
}

impl Admitted {
    /// The session of the connection let in, and the end of its life, for the connection's driver.
    pub(crate) fn session(
        self,
        relay: &Relay,
        params: HashMap<String, String>,
        vsn: ferrocast_protocol::Vsn,
        outbox: Arc<ferrocast_pubsub::Outbox>,
    ) -> Sessioned {
        let Admitted { identity, caller, expires_at } = self;
        let lifetime = expires_at.map(|expires_at| {
            let hooks = relay.config.hooks.as_ref().filter(|hooks| hooks.settings().refresh.is_some());
            let user = identity.user_id().unwrap_or_default().to_owned();
            Lifetime { expires_at, refresh: hooks.map(|hooks| (Arc::clone(hooks), caller.clone(), user)) }
        });
        let session = Session::new(relay.backend.clone(), params, vsn, outbox, identity).with_caller(caller);
        Sessioned { session, lifetime }
    }
}

fn room_for_one_more(relay: &Relay) -> Result<(), Denied> {
    if relay.at_connection_limit() {
        tracing::warn!(max = relay.config.max_connections, "refused a connection at the connection limit");
        return Err(Denied::Full);
    }
    Ok(())
}

/// The protocol's own connect params, which are not the application's and are not passed to its backend.
fn is_protocol_param(name: &str) -> bool {
    matches!(name, "vsn" | ferrocast_protocol::SOCKET_ID_PARAM | ferrocast_protocol::BATCH_PARAM)
}

/// A connection's id for its backend: 128 random bits in hex, unique without a counter shared by relays.
fn client_id() -> String {
    format!("{:016x}{:016x}", ferrocast_hooks::random_u64(), ferrocast_hooks::random_u64())
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
            Denied::Token(refused) => refused.into_response(),
            Denied::Full => {
                (StatusCode::SERVICE_UNAVAILABLE, "too many connections: try again later\n").into_response()
            }
            Denied::Backend(status, message) => (status, format!("{message}\n")).into_response(),
            Denied::Disconnect(code, reason) => {
                (StatusCode::FORBIDDEN, format!("disconnected: {code} {reason}\n")).into_response()
            }
        }
    }
}
