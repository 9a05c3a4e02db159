//! The offline queue: pushes waiting for the socket to open and their channel to be joined.
//!
//! One queue serves all channels, in the order the application pushed. A channel's pushes leave it together and in
//! order when that channel is joined, so order holds per channel across any number of reconnects.

use super::options::{Overflow, QueueOptions};
use super::output::{ChannelId, DropReason, PushId};
use crate::frame::Payload;
use std::collections::VecDeque;

/// A push waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) push: PushId,
    pub(crate) channel: ChannelId,
    pub(crate) event: String,
    pub(crate) payload: Payload,
    /// The reply timeout to use once it is sent.
    pub(crate) timeout_ms: u64,
    /// When it is dropped if still waiting.
    pub(crate) expires_at: u64,
    /// The ref it went out with, when it was sent and then brought back by a lost connection: it is sent again
    /// with the same ref, which is how the server knows it for the same push.
    pub(crate) sent_ref: Option<u64>,
}

impl Queued {
    /// What the push counts against `max_bytes`.
    fn bytes(&self) -> usize {
        self.event.len() + self.payload.len()
    }
}

/// The result of offering a push to the queue.
#[derive(Debug)]
pub(crate) enum Admission {
    /// The push waits; these older pushes were dropped to make room for it.
    Queued { evicted: Vec<Queued> },
    /// The push was refused and is handed back.
    Refused(Queued, DropReason),
}

#[derive(Debug)]
pub(crate) struct OfflineQueue {
    limits: QueueOptions,
    waiting: VecDeque<Queued>,
    bytes: usize,
}

impl OfflineQueue {
    pub(crate) fn new(limits: QueueOptions) -> Self {
        OfflineQueue { limits, waiting: VecDeque::new(), bytes: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// How long a push with this reply timeout may wait.
    pub(crate) fn ttl_ms(&self, timeout_ms: u64) -> u64 {
        self.limits.ttl_ms.unwrap_or(timeout_ms)
    }

    /// Whether any push of this channel is waiting.
    pub(crate) fn has_channel(&self, channel: ChannelId) -> bool {
        self.waiting.iter().any(|queued| queued.channel == channel)
    }

    /// Offers a push, applying the overflow policy when it does not fit.
    pub(crate) fn offer(&mut self, push: Queued) -> Admission {
        let size = push.bytes();
        // A push larger than the whole byte budget can never fit, whatever is evicted.
        if self.limits.max_messages == 0 || size > self.limits.max_bytes {
            return Admission::Refused(push, DropReason::QueueFull);
        }
        let mut evicted = Vec::new();
        while self.waiting.len() >= self.limits.max_messages || self.bytes + size > self.limits.max_bytes {
            match self.limits.overflow {
                Overflow::Reject => return Admission::Refused(push, DropReason::QueueFull),
                Overflow::DropOldest => {
                    // The loop runs only while something is waiting, because the push alone fits the limits.
                    if let Some(oldest) = self.pop_front() {
                        evicted.push(oldest);
                    }
                }
            }
        }
        self.bytes += size;
        self.waiting.push_back(push);
        Admission::Queued { evicted }
    }

    /// Puts pushes that were sent but not acknowledged back at the head of the queue, in the order they were sent
    /// (`pushes` is). They were admitted once and their memory is already held, so the limits do not apply to them
    /// again: nothing the application was told is on its way is dropped for room.
    ///
    /// The order sent is a channel's order of creation too (a channel sends its pushes in the order they were made,
    /// its queued ones when it joins), and each channel takes its own pushes out, so this is the order they go again.
    pub(crate) fn requeue_unacknowledged(&mut self, pushes: Vec<Queued>) {
        for queued in pushes.into_iter().rev() {
            self.bytes += queued.bytes();
            self.waiting.push_front(queued);
        }
    }

    /// Takes every waiting push of `channel`, oldest first.
    pub(crate) fn take_channel(&mut self, channel: ChannelId) -> Vec<Queued> {
        self.take_where(&|queued| queued.channel == channel)
    }

    /// Takes one push by id, if it is waiting.
    pub(crate) fn take_push(&mut self, push: PushId) -> Option<Queued> {
        // Pushes expire oldest first, so this is nearly always the front one; otherwise one turn of the queue,
        // linear as finding the push is, rather than `VecDeque::remove`, whose code the browser's wasm would carry.
        if self.waiting.front()?.push == push {
            return self.pop_front();
        }
        self.take_where(&|queued| queued.push == push).pop()
    }

    fn pop_front(&mut self) -> Option<Queued> {
        let queued = self.waiting.pop_front()?;
        self.bytes -= queued.bytes();
        Some(queued)
    }

    /// A predicate behind a reference, not a type parameter: one copy of the loop for both callers in the browser's
    /// wasm.
    fn take_where(&mut self, wanted: &dyn Fn(&Queued) -> bool) -> Vec<Queued> {
        let mut taken = Vec::new();
        // One turn of the queue, in place: each push leaves the front and, unless taken, goes back at the end, so
        // the order holds (and the browser's wasm needs no second queue's code).
        for _ in 0..self.waiting.len() {
            let Some(queued) = self.waiting.pop_front() else { break };
            if wanted(&queued) {
                self.bytes -= queued.bytes();
                taken.push(queued);
            } else {
                self.waiting.push_back(queued);
            }
        }
        taken
    }
}
