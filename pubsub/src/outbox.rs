//! A connection's outbound queue: everything the server sends a connection goes through it, in order.
//!
//! Broadcasts, presence diffs, pushes and replies all enter the same queue, so a sender sees its own broadcast
//! before the reply to its push, as with Phoenix. The queue is bounded by frames and bytes. A consumer that falls
//! so far behind that its queue fills is disconnected with [`CLOSE_SLOW_CONSUMER`] instead of growing the relay's
//! memory: what is already queued is still written first, and the client reconnects (and, with the recovery
//! extension, catches up from history).

use bytes::Bytes;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The WebSocket close code for a consumer that could not keep up: 1013, "try again later". phoenix.js and our
/// client reconnect after it.
pub const CLOSE_SLOW_CONSUMER: u16 = 1013;

/// One WebSocket message, its bytes shared by every connection it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFrame {
    /// Send as a text message (valid UTF-8) rather than binary.
    pub text: bool,
    /// The message's bytes; with `rest`, the first of its parts.
    pub bytes: Bytes,
    /// The message's parts after `bytes`, for a message whose middle is shared with other connections' messages
    /// that differ around it (a `presence_state`: its frame names each joiner's join ref). Each part of a text
    /// message is valid UTF-8 on its own. Read the whole message with [`OutFrame::parts`] or
    /// [`OutFrame::contiguous`]. Boxed twice so that every frame queued holds one pointer for it, not two.
    #[allow(clippy::box_collection)]
    pub rest: Option<Box<Vec<Bytes>>>,
    /// For an event-stream frame of a numbered broadcast: its topic and position, from which the stream writes
    /// the event's `id` (every topic's position, so it differs per stream and is not part of the shared bytes).
    pub numbered: Option<Arc<Numbered>>,
}

/// A numbered broadcast's topic and position, shared by every event stream it goes to.
#[derive(Debug, PartialEq, Eq)]
pub struct Numbered {
    /// The topic whose slot of the stream's `id` the position moves.
    pub topic: String,
    /// The broadcast's position.
    pub position: ferrocast_protocol::Position,
}

impl OutFrame {
    /// An encoded frame, ready to share.
    pub fn from_encoded(encoded: ferrocast_protocol::Encoded) -> Self {
        match encoded {
            ferrocast_protocol::Encoded::Text(text) => OutFrame::text(Bytes::from(text)),
            ferrocast_protocol::Encoded::Binary(bytes) => {
                OutFrame { text: false, bytes: Bytes::from(bytes), rest: None, numbered: None }
            }
        }
    }

    /// A text frame; `bytes` must be valid UTF-8.
    pub fn text(bytes: Bytes) -> Self {
        OutFrame { text: true, bytes, rest: None, numbered: None }
    }

    /// A text frame in `parts` (at least one), each valid UTF-8, written one after the other.
    pub fn text_in_parts(mut parts: Vec<Bytes>) -> Self {
        if parts.len() < 2 {
            return OutFrame::text(parts.pop().unwrap_or_default());
        }
        let rest = Box::new(parts.split_off(1));
        OutFrame { text: true, bytes: parts.pop().unwrap_or_default(), rest: Some(rest), numbered: None }
    }

    /// The message's length in bytes, every part included.
    pub fn len(&self) -> usize {
        self.bytes.len() + self.rest.iter().flat_map(|rest| rest.iter()).map(Bytes::len).sum::<usize>()
    }

    /// Whether the message has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message's parts, in order: `bytes`, then `rest`.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.bytes).chain(self.rest.iter().flat_map(|rest| rest.iter()))
    }

    /// The message in one piece: its bytes, or a copy of its parts.
    pub fn contiguous(&self) -> Bytes {
        if self.rest.is_none() {
            return self.bytes.clone();
        }
        let mut whole = Vec::with_capacity(self.len());
        for part in self.parts() {
            whole.extend_from_slice(part);
        }
        Bytes::from(whole)
    }
}

/// Why a connection must close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The WebSocket close code.
    pub code: u16,
    /// A phrase for the close frame, such as `slow consumer`: fixed, or a backend's own words (at most 123 bytes,
    /// what a close frame carries).
    pub reason: Cow<'static, str>,
}

impl CloseReason {
    /// A close with a fixed phrase.
    pub const fn fixed(code: u16, reason: &'static str) -> Self {
        CloseReason { code, reason: Cow::Borrowed(reason) }
    }
}

/// Bounds of an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// The most frames that may wait; 4,096 by default.
    pub max_frames: usize,
    /// The most bytes that may wait; 4 MiB by default.
    pub max_bytes: usize,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits { max_frames: 4_096, max_bytes: 4 << 20 }
    }
}

/// The frames' room a queue keeps once drained.
const KEPT_FRAMES: usize = 16;

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<OutFrame>,
    bytes: usize,
    closing: Option<CloseReason>,
}

