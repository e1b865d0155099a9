//! The stateful half of validation, in block order: what earlier valid transactions of the block wrote,
//! overlaid on the committed state, and the multi-version concurrency check of reads and range queries.

use std::collections::BTreeMap;

use weft_chaincode::StateReader;
use weft_wire::peer::{KvRead, NsReadWriteSet, RangeQueryInfo, Version};

/// (namespace, key).
type Key = (String, String);

/// A written value (`None` for a delete) and the version it takes.
type Written = (Option<Vec<u8>>, Version);

/// Writes of the block's earlier valid transactions.
#[derive(Debug, Default)]
pub struct Overlay {
    writes: BTreeMap<Key, Written>,
}

impl Overlay {
    pub fn put(&mut self, ns: &str, key: &str, value: Option<Vec<u8>>, version: Version) {
        self.writes
            .insert((ns.to_string(), key.to_string()), (value, version));
    }

    /// The key's version now: written earlier in this block, else committed.
    pub fn version(
        &self,
        state: &dyn StateReader,
        ns: &str,
        key: &str,
    ) -> Result<Option<Version>, String> {
        match self.writes.get(&(ns.to_string(), key.to_string())) {
            Some((Some(_), v)) => Ok(Some(*v)),
            Some((None, _)) => Ok(None),
            None => Ok(state
                .get(ns, key)
                .map_err(|e| e.to_string())?
                .map(|(_, v)| v)),
        }
    }

    /// The key's value now.
    pub fn value(
        &self,
        state: &dyn StateReader,
        ns: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, String> {
        match self.writes.get(&(ns.to_string(), key.to_string())) {
            Some((v, _)) => Ok(v.clone()),
            None => Ok(state
                .get(ns, key)
                .map_err(|e| e.to_string())?
                .map(|(v, _)| v)),
        }
    }

    /// Keys in `[start, end)` now, with versions.
    fn range(
        &self,
        state: &dyn StateReader,
        ns: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Version)>, String> {
        let mut merged: BTreeMap<String, Option<Version>> = state
            .range(ns, start, end)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(k, _, v)| (k, Some(v)))
            .collect();
        for ((n, k), (value, v)) in &self.writes {
            if n == ns && k.as_str() >= start && (end.is_empty() || k.as_str() < end) {
                merged.insert(k.clone(), value.as_ref().map(|_| *v));
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect())
    }
}

/// Why a transaction's reads no longer hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    /// A read key's version changed.
    Read(String),
    /// A range query would now return other keys or versions.
    Phantom(String),
}

/// Checks every read and range query of `rwset` against the current state.
pub fn check(
    rwset: &NsReadWriteSet,
    state: &dyn StateReader,
    overlay: &Overlay,
) -> Result<Result<(), Conflict>, String> {
    let ns = &rwset.namespace;
    for KvRead { key, version } in &rwset.reads {
        if overlay.version(state, ns, key)? != *version {
            return Ok(Err(Conflict::Read(key.clone())));
        }
    }
    for RangeQueryInfo {
        start_key,
        end_key,
        reads,
        ..
    } in &rwset.range_queries_info
    {
        let now = overlay.range(state, ns, start_key, end_key)?;
        let then: Vec<(String, Version)> = reads
            .iter()
            .filter_map(|r| Some((r.key.clone(), r.version?)))
            .collect();
        if now != then {
            return Ok(Err(Conflict::Phantom(format!(
                "[{start_key:?}, {end_key:?})"
            ))));
        }
    }
    Ok(Ok(()))
}
