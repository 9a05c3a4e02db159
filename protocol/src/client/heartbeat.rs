//! Heartbeats: when the next one is due, and whether the last one was answered in time.
//!
//! As in phoenix.js, the next heartbeat is scheduled from the reply to the previous one, not on a fixed clock, so a
//! page whose timers were throttled in a background tab does not fire heartbeats back to back when it wakes.

/// A heartbeat sent and not yet answered.
#[derive(Debug, Clone)]
struct Pending {
    r#ref: u64,
    sent_at: u64,
    deadline: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Heartbeat {
    /// When the next heartbeat goes out, while none is pending.
    next_at: Option<u64>,
    pending: Option<Pending>,
    /// The round trip of the latest answered heartbeat.
    last_rtt_ms: Option<u64>,
}

/// What a heartbeat timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Send a heartbeat now.
    Send,
    /// The pending heartbeat went unanswered: the connection is dead.
    TimedOut,
}

impl Heartbeat {
    /// Starts the cycle on a new connection.
    pub(crate) fn start(&mut self, now: u64, interval_ms: u64) {
        self.pending = None;
        self.next_at = Some(now + interval_ms);
    }

    /// Stops the cycle when the connection is gone.
    pub(crate) fn stop(&mut self) {
        self.pending = None;
        self.next_at = None;
    }

    /// Records a heartbeat sent now.
    pub(crate) fn sent(&mut self, r#ref: u64, now: u64, timeout_ms: u64) {
        self.next_at = None;
        self.pending = Some(Pending { r#ref, sent_at: now, deadline: now + timeout_ms });
    }

    /// Whether a heartbeat is awaiting its reply.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Brings the pending heartbeat's deadline forward to at most `deadline` (a probe wants an answer soon).
    pub(crate) fn tighten(&mut self, deadline: u64) {
        if let Some(pending) = &mut self.pending {
            pending.deadline = pending.deadline.min(deadline);
        }
    }

    /// Handles a reply with this ref; returns whether it answered the pending heartbeat.
    pub(crate) fn answered(&mut self, r#ref: Option<u64>, now: u64, interval_ms: u64) -> bool {
        match &self.pending {
            Some(pending) if r#ref == Some(pending.r#ref) => {
                self.last_rtt_ms = Some(now.saturating_sub(pending.sent_at));
                self.pending = None;
                self.next_at = Some(now + interval_ms);
                true
            }
            _ => false,
        }
    }

    /// The next time this needs attention.
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.pending.as_ref().map(|pending| pending.deadline).or(self.next_at)
    }

    /// What is due at `now`, if anything.
    pub(crate) fn due(&self, now: u64) -> Option<Due> {
        match (&self.pending, self.next_at) {
            (Some(pending), _) if pending.deadline <= now => Some(Due::TimedOut),
            (None, Some(next_at)) if next_at <= now => Some(Due::Send),
            _ => None,
        }
    }

    pub(crate) fn last_rtt_ms(&self) -> Option<u64> {
        self.last_rtt_ms
    }
}
