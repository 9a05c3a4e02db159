//! The presence tracker of one channel, mirroring phoenix.js's `Presence` class.

use super::sync::{Changes, sync_diff_into, sync_state_into};
use super::types::{Change, Diff, Entry, State};

/// What handling a presence frame did, in the order phoenix.js would call its callbacks.
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceEvent<V> {
    /// A join or a leave: phoenix.js's `onJoin` or `onLeave`.
    Change(Change<V>),
    /// The state is consistent again after a frame: phoenix.js's `onSync`.
    Sync,
}

/// The presences of one channel, kept in step with the server's `presence_state` and `presence_diff` frames.
///
/// Like phoenix.js, the tracker remembers the channel's join ref from the last `presence_state`. While it has none,
/// or the channel has rejoined since (its join ref changed), diffs describe changes to a state the tracker does
/// not have yet: they are held and applied, in order, right after the next `presence_state`. That state is
/// reconciled with the old one, so whatever changed while the channel was away shows up as joins and leaves.
#[derive(Debug, Clone)]
pub struct Presence<V> {
    state: State<V>,
    pending_diffs: Vec<Diff<V>>,
    join_ref: Option<String>,
}

impl<V> Default for Presence<V> {
    fn default() -> Self {
        Presence { state: State::new(), pending_diffs: Vec::new(), join_ref: None }
    }
}

impl<V: Clone> Presence<V> {
    /// A tracker with an empty state, waiting for its first `presence_state`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles a `presence_state` frame.
    ///
    /// `channel_join_ref` is the channel's current join ref when the frame is handled. The events are the changes
    /// from reconciling the old state with `state`, then those of each held diff, then [`PresenceEvent::Sync`].
    pub fn handle_state(&mut self, channel_join_ref: Option<&str>, state: State<V>) -> Vec<PresenceEvent<V>> {
        let mut events = Vec::new();
        self.handle_state_into(channel_join_ref, state, &mut events);
        events
    }

    /// [`Presence::handle_state`], the events reported to `events` as they are made.
    pub fn handle_state_into(&mut self, channel_join_ref: Option<&str>, state: State<V>, events: &mut impl Changes<V>) {
        self.join_ref = channel_join_ref.map(str::to_owned);
        sync_state_into(&mut self.state, state, events);
        for diff in std::mem::take(&mut self.pending_diffs) {
            sync_diff_into(&mut self.state, diff, events);
        }
        events.sync();
    }

    /// Handles a `presence_diff` frame.
    ///
    /// `channel_join_ref` is the channel's current join ref when the frame is handled. While the tracker waits for
    /// a state (see [`Presence::is_pending`]) the diff is held and nothing is returned; otherwise the events are
    /// its changes followed by [`PresenceEvent::Sync`].
    pub fn handle_diff(&mut self, channel_join_ref: Option<&str>, diff: Diff<V>) -> Vec<PresenceEvent<V>> {
        let mut events = Vec::new();
        self.handle_diff_into(channel_join_ref, diff, &mut events);
        events
    }

    /// [`Presence::handle_diff`], the events reported to `events` as they are made (none for a diff held until the
    /// next state).
    pub fn handle_diff_into(&mut self, channel_join_ref: Option<&str>, diff: Diff<V>, events: &mut impl Changes<V>) {
        if self.is_pending(channel_join_ref) {
            self.pending_diffs.push(diff);
            return;
        }
        sync_diff_into(&mut self.state, diff, events);
        events.sync();
    }

    /// Whether diffs would be held now: no state has arrived yet, or the channel rejoined since the last one.
    ///
    /// As in phoenix.js, an empty join ref counts as none, since JavaScript treats `""` as false.
    pub fn is_pending(&self, channel_join_ref: Option<&str>) -> bool {
        match self.join_ref.as_deref() {
            None | Some("") => true,
            Some(join_ref) => Some(join_ref) != channel_join_ref,
        }
    }

    /// The presences as of the last frame handled; diffs held for the next `presence_state` are not in it yet.
    pub fn state(&self) -> &State<V> {
        &self.state
    }

    /// The join ref recorded with the last `presence_state`, if any.
    pub fn join_ref(&self) -> Option<&str> {
        self.join_ref.as_deref()
    }

    /// How many diffs are held until the next `presence_state`.
    pub fn pending_diffs(&self) -> usize {
        self.pending_diffs.len()
    }

    /// One result per key in JavaScript property order, as phoenix.js's `presence.list(chooser)`.
    pub fn list<'a, T>(&'a self, chooser: impl FnMut(&'a str, &'a Entry<V>) -> T) -> Vec<T> {
        self.state.list(chooser)
    }
}

impl<V: Clone> Changes<V> for Vec<PresenceEvent<V>> {
    fn join(&mut self, key: String, current: Option<Entry<V>>, joined: Entry<V>) {
        self.push(PresenceEvent::Change(Change::Join { key, current, joined }));
    }

    fn leave(&mut self, key: String, current: &Entry<V>, left: Entry<V>) {
        self.push(PresenceEvent::Change(Change::Leave { key, current: current.clone(), left }));
    }

    fn sync(&mut self) {
        self.push(PresenceEvent::Sync);
    }
}
