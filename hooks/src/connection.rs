//! The hooks around a connection's life: `connect`, asked whether a client may connect and who it is, and
//! `refresh`, asked before the connection's `expire_at` to extend it.

use crate::Hooks;
use crate::answer::{self, Answer, ConnectResult, RefreshResult};
use crate::bodies::{self, ConnectBody, RefreshBody};
use crate::metrics::Hook;
use ferrocast_pubsub::Caller;
use serde_json::Value;
use std::collections::HashMap;

/// A client asking to connect.
#[derive(Debug)]
pub struct Connect<'a> {
    /// The connection, as the backend will know it.
    pub caller: &'a Caller,
    /// Its connect params (the socket URL's query, less the protocol's own).
    pub params: &'a HashMap<String, String>,
}

/// The connect hook's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Connected {
    /// Let in as `user`, until `expire_at` (Unix seconds) if given, allowed the join hooks' topics and `topics`.
    Accepted {
        /// The identity, as a token's `sub`.
        user: String,
        /// When the connection ends unless refreshed, as a token's `exp`.
        expire_at: Option<u64>,
        /// What the backend wants back with every later call.
        info: Option<Value>,
        /// Topic patterns the connection may join besides the join hooks'.
        topics: Vec<String>,
    },
    /// Refused: HTTP 403 with the message.
    Refused {
        /// The backend's message.
        message: String,
    },
    /// Let in and closed at once with this code and reason.
    Disconnect {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The backend gave no usable answer: the reason (`backend_timeout`, `backend_unavailable`,
    /// `backend_bad_answer`) and what went wrong.
    Failed {
        /// What the client is told.
        reason: &'static str,
        /// What the log says.
        detail: String,
    },
}

/// Why the refresh hook did not extend a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotExtended {
    /// Refused, or no usable answer: the connection closes at its end. Says why, for the log.
    Failed(String),
    /// The backend asked to close the connection now, with this code and reason.
    Disconnect {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

impl Hooks {
    /// Asks the connect hook; `None` when there is none.
    pub async fn connect(&self, connect: Connect<'_>) -> Option<Connected> {
        let endpoint = self.endpoint(self.settings.connect.as_deref()?);
        let Connect { caller, params } = connect;
        let body = bodies::bytes(&ConnectBody::new(caller, params));
        let decided = match self.call(Hook::Connect, &endpoint, body, &caller.headers).await {
            Ok(Answer::Result(result)) => match answer::result::<ConnectResult>(result) {
                Ok(ConnectResult { user, expire_at, info, topics }) => {
                    Connected::Accepted { user, expire_at, info, topics }
                }
                Err(detail) => Connected::Failed { reason: "backend_bad_answer", detail },
            },
            Ok(Answer::Error { message, .. }) => Connected::Refused { message },
            Ok(Answer::Disconnect { code, reason }) => Connected::Disconnect { code, reason },
            Err(failure) => Connected::Failed { reason: failure.reason(), detail: format!("{failure:?}") },
        };
        Some(decided)
    }

    /// Asks the refresh hook to extend `caller`'s connection of `user`: the new `expire_at`, or why not.
    pub async fn refresh(&self, caller: &Caller, user: &str) -> Result<u64, NotExtended> {
        let url = self.settings.refresh.as_deref().ok_or_else(|| NotExtended::Failed("no refresh hook".to_owned()))?;
        let body = bodies::bytes(&RefreshBody::new(caller, user));
        match self.call(Hook::Refresh, &self.endpoint(url), body, &caller.headers).await {
            Ok(Answer::Result(result)) => {
                answer::result::<RefreshResult>(result).map(|result| result.expire_at).map_err(NotExtended::Failed)
            }
            Ok(Answer::Error { message, .. }) => Err(NotExtended::Failed(format!("refused: {message}"))),
            Ok(Answer::Disconnect { code, reason }) => Err(NotExtended::Disconnect { code, reason }),
            Err(failure) => Err(NotExtended::Failed(failure.reason().to_owned())),
        }
    }
}
