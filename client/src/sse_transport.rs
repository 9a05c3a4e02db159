//! `SseSocketMachine`: the framing of the relay's event-stream socket for the JavaScript `SseSocket`
//! (`client/js/sse-socket.js`), which owns the stream's `fetch`, its reader, the POSTs and the handlers.
//!
//! What an event of the stream means (the session's token, a text frame, a binary frame in base64) and how frames
//! are posted (one per line, binary ones in base64) is `ferrocast_protocol::sse_socket`'s, the relay's too. Chunks
//! of the stream come in as bytes and what they say comes out of [`SseSocketMachine::feed`] as one flat array;
//! frames to send come in as strings or bytes and wait here as the next POST's body.

use ferrocast_protocol::WireData;
use ferrocast_protocol::sse;
use ferrocast_protocol::sse_socket::{self, Received, StreamEvent};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

/// The first field of each record [`SseSocketMachine::feed`] returns; the second is given with each.
#[repr(u8)]
enum Tag {
    /// The session started: the URL its POSTs go to.
    Session = 0,
    /// A text frame, as a string.
    Text = 1,
    /// A binary frame, as an `ArrayBuffer`.
    Binary = 2,
    /// The stream is not the socket's: why, for the close event's `reason`.
    Broken = 3,
}

/// One event-stream socket's reader and the body of its next POST.
#[wasm_bindgen]
pub struct SseSocketMachine {
    reader: sse::Reader,
    /// The stream's URL, which the session's POST URL is made from.
    stream_url: String,
    /// Frames waiting to be posted, one per line.
    body: String,
}

#[wasm_bindgen]
impl SseSocketMachine {
    /// The socket whose stream is requested from `stream_url` (`http://host/socket/sse?…`).
    #[wasm_bindgen(constructor)]
    pub fn new(stream_url: String) -> SseSocketMachine {
        SseSocketMachine { reader: sse::Reader::new(), stream_url, body: String::new() }
    }

    /// Reads a chunk of the stream; returns what its events say, as records of two fields (see [`Tag`]).
    pub fn feed(&mut self, chunk: &[u8]) -> Array {
        let out = Array::new();
        for event in self.reader.feed(chunk) {
            let (tag, value) = match sse_socket::read_event(&event) {
                Ok(StreamEvent::Session { token }) => {
                    (Tag::Session, sse_socket::post_url(&self.stream_url, token).into())
                }
                Ok(StreamEvent::Frame(Received::Text(text))) => (Tag::Text, text.into()),
                Ok(StreamEvent::Frame(Received::Binary(bytes))) => {
                    (Tag::Binary, Uint8Array::from(bytes.as_slice()).buffer().into())
                }
                Err(error) => (Tag::Broken, error.as_str().into()),
            };
            out.push(&JsValue::from(tag as u8));
            out.push(&value);
        }
        out
    }

    /// Adds a text frame to the next POST's body.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&mut self, frame: &str) {
        sse_socket::write_post_line(&mut self.body, WireData::Text(frame));
    }

    /// Adds a binary frame to the next POST's body.
    #[wasm_bindgen(js_name = sendBinary)]
    pub fn send_binary(&mut self, frame: &[u8]) {
        sse_socket::write_post_line(&mut self.body, WireData::Binary(frame));
    }

    /// The frames waiting, as a POST's body, and none left; empty when none waits.
    #[wasm_bindgen(js_name = takeBody)]
    pub fn take_body(&mut self) -> String {
        std::mem::take(&mut self.body)
    }
}
