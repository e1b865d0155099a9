//! Read access to committed world state, and an in-memory implementation for tests and tools.
//!
//! Simulation only ever reads committed state through [`StateReader`]; the peer implements it over
//! its state database, and [`MemoryState`] is a plain ordered map that behaves the same way.

use std::collections::BTreeMap;
use std::ops::Bound;

use weft_wire::peer::Version;

/// Read access to committed world state.
pub trait StateReader {
    /// The value and committed version of `key` in `namespace`, or `None` when absent.
    fn get(&self, namespace: &str, key: &str) -> Result<Option<(Vec<u8>, Version)>, StateError>;

    /// Keys in `[start, end)` in byte order; empty `end` = no upper bound. Returns (key, value, version).
    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>, Version)>, StateError>;
}

/// A failure reading world state. Reading never changes state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The backing store failed or returned malformed data.
    #[error("{0}")]
    Storage(String),
}

/// World state held in memory: `(namespace, key) -> (value, version)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryState {
    entries: BTreeMap<(String, String), (Vec<u8>, Version)>,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` in `namespace` to `value` at `version`, replacing any earlier value.
    pub fn put(&mut self, namespace: &str, key: &str, value: Vec<u8>, version: Version) {
        self.entries
            .insert((namespace.to_owned(), key.to_owned()), (value, version));
    }

    /// Removes `key` from `namespace`; absent keys are ignored.
    pub fn delete(&mut self, namespace: &str, key: &str) {
        self.entries.remove(&(namespace.to_owned(), key.to_owned()));
    }

    /// How many keys are held across all namespaces.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl StateReader for MemoryState {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<(Vec<u8>, Version)>, StateError> {
        Ok(self
            .entries
            .get(&(namespace.to_owned(), key.to_owned()))
            .cloned())
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>, Version)>, StateError> {
        // Walk from `start` and stop at `end` rather than passing both bounds to `BTreeMap::range`,
        // which panics when start > end; such a range is simply empty.
        let from = (namespace.to_owned(), start.to_owned());
        Ok(self
            .entries
            .range((Bound::Included(from), Bound::Unbounded))
            .take_while(|((ns, key), _)| ns == namespace && (end.is_empty() || key.as_str() < end))
            .map(|((_, key), (value, version))| (key.clone(), value.clone(), *version))
            .collect())
    }
}
