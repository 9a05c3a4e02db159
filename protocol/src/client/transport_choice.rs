//! Which transport each connection attempt goes over, and which URL it requests.
//!
//! A socket free to choose starts on WebSockets and tries the relay's event-stream socket (`GET /socket/sse`) after
//! two connections in a row that closed before they opened: a network that blocks WebSockets often lets plain HTTP
//! through. Two more that never opened switch it back. A server without the event-stream socket (Phoenix) says so
//! with its answer to the stream's request; that answer is remembered for the socket's life, so a WebSocket that
//! fails again later never sends the socket to a stream that cannot exist.
//!
//! The embedding reports what happened (an attempt started, it opened, it closed, with the HTTP status of a refused
//! stream request when it saw one) and asks which transport to open and where.

/// What one connection attempt goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket to the socket's URL (`…/websocket`).
    WebSocket,
    /// The relay's event-stream socket: events in from `GET …/sse`, frames out as POSTs.
    EventStream,
}

impl Transport {
    /// The URL an attempt over this transport requests, for a socket whose WebSocket URL is `websocket_url`
    /// (`ws://host/socket/websocket?q`). The event stream is the same path with `/sse` in place of `/websocket`,
    /// over HTTP: `http://host/socket/sse?q`.
    pub fn url(self, websocket_url: &str) -> String {
        if self == Transport::WebSocket {
            return websocket_url.to_owned();
        }
        let (path, query) = crate::text::split_once_at(websocket_url, b'?').unwrap_or((websocket_url, ""));
        let path = path.strip_suffix("/websocket").unwrap_or(path);
        // Concatenated rather than formatted, and split at a character rather than at "://", so the browser
        // client's wasm carries neither formatting nor substring search code (1 KB).
        let (scheme, rest) = match crate::text::split_once_at(path, b':') {
            Some(("wss", rest)) if rest.starts_with("//") => ("https:", rest),
            Some(("ws", rest)) if rest.starts_with("//") => ("http:", rest),
            _ => ("", path),
        };
        crate::text::joined(&[scheme, rest, "/sse?", query])
    }

    fn other(self) -> Transport {
        match self {
            Transport::WebSocket => Transport::EventStream,
            Transport::EventStream => Transport::WebSocket,
        }
    }
}

/// What a socket may connect over: the browser client's `transport` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transports {
    /// WebSockets, and the event-stream socket when they cannot open (the default).
    #[default]
    Both,
    /// This one only: the application chose.
    Only(Transport),
}

/// A change of transport, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Two connections in a row closed before they opened: the next attempts go over `to`.
    NeverOpened {
        /// The transport of the next attempts.
        to: Transport,
    },
    /// The server answered the event stream's request with `status`, which says it has no event-stream socket: the
    /// socket connects over WebSockets only from now on.
    NoEventStreamSocket {
        /// The HTTP status of the answer.
        status: u16,
    },
}

/// The transport rule of one socket, for the socket's whole life (across `disconnect` and `connect`).
#[derive(Debug, Clone)]
pub struct TransportChoice {
    allowed: Transports,
    /// Where a socket free to choose is now.
    current: Transport,
    /// What the attempt in progress goes over.
    attempting: Transport,
    /// The attempt in progress opened.
    opened: bool,
    /// Attempts in a row that closed before opening, since the last switch or open.
    failed_opens: u32,
    /// The server said it has no event-stream socket.
    no_event_stream_socket: bool,
}

impl TransportChoice {
    /// The rule for a socket that may connect over `allowed`.
    pub fn new(allowed: Transports) -> Self {
        let current = match allowed {
            Transports::Both => Transport::WebSocket,
            Transports::Only(transport) => transport,
        };
        TransportChoice {
            allowed,
            current,
            attempting: current,
            opened: false,
            failed_opens: 0,
            no_event_stream_socket: false,
        }
    }

