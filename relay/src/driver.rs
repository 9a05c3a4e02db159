//! The one loop every connection runs, whatever carries it: a WebSocket, an event-stream socket (events out, POSTs
//! in), a topic stream (events out, nothing in). A transport is what reads the client's input and writes the
//! outbox's batches and the close ([`Transport`]); this loop decides when: input into the session, the outbox out,
//! the idle timeout, the keep-alive, the shutdown's turn, and the close after the last queued frame.
//!
//! A new transport (long polling) is a new [`Transport`], nothing more.
//!
//! Two more inputs join the loop where they exist: the answers of the backend hooks the session asked (handed back
//! to it with [`Session::land`]), and the end of the connection's [`Lifetime`].
//!
//! One task per connection reads into the session and writes what its outbox holds, whichever is ready. One task
//! rather than a reader and a writer: a reply is written by the task that handled the push, with no wake-up of
//! another task (often on the other core) in between, and an idle connection holds one task's state. For the same
//! reason a transport is one value that reads and writes, not two halves: splitting a WebSocket takes a lock on
//! every poll. While a batch is being written the connection reads nothing; a client that stops reading is
//! therefore also not read from until the write completes, or its outbox overflows and it is closed.

use crate::close;
use crate::lifetime::Lifetime;
use crate::state::{OpenConnection, Relay};
use ferrocast_protocol::WireData;
use ferrocast_pubsub::{CLOSE_SLOW_CONSUMER, CloseReason, Landed, OutFrame, Outbox, Session};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

/// The frames' room a connection's batch keeps between writes (see [`ferrocast_pubsub::Outbox::next_batch`]).
const KEPT_FRAMES: usize = 16;

/// What a transport read from its client.
pub(crate) enum Read<I> {
    /// Input for the session.
    Input(I),
    /// Input the transport refused (over the size limit, not UTF-8): what is queued is still written, then this
    /// close.
    Refused(CloseReason),
    /// The client is gone, or the connection broke: nothing more can be written either.
    Gone,
}

/// The transport could not write: its client is gone.
pub(crate) struct Gone;

/// How a connection reads its client's input and writes to it.
pub(crate) trait Transport: Send {
    /// One read's worth of the client's input: a message, a POSTed body.
    type Input: Send;

    /// Waits for the client's next input. A transport whose client sends nothing waits until the client is gone.
    fn read(&mut self) -> impl Future<Output = Read<Self::Input>> + Send;

    /// Hands each frame of `input` to the session, in order, and stops at the first one that closes the connection.
    fn receive(input: Self::Input, session: &mut Inbound<'_>) -> Result<(), CloseReason>;

    /// Writes one batch from the outbox (which it may drain).
    fn write(&mut self, batch: &mut Vec<OutFrame>) -> impl Future<Output = Result<(), Gone>> + Send;

    /// Writes something that keeps a quiet connection open through proxies; see [`Timers::keep_alive`].
    fn keep_alive(&mut self) -> impl Future<Output = Result<(), Gone>> + Send {
        async { Ok(()) }
    }

    /// Writes the close, the last thing the connection writes.
    fn close(&mut self, reason: CloseReason) -> impl Future<Output = ()> + Send;
}

/// The timers a transport runs under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    /// A client that sends nothing for this long is closed with [`close::IDLE`]; `None` for a client that never
    /// sends (a topic stream).
    pub(crate) idle: Option<Duration>,
    /// A connection that wrote nothing for this long writes a keep-alive; `None` for a transport whose client
    /// heartbeats (a socket: the replies keep it busy).
    pub(crate) keep_alive: Option<Duration>,
}

/// What a connection's session does besides answering frames: the hooks' answers it waits for, and when its life
/// ends. `None` for a topic stream, whose client sends nothing.
pub(crate) struct Sessioned {
    pub(crate) session: Session,
    pub(crate) lifetime: Option<Lifetime>,
}

/// The session a transport hands the client's frames to, with the relay's accounting of them.
pub(crate) struct Inbound<'a> {
    relay: &'a Relay,
    session: &'a mut Session,
}