/// A connection's outbound queue; producers are the connection's session and every topic it subscribed to.
#[derive(Debug)]
pub struct Outbox {
    limits: OutboxLimits,
    queue: Mutex<Queue>,
    ready: Notify,
}

impl Outbox {
    /// An empty outbox. A frame past `limits` closes the connection as a slow consumer (see [`Outbox::push`]).
    pub fn new(limits: OutboxLimits) -> Self {
        Outbox { limits, queue: Mutex::new(Queue::default()), ready: Notify::new() }
    }

    /// Queues a frame. Returns `false` when the connection is closing, or when the frame does not fit, which
    /// closes the connection as a slow consumer.
    pub fn push(&self, frame: OutFrame) -> bool {
        match self.push_deferring_wake(frame) {
            Some(wake) => {
                if wake {
                    self.wake();
                }
                true
            }
            None => false,
        }
    }

    /// [`Outbox::push`] without the wake-up: `Some(true)` when the frame found the queue empty, and the writer must
    /// be woken with [`Outbox::wake`] once the caller has queued the rest; `None` when refused (a frame that
    /// overflows the queue still closes it, and wakes the writer, at once).
    pub(crate) fn push_deferring_wake(&self, frame: OutFrame) -> Option<bool> {
        let mut queue = self.lock();
        if queue.closing.is_some() {
            return None;
        }
        if queue.frames.len() >= self.limits.max_frames || queue.bytes + frame.len() > self.limits.max_bytes {
            queue.closing = Some(CloseReason::fixed(CLOSE_SLOW_CONSUMER, "slow consumer"));
            drop(queue);
            self.ready.notify_one();
            return None;
        }
        queue.bytes += frame.len();
        let was_empty = queue.frames.is_empty();
        queue.frames.push_back(frame);
        // The writer takes everything queued whenever it wakes, so only the frame that found the queue empty needs
        // to wake it: the rest of a burst costs no wake-ups.
        Some(was_empty)
    }

    /// Wakes the writer, for frames queued with [`Outbox::push_deferring_wake`].
    pub(crate) fn wake(&self) {
        self.ready.notify_one();
    }

    /// Asks the connection to close once what is queued has been written.
    pub fn close(&self, reason: CloseReason) {
        let mut queue = self.lock();
        if queue.closing.is_none() {
            queue.closing = Some(reason);
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.lock().closing.is_some()
    }

    /// Waits for frames and moves all that are queued into `batch`, so the writer can send them in one go.
    /// Returns the close reason instead once the queue is empty and the connection is closing.
    pub async fn next_batch(&self, batch: &mut Vec<OutFrame>) -> Result<(), CloseReason> {
        loop {
            let notified = self.ready.notified();
            {
                let mut queue = self.lock();
                if !queue.frames.is_empty() {
                    batch.extend(queue.frames.drain(..));
                    queue.bytes = 0;
                    // A burst (a join storm's diffs, queued faster than written) grew the queue: what it keeps
                    // afterwards is room for a few frames, as an idle connection's, not for the burst.
                    queue.frames.shrink_to(KEPT_FRAMES);
                    return Ok(());
                }
                if let Some(reason) = &queue.closing {
                    return Err(reason.clone());
                }
            }
            notified.await;
        }
    }

    /// How many frames wait.
    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    /// Whether no frame waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        crate::sharded::lock(&self.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> OutFrame {
        OutFrame::text(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[tokio::test]
    async fn frames_come_out_in_order_in_one_batch() {
        let outbox = Outbox::new(OutboxLimits::default());
        assert!(outbox.push(frame("a")));
        assert!(outbox.push(frame("b")));
        let mut batch = Vec::new();
        outbox.next_batch(&mut batch).await.unwrap();
        assert_eq!(batch, vec![frame("a"), frame("b")]);
    }

    #[tokio::test]
    async fn a_full_outbox_closes_as_a_slow_consumer_after_what_was_queued() {
        let outbox = Outbox::new(OutboxLimits { max_frames: 2, max_bytes: 1 << 20 });
        assert!(outbox.push(frame("a")));
        assert!(outbox.push(frame("b")));
        assert!(!outbox.push(frame("c")));
        assert!(!outbox.push(frame("d")), "nothing more is accepted once closing");
        let mut batch = Vec::new();
        outbox.next_batch(&mut batch).await.unwrap();
        assert_eq!(batch.len(), 2);
        let reason = outbox.next_batch(&mut batch).await.unwrap_err();
        assert_eq!(reason.code, CLOSE_SLOW_CONSUMER);
    }

    #[tokio::test]
    async fn the_byte_limit_counts_too() {
        let outbox = Outbox::new(OutboxLimits { max_frames: 100, max_bytes: 5 });
        assert!(outbox.push(frame("abc")));
        assert!(!outbox.push(frame("abc")));
        assert!(outbox.is_closing());
    }
}
