//! What a node needs from its block store, independent of the database behind it.

use prost::Message;
use weft_crypto::block::header_hash;
use weft_wire::Bytes;
use weft_wire::common::{Block, BlockHeader};
use weft_wire::ledger::{CommitRecord, StateWriteRecord, TxIndexEntry};

/// Why a ledger operation failed. An append that fails leaves the store as it was.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("block {got} cannot follow height {height}")]
    OutOfOrder { height: u64, got: u64 },
    #[error("block has no header")]
    NoHeader,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Storage(String),
}

/// Height and hashes of a chain, as `peer channel getinfo` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainInfo {
    pub height: u64,
    pub current_hash: Vec<u8>,
    pub previous_hash: Vec<u8>,
}

impl ChainInfo {
    /// The chain info once `header`'s block follows this one.
    pub fn after(&self, header: &BlockHeader) -> Self {
        Self {
            height: self.height + 1,
            current_hash: header_hash(header).to_vec(),
            previous_hash: header.previous_hash.clone(),
        }
    }
}

/// Where a transaction is: block number and index in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub block: u64,
    pub index: u32,
}

/// Everything that commits with one block.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Transaction ids of the block, with their index, for the tx index.
    pub tx_ids: Vec<(String, u32)>,
    /// The channel config in force after this block, when the block changes it.
    pub config: Option<Vec<u8>>,
    /// World-state writes of the block's valid transactions, in order.
    pub writes: Vec<StateWrite>,
}

impl Commit {
    /// The record kept beside the block in the block file.
    pub fn to_record(&self) -> CommitRecord {
        CommitRecord {
            tx_ids: self
                .tx_ids
                .iter()
                .map(|(tx_id, index)| TxIndexEntry {
                    tx_id: tx_id.clone(),
                    index: *index,
                })
                .collect(),
            config: self.config.clone(),
            writes: self
                .writes
                .iter()
                .map(|w| StateWriteRecord {
                    namespace: w.namespace.clone(),
                    key: w.key.clone(),
                    value: w.value.clone(),
                    block: w.version.block,
                    tx: w.version.tx,
                })
                .collect(),
        }
    }

    /// The commit a record holds.
    pub fn from_record(r: CommitRecord) -> Self {
        Self {
            tx_ids: r.tx_ids.into_iter().map(|e| (e.tx_id, e.index)).collect(),
            config: r.config,
            writes: r
                .writes
                .into_iter()
                .map(|w| StateWrite {
                    namespace: w.namespace,
                    key: w.key,
                    value: w.value,
                    version: StateVersion {
                        block: w.block,
                        tx: w.tx,
                    },
                })
                .collect(),
        }
    }
}

/// A key's version: the block and transaction that last wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct StateVersion {
    pub block: u64,
    pub tx: u64,
}

/// One world-state write: a new value (or a delete) for a key of a namespace (a chaincode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub namespace: String,
    pub key: String,
    /// `None` deletes the key.
    pub value: Option<Vec<u8>>,
    pub version: StateVersion,
}

/// A committed value and its version.
pub type Versioned = (Vec<u8>, StateVersion);

/// An append-only chain of verified blocks.
pub trait BlockStore: Send + Sync {
    /// Height and hashes.
    fn info(&self) -> ChainInfo;

    /// Appends `block`, which must be number `height`, with everything in `commit`, atomically and durably.
    fn append(&self, block: &Block, commit: Commit) -> Result<ChainInfo, LedgerError> {
        let info = self.append_unsynced(block, commit)?;
        self.sync()?;
        Ok(info)
    }

    /// Appends atomically without waiting for the disk: after a crash the store holds a prefix of the chain
    /// (never a partial block). Call [`sync`](Self::sync) after a run of appends — one flush for many blocks.
    fn append_unsynced(&self, block: &Block, commit: Commit) -> Result<ChainInfo, LedgerError>;

    /// Waits until everything appended is on disk.
    fn sync(&self) -> Result<(), LedgerError>;

    /// The block with this number, serialized as it was appended (what Deliver and state transfer send as is).
    fn block_bytes(&self, number: u64) -> Result<Option<Bytes>, LedgerError>;

    /// The block with this number.
    fn block(&self, number: u64) -> Result<Option<Block>, LedgerError> {
        let Some(bytes) = self.block_bytes(number)? else {
            return Ok(None);
        };
        Block::decode(bytes)
            .map(Some)
            .map_err(|e| LedgerError::Corrupt(format!("block {number}: {e}")))
    }

    /// Where a transaction id was committed.
    fn tx_location(&self, tx_id: &str) -> Result<Option<TxLocation>, LedgerError>;

    /// The channel config stored with the last config block.
    fn config(&self) -> Result<Option<Vec<u8>>, LedgerError>;

    /// A key's committed value and version.
    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<Versioned>, LedgerError>;

    /// Committed keys of `namespace` in `[start, end)` (empty `end`: no bound), in key order.
    fn state_range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Versioned)>, LedgerError>;
}
