//! The presence map's storage: keys in JavaScript property order, found by binary search over an index sorted by
//! key. It does what an ordered hash map would, without a hasher and a hash table in the browser build, and a lookup
//! in a presence list of any size stays logarithmic.
//!
//! JavaScript property order is array indices first, ascending, then the other keys in the order they were first
//! added (`order.rs`). Keeping the keys in that order as they are inserted, rather than sorting them whenever they
//! are visited, means no sort in the browser build, and costs nothing when keys arrive in that order already, as
//! they do from a parsed JavaScript object: an array index goes at the end of the leading run of indices, which is
//! the end of the map while no other key has come.

use super::order::array_index;

/// String keys with their values, in JavaScript property order.
#[derive(Clone)]
pub(crate) struct OrderedMap<V> {
    /// Keys and values in JavaScript property order.
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

    /// Sets the value under `key`, returning the one it replaces: a replaced key keeps its place; a new one goes
    /// where a JavaScript object lists it, among the array indices by value if it is one, and last otherwise.
    pub(crate) fn insert(&mut self, key: String, value: V) -> Option<V> {
        let slot = match self.find(&key) {
            Ok(found) => return Some(std::mem::replace(&mut self.entries[self.by_key[found]].1, value)),
            Err(slot) => slot,
        };
        let at = match array_index(&key) {
            // The indices below this one form a prefix of the map: the indices lead, ascending.
            Some(index) => self.entries.partition_point(|(other, _)| array_index(other).is_some_and(|i| i < index)),
            None => self.entries.len(),
        };
        // Only an index that goes before other keys moves them: keys in order already are appended.
        if at < self.entries.len() {
            for position in &mut self.by_key {
                if *position >= at {
                    *position += 1;
                }
            }
        }
        self.by_key.insert(slot, at);
        self.entries.insert(at, (key, value));
        None
    }

    /// Where `key` is in JavaScript property order: the place [`OrderedMap::at_mut`] and [`OrderedMap::retain`]
    /// know it by.
    pub(crate) fn position(&self, key: &str) -> Option<usize> {
        self.find(key).ok().map(|found| self.by_key[found])
    }

    /// The value at place `at` (see [`OrderedMap::position`]).
    pub(crate) fn at_mut(&mut self, at: usize) -> &mut V {
        &mut self.entries[at].1
    }

    /// Keeps the entries whose place `keep` says yes to, in order, in one pass over the map.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        // Where each kept entry moves to; a removed one is marked `usize::MAX`.
        let mut moved_to = Vec::with_capacity(self.entries.len());
        let mut kept = 0;
        for at in 0..self.entries.len() {
            if keep(at) {
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

    /// The keys and values in JavaScript property order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    /// The keys and values in JavaScript property order, owned.
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

    /// Removes `key` by its place, as the presence sync does; whether it was there.
    fn remove<V>(map: &mut OrderedMap<V>, key: &str) -> bool {
        let Some(place) = map.position(key) else { return false };
        map.retain(|at| at != place);
        true
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
        assert!(remove(&mut map, "m"));
        assert!(!remove(&mut map, "m"));
        assert_eq!(keys(&map), ["b", "z", "a"]);
        assert_eq!((map.get("a"), map.get("m"), map.len()), (Some(&3), None, 3), "positions moved up");
        *map.get_mut("z").unwrap() = 20;
        assert_eq!(map.position("z"), Some(1));
        *map.at_mut(2) = 30;
        remove(&mut map, "b");
        assert_eq!(keys(&map), ["z", "a"]);
        assert_eq!((map.get("z"), map.get("a"), map.get("b")), (Some(&20), Some(&30), None));
    }

    #[test]
    fn array_indices_lead_in_numeric_order_wherever_they_are_inserted() {
        let mut map = OrderedMap::default();
        for (n, key) in ["b", "10", "a", "2", "01", "0", "4294967295", "7"].into_iter().enumerate() {
            map.insert(key.to_owned(), n);
        }
        assert_eq!(keys(&map), ["0", "2", "7", "10", "b", "a", "01", "4294967295"]);
        assert_eq!(map.insert("10".to_owned(), 20), Some(1), "a replaced index keeps its place");
        assert!(remove(&mut map, "2"));
        remove(&mut map, "a");
        map.insert("3".to_owned(), 30);
        assert_eq!(keys(&map), ["0", "3", "7", "10", "b", "01", "4294967295"]);
        let found: Vec<_> =
            ["0", "3", "7", "10", "b", "01", "4294967295", "2", "a"].map(|key| map.get(key).copied()).into();
        assert_eq!(found, [Some(5), Some(30), Some(7), Some(20), Some(0), Some(4), Some(6), None, None]);
    }

    #[test]
    fn numeric_keys_in_any_order_are_found_and_listed_ascending() {
        let mut map = OrderedMap::default();
        // 0..2000 in a scrambled order (7919 is prime, so coprime with 2000), with a word key halfway through.
        for n in 0..2000_u64 {
            map.insert((n * 7919 % 2000).to_string(), n);
            if n == 1000 {
                map.insert("word".to_owned(), u64::MAX);
            }
        }
        for n in 0..2000_u64 {
            assert_eq!(map.get(&(n * 7919 % 2000).to_string()), Some(&n));
        }
        let listed: Vec<&str> = keys(&map);
        let expected: Vec<String> = (0..2000).map(|n: u32| n.to_string()).chain(["word".to_owned()]).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn a_large_map_survives_churn() {
        let mut map = OrderedMap::default();
        for n in 0..2000 {
            map.insert(format!("user:{n}"), n);
        }
        let values: Vec<usize> = map.iter().map(|(_, &n)| n).collect();
        map.retain(|at| !values[at].is_multiple_of(3));
        for n in (0..2000).step_by(7) {
            remove(&mut map, &format!("user:{n}"));
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
