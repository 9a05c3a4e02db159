//! The reconnect rule of a client reading a relay's server-sent events (the browser client's `EventStream`): when a
//! request ends, whether to make another and when, and which URL it requests so that it resumes where the last one
//! stopped.
//!
//! It follows EventSource where EventSource has a rule: a stream that drops, or a request that gets no answer, is
//! made again; an answer that is not an event stream is final, unless the server is failing (a 5xx), which may be
//! over by the next attempt. Where EventSource waits a fixed time, this waits a full-jitter backoff whose base is the
//! server's `retry`, so a crowd of pages that lost the same relay does not come back at once.
//!
//! The embedding reports what happened (the stream opened, a request ended and how) with the time as a millisecond
//! count, and is told when to make the next request; the jitter comes from a seed it gives.

use super::Backoff;
use crate::rng::Rng;
use crate::text::{before, split_once_at};

/// The query parameter a relay resumes a topic stream from. The `Last-Event-ID` header EventSource sends would make
/// every cross-origin request wait for a CORS preflight.
pub const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// Where a stream is, as EventSource's `readyState` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    /// A request is on its way, or the next one is waiting for its time.
    Connecting = 0,
    /// The server answered with an event stream, which is being read.
    Open = 1,
    /// Closed for good: no request follows.
    Closed = 2,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The stream ended or broke, the request got no answer, or it could not be made this time (the application's
    /// headers could not be had).
    Dropped,
    /// The server answered `status` with something other than an event stream.
    Refused {
        /// The HTTP status of the answer.
        status: u16,
    },
    /// No request can be made any more: the environment lost what makes them (`fetch`).
    CannotRequest,
}

/// What follows the end of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEnd {
    /// Make the next request at this time (milliseconds, on the caller's clock).
    ReconnectAt(u64),
    /// Nothing: the stream is closed.
    Closed,
}

/// The reconnect rule of one stream, for its whole life.
#[derive(Debug)]
pub struct EventStreamReconnect {
    backoff: Backoff,
    rng: Rng,
    /// Where to resume until the stream has given an id of its own (the application's `lastEventId` option).
    first_id: String,
    /// Requests ended since the stream last opened.
    failures: u32,
    ready_state: ReadyState,
}

impl EventStreamReconnect {
    /// The rule of a stream that waits `backoff` between requests and resumes from `first_id` until it reads an id
    /// (empty: from now). `seed` draws the jitter.
    pub fn new(backoff: Backoff, first_id: String, seed: u64) -> Self {
        EventStreamReconnect {
            backoff,
            rng: Rng::new(seed),
            first_id,
            failures: 0,
            ready_state: ReadyState::Connecting,
        }
    }

    /// Where the stream is.
    pub fn ready_state(&self) -> ReadyState {
        self.ready_state
    }

    /// The server answered with an event stream: the backoff starts over.
    pub fn opened(&mut self) {
        if self.ready_state != ReadyState::Closed {
            self.ready_state = ReadyState::Open;
            self.failures = 0;
        }
    }

    /// The request ended at `now_ms`, as `end` says; `server_retry_ms` is the `retry` the stream asked for, if it
    /// did. Says whether and when the next request goes.
    pub fn ended(&mut self, end: StreamEnd, server_retry_ms: Option<u64>, now_ms: u64) -> AfterEnd {
        let final_end = match end {
            StreamEnd::Dropped => false,
            StreamEnd::Refused { status } => status < 500,
            StreamEnd::CannotRequest => true,
        };
        if final_end || self.ready_state == ReadyState::Closed {
            self.ready_state = ReadyState::Closed;
            return AfterEnd::Closed;
        }
        self.ready_state = ReadyState::Connecting;
        self.failures = self.failures.saturating_add(1);
        let delay_ms = self.delay_ms(server_retry_ms, self.failures);
        AfterEnd::ReconnectAt(now_ms.saturating_add(delay_ms))
    }

    /// The application closed the stream: nothing follows, whatever is reported after.
    pub fn close(&mut self) {
        self.ready_state = ReadyState::Closed;
    }

