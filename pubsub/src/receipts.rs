//! Pushes already handled, remembered per client socket, so a push sent again after a lost connection is answered
//! with its first reply instead of reaching its handler twice.
//!
//! A client that speaks Ferrocast's extension names its socket with a random identity
//! ([`ferrocast_protocol::SOCKET_ID_PARAM`]) that stays the same across reconnects, and sends a push that was not
//! acknowledged again with the same ref. The identity and the push's topic and ref are the receipt's key. The first
//! session to claim a key runs the handler; a later claim gets the stored reply. A claim that arrives while the first
//! is still being handled (the old connection's last frames read after the new connection's resend) waits for it:
//! the reply goes to both.
//!
//! Memory is bounded per socket by count and bytes (the oldest receipts go first) and in time: a socket's receipts
//! are forgotten once it has been quiet for the time limit, which exceeds any sensible push timeout.

use crate::outbox::{OutFrame, Outbox};
use crate::sharded::{Sharded, lock};
use ferrocast_protocol::codec::encode;
use ferrocast_protocol::{Frame, Payload, Reply, Sender, Vsn};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much the relay remembers of the pushes each socket sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptLimits {
    /// Receipts kept per socket. Default 256: far more pushes than a client leaves unacknowledged at once.
    pub per_socket: usize,
    /// Bytes of stored replies kept per socket. Default 256 KiB.
    pub bytes_per_socket: usize,
    /// How long a quiet socket's receipts are kept. Default 5 minutes.
    pub ttl: Duration,
}

impl Default for ReceiptLimits {
    fn default() -> Self {
        ReceiptLimits { per_socket: 256, bytes_per_socket: 256 * 1024, ttl: Duration::from_secs(300) }
    }
}

/// A reply's status and response; `None` when the handler sent no reply.
pub(crate) type StoredReply = Option<(String, Payload)>;

/// Where a push's reply goes: a connection's outbox, in its serializer, with its current join ref.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    /// The connection's outbox.
    pub outbox: Arc<Outbox>,
    /// The connection's serializer.
    pub vsn: Vsn,
    /// The join ref of the channel the push came on.
    pub join_ref: Option<String>,
}

impl ReplyTo {
    /// Sends the reply to push `ref` on `topic`, if there is one.
    pub fn send(&self, topic: &str, r#ref: &str, reply: &StoredReply) {
        let Some((status, response)) = reply else { return };
        let frame = Frame::Reply(Reply {
            join_ref: self.join_ref.clone(),
            r#ref: Some(r#ref.to_owned()),
            topic: topic.to_owned(),
            status: status.clone(),
            response: response.clone(),
            ext: None,
        });
        if let Ok(encoded) = encode(self.vsn, Sender::Server, &frame) {
            self.outbox.push(OutFrame::from_encoded(encoded));
        }
    }
}

/// What a session may do with a push it received.
#[derive(Debug)]
pub enum Claim {
    /// Never seen: handle it, then call [`Receipts::finish`].
    New,
    /// Handled before: this was the reply, to send again.
    Handled(StoredReply),
    /// Being handled by another connection of the same socket, which will send the reply here too.
    Waiting,
}

enum Receipt {
    Handling(Vec<ReplyTo>),
    Handled(StoredReply),
}

impl Receipt {
    fn bytes(&self) -> usize {
        match self {
            Receipt::Handled(Some((status, response))) => status.len() + response.len(),
            Receipt::Handling(_) | Receipt::Handled(None) => 0,
        }
    }
}

/// The key of one push: its topic and ref.
type PushKey = (String, String);

#[derive(Default)]
struct SocketReceipts {
    last_used: Option<Instant>,
    by_key: HashMap<PushKey, Receipt>,
    /// Keys oldest first, to evict by.
    order: VecDeque<PushKey>,
    bytes: usize,
}

impl SocketReceipts {
    fn evict_beyond(&mut self, limits: &ReceiptLimits) {
        while self.order.len() > limits.per_socket || self.bytes > limits.bytes_per_socket {
            let Some(key) = self.order.pop_front() else { return };
            if let Some(receipt) = self.by_key.remove(&key) {
                self.bytes -= receipt.bytes();
            }
        }
    }
}

/// Every socket's receipts, sharded by socket identity so sockets rarely meet on a lock.
pub struct Receipts {
    limits: ReceiptLimits,
    sockets: Sharded<Mutex<HashMap<String, SocketReceipts>>>,
}

