//! One endpoint's waiting events, its batch being sent, and its dead letters: bounded, and never silently lossy.
//! An event that does not fit pushes the oldest waiting ones into a dead batch, counted, which
//! `POST /api/webhooks/NAME/redeliver` sends again.

use super::event::EventText;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Instant;

/// Dead batches kept per endpoint; past it the oldest are forgotten, counted (`ferrocast_webhook_events_total`
/// with `outcome="forgotten"`) and logged: they can no longer be sent again.
pub(crate) const DEAD_KEPT: usize = 1_000;

/// A batch: its id is the same on every attempt, so a receiver can deduplicate.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) id: String,
    pub(crate) events: Vec<Queued>,
}

/// A waiting event and when it was seen.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) text: EventText,
    pub(crate) seen: Instant,
}

/// A batch that will not be retried, and why.
#[derive(Debug, Clone)]
pub(crate) struct Dead {
    pub(crate) batch: Batch,
    pub(crate) reason: String,
    pub(crate) status: Option<u16>,
    pub(crate) body: Option<String>,
    pub(crate) at_ms: u64,
}

/// What `GET /api/webhooks/NAME/dead` shows of a dead batch.
#[derive(Debug, Serialize)]
pub struct DeadView {
    /// The batch's `webhook-id`.
    pub id: String,
    /// Its events.
    pub events: Vec<serde_json::Value>,
    /// Why it is dead.
    pub reason: String,
    /// The receiver's last status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The receiver's last answer's body, if it answered one that is not retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// When it died, Unix milliseconds.
    pub at: u64,
}

impl Dead {
    pub(crate) fn view(&self) -> DeadView {
        DeadView {
            id: self.batch.id.clone(),
            events: self.batch.events.iter().filter_map(|event| serde_json::from_str(&event.text).ok()).collect(),
            reason: self.reason.clone(),
            status: self.status,
            body: self.body.clone(),
            at: self.at_ms,
        }
    }
}

/// What queueing an event came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// Events sent to the dead letters to make room.
    pub(crate) died: usize,
    /// Events of dead batches forgotten to make room for those.
    pub(crate) forgotten: usize,
    /// Whether the sender must be woken.
    pub(crate) wake: bool,
}

/// One endpoint's queue.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pub(crate) waiting: VecDeque<Queued>,
    /// Batches sent again first, as they were (`redeliver`).
    pub(crate) again: VecDeque<Batch>,
    pub(crate) dead: VecDeque<Dead>,
    pub(crate) in_flight: bool,
}

impl Queue {
    /// Queues `event`; past `limit` waiting, the oldest tenth of the limit (at most `batch_max`, at least one) go to
    /// the dead letters as one batch, so a full queue makes room in steps rather than one dead event at a time.
    pub(crate) fn push(
        &mut self,
        event: Queued,
        limit: usize,
        batch_max: usize,
        new_id: impl Fn() -> String,
    ) -> Pushed {
        let mut pushed = Pushed::default();
        if self.waiting.len() >= limit.max(1) {
            let count = limit.div_ceil(10).clamp(1, batch_max.max(1)).min(self.waiting.len());
            let events: Vec<Queued> = self.waiting.drain(..count).collect();
            pushed.died = events.len();
            let batch = Batch { id: new_id(), events };
            let reason = "queue full".to_owned();
            pushed.forgotten =
                self.bury(Dead { batch, reason, status: None, body: None, at_ms: super::event::now_ms() });
        }
        self.waiting.push_back(event);
        // The sender sleeps while nothing waits and then for the batch window: it needs waking only for a first
        // event and for a full batch, not for each one.
        pushed.wake = self.waiting.len() == 1 || self.waiting.len() >= batch_max;
        pushed
    }

    /// Keeps a dead batch, forgetting the oldest past [`DEAD_KEPT`]; returns how many events were forgotten.
    pub(crate) fn bury(&mut self, dead: Dead) -> usize {
        let forgotten = if self.dead.len() >= DEAD_KEPT {
            self.dead.pop_front().map_or(0, |oldest| oldest.batch.events.len())
        } else {
            0
        };
        self.dead.push_back(dead);
        forgotten
    }

    /// The next batch to send: one to send again, or up to `batch_max` waiting events.
    pub(crate) fn next_batch(&mut self, batch_max: usize, new_id: impl Fn() -> String) -> Option<Batch> {
        if let Some(batch) = self.again.pop_front() {
            return Some(batch);
        }
        if self.waiting.is_empty() {
            return None;
        }
        let count = batch_max.clamp(1, self.waiting.len());
        Some(Batch { id: new_id(), events: self.waiting.drain(..count).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Queued {
        Queued { text: format!("{{\"n\":{n}}}").into(), seen: Instant::now() }
    }

    #[test]
    fn the_oldest_dead_batches_are_forgotten_past_the_bound_and_counted() {
        let mut queue = Queue::default();
        let dead = |n| Dead {
            batch: Batch { id: format!("msg_{n}"), events: vec![event(n), event(n)] },
            reason: String::new(),
            status: None,
            body: None,
            at_ms: 0,
        };
        let forgotten: usize = (0..DEAD_KEPT + 3).map(|n| queue.bury(dead(n))).sum();
        assert_eq!(forgotten, 6);
        assert_eq!(queue.dead.len(), DEAD_KEPT);
        assert_eq!(queue.dead[0].batch.id, "msg_3");
    }

    #[test]
    fn past_its_bound_the_oldest_go_to_the_dead_letters_and_nothing_is_lost() {
        let mut queue = Queue::default();
        let mut died = 0;
        let mut wakes = 0;
        for n in 0..25 {
            let pushed = queue.push(event(n), 10, 4, || "msg_x".to_owned());
            died += pushed.died;
            wakes += usize::from(pushed.wake);
        }
        // Woken for the first event and each time four (a batch) wait: from the fourth event on.
        assert_eq!(wakes, 1 + 22);
        // A tenth of the limit of 10 is one: each event past it sends the oldest one to the dead letters.
        assert_eq!(died, 15);
        assert_eq!(queue.waiting.len(), 10);
        let dead: usize = queue.dead.iter().map(|dead| dead.batch.events.len()).sum();
        assert_eq!(dead + queue.waiting.len(), 25);
        assert_eq!(queue.dead[0].view().events[0], serde_json::json!({"n": 0}));
    }
}