    /// The id the next request resumes from, `last_read` being the last id the stream gave (empty if none).
    pub fn resume_id<'a>(&'a self, last_read: &'a str) -> &'a str {
        if last_read.is_empty() { &self.first_id } else { last_read }
    }

    /// The URL the next request goes to: `url` with the id to resume from in its query (replacing one already
    /// there), or as given when there is none yet. A fragment is dropped: it never reaches the server anyway.
    pub fn request_url(&self, url: &str, last_read: &str) -> String {
        resume_url(url, self.resume_id(last_read))
    }

    /// Attempt `attempt` (from 1) waits up to `min(cap, base·2ⁿ⁻¹)`, less a random share of it. The server's
    /// `retry` replaces the backoff's base, and raises the cap when it is longer, so that what the server asks for
    /// is never cut down.
    fn delay_ms(&mut self, server_retry_ms: Option<u64>, attempt: u32) -> u64 {
        let random = self.rng.next_unit();
        match (&self.backoff, server_retry_ms) {
            (&Backoff::Jittered { max_ms, jitter, .. }, Some(base_ms)) => {
                Backoff::Jittered { base_ms, max_ms: max_ms.max(base_ms), jitter }.delay_with(attempt, random)
            }
            (backoff, _) => backoff.delay_with(attempt, random),
        }
    }
}

fn resume_url(url: &str, id: &str) -> String {
    let url = before(url, b'#');
    if id.is_empty() {
        return url.to_owned();
    }
    let (path, mut query) = split_once_at(url, b'?').unwrap_or((url, ""));
    let mut resumed = path.to_owned();
    let mut separator = '?';
    while !query.is_empty() {
        let (pair, rest) = split_once_at(query, b'&').unwrap_or((query, ""));
        query = rest;
        if !pair.is_empty() && before(pair, b'=') != LAST_EVENT_ID_PARAM {
            resumed.push(separator);
            resumed.push_str(pair);
            separator = '&';
        }
    }
    resumed.push(separator);
    resumed.push_str(LAST_EVENT_ID_PARAM);
    resumed.push('=');
    percent_encode(id, &mut resumed);
    resumed
}

