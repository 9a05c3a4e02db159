//! Presence shared between relays: each relay tells the others its own members' joins and leaves, and holds
//! theirs, so a topic's `presence_state` and diffs on any relay merge the members of all.
//!
//! The messages, JSON on the presence channel:
//! - `delta`: one change of the sender's members, numbered by the sender (`seq`, one series per relay process);
//! - `beat`: every heartbeat, with the sender's last `seq`, so a relay that missed a delta notices;
//! - `want`: asks a relay for what it changed after a `seq`, sent on a gap and after a reconnect;
//! - `state`: all of the sender's members, which replace what others held of it;
//! - `bye`: the sender is shutting down; its members leave at once.
//!
//! Catching up is incremental: each relay keeps its latest deltas (up to [`LOG`] of them, [`LOG_BYTES`] in all)
//! and answers a `want` with the ones asked for, as they were first sent; only a relay that missed more than that
//! (or one that has just started, with no log from its first delta) is sent the whole `state`. A relay applies a
//! relay's deltas in their order only: one that skips some waits for those to be sent again, so a member that
//! joined and left is never left behind by the two arriving the other way round.
//!
//! A relay that sends nothing for the presence timeout is taken for dead and its members leave, so the members of
//! a relay that crashed are gone within the timeout plus a heartbeat. Silence is only counted while this relay's
//! own link to Redis is up: a relay cut from Redis cannot tell a dead peer from its own outage.

use super::ClusterSettings;
use super::RedisLink;
use super::keys;
use super::stats::Stats;
use crate::presence::{PresenceHub, PresenceReplica};
use crate::wire::ConnId;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// How many of its latest deltas a relay keeps to send again.
const LOG: usize = 4096;

/// How many bytes of its latest deltas a relay keeps to send again.
const LOG_BYTES: usize = 4 << 20;

/// What the presence task hears: this relay's changes, messages from the channel, and the link's state.
#[derive(Debug)]
pub(crate) enum Input {
    Tracked { topic: String, key: String, phx_ref: String, meta: String },
    Untracked { topic: String, phx_refs: Vec<String> },
    Remote(Vec<u8>),
    Connected,
    Disconnected,
    Leave(oneshot::Sender<()>),
}

/// The presence hub's [`PresenceReplica`]: hands this relay's changes to the presence task.
#[derive(Debug)]
pub(crate) struct Replica {
    pub(crate) input: mpsc::UnboundedSender<Input>,
}

impl PresenceReplica for Replica {
    fn tracked(&self, topic: &str, key: &str, phx_ref: &str, meta: &str) {
        let (topic, key, phx_ref, meta) = (topic.to_owned(), key.to_owned(), phx_ref.to_owned(), meta.to_owned());
        let _ = self.input.send(Input::Tracked { topic, key, phx_ref, meta });
    }

    fn untracked(&self, topic: &str, phx_refs: Vec<String>) {
        let _ = self.input.send(Input::Untracked { topic: topic.to_owned(), phx_refs });
    }
}

