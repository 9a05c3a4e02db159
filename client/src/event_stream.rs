//! `EventStreamMachine`: the protocol's rules of one `EventStream` (`client/js/event-stream.js`, through
//! `client/js/stream-machines.js`), behind the held machines' entry point (`held.rs`): the stream's [`sse::Reader`],
//! which keeps the last id and the server's `retry` from one request to the next, and its [`EventStreamReconnect`],
//! which says when to reconnect, whether to stay closed and which URL resumes.
//!
//! The JavaScript class owns every browser object (`fetch`, the response body's reader, the timer, the application's
//! callbacks and the data it parses); inputs come in as numbers and strings (the body's chunks decoded by
//! `client/js/fetch-stream.js`), and the events a chunk completes come out of [`op::FEED`] as one run of values
//! (`boundary.rs`). No closure crosses the boundary.
//!
//! [`op::IS_EVENT_STREAM`] is shared with the event-stream socket (`client/js/fetch-stream.js`).

use ferrocast_protocol::client::{AfterEnd, Backoff, EventStreamReconnect, StreamEnd};
use ferrocast_protocol::sse::{self, SUBSCRIBED_EVENT};

use crate::boundary::{Input, Output};

/// One stream's reader and reconnect rule, as the JavaScript `EventStream` holds it.
#[derive(Debug)]
pub struct EventStreamMachine {
    reader: sse::Reader,
    reconnect: EventStreamReconnect,
}

/// The operations of an event stream's machine, on the held machines' entry point (`held.rs`, which numbers the
/// operations of its machines apart): each takes the arguments listed with it and returns what it says.
pub mod op {
    /// `firstId, seed, baseMs, maxMs, jitter`: [`super::EventStreamMachine::new`]; its handle (the one given is not
    /// read).
    pub const NEW: u8 = 1;
    /// `url`: [`super::EventStreamMachine::url`].
    pub const URL: u8 = 2;
    /// [`super::EventStreamMachine::restart`].
    pub const RESTART: u8 = 3;
    /// [`super::EventStreamMachine::opened`].
    pub const OPENED: u8 = 4;
    /// `chunk`, as text: [`super::EventStreamMachine::feed`].
    pub const FEED: u8 = 5;
    /// `end, status, now`: [`super::EventStreamMachine::ended`].
    pub const ENDED: u8 = 6;
    /// [`super::EventStreamMachine::close`].
    pub const CLOSE: u8 = 7;
    /// [`super::EventStreamMachine::ready_state`].
    pub const READY_STATE: u8 = 8;
    /// [`super::EventStreamMachine::last_event_id`].
    pub const LAST_EVENT_ID: u8 = 9;
    /// `status, contentType`, on no machine: [`super::is_event_stream`].
    pub const IS_EVENT_STREAM: u8 = 10;
}

/// How a request ended, as [`EventStreamMachine::ended`] takes it (0, anything else, is a dropped stream: it ended
/// or broke, there was no answer, or the `headers` function failed): the server answered something other than an
/// event stream, with the status given.
const REFUSED: u8 = 1;
/// `fetch` is gone: no request can be made any more.
const CANNOT_REQUEST: u8 = 2;

impl EventStreamMachine {
    /// See [`op::NEW`].
    pub fn read(input: &mut Input<'_>) -> EventStreamMachine {
        let first_id = input.text().unwrap_or_default().to_owned();
        let seed = input.number().unwrap_or_default();
        let backoff = [input.number(), input.number(), input.number()].map(|value| value.unwrap_or(f64::NAN));
        EventStreamMachine::new(first_id, seed, &backoff)
    }

    /// Operation `op` (see [`op`]) with its arguments; its results.
    pub fn step(&mut self, op: u8, input: &mut Input<'_>, out: &mut Output) {
        match op {
            op::URL => out.text(&self.url(input.text().unwrap_or_default())),
            op::RESTART => self.restart(),
            op::OPENED => self.opened(),
            op::FEED => self.feed(input.text().unwrap_or_default(), out),
            op::ENDED => {
                let end = input.number().unwrap_or_default() as u8;
                let status = input.number().unwrap_or_default() as u16;
                out.number(self.ended(end, status, input.number().unwrap_or_default()));
            }
            op::CLOSE => self.close(),
            op::READY_STATE => out.number(f64::from(self.ready_state())),
            op::LAST_EVENT_ID => out.text(&self.last_event_id()),
            _ => {}
        }
    }

    /// A stream that resumes from `first_id` until it reads an id (empty: from now), waiting `backoff` between
    /// requests: `[baseMs, maxMs, jitter]`, checked by `client/js/event-stream.js`, NaN for the default. `seed`
    /// draws the jitter.
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

    /// Reads a chunk of the response body; writes the events it completed, five values each: `event` (`message`
    /// when unnamed), `data` (the text), `lastEventId`, `topic` (null when the stream gave none), and whether it is
    /// the relay's `ferrocast:subscribed`, whose `recovered: false` means a resume could not replay everything.
    pub fn feed(&mut self, chunk: &str, out: &mut Output) {
        self.reader.feed_text_into(chunk, &mut |event| {
            out.text(&event.event);
            out.text(&event.data);
            out.text(&event.last_event_id);
            match &event.topic {
                Some(topic) => out.text(topic),
                None => out.null(),
            }
            out.flag(event.event == SUBSCRIBED_EVENT);
        });
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
    pub fn ready_state(&self) -> u8 {
        self.reconnect.ready_state() as u8
    }

    /// The id the next request resumes from.
    pub fn last_event_id(&self) -> String {
        self.reconnect.resume_id(self.reader.last_event_id()).to_owned()
    }
}

/// [`op::IS_EVENT_STREAM`]: whether an answer with this status and `Content-Type` is an event stream to read
/// (otherwise it refuses the request), as the protocol's [`sse::is_event_stream`] says.
pub fn is_event_stream(input: &mut Input<'_>, out: &mut Output) {
    let status = input.number().unwrap_or_default() as u16;
    out.flag(sse::is_event_stream(status, input.text().unwrap_or_default()));
}