impl std::fmt::Debug for Receipts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipts").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Receipts {
    /// Receipts kept within `limits`.
    pub fn new(limits: ReceiptLimits) -> Self {
        Receipts { limits, sockets: Sharded::default() }
    }

    /// Claims push `ref` on `topic` from socket `socket_id`, replying to `reply_to` if it is already under way.
    pub fn claim(&self, socket_id: &str, topic: &str, r#ref: &str, reply_to: impl FnOnce() -> ReplyTo) -> Claim {
        let mut sockets = lock(self.sockets.shard(socket_id));
        let socket = sockets.entry(socket_id.to_owned()).or_default();
        socket.last_used = Some(Instant::now());
        let key = (topic.to_owned(), r#ref.to_owned());
        match socket.by_key.get_mut(&key) {
            Some(Receipt::Handled(reply)) => Claim::Handled(reply.clone()),
            Some(Receipt::Handling(waiting)) => {
                waiting.push(reply_to());
                Claim::Waiting
            }
            None => {
                socket.by_key.insert(key.clone(), Receipt::Handling(Vec::new()));
                socket.order.push_back(key);
                socket.evict_beyond(&self.limits);
                Claim::New
            }
        }
    }

    /// Records the reply to a push claimed with `Claim::New`, and sends it to the connections that waited for it.
    pub fn finish(&self, socket_id: &str, topic: &str, r#ref: &str, reply: StoredReply) {
        let waiting = {
            let mut sockets = lock(self.sockets.shard(socket_id));
            let Some(socket) = sockets.get_mut(socket_id) else { return };
            let key = (topic.to_owned(), r#ref.to_owned());
            let Some(receipt) = socket.by_key.get_mut(&key) else { return };
            let handled = Receipt::Handled(reply.clone());
            socket.bytes += handled.bytes();
            let previous = std::mem::replace(receipt, handled);
            socket.evict_beyond(&self.limits);
            match previous {
                Receipt::Handling(waiting) => waiting,
                Receipt::Handled(_) => Vec::new(),
            }
        };
        for reply_to in waiting {
            reply_to.send(topic, r#ref, &reply);
        }
    }

    /// Forgets the receipts of sockets quiet for longer than the time limit. [`Receipts::spawn_sweeper`] calls it.
    pub fn sweep(&self) {
        let now = Instant::now();
        for shard in self.sockets.shards() {
            lock(shard).retain(|_, socket| socket.last_used.is_some_and(|at| now - at < self.limits.ttl));
        }
    }

    /// How many sockets have receipts.
    pub fn sockets(&self) -> usize {
        self.sockets.shards().map(|shard| lock(shard).len()).sum()
    }

    /// Sweeps every quarter of the time limit (at most once a minute) while the receipts live, when called within a
    /// tokio runtime.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let every = (self.limits.ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        crate::sweeper::spawn_sweeper(self, every, Receipts::sweep);
    }
}

impl Default for Receipts {
    fn default() -> Self {
        Receipts::new(ReceiptLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::OutboxLimits;

    fn reply_to(outbox: &Arc<Outbox>) -> ReplyTo {
        ReplyTo { outbox: Arc::clone(outbox), vsn: Vsn::V2, join_ref: Some("7".into()) }
    }

    fn ok(body: &str) -> StoredReply {
        Some(("ok".into(), Payload::Json(body.into())))
    }

    #[test]
    fn a_push_is_handled_once_and_its_reply_is_given_again() {
        let receipts = Receipts::default();
        let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
        assert!(matches!(receipts.claim("s1", "room:a", "3", || reply_to(&outbox)), Claim::New));
        receipts.finish("s1", "room:a", "3", ok("{\"n\":1}"));
        match receipts.claim("s1", "room:a", "3", || reply_to(&outbox)) {
            Claim::Handled(reply) => assert_eq!(reply, ok("{\"n\":1}")),
            other => panic!("expected the stored reply, got {other:?}"),
        }
        // Another socket, topic or ref is another push.
        assert!(matches!(receipts.claim("s2", "room:a", "3", || reply_to(&outbox)), Claim::New));
        assert!(matches!(receipts.claim("s1", "room:b", "3", || reply_to(&outbox)), Claim::New));
        assert!(matches!(receipts.claim("s1", "room:a", "4", || reply_to(&outbox)), Claim::New));
    }

    #[tokio::test]
    async fn a_claim_made_while_the_push_is_handled_gets_the_reply_when_it_is_done() {
        let receipts = Receipts::default();
        let waiting = Arc::new(Outbox::new(OutboxLimits::default()));
        assert!(matches!(receipts.claim("s1", "room:a", "3", || unreachable!()), Claim::New));
        assert!(matches!(receipts.claim("s1", "room:a", "3", || reply_to(&waiting)), Claim::Waiting));
        assert!(waiting.is_empty());
        receipts.finish("s1", "room:a", "3", ok("{}"));
        let mut frames = Vec::new();
        waiting.next_batch(&mut frames).await.unwrap();
        let text = String::from_utf8(frames[0].bytes.to_vec()).unwrap();
        assert_eq!(text, r#"["7","3","room:a","phx_reply",{"response":{},"status":"ok"}]"#);
    }

    #[test]
    fn each_socket_keeps_at_most_its_limits_oldest_first_out() {
        let limits = ReceiptLimits { per_socket: 3, bytes_per_socket: 1 << 20, ttl: Duration::from_secs(60) };
        let receipts = Receipts::new(limits);
        let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
        for r in 1..=4 {
            let r = r.to_string();
            assert!(matches!(receipts.claim("s1", "t", &r, || reply_to(&outbox)), Claim::New));
            receipts.finish("s1", "t", &r, ok("{}"));
        }
        assert!(matches!(receipts.claim("s1", "t", "1", || reply_to(&outbox)), Claim::New), "the oldest went");
        assert!(matches!(receipts.claim("s1", "t", "4", || reply_to(&outbox)), Claim::Handled(_)));

        let limits = ReceiptLimits { per_socket: 100, bytes_per_socket: 40, ttl: Duration::from_secs(60) };
        let receipts = Receipts::new(limits);
        for r in ["1", "2", "3"] {
            receipts.claim("s1", "t", r, || reply_to(&outbox));
            receipts.finish("s1", "t", r, ok(&format!("\"{}\"", "x".repeat(15))));
        }
        assert!(matches!(receipts.claim("s1", "t", "1", || reply_to(&outbox)), Claim::New), "over 40 bytes");
    }

    #[test]
    fn quiet_sockets_are_forgotten() {
        let limits = ReceiptLimits { ttl: Duration::from_millis(20), ..ReceiptLimits::default() };
        let receipts = Receipts::new(limits);
        let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
        receipts.claim("s1", "t", "1", || reply_to(&outbox));
        receipts.sweep();
        assert_eq!(receipts.sockets(), 1);
        std::thread::sleep(Duration::from_millis(30));
        receipts.sweep();
        assert_eq!(receipts.sockets(), 0);
    }
}
