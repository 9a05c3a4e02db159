//! The server side of sockets (`ferrocast_pubsub::Session`), where a relay meets whatever clients send: two
//! connections on one backend, built as the relay builds them, send the script's messages (see
//! `ferrocast_fuzz::script`). Nothing panics, and every frame the server queues for a connection is one its
//! client can decode.
//!
//! As in the relay, a message the session refuses (not a frame, or one too many over the rate limit) ends its
//! connection; here the client then connects again, so the rest of the script still runs. The backend has no tokio runtime, so presence diffs go out at once instead of
//! after the relay's 50 ms window, and no sweeper runs: the script is deterministic.

#![no_main]

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Waker};

use ferrocast_channels::builtin_router;
use ferrocast_channels::reactor::hub_notifier;
use ferrocast_fuzz::script::{CONNECTIONS, Script};
use ferrocast_protocol::codec::decode;
use ferrocast_protocol::{SOCKET_ID_PARAM, Sender, Vsn, WireData};
use ferrocast_pubsub::Identity;
use ferrocast_pubsub::{Backend, HistoryLimits, Hub, OutFrame, Outbox, OutboxLimits, PresenceHub, Session};
use ferrocast_reactor::demo;
use ferrocast_reactor::engine::{Engine, EngineLimits};
use libfuzzer_sys::fuzz_target;

/// The relay's default presence window (it has no effect without a runtime, but the backend is the relay's).
const PRESENCE_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// The socket identity both connections give when the script says they are one client socket.
const SHARED_SOCKET_ID: &str = "fuzzsocket0000000000000000000000";

fuzz_target!(|input: &[u8]| {
    let script = Script::read(input);
    let backend = relay_backend();
    let mut connections: Vec<Connection> =
        (0..CONNECTIONS).map(|index| Connection::open(&backend, &script, index)).collect();
    for step in &script.steps {
        if step.reconnect {
            connections[step.connection].reconnect(&backend, &script);
        }
        let connection = &mut connections[step.connection];
        if !connection.handle(step.message.as_wire()) {
            connection.reconnect(&backend, &script);
        }
        // Either connection may have been sent something: a reply, a push, a broadcast, a presence diff.
        for connection in &connections {
            drain(connection);
        }
    }
    // Closing every connection runs the channels' leave hooks, which broadcast to whoever is still there.
    for index in 0..CONNECTIONS {
        connections[index].close();
        connections.iter().for_each(drain);
    }
});

/// The backend as `relay/src/state.rs` builds it: the built-in channels and default history. Without a runtime the
/// workflow engine starts no run (`workflow:execute` replies `engine unavailable`); joins and the other reactor
/// events are served as in the relay.
fn relay_backend() -> Arc<Backend> {
    let hub = Arc::new(Hub::with_history(HistoryLimits::default()));
    hub.spawn_sweeper();
    let presence = PresenceHub::new(hub.clone(), PRESENCE_WINDOW);
    let engine = Engine::new(demo::catalog(), hub_notifier(hub.clone()), EngineLimits::default());
    let backend = Arc::new(Backend::new(hub, presence, builtin_router(engine)));
    backend.receipts.spawn_sweeper();
    backend
}

/// One client connection: its session and the outbox the relay would write to the socket.
struct Connection {
    index: usize,
    /// `None` once closed.
    session: Option<Session>,
    outbox: Arc<Outbox>,
    vsn: Vsn,
}

impl Connection {
    /// Connects as `relay/src/ws.rs` does, with connection `index`'s serializer and socket identity.
    fn open(backend: &Arc<Backend>, script: &Script, index: usize) -> Self {
        let vsn = script.vsns[index];
        let mut params = HashMap::from([("vsn".to_owned(), vsn.as_param().to_owned())]);
        if script.same_socket_id {
            params.insert(SOCKET_ID_PARAM.to_owned(), SHARED_SOCKET_ID.to_owned());
        }
        let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
        // Anonymous, as every connection is when the relay has no token verifier (its default, dev mode).
        let session = Session::new(Arc::clone(backend), params, vsn, Arc::clone(&outbox), Identity::Anonymous);
        Connection { index, session: Some(session), outbox, vsn }
    }

    /// Hands one client message to the session, as the relay does; `false` when the relay would close the socket
    /// for it (1011 for a malformed frame, 1008 for a client that kept sending over its rate limit).
    fn handle(&mut self, data: WireData<'_>) -> bool {
        let session = self.session.as_mut().expect("an open connection");
        session.handle(data).is_ok()
    }

    /// Ends the session, as the relay does when the socket closes.
    fn close(&mut self) {
        self.session = None;
    }

    /// Closes the connection and opens a new one in its place, after the client read what was queued.
    fn reconnect(&mut self, backend: &Arc<Backend>, script: &Script) {
        self.close();
        drain(self);
        *self = Connection::open(backend, script, self.index);
    }
}

/// Takes every frame the connection's outbox holds and checks that its client decodes each, as the relay's writer
/// would take them for the socket.
fn drain(connection: &Connection) {
    let vsn = connection.vsn;
    let mut batch: Vec<OutFrame> = Vec::new();
    // `next_batch` is ready at once when frames wait or the outbox is closing; pending means nothing waits.
    {
        let mut next = pin!(connection.outbox.next_batch(&mut batch));
        if next.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending() {
            return;
        }
    }
    for frame in batch {
        let data = if frame.text {
            WireData::Text(std::str::from_utf8(&frame.bytes).expect("a text frame is UTF-8"))
        } else {
            WireData::Binary(&frame.bytes)
        };
        if let Err(error) = decode(vsn, Sender::Server, data) {
            panic!("the server queued a frame its {vsn:?} client cannot decode ({error}): {frame:?}");
        }
    }
}
