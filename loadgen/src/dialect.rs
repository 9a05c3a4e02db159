//! What the scenarios need from a server's protocol, whichever it speaks: join a topic, publish, echo, keep the
//! connection alive, and classify what arrives. Each dialect's wire forms live in its own module ([`phoenix`],
//! [`socketio`]); this file only maps them onto one vocabulary, [`Incoming`].
//!
//! Every connection numbers what it sends from 1 (the join), so a reply is matched by that number: a Phoenix ref
//! or a Socket.IO acknowledgement id.

use crate::{phoenix, socketio};

/// The protocol a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Dialect {
    /// Phoenix Channels V2 JSON (the relay, minimal-server, Phoenix itself).
    Phoenix,
    /// Socket.IO v5 over Engine.IO v4, WebSocket transport only.
    Socketio,
}

/// The id of a connection's join; its other messages count up from here.
pub(crate) const JOIN_ID: u64 = 1;

/// A received message (or one frame of a batch), classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// A `new_msg` broadcast, with its payload.
    Broadcast(&'a str),
    /// The answer to what was sent with `id`.
    Reply {
        /// The id it answers.
        id: u64,
        /// Whether the server accepted.
        ok: bool,
        /// The reply's response (Phoenix) or first argument (Socket.IO).
        response: Option<&'a str>,
    },
    /// Any other server message, such as presence: its event name and payload.
    Push {
        event: &'a str,
        /// The payload, empty when there is none.
        payload: &'a str,
    },
    /// The server pings: answer with [`Dialect::pong`].
    Ping,
    /// The server closes the channel or the session.
    Closing,
    /// Anything the generator has no use for.
    Other,
}

impl Dialect {
    /// The URL path servers of this dialect usually listen on.
    pub(crate) fn default_path(self) -> &'static str {
        match self {
            Dialect::Phoenix => "/socket/websocket",
            Dialect::Socketio => "/socket.io/",
        }
    }

    /// The connect query; `batch` asks a Ferrocast relay for batch messages.
    pub(crate) fn query(self, batch: bool) -> String {
        match self {
            Dialect::Phoenix if batch => format!("vsn=2.0.0&{}=1", ferrocast_protocol::BATCH_PARAM),
            Dialect::Phoenix => "vsn=2.0.0".to_owned(),
            Dialect::Socketio => socketio::QUERY.to_owned(),
        }
    }

    /// Joins `topic`, as the member `presence_user` when presence is wanted (Phoenix only; Socket.IO rooms have
    /// no presence). Sent with [`JOIN_ID`].
    pub(crate) fn join(self, topic: &str, presence_user: Option<&str>) -> String {
        match self {
            Dialect::Phoenix => {
                let params = match presence_user {
                    Some(user) => serde_json::json!({ "user_id": user }).to_string(),
                    None => r#"{"no_presence":true}"#.to_owned(),
                };
                phoenix::join(topic, &params)
            }
            Dialect::Socketio => socketio::join(topic, JOIN_ID),
        }
    }

    /// Publishes `payload` to every member of `topic`.
    pub(crate) fn publish(self, topic: &str, payload: String, id: u64) -> String {
        match self {
            Dialect::Phoenix => phoenix::push(topic, "new_msg", payload, &id.to_string()),
            Dialect::Socketio => socketio::publish(topic, &payload, id),
        }
    }

    /// Asks for `payload` back (Phoenix: `ping` on the joined `topic`; Socket.IO: `echo`).
    pub(crate) fn echo(self, topic: &str, payload: String, id: u64) -> String {
        match self {
            Dialect::Phoenix => phoenix::push(topic, "ping", payload, &id.to_string()),
            Dialect::Socketio => socketio::echo(&payload, id),
        }
    }

    /// The keep-alive a client sends by itself, if the dialect has one (Socket.IO's server pings instead).
    pub(crate) fn heartbeat(self, id: u64) -> Option<String> {
        match self {
            Dialect::Phoenix => Some(phoenix::heartbeat(&id.to_string())),
            Dialect::Socketio => None,
        }
    }

    /// The answer to [`Incoming::Ping`].
    pub(crate) fn pong(self) -> &'static str {
        socketio::PONG
    }

    /// Calls `each` with every message (or frame of a batch) in `text`.
    pub(crate) fn for_each<'a>(self, text: &'a str, mut each: impl FnMut(Incoming<'a>)) {
        match self {
            Dialect::Phoenix => phoenix::for_each_frame(text, |frame| each(classify_phoenix(frame))),
            Dialect::Socketio => each(classify_socketio(text)),
        }
    }
}

