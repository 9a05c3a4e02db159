//! `EventStreamMachine`: the protocol's rules of one `EventStream` (`client/js/event-stream.js`) behind a few narrow
//! entry points: the stream's [`sse::Reader`], which keeps the last id and the server's `retry` from one request to
//! the next, and its [`EventStreamReconnect`], which says when to reconnect, whether to stay closed and which URL
//! resumes.
//!
//! The JavaScript class owns every browser object (`fetch`, the response body's reader, the timer, the
//! application's callbacks and the data it parses); inputs come in as numbers, strings and bytes, and the events a
//! chunk completes come out of [`EventStreamMachine::feed`] as one flat array. No closure crosses the boundary.
//!
//! [`is_event_stream`] is shared with the event-stream socket (`client/js/fetch-stream.js`).

use ferrocast_protocol::client::{AfterEnd, Backoff, EventStreamReconnect, StreamEnd};
use ferrocast_protocol::sse::{self, SUBSCRIBED_EVENT};
use js_sys::Array;
use wasm_bindgen::prelude::*;

/// One stream's reader and reconnect rule, as the JavaScript `EventStream` holds it.
#[wasm_bindgen]
pub struct EventStreamMachine {
    reader: sse::Reader,
    reconnect: EventStreamReconnect,
}

/// How a request ended, as [`EventStreamMachine::ended`] takes it (0, anything else, is a dropped stream: it ended
/// or broke, there was no answer, or the `headers` function failed): the server answered something other than an
/// event stream, with the status given.
const REFUSED: u8 = 1;
/// `fetch` is gone: no request can be made any more.
const CANNOT_REQUEST: u8 = 2;

#[wasm_bindgen]
impl EventStreamMachine {
    /// A stream that resumes from `first_id` until it reads an id (empty: from now), waiting `backoff` between
    /// requests: `[baseMs, maxMs, jitter]`, checked by `client/js/event-stream.js`, NaN for the default. `seed`
    /// draws the jitter.
    #[wasm_bindgen(constructor)]
    pub fn new(first_id: String, seed: f64, backoff: &[f64]) -> EventStreamMachine {
        let Backoff::Jittered { base_ms, max_ms, jitter } = Backoff::default_reconnect() else { unreachable!() };
        let given = |at: usize| backoff.get(at).copied().filter(|value| !value.is_nan());
        let backoff = Backoff::Jittered {
            base_ms: given(0).map_or(base_ms, |ms| ms as u64),
            max_ms: given(1).map_or(max_ms, |ms| ms as u64),
            jitter: given(2).unwrap_or(jitter),
        };
        EventStreamMachine {
            reader: sse::Reader::new(),
            reconnect: EventStreamReconnect::new(backoff, first_id, seed as u64),
        }
    }

    /// The URL of the next request: `url` resuming from the last id.
    pub fn url(&self, url: &str) -> String {
        self.reconnect.request_url(url, self.reader.last_event_id())
    }

    /// A request was made: a partial event of an earlier one is dropped (its last id and retry stay).
    pub fn restart(&mut self) {
        self.reader.restart();
    }

    /// The server answered with an event stream.
    pub fn opened(&mut self) {
        self.reconnect.opened();
    }

    /// Reads a chunk of the response body; returns the events it completed, five fields each: `event` (`message`
    /// when unnamed), `data` (the text), `lastEventId`, `topic` (null when the stream gave none), and whether it is
    /// the relay's `ferrocast:subscribed`, whose `recovered: false` means a resume could not replay everything.
    pub fn feed(&mut self, chunk: &[u8]) -> Array {
        let out = Array::new();
        for event in self.reader.feed(chunk) {
            let subscribed = event.event == SUBSCRIBED_EVENT;
            for field in [
                event.event.into(),
                event.data.into(),
                event.last_event_id.into(),
                event.topic.map_or(JsValue::NULL, JsValue::from),
                subscribed.into(),
            ] {
                out.push(&field);
            }
        }
        out
    }

    /// The request ended at `now`: `end` 0 dropped (or failed, or its headers could not be had), 1 refused with
    /// `status`, 2 no request can be made any more. Returns when to make the next one (machine time), or -1 for
    /// never: the stream is closed.
    pub fn ended(&mut self, end: u8, status: u16, now: f64) -> f64 {
        let end = match end {
            REFUSED => StreamEnd::Refused { status },
            CANNOT_REQUEST => StreamEnd::CannotRequest,
            _ => StreamEnd::Dropped,
        };
        match self.reconnect.ended(end, self.reader.retry_ms(), now as u64) {
            AfterEnd::ReconnectAt(at_ms) => at_ms as f64,
            AfterEnd::Closed => -1.0,
        }
    }

    /// The application closed the stream: nothing follows.
    pub fn close(&mut self) {
        self.reconnect.close();
    }

    /// 0 connecting (or waiting to reconnect), 1 open, 2 closed, as EventSource's.
    #[wasm_bindgen(getter, js_name = readyState)]
    pub fn ready_state(&self) -> u8 {
        self.reconnect.ready_state() as u8
    }

    /// The id the next request resumes from.
    #[wasm_bindgen(getter, js_name = lastEventId)]
    pub fn last_event_id(&self) -> String {
        self.reconnect.resume_id(self.reader.last_event_id()).to_owned()
    }
}

/// Whether an answer with this status and `Content-Type` is an event stream to read (otherwise it refuses the
/// request): the protocol's [`sse::is_event_stream`].
#[wasm_bindgen(js_name = isEventStream)]
pub fn is_event_stream(status: u16, content_type: &str) -> bool {
    sse::is_event_stream(status, content_type)
}
