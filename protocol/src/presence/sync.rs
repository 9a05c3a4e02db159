//! Merging a full state or a diff into the map, as phoenix.js's `Presence.syncState` and `Presence.syncDiff`.

use super::order::as_js_object;
use super::types::{Change, Diff, Entry, Meta, State};

/// The set of `phx_ref`s in a list of metas.
///
/// Sorted for binary search, which keeps the comparisons at n log n when a key has thousands of metas; phoenix.js
/// scans lists instead, with the same results.
fn refs<V>(metas: &[Meta<V>]) -> Refs<'_> {
    let mut refs = Vec::with_capacity(metas.len());
    for meta in metas {
        refs.push(meta.phx_ref.as_str());
    }
    refs.sort_unstable();
    Refs(refs)
}

/// The `phx_ref`s of some metas, sorted to be found by binary search.
struct Refs<'a>(Vec<&'a str>);

impl Refs<'_> {
    fn contains(&self, phx_ref: &str) -> bool {
        self.0.binary_search(&phx_ref).is_ok()
    }

    /// Copies of the `metas` whose `phx_ref` is not among these.
    fn others<V: Clone>(&self, metas: &[Meta<V>]) -> Vec<Meta<V>> {
        let mut others = Vec::new();
        for meta in metas {
            if !self.contains(&meta.phx_ref) {
                others.push(meta.clone());
            }
        }
        others
    }
}

/// Where a sync reports each join and leave, as it makes them, in the order phoenix.js calls `onJoin` and
/// `onLeave`.
///
/// A `Vec<Change<V>>` keeps them as [`Change`]s. An embedding with a representation of its own (the browser
/// client writes each change as a record at once) takes them here, and no change is built only to be taken apart.
pub trait Changes<V> {
    /// Metas joined `key`: `current` is its entry before the join (`None` for a key that was not present),
    /// `joined` the diff's entry.
    fn join(&mut self, key: String, current: Option<Entry<V>>, joined: Entry<V>);

    /// Metas left `key`: `current` is its entry after the removal (no metas: the key is gone), `left` the diff's
    /// entry.
    fn leave(&mut self, key: String, current: &Entry<V>, left: Entry<V>);

    /// The state is consistent again after a frame (phoenix.js's `onSync`): the tracker reports it after a frame's
    /// changes; the sync functions alone do not.
    fn sync(&mut self) {}
}

impl<V: Clone> Changes<V> for Vec<Change<V>> {
    fn join(&mut self, key: String, current: Option<Entry<V>>, joined: Entry<V>) {
        self.push(Change::Join { key, current, joined });
    }

    fn leave(&mut self, key: String, current: &Entry<V>, left: Entry<V>) {
        self.push(Change::Leave { key, current: current.clone(), left });
    }
}

/// Replaces `state` with `new_state`, reporting what joined and left in between.
///
/// This is how a fresh `presence_state` is reconciled with what the client already knew: keys missing from the
/// new state leave with their whole entry; keys only in the new state join with theirs; for a key in both, the
/// metas whose `phx_ref` is new join (with the new entry's extra fields) and those that are gone leave (with the
/// current entry's extra fields). The result is then applied with [`sync_diff`], so the changes come in the order
/// phoenix.js would call `onJoin` and `onLeave`.
pub fn sync_state<V: Clone>(state: &mut State<V>, new_state: State<V>) -> Vec<Change<V>> {
    let mut changes = Vec::new();
    sync_state_into(state, new_state, &mut changes);
    changes
}

/// [`sync_state`], each change reported to `changes` as it is made.
pub fn sync_state_into<V: Clone>(state: &mut State<V>, new_state: State<V>, changes: &mut impl Changes<V>) {
    let mut joins = Vec::new();
    let mut leaves = Vec::new();

    for (key, current) in state.iter() {
        if !new_state.contains_key(key) {
            leaves.push((key.to_owned(), current.clone()));
        }
    }

    for (key, new_entry) in new_state.entries.into_vec() {
        let Some(current) = state.get(&key) else {
            joins.push((key, new_entry));
            continue;
        };
        let left = refs(&new_entry.metas).others(&current.metas);
        let current_refs = refs(&current.metas);
        let Entry { metas: mut joined, extra } = new_entry;
        joined.retain(|meta| !current_refs.contains(meta.phx_ref.as_str()));
        if !joined.is_empty() {
            joins.push((key.clone(), Entry { metas: joined, extra }));
        }
        if !left.is_empty() {
            leaves.push((key, Entry { metas: left, extra: current.extra.clone() }));
        }
    }

    sync_diff_into(state, Diff { joins, leaves }, changes);
}

/// Applies a `presence_diff` to `state`, reporting each join and leave.
///
/// Joins come first. A joined key's entry becomes the diff's entry, with the metas it already had (those whose
/// `phx_ref` the diff does not repeat) kept in front of the joined ones. Then leaves remove the metas whose
/// `phx_ref` they name; a key left with no metas is removed, and a leave for a key that is not present is ignored
/// without a change. Keys are processed in JavaScript property order (see [`Diff`]).
pub fn sync_diff<V: Clone>(state: &mut State<V>, diff: Diff<V>) -> Vec<Change<V>> {
    let mut changes = Vec::with_capacity(diff.joins.len() + diff.leaves.len());
    sync_diff_into(state, diff, &mut changes);
    changes
}

/// [`sync_diff`], each change reported to `changes` as it is made.
pub fn sync_diff_into<V: Clone>(state: &mut State<V>, diff: Diff<V>, changes: &mut impl Changes<V>) {
    let Diff { joins, leaves } = diff;

    for (key, joined) in as_js_object(joins) {
        let current = match state.entries.get_mut(&key) {
            Some(slot) => {
                let mut metas = refs(&joined.metas).others(&slot.metas);
                metas.reserve(joined.metas.len());
                for meta in &joined.metas {
                    metas.push(meta.clone());
                }
                let merged = Entry { metas, extra: joined.extra.clone() };
                Some(std::mem::replace(slot, merged))
            }
            None => {
                state.entries.insert(key.clone(), joined.clone());
                None
            }
        };
        changes.join(key, current, joined);
    }

    // phoenix.js deletes each key as soon as its last meta leaves. A diff names each key once and its joins come
    // before its leaves, so deleting them all afterwards is the same, in one pass over the map for any number of
    // keys. The emptied keys are marked by their places, which do not move while the leaves are applied.
    let mut emptied: Vec<bool> = Vec::new();
    let len = state.len();
    for (key, left) in as_js_object(leaves) {
        let Some(at) = state.entries.position(&key) else {
            continue;
        };
        let current = state.entries.at_mut(at);
        let left_refs = refs(&left.metas);
        current.metas.retain(|meta| !left_refs.contains(meta.phx_ref.as_str()));
        if current.metas.is_empty() {
            emptied.resize(len, false);
            emptied[at] = true;
        }
        changes.leave(key, current, left);
    }
    if !emptied.is_empty() {
        state.entries.retain(|at| !emptied[at]);
    }
}