impl Inbound<'_> {
    /// Hands one frame to the session; `None` is a frame the transport could not decode (a POSTed line that is not
    /// UTF-8 or base64). `Err` with the close when the session refuses it.
    pub(crate) fn frame(&mut self, frame: Option<WireData<'_>>) -> Result<(), CloseReason> {
        self.relay.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
        let conn = self.session.conn().0;
        let Some(data) = frame else {
            self.relay.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conn, "closing a connection that sent an undecodable frame");
            return Err(close::MALFORMED);
        };
        let joined_before = self.session.joined_count() as i64;
        let handled = self.session.handle(data);
        self.relay.joined_channels_changed(self.session.joined_count() as i64 - joined_before);
        handled.map_err(|error| close::for_session_error(self.relay, conn, &error))
    }

    /// Hands a hook's answer back to the session that asked.
    fn land(&mut self, landed: Landed) {
        let joined_before = self.session.joined_count() as i64;
        self.session.land(landed);
        self.relay.joined_channels_changed(self.session.joined_count() as i64 - joined_before);
    }
}

/// A connection from its first read to its close: `session` handles what the client sends (`None` for a topic
/// stream, whose client sends nothing), `outbox` holds what goes to it, `conn` places it in the shutdown's batches.
/// Dropped before it ends (an event stream's client went away), it undoes as much as when it returns.
pub(crate) fn run<T: Transport>(
    relay: Arc<Relay>,
    open: OpenConnection,
    conn: u64,
    outbox: Arc<Outbox>,
    session: Option<Sessioned>,
    timers: Timers,
    transport: T,
) -> impl Future<Output = ()> + Send {
    let (session, lifetime) = match session {
        Some(Sessioned { mut session, lifetime }) => {
            let answers = session.take_answers();
            (Some(CountedSession { relay: relay.clone(), session, answers }), lifetime)
        }
        None => (None, None),
    };
    let mut connection = Connection { transport, session, _closed_last: ClosedLast(outbox.clone()), _open: open };
    // An async block, not an `async fn`: the block uses what it captured in place, where an `async fn`'s future
    // keeps its arguments apart from the locals they move into (720 bytes twice, in every idle WebSocket's task).
    async move {
        let Connection { transport, session, .. } = &mut connection;
        // Boxed, and only for a connection with an end: a WebSocket's task stays as small as it was.
        let ended = lifetime.map(|lifetime| Box::pin(lifetime.ended()));
        drive(&relay, conn, &outbox, session, ended, timers, transport).await;
    }
}

/// What a connection owns, in the order it is let go of: the transport and the session (which leaves its topics),
/// then the outbox closed, then the connection no longer counted.
struct Connection<T> {
    transport: T,
    session: Option<CountedSession>,
    _closed_last: ClosedLast,
    _open: OpenConnection,
}

