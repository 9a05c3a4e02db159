//! The presence map's storage: keys in insertion order, as a JavaScript object keeps its non-index keys, found by
//! binary search over an index sorted by key. It does what an insertion-ordered hash map would, without a hasher
//! and a hash table in the browser build, and a lookup in a presence list of any size stays logarithmic.

/// String keys with their values, in insertion order.
#[derive(Clone)]
pub(crate) struct OrderedMap<V> {
    /// Keys and values in insertion order.
    entries: Vec<(String, V)>,
    /// Positions in `entries`, sorted by key.
    by_key: Vec<usize>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap { entries: Vec::new(), by_key: Vec::new() }
    }
}

impl<V> OrderedMap<V> {
    /// Where `key` is in `by_key`, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.by_key.binary_search_by(|&at| self.entries[at].0.as_str().cmp(key))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|found| &self.entries[self.by_key[found]].1)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let found = self.find(key).ok()?;
        Some(&mut self.entries[self.by_key[found]].1)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets the value under `key`, returning the one it replaces: a replaced key keeps its place, a new one goes
    /// last.
    pub(crate) fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(found) => Some(std::mem::replace(&mut self.entries[self.by_key[found]].1, value)),
            Err(slot) => {
                self.by_key.insert(slot, self.entries.len());
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the others in order.
    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        let found = self.find(key).ok()?;
        let at = self.by_key.remove(found);
        for position in &mut self.by_key {
            if *position > at {
                *position -= 1;
            }
        }
        Some(self.entries.remove(at).1)
    }

    /// Keeps the entries `keep` says yes to, in order, in one pass over the map.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &V) -> bool) {
        // Where each kept entry moves to; a removed one is marked `usize::MAX`.
        let mut moved_to = Vec::with_capacity(self.entries.len());
        let mut kept = 0;
        for (key, value) in &self.entries {
            if keep(key, value) {
                moved_to.push(kept);
                kept += 1;
            } else {
                moved_to.push(usize::MAX);
            }
        }
        let mut position = 0;
        self.entries.retain(|_| {
            position += 1;
            moved_to[position - 1] != usize::MAX
        });
        self.by_key.retain_mut(|at| {
            *at = moved_to[*at];
            *at != usize::MAX
        });
    }

    /// The keys and values in insertion order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    /// The keys and values in insertion order, owned.
    pub(crate) fn into_vec(self) -> Vec<(String, V)> {
        self.entries
    }
}

impl<V: PartialEq> PartialEq for OrderedMap<V> {
    /// Equal when both hold the same keys with equal values, in whatever order, as maps are compared.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(key, value)| other.get(key) == Some(value))
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for OrderedMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::OrderedMap;

    fn keys<V>(map: &OrderedMap<V>) -> Vec<&str> {
        map.iter().map(|(key, _)| key.as_str()).collect()
    }

    #[test]
    fn keeps_insertion_order_and_finds_every_key() {
        let mut map = OrderedMap::default();
        for (n, key) in ["m", "b", "z", "a"].into_iter().enumerate() {
            assert_eq!(map.insert(key.to_owned(), n), None);
        }
        assert_eq!(map.insert("b".to_owned(), 10), Some(1), "a replaced key keeps its place");
        assert_eq!(keys(&map), ["m", "b", "z", "a"]);
        assert_eq!((map.get("b"), map.get("z"), map.get("q")), (Some(&10), Some(&2), None));
        assert_eq!(map.remove("m"), Some(0));
        assert_eq!(keys(&map), ["b", "z", "a"]);
        assert_eq!((map.get("a"), map.get("m"), map.len()), (Some(&3), None, 3), "positions moved up");
        *map.get_mut("z").unwrap() = 20;
        map.retain(|key, _| key != "b");
        assert_eq!(keys(&map), ["z", "a"]);
        assert_eq!((map.get("z"), map.get("a"), map.get("b")), (Some(&20), Some(&3), None));
    }

    #[test]
    fn a_large_map_survives_churn() {
        let mut map = OrderedMap::default();
        for n in 0..2000 {
            map.insert(format!("user:{n}"), n);
        }
        map.retain(|_, &n| n % 3 != 0);
        for n in (0..2000).step_by(7) {
            map.remove(&format!("user:{n}"));
        }
        for n in 0..2000 {
            let expected = (n % 3 != 0 && n % 7 != 0).then_some(n);
            assert_eq!(map.get(&format!("user:{n}")).copied(), expected, "user:{n}");
        }
        let order: Vec<usize> = map.iter().map(|(_, &n)| n).collect();
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "still in insertion order");
    }

    #[test]
    fn maps_compare_as_maps() {
        let a: OrderedMap<u8> = [("x", 1), ("y", 2)].into_iter().fold(OrderedMap::default(), |mut map, (k, v)| {
            map.insert(k.to_owned(), v);
            map
        });
        let mut b = OrderedMap::default();
        b.insert("y".to_owned(), 2);
        b.insert("x".to_owned(), 1);
        assert_eq!(a, b);
        b.insert("x".to_owned(), 3);
        assert_ne!(a, b);
    }
}
