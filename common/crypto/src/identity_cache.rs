//! A bounded memo of work done per serialized identity (parsing a certificate, checking its chain), shared
//! by the threads that verify signatures: the same few creators, endorsers, orderers and peers sign message
//! after message, and parsing or chain-checking their certificates each time costs as much as the signature.

use std::collections::HashMap;
use std::sync::Mutex;

/// Results by serialized identity. Cleared when `limit` entries are reached, so that a stream of distinct
/// identities costs memory only up to the bound.
#[derive(Debug)]
pub struct IdentityCache<V> {
    map: Mutex<HashMap<Vec<u8>, V>>,
    limit: usize,
}

impl<V: Clone> IdentityCache<V> {
    pub fn new(limit: usize) -> Self {
        Self {
            map: Mutex::default(),
            limit,
        }
    }

    /// The result for `serialized`, computed by `compute` (outside the lock) the first time.
    pub fn get_or_compute(&self, serialized: &[u8], compute: impl FnOnce() -> V) -> V {
        if let Some(v) = self.map.lock().expect("identity cache").get(serialized) {
            return v.clone();
        }
        let v = compute();
        let mut map = self.map.lock().expect("identity cache");
        if map.len() >= self.limit {
            map.clear();
        }
        map.insert(serialized.to_vec(), v.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_per_identity_and_stays_within_its_bound() {
        let cache = IdentityCache::new(2);
        let mut calls = 0;
        let mut get = |k: &[u8]| {
            cache.get_or_compute(k, || {
                calls += 1;
                k.len()
            })
        };
        assert_eq!(get(b"a"), 1);
        assert_eq!(get(b"a"), 1);
        assert_eq!(get(b"bb"), 2);
        // Full: the third identity clears the memo, so "a" is computed again.
        assert_eq!(get(b"ccc"), 3);
        assert_eq!(get(b"a"), 1);
        assert_eq!(calls, 4);
        assert!(cache.map.lock().unwrap().len() <= 2);
    }
}
