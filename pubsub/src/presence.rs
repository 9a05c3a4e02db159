//! Who is on each topic, and `presence_diff` broadcasts coalesced over a short window.
//!
//! Phoenix broadcasts one diff per join, so N members joining at once cost about N² frames (a million for 1000
//! joins, 19 s to settle on a 2-core machine). Here the joins and leaves of a topic gather for `window` (50 ms by
//! default) and go out as one diff: a join storm costs a few diffs per subscriber, O(N) frames in all. A member who
//! joins and leaves within one window appears in neither list.
//!
//! The wire format is Phoenix's, so phoenix.js `Presence` works: `presence_state` is
//! `{key: {"metas": [meta, …]}}` and each meta carries a unique `phx_ref`.
//!
//! When relays share presence (see [`crate::cluster`]), this relay's own changes also go to a [`PresenceReplica`],
//! and the other relays' members are tracked here with [`PresenceHub::track_remote`], each relay under one
//! connection id of its own: the state and diffs a client sees then merge every relay's members.

use crate::hub::Hub;
use crate::presence_text::{SharedJson, StateText, metas_array, presence_object};
use crate::sharded::{Sharded, lock};
use crate::wire::ConnId;
use ferrocast_protocol::Payload;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// One tracked presence: a meta of a key, owned by a connection.
///
/// The meta is kept as JSON text, serialized once when tracked: every later `presence_state` and diff is built by
/// concatenating these texts, so a join storm, where each joiner gets the whole state, copies bytes instead of
/// rebuilding and reserializing a JSON tree per join.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub(crate) conn: ConnId,
    /// Tracked by another relay (and replicated here), not by a connection of this one.
    pub(crate) remote: bool,
    pub(crate) phx_ref: String,
    /// The meta as JSON text, including its `phx_ref`.
    pub(crate) meta: String,
}

/// The joins and leaves of one topic not broadcast yet, as meta texts.
#[derive(Debug, Default)]
struct PendingDiff {
    joins: IndexMap<String, Vec<Tracked>>,
    leaves: IndexMap<String, Vec<Tracked>>,
}

#[derive(Debug, Default)]
struct TopicPresence {
    members: IndexMap<String, Vec<Tracked>>,
    /// `Some` while a flush is scheduled.
    pending: Option<PendingDiff>,
    /// `members` as `presence_state` text, for the next join.
    state: StateText,
}

/// Where this relay's own presence changes go when relays share presence.
pub trait PresenceReplica: Send + Sync + std::fmt::Debug {
    /// `key` was tracked on `topic` with `meta` (JSON text, its `phx_ref` included). It must not block.
    fn tracked(&self, topic: &str, key: &str, phx_ref: &str, meta: &str);
    /// These `phx_ref`s left `topic`. It must not block.
    fn untracked(&self, topic: &str, phx_refs: Vec<String>);
}

/// The presences of every topic of this process.
#[derive(Debug)]
pub struct PresenceHub {
    hub: Arc<Hub>,
    window: Duration,
    replica: OnceLock<Arc<dyn PresenceReplica>>,
    topics: Sharded<Mutex<HashMap<String, TopicPresence>>>,
    /// Makes `phx_ref`s unique across restarts: two processes started at different nanoseconds differ.
    nonce: u64,
    next_ref: AtomicU64,
}

