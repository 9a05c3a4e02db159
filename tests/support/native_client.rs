//! The protocol crate's client state machine driven over a real WebSocket (tokio-tungstenite): a native client with
//! the browser client's behaviour (reconnects, rejoins with recovery, pushes resent once), for tests that need one
//! over a network that fails.
//!
//! One thread owns the machine and the connection. It feeds the machine what the connection reports and the test's
//! commands, does what the machine transmits, arms its timer, and hands its events to the test in order.

#![allow(dead_code, unreachable_pub)]

use ferrocast_protocol::client::{ChannelId, ClientError, Event, Options, PushId, Socket, Transmit};
use ferrocast_protocol::codec::decode;
use ferrocast_protocol::{Encoded, Frame, Payload, SOCKET_ID_PARAM, Sender, Vsn, WireData};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Option<Ws>> + Send>>;

/// The close code reported to the machine when the connection ends without a close frame, as browsers do.
const ABNORMAL_CLOSURE: u16 = 1006;

/// A client socket running on a thread of its own (the machine is not `Send`: its backoff may be a closure).
/// Dropping it stops the thread and drops the connection.
pub struct NativeClient {
    commands: Commands,
    events: mpsc::UnboundedReceiver<Event<Payload>>,
    resent: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
}

enum Command {
    Join { topic: String, params: Payload, done: oneshot::Sender<(ChannelId, Result<PushId, ClientError>)> },
    Push { channel: ChannelId, event: String, payload: Payload, done: oneshot::Sender<Result<PushId, ClientError>> },
}

/// A handle to send commands from other tasks (a pusher beside the task reading events).
#[derive(Clone)]
pub struct Commands(mpsc::UnboundedSender<Command>);

impl NativeClient {
    /// Starts a socket for `endpoint` (`ws://host/socket/websocket`) with the options `options` makes, and
    /// connects it. The URL gets a random socket identity (`ferrocast_sid`), the same for every reconnect, and the
    /// serializer's `vsn`.
    pub fn connect(endpoint: &str, options: impl FnOnce() -> Options + Send + 'static) -> Self {
        let random = RandomState::new();
        let identity = format!("{:016x}{:016x}", random.hash_one(1u8), random.hash_one(2u8));
        let endpoint = format!("{endpoint}?{SOCKET_ID_PARAM}={identity}");
        let seed = random.hash_one(3u8);
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let resent = Arc::new(AtomicU64::new(0));
        let wire = Wire { events: event_tx, resent: resent.clone(), sent_refs: HashSet::new() };
        std::thread::spawn(move || {
            let options = options();
            let vsn = options.vsn;
            let url = format!("{endpoint}&vsn={}", vsn.as_param());
            let mut socket = Socket::new(options, seed);
            socket.connect();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(drive(socket, vsn, url, command_rx, wire, stopped));
        });
        NativeClient { commands: Commands(commands), events, resent, _stop: stop }
    }

    /// Application pushes the machine sent more than once (with their first ref, after a lost connection).
    pub fn resent_pushes(&self) -> u64 {
        self.resent.load(Ordering::Relaxed)
    }

    /// A handle for sending commands from another task.
    pub fn commands(&self) -> Commands {
        self.commands.clone()
    }

    /// The machine's next event, or `None` if none comes within `patience`.
    pub async fn next_event(&mut self, patience: Duration) -> Option<Event<Payload>> {
        match tokio::time::timeout(patience, self.events.recv()).await {
            Ok(Some(event)) => Some(event),
            Ok(None) => panic!("the client's thread ended: it panicked (see above)"),
            Err(_) => None,
        }
    }
}

impl Commands {
    /// Creates a channel for `topic` and joins it; the join's outcome comes as an [`Event::Reply`].
    pub async fn join(&self, topic: &str, params: &str) -> (ChannelId, PushId) {
        let (done, result) = oneshot::channel();
        let params = Payload::Json(params.to_owned());
        self.send(Command::Join { topic: topic.to_owned(), params, done });
        let (channel, join) = result.await.expect("the client's thread answers");
        (channel, join.unwrap_or_else(|error| panic!("join {topic}: {error}")))
    }

    /// Pushes `event` with a JSON payload; the outcome comes as an [`Event::Reply`] for the returned id.
    pub async fn push(&self, channel: ChannelId, event: &str, payload: String) -> PushId {
        let (done, result) = oneshot::channel();
        let payload = Payload::Json(payload);
        self.send(Command::Push { channel, event: event.to_owned(), payload, done });
        result.await.expect("the client's thread answers").unwrap_or_else(|error| panic!("push {event}: {error}"))
    }

    fn send(&self, command: Command) {
        self.0.send(command).unwrap_or_else(|_| panic!("the client's thread has ended"));
    }
}

impl std::ops::Deref for NativeClient {
    type Target = Commands;

    fn deref(&self) -> &Commands {
        &self.commands
    }
}

