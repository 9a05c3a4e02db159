//! A map split over shards by the hash of its key, each shard behind its own lock, so callers working on
//! different topics rarely meet on a lock and never on one shared by all.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How many shards a map is split over.
const SHARDS: usize = 64;

#[derive(Debug)]
pub(crate) struct Sharded<T> {
    shards: Box<[T]>,
}

impl<T: Default> Default for Sharded<T> {
    fn default() -> Self {
        Sharded { shards: (0..SHARDS).map(|_| T::default()).collect() }
    }
}

impl<T> Sharded<T> {
    /// The shard that holds `key`.
    pub(crate) fn shard(&self, key: &str) -> &T {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.shards[hasher.finish() as usize % self.shards.len()]
    }

    /// Every shard, for work that visits all keys (sweeping).
    pub(crate) fn shards(&self) -> impl Iterator<Item = &T> {
        self.shards.iter()
    }
}

// A panic while a shard is locked cannot leave it half-updated (each update is a single map operation), so a
// poisoned lock is still usable: the helpers below take it rather than spreading the panic to every connection.

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A mutex's value through an exclusive borrow (no locking needed), poisoned or not.
pub(crate) fn lock_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner())
}
