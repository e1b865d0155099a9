//! Blocks appended to the block file and not yet written to sled. sled gets a block only once the file holds it
//! durably (at `sync`), so that after any crash sled is a prefix of the file's blocks and never holds a write
//! of a block the file lost (which, re-validated on top of its own writes, would then fork the state). Until
//! then, reads look here first: a run of blocks committed together sees the writes of its earlier blocks.

use std::collections::HashMap;

use crate::block_file::Location;
use crate::store::{ChainInfo, Commit, TxLocation};

/// One appended block: its number, where its bytes are, what it commits and the chain info after it.
#[derive(Debug)]
pub struct Appended {
    pub number: u64,
    pub at: Location,
    pub commit: Commit,
    pub info: ChainInfo,
}

/// The blocks appended since the last `sync`, and what reads must see of them.
#[derive(Debug, Default)]
pub struct Pending {
    blocks: Vec<Appended>,
    /// The latest pending value of each state key as sled holds it (`None`: deleted).
    state: HashMap<Vec<u8>, Option<Vec<u8>>>,
    tx_ids: HashMap<String, TxLocation>,
    config: Option<Vec<u8>>,
}

impl Pending {
    /// Adds an appended block. `state` encodes each write as sled keeps it. Of the pending blocks, the first
    /// to commit a transaction id is the one [`tx`](Self::tx) names (sled, consulted first, may hold an earlier one).
    pub fn add(
        &mut self,
        block: Appended,
        state: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    ) {
        self.state.extend(state);
        for (id, index) in &block.commit.tx_ids {
            self.tx_ids.entry(id.clone()).or_insert(TxLocation {
                block: block.number,
                index: *index,
            });
        }
        if let Some(c) = &block.commit.config {
            self.config = Some(c.clone());
        }
        self.blocks.push(block);
    }

    /// Where a pending block's bytes are.
    pub fn location(&self, number: u64) -> Option<Location> {
        self.blocks
            .iter()
            .find(|b| b.number == number)
            .map(|b| b.at)
    }

    /// A pending state value: `Some(None)` for a pending delete, `None` when no pending block writes the key.
    pub fn state(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.state.get(key).map(Option::as_deref)
    }

    /// The pending state writes whose keys fall in `[from, to)`.
    pub fn state_in<'a>(
        &'a self,
        from: &'a [u8],
        to: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.state
            .iter()
            .filter(move |(k, _)| k.as_slice() >= from && k.as_slice() < to)
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
    }

    /// Where a transaction id first committed among the pending blocks.
    pub fn tx(&self, id: &str) -> Option<TxLocation> {
        self.tx_ids.get(id).copied()
    }

    /// The newest config a pending block set.
    pub fn config(&self) -> Option<&[u8]> {
        self.config.as_deref()
    }

    /// The pending blocks, in order.
    pub fn blocks(&self) -> &[Appended] {
        &self.blocks
    }

    /// Forgets everything (once sled holds it).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}