    /// A connection attempt starts: the transport it goes over. `websocket_available` is `false` where the
    /// environment has no WebSocket (and the application gave no class), which leaves the event stream to a socket
    /// free to choose, unless the server has none.
    pub fn attempt(&mut self, websocket_available: bool) -> Transport {
        let fallback = self.allowed == Transports::Both && !websocket_available && !self.no_event_stream_socket;
        self.attempting = if fallback { Transport::EventStream } else { self.current };
        self.opened = false;
        self.attempting
    }

    /// The attempt's connection opened.
    pub fn opened(&mut self) {
        self.opened = true;
        self.failed_opens = 0;
    }

    /// The attempt's connection closed. `refused` is the HTTP status the server answered the attempt with, when the
    /// transport could see one: the event stream's request does; a browser hides why a WebSocket was refused.
    /// Returns the switch this close makes, if any.
    pub fn closed(&mut self, refused: Option<u16>) -> Option<Switch> {
        if std::mem::replace(&mut self.opened, false) {
            return None;
        }
        let status = refused.filter(|&status| self.attempting == Transport::EventStream && says_no_socket(status));
        if let Some(status) = status {
            let first = !std::mem::replace(&mut self.no_event_stream_socket, true);
            self.failed_opens = 0;
            if self.allowed != Transports::Both {
                return None;
            }
            self.current = Transport::WebSocket;
            return first.then_some(Switch::NoEventStreamSocket { status });
        }
        self.failed_opens += 1;
        if self.allowed != Transports::Both || self.failed_opens < 2 {
            return None;
        }
        self.failed_opens = 0;
        let to = self.current.other();
        if to == Transport::EventStream && self.no_event_stream_socket {
            return None;
        }
        self.current = to;
        Some(Switch::NeverOpened { to })
    }
}

/// Whether the answer to the event stream's request says the server has no event-stream socket at all: no such
/// route (404), the route exists for other methods only (405), the server does not do this (501), or a success
/// that is not an event stream (a 2xx the transport reports as refused, such as a single-page app's `index.html`
/// served for every path). Anything else (a 5xx of an overloaded or restarting server, a refused token, no answer
/// at all) may be over next time, so it counts as one failed attempt and no more.
fn says_no_socket(status: u16) -> bool {
    matches!(status, 200..=299 | 404 | 405 | 501)
}

#[cfg(test)]
mod tests {
    use super::{Switch, Transport, TransportChoice, Transports};
    use Transport::{EventStream, WebSocket};

    /// An attempt that closes before opening, refused with `status` if given: its transport, and the switch.
    fn fails(choice: &mut TransportChoice, status: Option<u16>) -> (Transport, Option<Switch>) {
        let transport = choice.attempt(true);
        (transport, choice.closed(status))
    }

    #[test]
    fn the_event_stream_is_the_websocket_path_with_sse_over_http() {
        assert_eq!(
            EventStream.url("ws://h:4000/socket/websocket?a=1&vsn=2.0.0"),
            "http://h:4000/socket/sse?a=1&vsn=2.0.0"
        );
        assert_eq!(EventStream.url("wss://h/s/websocket?vsn=2.0.0"), "https://h/s/sse?vsn=2.0.0");
        assert_eq!(EventStream.url("/socket/websocket?vsn=2.0.0"), "/socket/sse?vsn=2.0.0");
        assert_eq!(WebSocket.url("wss://h/s/websocket?vsn=2.0.0"), "wss://h/s/websocket?vsn=2.0.0");
        // Only a scheme followed by `//` is one to change.
        assert_eq!(EventStream.url("ws:h/websocket?vsn=2.0.0"), "ws:h/sse?vsn=2.0.0");
        assert_eq!(EventStream.url("ws/websocket?vsn=2.0.0"), "ws/sse?vsn=2.0.0");
    }

    #[test]
    fn two_websockets_that_never_open_switch_to_the_event_stream_and_two_streams_back() {
        let mut choice = TransportChoice::new(Transports::Both);
        assert_eq!(fails(&mut choice, None), (WebSocket, None));
        assert_eq!(fails(&mut choice, None), (WebSocket, Some(Switch::NeverOpened { to: EventStream })));
        assert_eq!(fails(&mut choice, None), (EventStream, None));
        assert_eq!(fails(&mut choice, None), (EventStream, Some(Switch::NeverOpened { to: WebSocket })));
        assert_eq!(choice.attempt(true), WebSocket);
    }