fn classify_phoenix(frame: &str) -> Incoming<'_> {
    let Some(header) = phoenix::parse(frame) else { return Incoming::Other };
    match header.event {
        "new_msg" => Incoming::Broadcast(header.payload),
        "phx_reply" => match header.r#ref.and_then(|id| id.parse().ok()) {
            Some(id) => Incoming::Reply {
                id,
                ok: phoenix::reply_is_ok(header.payload),
                response: phoenix::reply_response(header.payload),
            },
            None => Incoming::Other,
        },
        "phx_close" | "phx_error" => Incoming::Closing,
        event => Incoming::Push { event, payload: header.payload },
    }
}

fn classify_socketio(message: &str) -> Incoming<'_> {
    match socketio::parse(message) {
        socketio::Packet::Ping => Incoming::Ping,
        socketio::Packet::Event { data, .. } => match socketio::event_name_and_argument(data) {
            Some(("new_msg", Some(payload))) => Incoming::Broadcast(payload),
            Some((event, payload)) => Incoming::Push { event, payload: payload.unwrap_or("") },
            None => Incoming::Other,
        },
        socketio::Packet::Ack { id, data } => {
            Incoming::Reply { id, ok: true, response: socketio::first_argument(data) }
        }
        socketio::Packet::Close | socketio::Packet::Disconnect | socketio::Packet::ConnectError(_) => Incoming::Closing,
        _ => Incoming::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(dialect: Dialect, text: &str) -> Vec<Incoming<'_>> {
        let mut found = Vec::new();
        dialect.for_each(text, |incoming| found.push(incoming));
        found
    }

    #[test]
    fn phoenix_messages_and_batches() {
        let batch = r#"[[null,null,"room:b","new_msg",{"t":1}],["1","7","room:b","phx_reply",{"response":{"t":1},"status":"ok"}],["1",null,"room:b","presence_diff",{"joins":{},"leaves":{}}]]"#;
        assert_eq!(
            all(Dialect::Phoenix, batch),
            [
                Incoming::Broadcast(r#"{"t":1}"#),
                Incoming::Reply { id: 7, ok: true, response: Some(r#"{"t":1}"#) },
                Incoming::Push { event: "presence_diff", payload: r#"{"joins":{},"leaves":{}}"# },
            ]
        );
        assert_eq!(all(Dialect::Phoenix, r#"["1","1","room:b","phx_close",{}]"#), [Incoming::Closing]);
    }

    #[test]
    fn socketio_messages() {
        assert_eq!(all(Dialect::Socketio, r#"42["new_msg",{"t":1}]"#), [Incoming::Broadcast(r#"{"t":1}"#)]);
        assert_eq!(
            all(Dialect::Socketio, r#"435[{"t":1}]"#),
            [Incoming::Reply { id: 5, ok: true, response: Some(r#"{"t":1}"#) }]
        );
        assert_eq!(all(Dialect::Socketio, "2"), [Incoming::Ping]);
        assert_eq!(all(Dialect::Socketio, "41"), [Incoming::Closing]);
    }

    #[test]
    fn queries() {
        assert_eq!(Dialect::Phoenix.query(true), "vsn=2.0.0&ferrocast_batch=1");
        assert_eq!(Dialect::Socketio.query(true), "EIO=4&transport=websocket");
    }
}
