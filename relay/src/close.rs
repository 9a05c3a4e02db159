//! Why the relay closes a connection, as the close code and reason every transport sends: a WebSocket's close frame,
//! an event stream's last comment. The codes are Phoenix's (Bandit's) where Phoenix has one, RFC 6455's otherwise.
//!
//! What a session refuses (a malformed frame, a client that keeps sending over its rate limit) closes only that
//! connection, with its code here, counted and logged. After a code the relay sends while the client may still be
//! sending, a WebSocket reads and drops what comes until the client closes (bounded in time, never buffered): a
//! connection closed with bytes unread is reset, and the client never sees the close frame.

use crate::state::Relay;
use ferrocast_pubsub::{CloseReason, SessionError};
use std::sync::atomic::Ordering;

/// Close code for a connection that ended normally: the client closed it, or it closes after a close.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code when the relay shuts down: clients reconnect, to another relay if there is one.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a socket that sent nothing for the idle timeout; Phoenix (Bandit) closes with 1002.
pub const CLOSE_IDLE: u16 = 1002;
/// Close code for a text message that is not UTF-8 (RFC 6455's "inconsistent data").
pub const CLOSE_NOT_UTF8: u16 = 1007;
/// Close code for a client that kept sending over its rate limit after being refused.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a message over the size limit (`--max-message-bytes`).
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a frame that is not a valid frame of the socket's serializer; Phoenix closes with 1011 too.
pub const CLOSE_MALFORMED: u16 = 1011;
/// Close code for a connection whose life ended (the connect hook's `expire_at`, not extended by the refresh
/// hook); Centrifugo's code for an expired connection. The client reconnects and is asked who it is again.
pub const CLOSE_EXPIRED: u16 = 3005;

pub(crate) const NORMAL: CloseReason = CloseReason::fixed(CLOSE_NORMAL, "");
pub(crate) const GOING_AWAY: CloseReason = CloseReason::fixed(CLOSE_GOING_AWAY, "server shutting down");
pub(crate) const IDLE: CloseReason = CloseReason::fixed(CLOSE_IDLE, "idle timeout");
pub(crate) const NOT_UTF8: CloseReason = CloseReason::fixed(CLOSE_NOT_UTF8, "text message not UTF-8");
pub(crate) const TOO_BIG: CloseReason = CloseReason::fixed(CLOSE_TOO_BIG, "message too big");
pub(crate) const MALFORMED: CloseReason = CloseReason::fixed(CLOSE_MALFORMED, "malformed frame");
pub(crate) const EXPIRED: CloseReason = CloseReason::fixed(CLOSE_EXPIRED, "connection expired");
const RATE_LIMITED: CloseReason = CloseReason::fixed(CLOSE_POLICY, "rate limit exceeded");

/// The close for what a session refused, counted in the metrics and logged with the connection.
pub(crate) fn for_session_error(relay: &Relay, conn: u64, error: &SessionError) -> CloseReason {
    match error {
        SessionError::Malformed(error) => {
            relay.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conn, %error, "closing a connection that sent a malformed frame");
            MALFORMED
        }
        SessionError::RateLimited => {
            relay.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conn, "closing a connection that kept sending over its rate limit");
            RATE_LIMITED
        }
    }
}

/// Whether the relay closed a connection while its client may still be sending: refused input, a rate-limit abuse.
pub(crate) fn stops_reading_early(code: u16) -> bool {
    matches!(code, CLOSE_POLICY | CLOSE_TOO_BIG | CLOSE_NOT_UTF8 | CLOSE_MALFORMED)
}
