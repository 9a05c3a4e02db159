//! The framing of the relay's event-stream socket, which the relay writes and reads and the browser client's
//! `SseSocket` reads and writes: a Phoenix socket (V2 frames) over one server-sent event stream and POSTs.
//!
//! - `GET /socket/sse?vsn=2.0.0&…` answers with a stream whose first event, [`SESSION_EVENT`], carries
//!   `{"token": …}`: the session the client's POSTs name (`POST /socket/sse?token=…`).
//! - Every later event is one frame the server sent: a text frame as the event's data, a binary frame as a
//!   [`BINARY_EVENT`] whose data is the frame in standard base64.
//! - A POST's body is the client's frames, one per line: a text frame as it is (a V2 JSON frame, which starts with
//!   `[` and holds no line break), a binary frame in base64, which never starts with `[`.

use crate::base64;
use crate::frame::WireData;
use crate::sse::{self, Event};

pub use crate::sse::{BINARY_EVENT, SESSION_EVENT};

/// The query parameter of a POST that names its session.
pub const SESSION_PARAM: &str = "token";

/// What one event of a socket stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The session started: POSTs go to [`post_url`] with this token.
    Session {
        /// The session's token, which every POST carries as its [`SESSION_PARAM`].
        token: &'a str,
    },
    /// A frame the server sent.
    Frame(Received<'a>),
}

/// A frame read from a stream event or a POSTed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received<'a> {
    /// A text frame, as it was sent.
    Text(&'a str),
    /// A binary frame, decoded from its base64.
    Binary(Vec<u8>),
}

impl Received<'_> {
    /// The frame as the codec takes it.
    pub fn wire(&self) -> WireData<'_> {
        match self {
            Received::Text(text) => WireData::Text(text),
            Received::Binary(bytes) => WireData::Binary(bytes),
        }
    }
}

/// Why an event or a POSTed line is not a frame of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// The session event did not carry a token a URL can hold.
    NoSessionToken,
    /// A binary frame that is not standard base64.
    NotBase64,
    /// A text frame that is not UTF-8.
    NotUtf8,
}

impl FramingError {
    /// The error in words, as a static string: the browser client puts it in a close event's `reason` without
    /// formatting machinery.
    pub fn as_str(self) -> &'static str {
        match self {
            FramingError::NoSessionToken => "a session event without a session token",
            FramingError::NotBase64 => "a binary frame that is not base64",
            FramingError::NotUtf8 => "a text frame that is not UTF-8",
        }
    }
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for FramingError {}

/// Appends the session event that starts a stream, for the session `token`.
pub fn write_session_event(out: &mut String, token: &str) {
    sse::write_field(out, "event", SESSION_EVENT);
    sse::write_field(out, "data", &format!("{{\"token\":\"{token}\"}}"));
    out.push('\n');
}

/// Appends one frame the server sends as one event.
pub fn write_frame_event(out: &mut String, frame: WireData<'_>) {
    match frame {
        WireData::Text(text) => sse::write_field(out, "data", text),
        WireData::Binary(bytes) => {
            sse::write_field(out, "event", BINARY_EVENT);
            sse::write_field(out, "data", &base64::encode(bytes));
        }
    }
    out.push('\n');
}

/// What an event of a socket stream says.
pub fn read_event(event: &Event) -> Result<StreamEvent<'_>, FramingError> {
    match event.event.as_str() {
        SESSION_EVENT => session_token(&event.data).map(|token| StreamEvent::Session { token }),
        BINARY_EVENT => base64::decode(event.data.as_bytes())
            .map(|bytes| StreamEvent::Frame(Received::Binary(bytes)))
            .ok_or(FramingError::NotBase64),
        _ => Ok(StreamEvent::Frame(Received::Text(&event.data))),
    }
}

