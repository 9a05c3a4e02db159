//! A harness that drives the client state machine through simulated time against a scripted server.

#![allow(dead_code, unreachable_pub)]

use ferrocast_protocol::client::{ChannelId, Event, Options, PushId, Socket, Transmit};
use ferrocast_protocol::codec::decode;
use ferrocast_protocol::{Encoded, Payload, Sender, Vsn, WireData};

/// What the machine did to the transport, in a form that is easy to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    Connect,
    /// A text frame, exactly as sent.
    Text(String),
    /// A binary frame, as lowercase hex.
    Hex(String),
    Close(u16, String),
}

pub struct Harness {
    pub socket: Socket<Payload>,
    pub now: u64,
    vsn: Vsn,
}

impl Harness {
    pub fn new(options: Options) -> Self {
        let vsn = options.vsn;
        Harness { socket: Socket::new(options, 42), now: 0, vsn }
    }

    /// phoenix.js's options: its reconnect schedule, no recovery extension, so frames match phoenix.js's.
    pub fn phoenix_options() -> Options {
        Options {
            reconnect: ferrocast_protocol::client::Backoff::phoenix_reconnect(),
            recovery: false,
            ..Options::default()
        }
    }

    /// Connects and opens the transport; returns what was sent.
    pub fn open(&mut self) -> Vec<Wire> {
        self.socket.connect();
        assert_eq!(self.wire(), vec![Wire::Connect]);
        self.socket.handle_open(self.now);
        self.wire()
    }

    /// A channel with JSON params.
    pub fn channel(&mut self, topic: &str, params: &str) -> ChannelId {
        self.socket.channel(topic, json(params))
    }

    pub fn join(&mut self, channel: ChannelId) -> PushId {
        self.socket.join(self.now, channel, None).expect("join")
    }

    pub fn push(&mut self, channel: ChannelId, event: &str, payload: &str) -> PushId {
        self.socket.push(self.now, channel, event, json(payload), None).expect("push")
    }

    /// The server sends a frame (text in the socket's serializer).
    pub fn server(&mut self, text: &str) {
        let frame = decode(self.vsn, Sender::Server, WireData::Text(text)).expect("server frame decodes");
        self.socket.handle_frame(self.now, frame);
    }

    /// The server sends a binary frame given as hex.
    pub fn server_hex(&mut self, hex: &str) {
        let bytes = unhex(hex);
        let frame = decode(self.vsn, Sender::Server, WireData::Binary(&bytes)).expect("server frame decodes");
        self.socket.handle_frame(self.now, frame);
    }

    /// Moves simulated time forward by `ms`, firing every timer on the way at the moment it is due.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        while let Some(due) = self.socket.poll_timeout().filter(|&due| due <= target) {
            self.now = self.now.max(due);
            self.socket.handle_timeout(self.now);
        }
        self.now = target;
    }

    /// Everything sent since the last call.
    pub fn wire(&mut self) -> Vec<Wire> {
        std::iter::from_fn(|| self.socket.poll_transmit())
            .map(|transmit| match transmit {
                Transmit::Connect => Wire::Connect,
                Transmit::Send(Encoded::Text(text)) => Wire::Text(text),
                Transmit::Send(Encoded::Binary(bytes)) => Wire::Hex(hex(&bytes)),
                Transmit::Close { code, reason } => Wire::Close(code, reason),
            })
            .collect()
    }

    /// Only the text frames sent since the last call (drops nothing else silently: asserts there is nothing else).
    pub fn sent(&mut self) -> Vec<String> {
        self.wire()
            .into_iter()
            .map(|wire| match wire {
                Wire::Text(text) => text,
                other => panic!("expected only text frames, got {other:?}"),
            })
            .collect()
    }

    /// Every event since the last call.
    pub fn events(&mut self) -> Vec<Event<Payload>> {
        std::iter::from_fn(|| self.socket.poll_event()).collect()
    }
}

pub fn json(text: &str) -> Payload {
    Payload::Json(text.to_owned())
}

pub fn text(frame: &str) -> Wire {
    Wire::Text(frame.to_owned())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// A reply event, for assertions.
pub fn reply(push: PushId, channel: ChannelId, status: &str, response: Option<&str>) -> Event<Payload> {
    Event::Reply { push, channel, status: status.to_owned(), response: response.map(json) }
}