/// The client's thread: runs until the test drops the client.
async fn drive(
    mut socket: Socket<Payload>,
    vsn: Vsn,
    url: String,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut wire: Wire,
    mut stopped: oneshot::Receiver<()>,
) {
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    let mut connection: Option<Ws> = None;
    let mut connecting: Option<Connecting> = None;
    let mut commands_open = true;
    loop {
        // Do what the machine asks, in order, then flush once.
        let mut lost = false;
        while let Some(transmit) = socket.poll_transmit() {
            match transmit {
                Transmit::Connect => {
                    connection = None;
                    let url = url.clone();
                    connecting = Some(Box::pin(async move { connect_async(url).await.ok().map(|(ws, _)| ws) }));
                }
                Transmit::Send(encoded) => {
                    let Some(ws) = connection.as_mut() else { continue };
                    wire.sending(&encoded);
                    let message = match encoded {
                        Encoded::Text(text) => Message::text(text),
                        Encoded::Binary(bytes) => Message::binary(bytes),
                    };
                    lost |= ws.feed(message).await.is_err();
                }
                // The machine already counts this connection as closed: close it and forget it.
                Transmit::Close { .. } => {
                    if let Some(mut ws) = connection.take() {
                        let _ = ws.close(None).await;
                    }
                }
            }
        }
        if let Some(ws) = connection.as_mut() {
            lost |= ws.flush().await.is_err();
        }
        if lost {
            connection = None;
            socket.handle_close(now(), ABNORMAL_CLOSURE, "send failed");
            continue;
        }
        while let Some(event) = socket.poll_event() {
            // A test that stopped listening is fine: the client keeps running until dropped.
            let _ = wire.events.send(event);
        }
        let wake_at = socket.poll_timeout().map(|at| start + Duration::from_millis(at));

        tokio::select! {
            _ = &mut stopped => return,
            command = commands.recv(), if commands_open => match command {
                Some(command) => obey(&mut socket, now(), command),
                None => commands_open = false,
            },
            opened = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                connecting = None;
                match opened {
                    Some(ws) => {
                        connection = Some(ws);
                        socket.handle_open(now());
                    }
                    None => socket.handle_close(now(), ABNORMAL_CLOSURE, "connect failed"),
                }
            }
            message = async { connection.as_mut().expect("guarded").next().await }, if connection.is_some() => {
                match message {
                    Some(Ok(Message::Text(text))) => receive(&mut socket, now(), vsn, WireData::Text(text.as_str())),
                    Some(Ok(Message::Binary(bytes))) => receive(&mut socket, now(), vsn, WireData::Binary(&bytes)),
                    Some(Ok(Message::Close(frame))) => {
                        connection = None;
                        let (code, reason) = frame
                            .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                            .unwrap_or((ABNORMAL_CLOSURE, String::new()));
                        socket.handle_close(now(), code, &reason);
                    }
                    Some(Ok(_)) => {} // pings are answered by tungstenite
                    Some(Err(_)) | None => {
                        connection = None;
                        socket.handle_close(now(), ABNORMAL_CLOSURE, "connection lost");
                    }
                }
            }
            () = sleep_until(wake_at) => socket.handle_timeout(now()),
        }
    }
}

/// What the driver tells the test: the machine's events, and how many pushes went out again.
struct Wire {
    events: mpsc::UnboundedSender<Event<Payload>>,
    resent: Arc<AtomicU64>,
    /// Refs of the application pushes sent so far.
    sent_refs: HashSet<String>,
}

impl Wire {
    /// Counts an application push sent with a ref it was sent with before. Only V2 JSON is looked at, which is what
    /// the tests speak.
    fn sending(&mut self, encoded: &Encoded) {
        let Encoded::Text(text) = encoded else { return };
        let Ok(Value::Array(fields)) = serde_json::from_str::<Value>(text) else { return };
        let (Some(Value::String(push_ref)), Some(Value::String(event))) = (fields.get(1), fields.get(3)) else {
            return;
        };
        let control = event.starts_with("phx_") || event == "heartbeat";
        if !control && !self.sent_refs.insert(push_ref.clone()) {
            self.resent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn obey(socket: &mut Socket<Payload>, now: u64, command: Command) {
    match command {
        Command::Join { topic, params, done } => {
            let channel = socket.channel(&topic, params);
            let _ = done.send((channel, socket.join(now, channel, None)));
        }
        Command::Push { channel, event, payload, done } => {
            let _ = done.send(socket.push(now, channel, &event, payload, None));
        }
    }
}

fn receive(socket: &mut Socket<Payload>, now: u64, vsn: Vsn, data: WireData<'_>) {
    let frame: Frame = decode(vsn, Sender::Server, data).unwrap_or_else(|error| panic!("a server frame: {error}"));
    socket.handle_frame(now, frame);
}

/// Sleeps until `at`, or forever when the machine has no timer armed.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
