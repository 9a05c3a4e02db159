//! What subscribers receive during a measured window: latencies, counts, and who was closed.
//!
//! Subscribers are many (thousands) and a 60-second, three-digit histogram is a quarter of a megabyte, so they do
//! not own one each: they record into a few shards (subscriber index modulo [`SHARDS`]), each behind its own lock,
//! which two worker threads rarely contend for. A subscriber records once per WebSocket message, all of that
//! message's deliveries at once.
//!
//! A window counts only payloads whose sequence number is at least the window's first: a late delivery from an
//! earlier step of a ramp is not counted twice, nor mistaken for one of this step.

use crate::latency;
use crate::stamp::Stamp;
use hdrhistogram::Histogram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Locks subscribers' records are spread over.
const SHARDS: usize = 16;
/// The first sequence number while no window is open: nothing is counted.
const CLOSED: u64 = u64::MAX;

/// The deliveries of one window.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// Publish-to-receive latencies.
    pub latency: Histogram<u64>,
    /// Payloads received, summed over subscribers.
    pub received: u64,
    /// WebSocket messages (or event-stream chunks) that carried them: fewer than `received` when frames come
    /// batched.
    pub messages: u64,
    /// When the last one arrived, in the generator's clock.
    pub last_receive_ns: u64,
}

impl Window {
    fn new() -> Window {
        Window { latency: latency::histogram(), received: 0, messages: 0, last_receive_ns: 0 }
    }

    fn merge(&mut self, other: &Window) {
        self.latency.add(&other.latency).expect("histograms of equal bounds");
        self.received += other.received;
        self.messages += other.messages;
        self.last_receive_ns = self.last_receive_ns.max(other.last_receive_ns);
    }
}

/// Shared by the subscribers (which record) and the scenario (which opens and closes windows).
pub(crate) struct Recorder {
    first_seq: AtomicU64,
    shards: Vec<Mutex<Window>>,
    closed: AtomicUsize,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            first_seq: AtomicU64::new(CLOSED),
            shards: (0..SHARDS).map(|_| Mutex::new(Window::new())).collect(),
            closed: AtomicUsize::new(0),
        }
    }
}

impl Recorder {
    /// Records what subscriber `subscriber` read in one message at `now_ns`.
    pub(crate) fn record(&self, subscriber: usize, stamps: &[Stamp], now_ns: u64) {
        let first_seq = self.first_seq.load(Ordering::Acquire);
        let mut counted = stamps.iter().filter(|stamp| stamp.seq >= first_seq).peekable();
        if counted.peek().is_none() {
            return;
        }
        let mut shard = self.shards[subscriber % SHARDS].lock().expect("recorder lock");
        for stamp in counted {
            latency::record_ns(&mut shard.latency, now_ns.saturating_sub(stamp.sent_ns));
            shard.received += 1;
        }
        shard.messages += 1;
        shard.last_receive_ns = shard.last_receive_ns.max(now_ns);
    }

    /// Starts counting payloads numbered `first_seq` and after, from nothing.
    pub(crate) fn open_window(&self, first_seq: u64) {
        self.first_seq.store(CLOSED, Ordering::Release);
        for shard in &self.shards {
            *shard.lock().expect("recorder lock") = Window::new();
        }
        self.first_seq.store(first_seq, Ordering::Release);
    }

    /// Payloads received so far in the window.
    pub(crate) fn received(&self) -> u64 {
        self.shards.iter().map(|shard| shard.lock().expect("recorder lock").received).sum()
    }

    /// Stops counting and returns the window's deliveries.
    pub(crate) fn close_window(&self) -> Window {
        self.first_seq.store(CLOSED, Ordering::Release);
        let mut total = Window::new();
        for shard in &self.shards {
            total.merge(&shard.lock().expect("recorder lock"));
        }
        total
    }

    /// A subscriber's connection was closed (by the server or by an error) before the scenario ended.
    pub(crate) fn subscriber_closed(&self) {
        self.closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Subscribers closed so far.
    pub(crate) fn closed(&self) -> usize {
        self.closed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_its_own_sequence_numbers_only() {
        let recorder = Recorder::default();
        let stamp = |seq| Stamp { sent_ns: 1_000, seq };
        recorder.record(0, &[stamp(0)], 2_000);
        recorder.open_window(10);
        recorder.record(0, &[stamp(9), stamp(10), stamp(11)], 3_000_000);
        recorder.record(17, &[stamp(12)], 5_000_000);
        recorder.record(3, &[stamp(5)], 9_000_000);
        assert_eq!(recorder.received(), 3);
        let window = recorder.close_window();
        assert_eq!((window.received, window.messages, window.last_receive_ns), (3, 2, 5_000_000));
        assert_eq!(window.latency.len(), 3);
        recorder.record(0, &[stamp(20)], 6_000_000);
        assert_eq!(recorder.received(), 3, "nothing counts once the window is closed");
    }
}
