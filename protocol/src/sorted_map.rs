//! A map kept as one vector sorted by key, found by binary search.
//!
//! The machine's maps, and the browser client's beside it, hold at most a few thousand entries (pushes awaiting a
//! reply, their deadlines, channels), where a sorted vector is as fast as a hash table or a B-tree, and the browser
//! build then needs neither a hasher nor a tree: they were a large part of the client's download.

use std::borrow::Borrow;

/// Keys in ascending order, each with its value.
#[derive(Debug, Clone)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap { entries: Vec::new() }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(probe, _)| probe.borrow().cmp(key))
    }

    /// Sets the value under `key`, returning the one it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// The value under `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    /// The value under `key`, to change it.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &mut self.entries[at].1)
    }

    /// The value under `key`, made with `make` first when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (key, make()));
                at
            }
        };
        &mut self.entries[at].1
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.entries.remove(at).1)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Option<(&K, &V)> {
        self.entries.first().map(|(key, value)| (key, value))
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::SortedMap;

    #[test]
    fn makes_a_missing_value_once() {
        let mut map: SortedMap<u32, Vec<u32>> = SortedMap::default();
        map.get_or_insert_with(2, Vec::new).push(1);
        map.get_or_insert_with(2, || unreachable!("present")).push(2);
        map.get_mut(&2).unwrap().push(3);
        assert_eq!(map.get(&2), Some(&vec![1, 2, 3]));
        assert!(map.get_mut(&1).is_none());
    }

    #[test]
    fn keeps_keys_sorted_and_finds_them() {
        let mut map = SortedMap::default();
        for key in ["9", "10", "1", "5"] {
            assert_eq!(map.insert(key.to_owned(), key.len()), None);
        }
        assert_eq!(map.insert("5".to_owned(), 50), Some(1), "a replaced value is returned");
        assert_eq!(map.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(), ["1", "10", "5", "9"]);
        assert_eq!((map.get("5"), map.get("7"), map.len()), (Some(&50), None, 4));
        assert_eq!(map.first(), Some((&"1".to_owned(), &1)));
        assert_eq!(map.remove("10"), Some(2));
        assert_eq!(map.remove("10"), None);
        assert_eq!(map.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(), ["1", "5", "9"]);
    }
}