/// The loop of [`run`]; it takes references only, so its future holds no copy of what the connection owns.
async fn drive<T: Transport>(
    relay: &Relay,
    conn: u64,
    outbox: &Outbox,
    session: &mut Option<CountedSession>,
    mut ended: Option<std::pin::Pin<Box<impl Future<Output = CloseReason> + Send>>>,
    timers: Timers,
    transport: &mut T,
) {
    let mut batch = Vec::new();
    let mut shutdown = relay.shutdown_signal();
    // These futures live across the loop's turns, so a stream of frames neither postpones the idle timeout's end
    // (it is reset per read instead) nor restarts the shutdown's wait for this connection's turn.
    let shutdown_turn = shutdown.wait_turn(conn);
    let idle = tokio::time::sleep(timers.idle.unwrap_or(Duration::MAX));
    // Boxed, and only for a transport that keeps alive: a WebSocket's task stays as small as it was.
    let mut keep_alive = timers.keep_alive.map(|after| Box::pin(tokio::time::sleep(after)));
    tokio::pin!(shutdown_turn, idle);
    // Cleared once the connection is closing: what is queued is still written, then the close.
    let mut reading = true;
    // The session's hooks' answers, apart from the session so both can be borrowed in one turn.
    let mut answers = session.as_mut().and_then(|counted| counted.answers.take());
    loop {
        tokio::select! {
            Some(landed) = next_answer(&mut answers), if answers.is_some() && reading => {
                if let Some(counted) = session.as_mut() {
                    Inbound { relay, session: &mut counted.session }.land(*landed);
                }
            }
            close = async { ended.as_mut().expect("only polled with an end").as_mut().await },
                if ended.is_some() && reading =>
            {
                if close == close::EXPIRED {
                    relay.metrics.expired_connections.fetch_add(1, Ordering::Relaxed);
                }
                tracing::info!(conn, code = close.code, "closing a connection at the end of its life");
                outbox.close(close);
                reading = false;
                ended = None;
            }
            read = transport.read(), if reading => {
                let input = match read {
                    Read::Input(input) => input,
                    Read::Refused(reason) => {
                        outbox.close(reason);
                        reading = false;
                        continue;
                    }
                    Read::Gone => break,
                };
                restart(idle.as_mut(), timers.idle);
                let received = match session.as_mut() {
                    Some(counted) => {
                        T::receive(input, &mut Inbound { relay, session: &mut counted.session })
                    }
                    None => Ok(()),
                };
                if let Err(reason) = received {
                    outbox.close(reason);
                    reading = false;
                }
            }
            queued = outbox.next_batch(&mut batch) => match queued {
                Ok(()) => {
                    let count = batch.len() as u64;
                    if transport.write(&mut batch).await.is_err() {
                        break;
                    }
                    batch.clear();
                    // A burst (a join storm's diffs) may have grown it: an idle socket keeps room for a few frames.
                    batch.shrink_to(KEPT_FRAMES);
                    relay.metrics.frames_out.fetch_add(count, Ordering::Relaxed);
                    if let Some(keep_alive) = &mut keep_alive {
                        restart(keep_alive.as_mut(), timers.keep_alive);
                    }
                }
                Err(reason) => {
                    if reason.code == CLOSE_SLOW_CONSUMER {
                        relay.metrics.slow_consumers.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(conn, "closing a slow consumer");
                    }
                    transport.close(reason).await;
                    break;
                }
            },
            () = &mut idle, if reading && timers.idle.is_some() => {
                relay.metrics.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                outbox.close(close::IDLE);
                reading = false;
            }
            () = async { keep_alive.as_mut().expect("only polled when kept alive").as_mut().await },
                if keep_alive.is_some() =>
            {
                if transport.keep_alive().await.is_err() {
                    break;
                }
                if let Some(keep_alive) = &mut keep_alive {
                    restart(keep_alive.as_mut(), timers.keep_alive);
                }
            }
            () = &mut shutdown_turn, if reading => {
                outbox.close(close::GOING_AWAY);
                reading = false;
            }
        }
    }
}

/// A session whose joins count in the relay's `joined_channels` until it is dropped, and the connection with it.
struct CountedSession {
    relay: Arc<Relay>,
    session: Session,
    /// Where its hooks' answers arrive, until the loop takes it.
    answers: Option<mpsc::UnboundedReceiver<Box<Landed>>>,
}

/// The next hook answer; never, for a connection that asks none.
async fn next_answer(answers: &mut Option<mpsc::UnboundedReceiver<Box<Landed>>>) -> Option<Box<Landed>> {
    match answers {
        Some(answers) => answers.recv().await,
        None => std::future::pending().await,
    }
}

impl Drop for CountedSession {
    fn drop(&mut self) {
        self.relay.joined_channels_changed(-(self.session.joined_count() as i64));
    }
}

/// Closes the outbox once the connection is over: topics the session left no longer push here, and anything that
/// raced with leaving them is refused rather than kept.
struct ClosedLast(Arc<Outbox>);

impl Drop for ClosedLast {
    fn drop(&mut self) {
        self.0.close(close::NORMAL);
    }
}

/// Sets a timer to end `after` from now, if it runs at all.
fn restart(timer: std::pin::Pin<&mut Sleep>, after: Option<Duration>) {
    if let Some(after) = after {
        timer.reset(Instant::now() + after);
    }
}
