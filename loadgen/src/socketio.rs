//! The Socket.IO dialect, raw over a WebSocket: Engine.IO v4 packets carrying Socket.IO v5 packets.
//!
//! Over the WebSocket transport every message is one Engine.IO packet: a type digit, then data. `0` opens (the
//! server's handshake JSON), `2` is the server's ping (the client answers `3` or is dropped), `4` carries a
//! Socket.IO packet: its own type digit, an optional `/namespace,`, an optional acknowledgement id, then a JSON
//! array. The generator uses the default namespace only:
//!
//! - `40` connects, and the server answers `40{"sid":…}`;
//! - `42N["join","room:bench"]` joins, acknowledged with `43N["ok"]`;
//! - `42N["new_msg","room:bench",{…}]` publishes; members get `42["new_msg",{…}]`, the sender `43N["ok"]`;
//! - `42N["echo",{…}]` is answered `43N[{…}]`.

use crate::json_scan;

/// The query that opens a Socket.IO WebSocket straight away, without long polling first.
pub(crate) const QUERY: &str = "EIO=4&transport=websocket";
/// The client's Socket.IO connect to the default namespace.
pub(crate) const CONNECT: &str = "40";
/// The client's answer to the server's ping.
pub(crate) const PONG: &str = "3";

/// One received packet; data slices borrow the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    /// Engine.IO open, with its handshake JSON.
    Open(&'a str),
    /// Engine.IO close.
    Close,
    /// Engine.IO ping: answer [`PONG`].
    Ping,
    /// Engine.IO pong.
    Pong,
    /// Socket.IO connect accepted, with its JSON.
    Connect(&'a str),
    /// Socket.IO disconnect.
    Disconnect,
    /// Socket.IO connect refused, with its JSON.
    ConnectError(&'a str),
    /// A Socket.IO event: a JSON array `[name, args…]`, with the id to acknowledge it by, if any.
    Event {
        /// The acknowledgement id the sender asked for.
        ack: Option<u64>,
        /// `[name, args…]`, as JSON text.
        data: &'a str,
    },
    /// An acknowledgement of the event sent with `id`: the JSON array of its arguments.
    Ack {
        /// The acknowledged event's id.
        id: u64,
        /// The acknowledgement's arguments, as the JSON text of an array.
        data: &'a str,
    },
    /// Anything else (noop, upgrade, binary packets, other namespaces).
    Other,
}

/// Reads one WebSocket text message.
pub(crate) fn parse(message: &str) -> Packet<'_> {
    let Some(engine_type) = message.as_bytes().first() else { return Packet::Other };
    let rest = &message[1..];
    match engine_type {
        b'0' => Packet::Open(rest),
        b'1' => Packet::Close,
        b'2' => Packet::Ping,
        b'3' => Packet::Pong,
        b'4' => parse_socket_packet(rest),
        _ => Packet::Other,
    }
}

fn parse_socket_packet(packet: &str) -> Packet<'_> {
    let Some(socket_type) = packet.as_bytes().first() else { return Packet::Other };
    let rest = &packet[1..];
    // Only the default namespace is ours: a packet for another one names it (`/chat,`) and is not for us.
    if rest.starts_with('/') {
        return Packet::Other;
    }
    match socket_type {
        b'0' => Packet::Connect(rest),
        b'1' => Packet::Disconnect,
        b'4' => Packet::ConnectError(rest),
        b'2' | b'3' => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let id = rest[..digits].parse::<u64>().ok();
            let data = &rest[digits..];
            match (socket_type, id) {
                (b'2', ack) => Packet::Event { ack, data },
                (_, Some(id)) => Packet::Ack { id, data },
                _ => Packet::Other,
            }
        }
        _ => Packet::Other,
    }
}

/// The name and first argument of an event's data array `["name", arg, …]`.
pub(crate) fn event_name_and_argument(data: &str) -> Option<(&str, Option<&str>)> {
    let mut elements = json_scan::elements(data)?;
    let name = json_scan::string_content(elements.next()?)?;
    Some((name, elements.next()))
}

/// The first argument of an acknowledgement's data array.
pub(crate) fn first_argument(data: &str) -> Option<&str> {
    json_scan::elements(data)?.next()
}

/// `join` of `topic`, acknowledged with `ack`.
pub(crate) fn join(topic: &str, ack: u64) -> String {
    format!("42{ack}[\"join\",{}]", json_string(topic))
}

/// `new_msg` with `payload` (JSON) to `topic`, acknowledged with `ack`.
pub(crate) fn publish(topic: &str, payload: &str, ack: u64) -> String {
    format!("42{ack}[\"new_msg\",{},{payload}]", json_string(topic))
}

/// `echo` of `payload` (JSON), acknowledged with `ack`.
pub(crate) fn echo(payload: &str, ack: u64) -> String {
    format!("42{ack}[\"echo\",{payload}]")
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_packets() {
        assert_eq!(parse(r#"0{"sid":"a","pingInterval":25000}"#), Packet::Open(r#"{"sid":"a","pingInterval":25000}"#));
        assert_eq!(parse("2"), Packet::Ping);
        assert_eq!(parse("3"), Packet::Pong);
        assert_eq!(parse("1"), Packet::Close);
        assert_eq!(parse("6"), Packet::Other);
        assert_eq!(parse(""), Packet::Other);
    }

    #[test]
    fn socket_packets() {
        assert_eq!(parse(r#"40{"sid":"x"}"#), Packet::Connect(r#"{"sid":"x"}"#));
        assert_eq!(parse(r#"44{"message":"no"}"#), Packet::ConnectError(r#"{"message":"no"}"#));
        assert_eq!(parse("41"), Packet::Disconnect);
        let broadcast = r#"42["new_msg",{"t":1,"s":2}]"#;
        assert_eq!(parse(broadcast), Packet::Event { ack: None, data: r#"["new_msg",{"t":1,"s":2}]"# });
        assert_eq!(parse(r#"4217["echo",{}]"#), Packet::Event { ack: Some(17), data: r#"["echo",{}]"# });
        assert_eq!(parse(r#"43123["ok"]"#), Packet::Ack { id: 123, data: r#"["ok"]"# });
        assert_eq!(parse(r#"43["ok"]"#), Packet::Other);
        assert_eq!(parse(r#"42/chat,["new_msg",{}]"#), Packet::Other);
    }

    #[test]
    fn event_data() {
        assert_eq!(event_name_and_argument(r#"["new_msg",{"t":1}]"#), Some(("new_msg", Some(r#"{"t":1}"#))));
        assert_eq!(event_name_and_argument(r#"["bye"]"#), Some(("bye", None)));
        assert_eq!(first_argument(r#"["ok"]"#), Some(r#""ok""#));
    }

    #[test]
    fn sent_packets() {
        assert_eq!(join("room:bench", 1), r#"421["join","room:bench"]"#);
        assert_eq!(publish("room:bench", r#"{"t":1}"#, 12), r#"4212["new_msg","room:bench",{"t":1}]"#);
        assert_eq!(echo(r#"{"t":1}"#, 3), r#"423["echo",{"t":1}]"#);
    }
}