/// Percent-encodes everything but RFC 3986's unreserved characters: ids are opaque and may hold `&`, `#` or `%`.
fn percent_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.extend(['%', HEX[usize::from(byte >> 4)] as char, HEX[usize::from(byte & 15)] as char]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AfterEnd, Backoff, EventStreamReconnect, ReadyState, StreamEnd};

    fn jittered(jitter: f64) -> Backoff {
        Backoff::Jittered { base_ms: 100, max_ms: 1_000, jitter }
    }

    /// The delays of `drops` requests in a row that dropped, one at each reconnect time from `now_ms`.
    fn delays(rule: &mut EventStreamReconnect, server_retry_ms: Option<u64>, drops: usize) -> Vec<u64> {
        let mut now_ms = 5_000;
        (0..drops)
            .map(|_| match rule.ended(StreamEnd::Dropped, server_retry_ms, now_ms) {
                AfterEnd::ReconnectAt(at_ms) => at_ms - std::mem::replace(&mut now_ms, at_ms),
                AfterEnd::Closed => panic!("a dropped stream reconnects"),
            })
            .collect()
    }

    #[test]
    fn reconnects_wait_a_doubling_ceiling_capped_without_jitter() {
        let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
        assert_eq!(delays(&mut rule, None, 6), [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(rule.ready_state(), ReadyState::Connecting);
    }

    #[test]
    fn full_jitter_draws_below_the_ceiling_and_the_same_seed_draws_the_same() {
        let mut rule = EventStreamReconnect::new(jittered(1.0), String::new(), 7);
        let drawn = delays(&mut rule, None, 200);
        for (attempt, delay) in drawn.iter().enumerate() {
            let ceiling = (100u64 << attempt.min(4)).min(1_000);
            assert!(*delay <= ceiling, "attempt {}: {delay} over {ceiling}", attempt + 1);
        }
        assert!(drawn[4..].iter().any(|&delay| delay < 500), "the whole window is used");
        let mut again = EventStreamReconnect::new(jittered(1.0), String::new(), 7);
        assert_eq!(delays(&mut again, None, 200), drawn);
    }

    #[test]
    fn the_servers_retry_is_the_base_and_raises_the_cap() {
        let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
        assert_eq!(delays(&mut rule, Some(300), 3), [300, 600, 1_000]);
        let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
        assert_eq!(delays(&mut rule, Some(2_500), 2), [2_500, 2_500], "what the server asks for is never cut down");
    }

    #[test]
    fn an_open_stream_starts_the_backoff_over() {
        let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
        assert_eq!(delays(&mut rule, None, 3), [100, 200, 400]);
        rule.opened();
        assert_eq!(rule.ready_state(), ReadyState::Open);
        assert_eq!(delays(&mut rule, None, 2), [100, 200]);
    }

    #[test]
    fn a_refusal_is_final_but_a_failing_server_is_tried_again() {
        for status in [400, 401, 403, 404, 200, 204, 301] {
            let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
            assert_eq!(rule.ended(StreamEnd::Refused { status }, None, 0), AfterEnd::Closed, "{status}");
            assert_eq!(rule.ready_state(), ReadyState::Closed);
            assert_eq!(rule.ended(StreamEnd::Dropped, None, 0), AfterEnd::Closed, "{status}: nothing after");
        }
        for status in [500, 502, 503, 599] {
            let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
            assert_eq!(rule.ended(StreamEnd::Refused { status }, None, 50), AfterEnd::ReconnectAt(150), "{status}");
            assert_eq!(rule.ready_state(), ReadyState::Connecting);
        }
    }

    #[test]
    fn a_closed_stream_stays_closed_whatever_is_reported() {
        let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
        rule.close();
        rule.opened();
        assert_eq!(rule.ready_state(), ReadyState::Closed);
        assert_eq!(rule.ended(StreamEnd::Dropped, None, 0), AfterEnd::Closed);
        let mut rule = EventStreamReconnect::new(jittered(0.0), String::new(), 1);
        assert_eq!(rule.ended(StreamEnd::CannotRequest, None, 0), AfterEnd::Closed);
        assert_eq!(rule.ready_state(), ReadyState::Closed);
    }

    #[test]
    fn the_next_request_resumes_from_the_last_id_read_or_the_one_given() {
        let rule = EventStreamReconnect::new(jittered(1.0), "3.e-1".to_owned(), 1);
        assert_eq!(rule.resume_id(""), "3.e-1");
        assert_eq!(rule.request_url("/sse?topic=a", ""), "/sse?topic=a&lastEventId=3.e-1");
        assert_eq!(rule.resume_id("4.e-1"), "4.e-1");
        assert_eq!(rule.request_url("/sse?topic=a", "4.e-1"), "/sse?topic=a&lastEventId=4.e-1");
        let fresh = EventStreamReconnect::new(jittered(1.0), String::new(), 1);
        assert_eq!(fresh.request_url("/sse?topic=a#top", ""), "/sse?topic=a");
    }

    #[test]
    fn the_resume_id_goes_in_the_query_in_place_of_any_other() {
        let url = |url: &str, id: &str| super::resume_url(url, id);
        assert_eq!(url("/sse?topic=room:a", ""), "/sse?topic=room:a");
        assert_eq!(url("/sse?topic=room:a#top", "4.e-1"), "/sse?topic=room:a&lastEventId=4.e-1");
        assert_eq!(
            url("http://h/sse?lastEventId=old&topic=a&topic=b", "4.e-1,7.e-2"),
            "http://h/sse?topic=a&topic=b&lastEventId=4.e-1%2C7.e-2"
        );
        assert_eq!(url("/sse", "a&b #%é"), "/sse?lastEventId=a%26b%20%23%25%C3%A9");
        assert_eq!(url("/sse?lastEventId=old", "new"), "/sse?lastEventId=new");
    }
}
