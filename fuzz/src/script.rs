//! The input of the `session` target: what two client connections send, message by message.
//!
//! Layout, chosen so that any bytes are a script and libFuzzer's mutations stay meaningful:
//!
//! - byte 0, flags: bit 0, connection 0 speaks V2 (else V1); bit 1, connection 1 speaks V2; bit 2, both
//!   connections give the same socket identity (`ferrocast_sid`), as two connections of one client socket do, so
//!   their pushes go through the receipts that handle a push once.
//! - then steps, each a tag byte, a two-byte big-endian length and that many bytes of message (fewer when the input
//!   ends first). Tag bit 0: a binary message (else text; invalid UTF-8 is replaced, since a WebSocket text
//!   message is always valid UTF-8); bit 1: sent by connection 1 (else 0); bit 2: the connection closes and
//!   reconnects before sending it.

use std::borrow::Cow;

use ferrocast_protocol::{Vsn, WireData};

/// How many connections a script drives: two, so broadcasts, presence and receipts cross connections.
pub const CONNECTIONS: usize = 2;

const V2_BITS: [u8; CONNECTIONS] = [0b001, 0b010];
const SAME_SOCKET_ID_BIT: u8 = 0b100;
const BINARY_BIT: u8 = 0b001;
const CONNECTION_1_BIT: u8 = 0b010;
const RECONNECT_BIT: u8 = 0b100;

/// What the connections send, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script<'a> {
    /// The serializer of each connection.
    pub vsns: [Vsn; CONNECTIONS],
    /// Whether the connections share one socket identity.
    pub same_socket_id: bool,
    /// The messages.
    pub steps: Vec<Step<'a>>,
}

/// One message from one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    /// Which connection sends it: 0 or 1.
    pub connection: usize,
    /// Whether the connection is closed and opened anew first.
    pub reconnect: bool,
    /// The message.
    pub message: Data<'a>,
}

/// A WebSocket message's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data<'a> {
    /// A text message.
    Text(Cow<'a, str>),
    /// A binary message.
    Binary(Cow<'a, [u8]>),
}

impl Data<'_> {
    /// The message as the relay hands it to a session.
    pub fn as_wire(&self) -> WireData<'_> {
        match self {
            Data::Text(text) => WireData::Text(text),
            Data::Binary(bytes) => WireData::Binary(bytes),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Data::Text(text) => text.as_bytes(),
            Data::Binary(bytes) => bytes,
        }
    }
}

impl<'a> Script<'a> {
    /// Reads a script; every input is one (an empty input is two V1 connections that send nothing).
    pub fn read(input: &'a [u8]) -> Self {
        let (flags, mut rest) = input.split_first().map_or((0, input), |(&flags, rest)| (flags, rest));
        let mut steps = Vec::new();
        while let Some((&tag, after_tag)) = rest.split_first() {
            let (length, after_length) = match after_tag {
                [high, low, after @ ..] => (usize::from(u16::from_be_bytes([*high, *low])), after),
                // Too short for a length: what is left is the message.
                _ => (after_tag.len(), after_tag),
            };
            let (bytes, after) = after_length.split_at(length.min(after_length.len()));
            let message = if tag & BINARY_BIT != 0 {
                Data::Binary(Cow::Borrowed(bytes))
            } else {
                Data::Text(String::from_utf8_lossy(bytes))
            };
            let connection = usize::from(tag & CONNECTION_1_BIT != 0);
            steps.push(Step { connection, reconnect: tag & RECONNECT_BIT != 0, message });
            rest = after;
        }
        let vsn = |bit: u8| if flags & bit != 0 { Vsn::V2 } else { Vsn::V1 };
        Script { vsns: V2_BITS.map(vsn), same_socket_id: flags & SAME_SOCKET_ID_BIT != 0, steps }
    }

    /// The script as input bytes, for seeds. Messages longer than 65,535 bytes do not fit and panic.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut flags = 0;
        for (vsn, bit) in self.vsns.iter().zip(V2_BITS) {
            if *vsn == Vsn::V2 {
                flags |= bit;
            }
        }
        if self.same_socket_id {
            flags |= SAME_SOCKET_ID_BIT;
        }
        let mut out = vec![flags];
        for step in &self.steps {
            let mut tag = 0;
            if matches!(step.message, Data::Binary(_)) {
                tag |= BINARY_BIT;
            }
            if step.connection == 1 {
                tag |= CONNECTION_1_BIT;
            }
            if step.reconnect {
                tag |= RECONNECT_BIT;
            }
            let bytes = step.message.bytes();
            let length = u16::try_from(bytes.len()).expect("a seed message fits in 65,535 bytes");
            out.push(tag);
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_reads_back() {
        let script = Script {
            vsns: [Vsn::V2, Vsn::V1],
            same_socket_id: true,
            steps: vec![
                Step {
                    connection: 0,
                    reconnect: false,
                    message: Data::Text(r#"[null,"1","phoenix","heartbeat",{}]"#.into()),
                },
                Step { connection: 1, reconnect: true, message: Data::Binary(vec![0, 1, 2].into()) },
                Step { connection: 0, reconnect: false, message: Data::Text("".into()) },
            ],
        };
        assert_eq!(Script::read(&script.to_bytes()), script);
    }

    #[test]
    fn any_bytes_are_a_script() {
        assert!(Script::read(&[]).steps.is_empty());
        let cut_short = Script::read(&[0b111, 0b011, 0, 9, b'a']);
        assert_eq!(cut_short.vsns, [Vsn::V2, Vsn::V2]);
        assert_eq!(cut_short.steps.len(), 1);
        assert_eq!(cut_short.steps[0].message, Data::Binary(b"a".as_slice().into()));
        let no_length = Script::read(&[0, 0, 7]);
        assert_eq!(no_length.steps[0].message, Data::Text("\u{7}".into()));
    }
}