    #[test]
    fn an_open_connection_starts_the_count_again() {
        let mut choice = TransportChoice::new(Transports::Both);
        assert_eq!(fails(&mut choice, None), (WebSocket, None));
        assert_eq!(choice.attempt(true), WebSocket);
        choice.opened();
        assert_eq!(choice.closed(None), None, "an open connection that closes is no failed open");
        assert_eq!(fails(&mut choice, None), (WebSocket, None), "one failure since the open, not two");
        assert_eq!(fails(&mut choice, None), (WebSocket, Some(Switch::NeverOpened { to: EventStream })));
    }

    #[test]
    fn a_server_without_the_event_stream_socket_sends_the_socket_back_at_once_and_for_good() {
        for status in [404, 405, 501, 200] {
            let mut choice = TransportChoice::new(Transports::Both);
            fails(&mut choice, None);
            fails(&mut choice, None);
            assert_eq!(fails(&mut choice, Some(status)), (EventStream, Some(Switch::NoEventStreamSocket { status })));
            // The attempt right after the one detour is a WebSocket, and no later run of failures tries the stream.
            for _ in 0..10 {
                assert_eq!(fails(&mut choice, None), (WebSocket, None), "{status}");
            }
            choice.attempt(true);
            choice.opened();
            choice.closed(None);
            for _ in 0..10 {
                assert_eq!(fails(&mut choice, None), (WebSocket, None), "{status}, after an open");
            }
        }
    }

    #[test]
    fn a_failing_server_or_network_does_not_rule_the_event_stream_out() {
        for refused in [Some(503), Some(500), Some(502), Some(401), Some(403), Some(429), None] {
            let mut choice = TransportChoice::new(Transports::Both);
            fails(&mut choice, None);
            fails(&mut choice, None);
            assert_eq!(fails(&mut choice, refused), (EventStream, None), "{refused:?}");
            assert_eq!(
                fails(&mut choice, refused),
                (EventStream, Some(Switch::NeverOpened { to: WebSocket })),
                "{refused:?}: two failures, as for WebSockets"
            );
            fails(&mut choice, None);
            assert_eq!(
                fails(&mut choice, None),
                (WebSocket, Some(Switch::NeverOpened { to: EventStream })),
                "{refused:?}: the stream is tried again"
            );
        }
    }

    #[test]
    fn a_status_seen_on_a_websocket_attempt_says_nothing_of_the_event_stream() {
        let mut choice = TransportChoice::new(Transports::Both);
        assert_eq!(fails(&mut choice, Some(404)), (WebSocket, None));
        assert_eq!(fails(&mut choice, Some(404)), (WebSocket, Some(Switch::NeverOpened { to: EventStream })));
        assert_eq!(choice.attempt(true), EventStream);
    }

    #[test]
    fn a_socket_told_its_transport_never_switches() {
        for only in [WebSocket, EventStream] {
            let mut choice = TransportChoice::new(Transports::Only(only));
            for status in [None, Some(404), Some(503), None, None, None] {
                assert_eq!(fails(&mut choice, status), (only, None), "{only:?} {status:?}");
            }
            assert_eq!(choice.attempt(false), only, "{only:?}, even with no WebSocket in the environment");
        }
    }

    #[test]
    fn without_a_websocket_the_socket_uses_the_event_stream_unless_the_server_has_none() {
        let mut choice = TransportChoice::new(Transports::Both);
        assert_eq!(choice.attempt(false), EventStream);
        assert_eq!(choice.closed(None), None);
        assert_eq!(choice.attempt(false), EventStream);
        assert_eq!(choice.closed(Some(404)), Some(Switch::NoEventStreamSocket { status: 404 }));
        // A WebSocket it cannot open says so better than a stream the server has not.
        assert_eq!(choice.attempt(false), WebSocket);
    }
}
