//! The data: metas, entries, the presence map, diffs and the changes that syncing reports.

use super::keys::OrderedMap;

/// One connection's presence: the meta object the server tracked, tagged with its `phx_ref`.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta<V> {
    /// The unique reference Phoenix gave this meta; joins and leaves are matched on it.
    pub phx_ref: String,
    /// The whole meta object as the application sees it, `phx_ref` included.
    ///
    /// The parsers fill it with the object they read; code that builds a `Meta` by hand keeps the two in step.
    pub value: V,
}

impl<V> Meta<V> {
    /// A meta with the given reference and value.
    pub fn new(phx_ref: impl Into<String>, value: V) -> Self {
        Meta { phx_ref: phx_ref.into(), value }
    }
}

/// Everything tracked under one key: its metas, and whatever else the server put beside them.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<V> {
    /// The metas, one per tracked connection, in the order phoenix.js keeps them.
    pub metas: Vec<Meta<V>>,
    /// The entry's fields other than `metas` (from `Phoenix.Presence.fetch/2`), passed through untouched.
    pub extra: Option<V>,
}

impl<V> Entry<V> {
    /// An entry with these metas and no extra fields.
    pub fn new(metas: Vec<Meta<V>>) -> Self {
        Entry { metas, extra: None }
    }

    /// The same entry carrying `extra` as its other fields.
    pub fn with_extra(mut self, extra: V) -> Self {
        self.extra = Some(extra);
        self
    }
}

/// The presence map: key to entry.
///
/// Keys are kept in JavaScript property order, the order in which phoenix.js visits them: array indices (`"0"` to
/// `"4294967294"` without leading zeros) first, ascending, then the other keys in the order they were first added.
#[derive(Debug, Clone, PartialEq)]
pub struct State<V> {
    pub(crate) entries: OrderedMap<Entry<V>>,
}

impl<V> Default for State<V> {
    fn default() -> Self {
        State { entries: OrderedMap::default() }
    }
}

impl<V> State<V> {
    /// An empty map: no one present.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Entry<V>> {
        self.entries.get(key)
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// How many keys have an entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets the entry under `key`, returning the one it replaces.
    ///
    /// As in JavaScript, a replaced key keeps its place; a new key goes among the array indices by its value if it
    /// is one, and last otherwise.
    pub fn insert(&mut self, key: impl Into<String>, entry: Entry<V>) -> Option<Entry<V>> {
        self.entries.insert(key.into(), entry)
    }

    /// The keys and entries in JavaScript property order, the order of phoenix.js's `Presence.list`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Entry<V>)> {
        self.entries.iter().map(|(key, entry)| (key.as_str(), entry))
    }

    /// One result per key, in JavaScript property order ([`State::iter`]), as phoenix.js's
    /// `Presence.list(state, chooser)`. Pass `|_, entry| entry.clone()` for the default chooser's result.
    pub fn list<'a, T>(&'a self, mut chooser: impl FnMut(&'a str, &'a Entry<V>) -> T) -> Vec<T> {
        self.iter().map(|(key, entry)| chooser(key, entry)).collect()
    }
}

impl<V, K: Into<String>> FromIterator<(K, Entry<V>)> for State<V> {
    /// Builds a map as a JavaScript object literal would: a repeated key keeps its first place and last entry.
    fn from_iter<I: IntoIterator<Item = (K, Entry<V>)>>(iter: I) -> Self {
        let mut state = State::new();
        for (key, entry) in iter {
            state.insert(key, entry);
        }
        state
    }
}

/// A `presence_diff` payload: who joined and who left, each with the metas concerned.
///
/// Both lists are read as JavaScript objects: processed in JavaScript property order, and a repeated key counts
/// once, at its first place, with its last entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff<V> {
    /// Keys with the metas that joined, and the entry's extra fields as the server now has them.
    pub joins: Vec<(String, Entry<V>)>,
    /// Keys with the metas that left.
    pub leaves: Vec<(String, Entry<V>)>,
}

impl<V> Default for Diff<V> {
    fn default() -> Self {
        Diff { joins: Vec::new(), leaves: Vec::new() }
    }
}

/// One change to the map, reported where phoenix.js calls `onJoin` or `onLeave`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<V> {
    /// Metas joined under `key` (phoenix.js's `onJoin(key, current, joined)`).
    Join {
        /// The key that gained metas.
        key: String,
        /// The entry as it was before the join, or `None` for a key that was not present.
        current: Option<Entry<V>>,
        /// The joined entry as the diff carried it: only the new metas, with the diff's extra fields.
        joined: Entry<V>,
    },
    /// Metas left `key` (phoenix.js's `onLeave(key, current, left)`).
    Leave {
        /// The key that lost metas.
        key: String,
        /// The entry after the removal; when its `metas` are empty the key has been removed from the map.
        current: Entry<V>,
        /// The left entry as the diff carried it.
        left: Entry<V>,
    },
}

impl<V> Change<V> {
    /// The key the change is about.
    pub fn key(&self) -> &str {
        match self {
            Change::Join { key, .. } | Change::Leave { key, .. } => key,
        }
    }
}
