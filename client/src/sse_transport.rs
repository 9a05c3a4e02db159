//! `SseSocketMachine`: the framing of the relay's event-stream socket for the JavaScript `SseSocket`
//! (`client/js/sse-socket.js`, through `client/js/stream-machines.js`), which owns the stream's `fetch`, its reader,
//! the POSTs and the handlers, behind the held machines' entry point (`held.rs`).
//!
//! What an event of the stream means (the session's token, a text frame, a binary frame in base64) and how frames are
//! posted (one per line, binary ones in base64) is `ferrocast_protocol::sse_socket`'s, the relay's too. Chunks of the
//! stream come in as text (`client/js/fetch-stream.js` decodes them) and what they say comes out of [`op::FEED`] as one
//! run of values (`boundary.rs`); frames to send come in as strings or bytes and wait here as the next POST's body.

use ferrocast_protocol::WireData;
use ferrocast_protocol::sse;
use ferrocast_protocol::sse_socket::{self, Received, StreamEvent};

use crate::boundary::{Input, Output};

/// The first value of each record [`op::FEED`] returns; the second is given with each.
#[repr(u8)]
enum Tag {
    /// The session started: the URL its POSTs go to.
    Session = 0,
    /// A text frame, as a string.
    Text = 1,
    /// A binary frame, as bytes (an `ArrayBuffer`).
    Binary = 2,
    /// The stream is not the socket's: why, for the close event's `reason`.
    Broken = 3,
}

/// The operations of an event-stream socket's machine, on the held machines' entry point (`held.rs`, which
/// numbers the operations of its machines apart): each takes the arguments listed with it and returns what it says.
pub mod op {
    /// `streamUrl`: the socket whose stream is requested from it (`http://host/socket/sse?…`); its handle (the one
    /// given is not read).
    pub const NEW: u8 = 11;
    /// `chunk`, as text: reads a chunk of the stream; returns what its events say, as records of two values (see
    /// [`super::Tag`]).
    pub const FEED: u8 = 12;
    /// `frame`: adds a text frame to the next POST's body.
    pub const SEND_TEXT: u8 = 13;
    /// `frame` (bytes): adds a binary frame to the next POST's body.
    pub const SEND_BINARY: u8 = 14;
    /// The frames waiting, as a POST's body, and none left; empty when none waits.
    pub const TAKE_BODY: u8 = 15;
}

/// One event-stream socket's reader and the body of its next POST.
#[derive(Debug)]
pub struct SseSocketMachine {
    reader: sse::Reader,
    /// The stream's URL, which the session's POST URL is made from.
    stream_url: String,
    /// Frames waiting to be posted, one per line.
    body: String,
}

impl SseSocketMachine {
    /// See [`op::NEW`].
    pub fn read(input: &mut Input<'_>) -> SseSocketMachine {
        let stream_url = input.text().unwrap_or_default().to_owned();
        SseSocketMachine { reader: sse::Reader::new(), stream_url, body: String::new() }
    }

    /// Operation `op` (see [`op`]) with its arguments; its results.
    pub fn step(&mut self, op: u8, input: &mut Input<'_>, out: &mut Output) {
        match op {
            op::FEED => self.feed(input.text().unwrap_or_default(), out),
            op::SEND_TEXT => {
                let frame = input.text().unwrap_or_default();
                sse_socket::write_post_line(&mut self.body, WireData::Text(frame));
            }
            op::SEND_BINARY => {
                let frame = input.bytes().unwrap_or_default();
                sse_socket::write_post_line(&mut self.body, WireData::Binary(frame));
            }
            op::TAKE_BODY => out.text(&std::mem::take(&mut self.body)),
            _ => {}
        }
    }

    fn feed(&mut self, chunk: &str, out: &mut Output) {
        let stream_url = &self.stream_url;
        self.reader.feed_text_into(chunk, &mut |event| match sse_socket::read_event(&event) {
            Ok(StreamEvent::Session { token }) => {
                out.number(f64::from(Tag::Session as u8));
                out.text(&sse_socket::post_url(stream_url, token));
            }
            Ok(StreamEvent::Frame(Received::Text(text))) => {
                out.number(f64::from(Tag::Text as u8));
                out.text(text);
            }
            Ok(StreamEvent::Frame(Received::Binary(bytes))) => {
                out.number(f64::from(Tag::Binary as u8));
                out.bytes(&bytes);
            }
            Err(error) => {
                out.number(f64::from(Tag::Broken as u8));
                out.text(error.as_str());
            }
        });
    }
}