/// The token of a session event's data, `{"token":"…"}` (whitespace allowed around its parts). A token is a URL
/// query value as it stands, so only letters, digits, `-` and `_` are taken: nothing that could end the parameter.
fn session_token(data: &str) -> Result<&str, FramingError> {
    let token = (|| {
        // `&str` patterns: see `sse::Reader`'s lines.
        let object = data.trim_ascii().strip_prefix("{")?.strip_suffix("}")?;
        let (key, value) = crate::text::split_once_at(object, b':')?;
        let value = value.trim_ascii().strip_prefix("\"")?.strip_suffix("\"")?;
        (key.trim_ascii() == "\"token\"").then_some(value)
    })();
    token
        .filter(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .ok_or(FramingError::NoSessionToken)
}

/// Where a session's POSTs go: the stream's URL (`…/socket/sse?params`) with the session's token for its query.
pub fn post_url(stream_url: &str, token: &str) -> String {
    let base = crate::text::before(stream_url, b'?');
    crate::text::joined(&[base, "?", SESSION_PARAM, "=", token])
}

/// Appends one frame the client sends to a POST's body.
pub fn write_post_line(body: &mut String, frame: WireData<'_>) {
    if !body.is_empty() {
        body.push('\n');
    }
    match frame {
        WireData::Text(text) => body.push_str(text),
        WireData::Binary(bytes) => body.push_str(&base64::encode(bytes)),
    }
}

/// The frames of a POST's body, in order; empty lines are skipped.
pub fn read_post_body(body: &[u8]) -> impl Iterator<Item = Result<Received<'_>, FramingError>> {
    body.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).map(|line| {
        if line.starts_with(b"[") {
            std::str::from_utf8(line).map(Received::Text).map_err(|_| FramingError::NotUtf8)
        } else {
            base64::decode(line).map(Received::Binary).ok_or(FramingError::NotBase64)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(stream: &str) -> Vec<Event> {
        sse::Reader::new().feed(stream.as_bytes())
    }

    #[test]
    fn a_stream_written_by_the_server_reads_back_as_its_session_and_frames() {
        let binary: Vec<u8> = vec![0, 1, 1, 9, b'1', b'\n', 0xff];
        let mut stream = String::new();
        write_session_event(&mut stream, "0f3a9c");
        write_frame_event(
            &mut stream,
            WireData::Text(r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#),
        );
        write_frame_event(&mut stream, WireData::Binary(&binary));
        let events = events_of(&stream);
        let read: Vec<StreamEvent<'_>> = events.iter().map(|event| read_event(event).unwrap()).collect();
        assert_eq!(
            read,
            [
                StreamEvent::Session { token: "0f3a9c" },
                StreamEvent::Frame(Received::Text(r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#)),
                StreamEvent::Frame(Received::Binary(binary)),
            ]
        );
        assert_eq!(events[2].event, BINARY_EVENT);
        assert_eq!(events[2].data, "AAEBCTEK/w==");
    }

    #[test]
    fn a_session_event_needs_a_token_fit_for_a_url() {
        let session = |data: &str| {
            let event =
                Event { event: SESSION_EVENT.into(), data: data.into(), last_event_id: String::new(), topic: None };
            read_event(&event).map(|read| match read {
                StreamEvent::Session { token } => token.to_owned(),
                StreamEvent::Frame(frame) => panic!("a session event read as a frame: {frame:?}"),
            })
        };
        assert_eq!(session(r#" { "token" : "a-B_9" } "#).as_deref(), Ok("a-B_9"));
        for data in [r#"{"token":""}"#, r#"{"token":"a&b"}"#, r#"{"token":7}"#, r#"{"other":"ab"}"#, "ab", "{}"] {
            assert_eq!(session(data), Err(FramingError::NoSessionToken), "{data}");
        }
    }

    #[test]
    fn a_binary_event_that_is_not_base64_is_refused() {
        let event = Event { event: BINARY_EVENT.into(), data: "AAE".into(), last_event_id: String::new(), topic: None };
        assert_eq!(read_event(&event), Err(FramingError::NotBase64));
    }

    #[test]
    fn posts_go_to_the_streams_path_with_the_session() {
        assert_eq!(
            post_url("http://h:4000/socket/sse?vsn=2.0.0&token=jwt", "0f3a"),
            "http://h:4000/socket/sse?token=0f3a"
        );
        assert_eq!(post_url("/socket/sse", "0f3a"), "/socket/sse?token=0f3a");
    }

    #[test]
    fn a_post_body_written_by_the_client_reads_back_frame_by_frame() {
        let mut body = String::new();
        write_post_line(&mut body, WireData::Text(r#"[null,"1","phoenix","heartbeat",{}]"#));
        write_post_line(&mut body, WireData::Binary(&[0, 1, 2]));
        write_post_line(&mut body, WireData::Text(r#"["3","4","room:a","new_msg",{"b":"x"}]"#));
        assert_eq!(
            body,
            "[null,\"1\",\"phoenix\",\"heartbeat\",{}]\nAAEC\n[\"3\",\"4\",\"room:a\",\"new_msg\",{\"b\":\"x\"}]"
        );
        let posted = format!("{body}\n\n");
        let read: Vec<_> = read_post_body(posted.as_bytes()).collect();
        assert_eq!(
            read,
            [
                Ok(Received::Text(r#"[null,"1","phoenix","heartbeat",{}]"#)),
                Ok(Received::Binary(vec![0, 1, 2])),
                Ok(Received::Text(r#"["3","4","room:a","new_msg",{"b":"x"}]"#)),
            ]
        );
        let bad: Vec<_> = read_post_body(b"[\xff]\nnot base64\n").collect();
        assert_eq!(bad, [Err(FramingError::NotUtf8), Err(FramingError::NotBase64)]);
    }
}