impl PresenceHub {
    /// Presence over `hub`, coalescing diffs over `window` (zero broadcasts each change at once).
    pub fn new(hub: Arc<Hub>, window: Duration) -> Arc<Self> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let topics = Sharded::default();
        Arc::new(PresenceHub { hub, window, replica: OnceLock::new(), topics, nonce, next_ref: AtomicU64::new(1) })
    }

    /// Sends this relay's own changes to `replica` from now on; `false` when there is one already.
    pub fn replicate_to(&self, replica: Arc<dyn PresenceReplica>) -> bool {
        self.replica.set(replica).is_ok()
    }

    /// Tracks `key` on `topic` for `conn` with `meta` (an object; a `phx_ref` is added). Returns the `phx_ref`.
    pub fn track(self: &Arc<Self>, topic: &str, key: &str, conn: ConnId, mut meta: Map<String, Value>) -> String {
        let phx_ref = format!("F{:x}-{:x}", self.nonce, self.next_ref.fetch_add(1, Ordering::Relaxed));
        meta.insert("phx_ref".to_owned(), Value::String(phx_ref.clone()));
        let tracked = Tracked { conn, remote: false, phx_ref: phx_ref.clone(), meta: Value::Object(meta).to_string() };
        if let Some(replica) = self.replica.get() {
            replica.tracked(topic, key, &tracked.phx_ref, &tracked.meta);
        }
        self.insert(topic, key, tracked);
        phx_ref
    }

    /// Tracks another relay's member: `meta` is the JSON text it tracked, `phx_ref` included; `owner` stands for
    /// that relay.
    pub fn track_remote(self: &Arc<Self>, topic: &str, key: &str, owner: ConnId, phx_ref: &str, meta: String) {
        self.insert(topic, key, Tracked { conn: owner, remote: true, phx_ref: phx_ref.to_owned(), meta });
    }

    /// Stops tracking members of another relay on `topic`: those with these `phx_ref`s, or all of them.
    pub fn untrack_remote(self: &Arc<Self>, topic: &str, owner: ConnId, phx_refs: Option<&HashSet<String>>) {
        self.remove(topic, |tracked| {
            tracked.conn == owner && phx_refs.is_none_or(|refs| refs.contains(&tracked.phx_ref))
        });
    }

    fn insert(self: &Arc<Self>, topic: &str, key: &str, tracked: Tracked) {
        let schedule = {
            let mut shard = lock(self.topics.shard(topic));
            let presence = shard.entry(topic.to_owned()).or_default();
            let metas = presence.members.entry(key.to_owned()).or_default();
            let new_key = metas.is_empty();
            metas.push(tracked.clone());
            if new_key {
                presence.state.joined_new_key(key, &tracked);
            } else {
                presence.state.changed();
            }
            let newly_pending = presence.pending.is_none();
            let pending = presence.pending.get_or_insert_with(PendingDiff::default);
            pending.joins.entry(key.to_owned()).or_default().push(tracked);
            newly_pending
        };
        if schedule {
            self.schedule_flush(topic);
        }
    }

    /// Stops tracking everything `conn` tracked on `topic`.
    pub fn untrack(self: &Arc<Self>, topic: &str, conn: ConnId) {
        let left = self.remove(topic, |tracked| tracked.conn == conn);
        if let Some(replica) = self.replica.get()
            && !left.is_empty()
        {
            replica.untracked(topic, left);
        }
    }

    /// Stops tracking the members of `topic` that `leaves`; returns their `phx_ref`s.
    fn remove(self: &Arc<Self>, topic: &str, leaves: impl Fn(&Tracked) -> bool) -> Vec<String> {
        let mut refs = Vec::new();
        let schedule = {
            let mut shard = lock(self.topics.shard(topic));
            let Some(presence) = shard.get_mut(topic) else { return refs };
            let mut left: Vec<(String, Tracked)> = Vec::new();
            presence.members.retain(|key, metas| {
                metas.retain(|tracked| {
                    let gone = leaves(tracked);
                    if gone {
                        left.push((key.clone(), tracked.clone()));
                    }
                    !gone
                });
                !metas.is_empty()
            });
            if left.is_empty() {
                return refs;
            }
            presence.state.changed();
            refs.extend(left.iter().map(|(_, tracked)| tracked.phx_ref.clone()));
            let newly_pending = presence.pending.is_none();
            let pending = presence.pending.get_or_insert_with(PendingDiff::default);
            for (key, tracked) in left {
                // A meta that joined within this window leaves without ever having been announced.
                let unannounced = pending.joins.get_mut(&key).and_then(|joins| {
                    let index = joins.iter().position(|joined| joined.phx_ref == tracked.phx_ref)?;
                    Some(joins.remove(index))
                });
                if unannounced.is_none() {
                    pending.leaves.entry(key).or_default().push(tracked);
                }
            }
            pending.joins.retain(|_, metas| !metas.is_empty());
            if presence.members.is_empty() && pending.joins.is_empty() && pending.leaves.is_empty() {
                shard.remove(topic);
                return refs;
            }
            newly_pending
        };
        if schedule {
            self.schedule_flush(topic);
        }
        refs
    }

    /// The topic's presences in `presence_state` form, as JSON text.
    pub fn state(&self, topic: &str) -> String {
        self.shared_state(topic).to_text()
    }

    /// The topic's presences in `presence_state` form, in parts shared with the states handed out before it (see
    /// [`crate::presence_text`]).
    pub(crate) fn shared_state(&self, topic: &str) -> SharedJson {
        let mut shard = lock(self.topics.shard(topic));
        match shard.get_mut(topic) {
            Some(TopicPresence { members, state, .. }) => state.get(members),
            None => SharedJson::empty_object(),
        }
    }

    /// The keys present on `topic`, in the order they first joined.
    pub fn members(&self, topic: &str) -> Vec<String> {
        let shard = lock(self.topics.shard(topic));
        shard.get(topic).map(|presence| presence.members.keys().cloned().collect()).unwrap_or_default()
    }

    /// The `phx_ref`s `conn` holds on `topic`, for tests and diagnostics.
    pub fn refs_of(&self, topic: &str, conn: ConnId) -> Vec<String> {
        let shard = lock(self.topics.shard(topic));
        let Some(presence) = shard.get(topic) else { return Vec::new() };
        presence
            .members
            .values()
            .flatten()
            .filter(|tracked| tracked.conn == conn)
            .map(|tracked| tracked.phx_ref.clone())
            .collect()
    }

    fn schedule_flush(self: &Arc<Self>, topic: &str) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !self.window.is_zero() => {
                let (presence, topic, window) = (Arc::clone(self), topic.to_owned(), self.window);
                runtime.spawn(async move {
                    tokio::time::sleep(window).await;
                    presence.flush(&topic);
                });
            }
            // No runtime (a synchronous caller) or no window: broadcast at once.
            _ => self.flush(topic),
        }
    }

    /// Broadcasts the topic's pending diff, if it has anything in it.
    fn flush(&self, topic: &str) {
        let pending = {
            let mut shard = lock(self.topics.shard(topic));
            let Some(presence) = shard.get_mut(topic) else { return };
            let pending = presence.pending.take();
            if presence.members.is_empty() {
                shard.remove(topic);
            }
            pending
        };
        let Some(PendingDiff { joins, leaves }) = pending else { return };
        if joins.is_empty() && leaves.is_empty() {
            return;
        }
        let diff = format!(r#"{{"joins":{},"leaves":{}}}"#, presence_object(&joins), presence_object(&leaves));
        self.hub.broadcast_unnumbered(topic, "presence_diff", &Payload::Json(diff));
        if let Some(tap) = self.hub.tap() {
            for (joined, members) in [(true, &joins), (false, &leaves)] {
                for (key, metas) in members {
                    for local in [true, false] {
                        let metas: Vec<&Tracked> = metas.iter().filter(|tracked| tracked.remote != local).collect();
                        if !metas.is_empty() {
                            tap.presence(topic, joined, key, &metas_array(&metas), local);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Outbox, OutboxLimits};
    use crate::wire::{Subscriber, Wire};
    use ferrocast_protocol::Vsn;

    fn watcher(hub: &Hub, topic: &str) -> Arc<Outbox> {
        let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
        hub.subscribe(
            topic,
            Subscriber {
                conn: ConnId::next(),
                wire: Wire::Phoenix(Vsn::V2),
                outbox: outbox.clone(),
                positioned: false,
                join_ref: None,
            },
        );
        outbox
    }

    fn meta() -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("online_at".into(), Value::from(1));
        meta
    }

    #[tokio::test(start_paused = true)]
    async fn joins_within_a_window_go_out_as_one_diff() {
        let hub = Arc::new(Hub::new());
        let presence = PresenceHub::new(hub.clone(), Duration::from_millis(50));
        let outbox = watcher(&hub, "room:1");
        for n in 0..100 {
            presence.track("room:1", &format!("u{n}"), ConnId::next(), meta());
        }
        assert!(outbox.is_empty(), "nothing before the window closes");
        tokio::time::sleep(Duration::from_millis(60)).await;
        let mut batch = Vec::new();
        outbox.next_batch(&mut batch).await.unwrap();
        assert_eq!(batch.len(), 1);
        let frame: Value = serde_json::from_slice(&batch[0].bytes).unwrap();
        assert_eq!(frame[3], "presence_diff");
        assert_eq!(frame[4]["joins"].as_object().unwrap().len(), 100);
        let state: Value = serde_json::from_str(&presence.state("room:1")).unwrap();
        assert_eq!(state.as_object().unwrap().len(), 100);
    }

    #[test]
    fn the_state_of_a_large_topic_follows_every_join_and_leave() {
        let presence = PresenceHub::new(Arc::new(Hub::new()), Duration::ZERO);
        let keys = |state: String| -> Vec<String> {
            let state: Value = serde_json::from_str(&state).unwrap();
            state.as_object().unwrap().keys().cloned().collect()
        };
        let conns: Vec<ConnId> = (0..100).map(|_| ConnId::next()).collect();
        for (n, conn) in conns.iter().enumerate() {
            presence.track("room:1", &format!("u{n}"), *conn, meta());
            assert_eq!(keys(presence.state("room:1")).len(), n + 1);
        }
        presence.untrack("room:1", conns[5]);
        presence.track("room:1", "u7", ConnId::next(), meta());
        presence.track("room:1", "late", ConnId::next(), meta());
        let state: Value = serde_json::from_str(&presence.state("room:1")).unwrap();
        assert!(state.get("u5").is_none(), "a leave is seen");
        assert_eq!(state["u7"]["metas"].as_array().unwrap().len(), 2, "a second meta of a key is seen");
        let text = presence.state("room:1");
        assert!(text.find(r#""late":"#) > text.find(r#""u99":"#), "in join order: {text}");
        assert_eq!(keys(presence.state("room:1")).len(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_join_and_leave_within_one_window_cancel_out() {
        let hub = Arc::new(Hub::new());
        let presence = PresenceHub::new(hub.clone(), Duration::from_millis(50));
        let outbox = watcher(&hub, "room:1");
        let (stays, passes) = (ConnId::next(), ConnId::next());
        presence.track("room:1", "a", stays, meta());
        presence.track("room:1", "b", passes, meta());
        presence.untrack("room:1", passes);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let mut batch = Vec::new();
        outbox.next_batch(&mut batch).await.unwrap();
        let frame: Value = serde_json::from_slice(&batch[0].bytes).unwrap();
        assert_eq!(frame[4]["joins"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(frame[4]["leaves"], serde_json::json!({}));

        // A leave after the join was announced is announced too, with the meta that joined.
        let phx_ref = presence.refs_of("room:1", stays).remove(0);
        presence.untrack("room:1", stays);
        tokio::time::sleep(Duration::from_millis(60)).await;
        batch.clear();
        outbox.next_batch(&mut batch).await.unwrap();
        let frame: Value = serde_json::from_slice(&batch[0].bytes).unwrap();
        assert_eq!(frame[4]["leaves"]["a"]["metas"][0]["phx_ref"], phx_ref.as_str());
        assert_eq!(presence.state("room:1"), "{}");
    }
}