/// Externally tagged (`{"delta": {…}}`): an internally tagged enum buffers its fields, and the metas, kept as the
/// JSON text they were tracked with, cannot be read from a buffer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    Delta { relay: String, seq: u64, topic: String, joins: Vec<Member>, leaves: Vec<String> },
    Beat { relay: String, seq: u64 },
    Want { relay: String, of: String, after: u64 },
    State { relay: String, seq: u64, topics: Vec<(String, Vec<Member>)> },
    Bye { relay: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Member {
    key: String,
    phx_ref: String,
    meta: Box<RawValue>,
}

/// What this relay holds of another.
#[derive(Debug)]
struct Peer {
    /// The connection id its members are tracked under here.
    owner: ConnId,
    /// Its last delta applied here: every one up to it was (or a state replaced them), in order.
    seq: u64,
    seen: Instant,
    asked: Option<Instant>,
    /// Its members here, by topic.
    topics: HashMap<String, HashSet<String>>,
}

/// The presence task's state.
pub(crate) struct Replication {
    me: Arc<str>,
    presence: Arc<PresenceHub>,
    redis: RedisLink,
    settings: ClusterSettings,
    stats: Arc<Stats>,
    seq: u64,
    /// This relay's latest deltas, as sent, by `seq`, to send again to a relay that missed them.
    log: VecDeque<(u64, String)>,
    log_bytes: usize,
    /// This relay's own members: topic → `phx_ref` → (key, meta).
    local: HashMap<String, IndexMap<String, (String, String)>>,
    peers: HashMap<String, Peer>,
    connected: bool,
}

impl Replication {
    pub(crate) fn new(
        me: Arc<str>,
        presence: Arc<PresenceHub>,
        redis: RedisLink,
        settings: ClusterSettings,
        stats: Arc<Stats>,
    ) -> Self {
        let (local, peers) = (HashMap::new(), HashMap::new());
        let (log, log_bytes) = (VecDeque::new(), 0);
        Replication { me, presence, redis, settings, stats, seq: 0, log, log_bytes, local, peers, connected: false }
    }

    /// Runs until the input closes or the relay leaves.
    pub(crate) async fn run(mut self, mut input: mpsc::UnboundedReceiver<Input>) {
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = input.recv() => match received {
                    None => return,
                    Some(Input::Leave(done)) => {
                        self.send(&Message::Bye { relay: self.me.to_string() }).await;
                        let _ = done.send(());
                        return;
                    }
                    Some(input) => self.handle(input).await,
                },
                _ = heartbeat.tick() => self.beat().await,
            }
        }
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Tracked { topic, key, phx_ref, meta } => {
                self.seq += 1;
                let member = member(&key, &phx_ref, &meta);
                self.local.entry(topic.clone()).or_default().insert(phx_ref, (key, meta));
                let delta = Message::Delta {
                    relay: self.me.to_string(),
                    seq: self.seq,
                    topic,
                    joins: member.into_iter().collect(),
                    leaves: Vec::new(),
                };
                self.send_delta(&delta).await;
            }
            Input::Untracked { topic, phx_refs } => {
                self.seq += 1;
                if let Some(members) = self.local.get_mut(&topic) {
                    for phx_ref in &phx_refs {
                        members.shift_remove(phx_ref);
                    }
                    if members.is_empty() {
                        self.local.remove(&topic);
                    }
                }
                let delta = Message::Delta {
                    relay: self.me.to_string(),
                    seq: self.seq,
                    topic,
                    joins: Vec::new(),
                    leaves: phx_refs,
                };
                self.send_delta(&delta).await;
            }
            Input::Remote(bytes) => match serde_json::from_slice::<Message>(&bytes) {
                Ok(message) => self.receive(message).await,
                Err(error) => {
                    Stats::add(&self.stats.malformed, 1);
                    tracing::warn!(%error, "ignored a malformed message on the presence channel");
                }
            },
            Input::Connected => {
                self.connected = true;
                // Time spent cut off does not count against the other relays.
                let now = Instant::now();
                for peer in self.peers.values_mut() {
                    peer.seen = now;
                    peer.asked = None;
                }
                // The others learn from the beat what they missed of this relay, and ask for it; this relay asks
                // each of them for what it missed. A relay it does not know yet is asked when its beat is heard.
                self.send(&Message::Beat { relay: self.me.to_string(), seq: self.seq }).await;
                let peers: Vec<String> = self.peers.keys().cloned().collect();
                for peer in peers {
                    self.ask(&peer).await;
                }
            }
            Input::Disconnected => self.connected = false,
            Input::Leave(_) => {}
        }
    }

    async fn receive(&mut self, message: Message) {
        let from = match &message {
            Message::Delta { relay, .. }
            | Message::Beat { relay, .. }
            | Message::Want { relay, .. }
            | Message::State { relay, .. }
            | Message::Bye { relay } => relay.clone(),
        };
        if *from == *self.me {
            return;
        }
        match message {
            Message::Delta { seq, topic, joins, leaves, .. } => {
                let presence = Arc::clone(&self.presence);
                let peer = self.peer(&from);
                if seq <= peer.seq {
                    return; // Had it: sent again for another relay that missed it.
                }
                if seq != peer.seq + 1 {
                    return self.ask(&from).await; // It comes again, in order, with the ones it skipped.
                }
                peer.seq = seq;
                let owner = peer.owner;
                let members = peer.topics.entry(topic.clone()).or_default();
                for Member { key, phx_ref, meta } in joins {
                    if members.insert(phx_ref.clone()) {
                        presence.track_remote(&topic, &key, owner, &phx_ref, meta.get().to_owned());
                    }
                }
                let leaves: HashSet<String> = leaves.into_iter().filter(|phx_ref| members.remove(phx_ref)).collect();
                if !leaves.is_empty() {
                    presence.untrack_remote(&topic, owner, Some(&leaves));
                }
                if members.is_empty() {
                    peer.topics.remove(&topic);
                }
            }
            Message::Beat { seq, .. } => {
                if seq > self.peer(&from).seq {
                    self.ask(&from).await;
                }
            }
            Message::Want { of, after, .. } => {
                if *of == *self.me {
                    self.send_after(after).await;
                }
            }
            Message::State { seq, topics, .. } => {
                // A state older than what is held here (sent for another relay) would take back later changes.
                if seq >= self.peer(&from).seq {
                    self.replace(&from, seq, topics);
                }
            }
            Message::Bye { .. } => self.drop_peer(&from),
        }
    }

    /// Replaces what this relay holds of `relay` with its whole state.
    fn replace(&mut self, relay: &str, seq: u64, topics: Vec<(String, Vec<Member>)>) {
        let presence = Arc::clone(&self.presence);
        let peer = self.peer(relay);
        let owner = peer.owner;
        let mut now_held: HashMap<String, HashSet<String>> = HashMap::new();
        for (topic, members) in topics {
            let before = peer.topics.get(&topic);
            let held = now_held.entry(topic.clone()).or_default();
            for Member { key, phx_ref, meta } in members {
                if !before.is_some_and(|before| before.contains(&phx_ref)) {
                    presence.track_remote(&topic, &key, owner, &phx_ref, meta.get().to_owned());
                }
                held.insert(phx_ref);
            }
        }
        for (topic, before) in &peer.topics {
            let gone: HashSet<String> = match now_held.get(topic) {
                Some(held) => before.difference(held).cloned().collect(),
                None => before.clone(),
            };
            if !gone.is_empty() {
                presence.untrack_remote(topic, owner, Some(&gone));
            }
        }
        now_held.retain(|_, held| !held.is_empty());
        peer.topics = now_held;
        peer.seq = seq;
    }

    /// The relay's peer entry, made (and its state asked for, by the caller's gap check) on first hearing of it.
    fn peer(&mut self, relay: &str) -> &mut Peer {
        let now = Instant::now();
        let peers = self.peers.len();
        let peer = self.peers.entry(relay.to_owned()).or_insert_with(|| Peer {
            owner: ConnId::next(),
            seq: 0,
            seen: now,
            asked: None,
            topics: HashMap::new(),
        });
        peer.seen = now;
        if self.peers.len() != peers {
            self.stats.peers.store(self.peers.len() as u64, Ordering::Relaxed);
        }
        self.peers.get_mut(relay).expect("just inserted")
    }

    /// Removes a relay and all its members.
    fn drop_peer(&mut self, relay: &str) {
        let Some(peer) = self.peers.remove(relay) else { return };
        for topic in peer.topics.keys() {
            self.presence.untrack_remote(topic, peer.owner, None);
        }
        self.stats.peers.store(self.peers.len() as u64, Ordering::Relaxed);
    }

    /// Asks `relay` for what it changed after the last of its deltas applied here, at most once a heartbeat.
    async fn ask(&mut self, relay: &str) {
        let heartbeat = self.settings.heartbeat;
        let Some(peer) = self.peers.get_mut(relay) else { return };
        if peer.asked.is_some_and(|asked| asked.elapsed() < heartbeat) {
            return;
        }
        peer.asked = Some(Instant::now());
        let want = Message::Want { relay: self.me.to_string(), of: relay.to_owned(), after: peer.seq };
        self.send(&want).await;
    }

    /// Answers a `want`: the deltas after `after` as they were sent, when the log still has them all, or else
    /// the whole state.
    async fn send_after(&mut self, after: u64) {
        if after >= self.seq {
            return;
        }
        let first_kept = self.log.front().map_or(self.seq + 1, |(seq, _)| *seq);
        if first_kept > after + 1 {
            Stats::add(&self.stats.presence_states, 1);
            return self.send_state().await;
        }
        let again: Vec<String> =
            self.log.iter().filter(|(seq, _)| *seq > after).map(|(_, text)| text.clone()).collect();
        Stats::add(&self.stats.presence_resent, again.len() as u64);
        for text in again {
            self.publish(text).await;
        }
    }

    /// Sends one of this relay's deltas, and keeps it to send again.
    async fn send_delta(&mut self, delta: &Message) {
        let Ok(text) = serde_json::to_string(delta) else { return };
        self.log_bytes += text.len();
        self.log.push_back((self.seq, text.clone()));
        while self.log.len() > LOG || self.log_bytes > LOG_BYTES {
            let Some((_, dropped)) = self.log.pop_front() else { break };
            self.log_bytes -= dropped.len();
        }
        if self.connected {
            self.publish(text).await;
        }
    }

    /// Sends a heartbeat, and removes the relays silent for longer than the presence timeout.
    async fn beat(&mut self) {
        if !self.connected {
            return;
        }
        self.send(&Message::Beat { relay: self.me.to_string(), seq: self.seq }).await;
        let timeout = self.settings.presence_timeout;
        let silent: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.seen.elapsed() > timeout)
            .map(|(relay, _)| relay.clone())
            .collect();
        for relay in silent {
            tracing::info!(relay, ?timeout, "a relay went silent: its members leave");
            Stats::add(&self.stats.peers_expired, 1);
            self.drop_peer(&relay);
        }
    }

    async fn send_state(&mut self) {
        let topics = self
            .local
            .iter()
            .map(|(topic, members)| {
                let members = members.iter().filter_map(|(phx_ref, (key, meta))| member(key, phx_ref, meta)).collect();
                (topic.clone(), members)
            })
            .collect();
        self.send(&Message::State { relay: self.me.to_string(), seq: self.seq, topics }).await;
    }

    /// Publishes a message while the link is up; one that cannot go is left to the next state a peer asks for.
    async fn send(&mut self, message: &Message) {
        if !self.connected && !matches!(message, Message::Bye { .. }) {
            return;
        }
        let Ok(text) = serde_json::to_string(message) else { return };
        self.publish(text).await;
    }

    async fn publish(&mut self, text: String) {
        let sent: redis::RedisResult<()> =
            redis::cmd("PUBLISH").arg(keys::PRESENCE).arg(text).query_async(&mut self.redis).await;
        if let Err(error) = sent {
            tracing::warn!(%error, "could not publish a presence change to Redis");
        }
    }
}

fn member(key: &str, phx_ref: &str, meta: &str) -> Option<Member> {
    let meta = RawValue::from_string(meta.to_owned()).ok()?;
    Some(Member { key: key.to_owned(), phx_ref: phx_ref.to_owned(), meta })
}
