//! `SseSocketMachine`: the framing of the relay's event-stream socket for the JavaScript `SseSocket`
//! (`client/js/sse-socket.js`, through `client/js/stream-machines.js`), which owns the stream's `fetch`, its reader,
//! the POSTs and the handlers; [`sse_socket`] is its one entry point.
//!
//! What an event of the stream means (the session's token, a text frame, a binary frame in base64) and how frames
//! are posted (one per line, binary ones in base64) is `ferrocast_protocol::sse_socket`'s, the relay's too. Chunks
//! of the stream come in as bytes and what they say comes out of [`op::FEED`] as one run of values (`boundary.rs`);
//! frames to send come in as strings or bytes and wait here as the next POST's body.

use ferrocast_protocol::WireData;
use ferrocast_protocol::sse;
use ferrocast_protocol::sse_socket::{self, Received, StreamEvent};
use wasm_bindgen::prelude::*;

use crate::boundary::{Output, Table, exchange};

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

/// The operations of [`sse_socket`]: each takes the arguments listed with it and returns what it says.
pub mod op {
    /// Lets go of the socket's machine.
    pub const FREE: u8 = 0;
    /// `streamUrl`: the socket whose stream is requested from it (`http://host/socket/sse?…`); its handle (the one
    /// given is not read).
    pub const NEW: u8 = 1;
    /// `chunk` (bytes): reads a chunk of the stream; returns what its events say, as records of two values (see
    /// [`super::Tag`]).
    pub const FEED: u8 = 2;
    /// `frame`: adds a text frame to the next POST's body.
    pub const SEND_TEXT: u8 = 3;
    /// `frame` (bytes): adds a binary frame to the next POST's body.
    pub const SEND_BINARY: u8 = 4;
    /// The frames waiting, as a POST's body, and none left; empty when none waits.
    pub const TAKE_BODY: u8 = 5;
}

/// One event-stream socket's reader and the body of its next POST.
pub struct SseSocketMachine {
    reader: sse::Reader,
    /// The stream's URL, which the session's POST URL is made from.
    stream_url: String,
    /// Frames waiting to be posted, one per line.
    body: String,
}

thread_local! {
    static SOCKETS: Table<SseSocketMachine> = const { Table::new() };
}

/// Operation `op` (see [`op`]) on the socket's machine behind `handle`, with its arguments; its results.
#[wasm_bindgen(js_name = sseSocket)]
pub fn sse_socket(handle: u32, op: u8, len: u32) -> u32 {
    exchange(len, |input, out| {
        SOCKETS.with(|sockets| match op {
            op::FREE => sockets.remove(handle),
            op::NEW => {
                let stream_url = input.text().unwrap_or_default().to_owned();
                let machine = SseSocketMachine { reader: sse::Reader::new(), stream_url, body: String::new() };
                out.number(f64::from(sockets.insert(machine)));
            }
            op => {
                sockets.with(handle, |machine| match op {
                    op::FEED => machine.feed(input.bytes().unwrap_or_default(), out),
                    op::SEND_TEXT => {
                        let frame = input.text().unwrap_or_default();
                        sse_socket::write_post_line(&mut machine.body, WireData::Text(frame));
                    }
                    op::SEND_BINARY => {
                        let frame = input.bytes().unwrap_or_default();
                        sse_socket::write_post_line(&mut machine.body, WireData::Binary(frame));
                    }
                    op::TAKE_BODY => out.text(&std::mem::take(&mut machine.body)),
                    _ => {}
                });
            }
        });
    })
}

impl SseSocketMachine {
    fn feed(&mut self, chunk: &[u8], out: &mut Output) {
        for event in self.reader.feed(chunk) {
            match sse_socket::read_event(&event) {
                Ok(StreamEvent::Session { token }) => {
                    out.number(f64::from(Tag::Session as u8));
                    out.text(&sse_socket::post_url(&self.stream_url, token));
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
            }
        }
    }
}
