//! [`BlockStore`] on sled and a block file: each block and what it commits go to the [`BlockFile`] as one
//! record; sled holds the trees `blocks` (number → where in the file), `txids` (id → location), `meta` and
//! `state`, written in one transaction per block.
//!
//! Order of writes: the record first, then the sled transaction. `sync` makes the file durable every time
//! (one `fdatasync` per commit) and flushes sled at most every [`INDEX_FLUSH_EVERY`], after the file. After a
//! crash, opening indexes again the records sled lost (replaying their state writes, tx ids and config), and
//! cuts off what no complete record holds.

use std::path::Path;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use prost::Message;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use weft_crypto::block::header_hash;
use weft_wire::common::Block;
use weft_wire::ledger::CommitRecord;

use crate::block_file::{BlockFile, Location};
use crate::store::{
    BlockStore, ChainInfo, Commit, LedgerError, StateVersion, TxLocation, Versioned,
};

const HEIGHT: &[u8] = b"height";
const CURRENT: &[u8] = b"current_hash";
const PREVIOUS: &[u8] = b"previous_hash";
const CONFIG: &[u8] = b"config";

/// How often sled is flushed at most: between two flushes, what a crash loses of sled is replayed from the
/// block file when the store opens.
pub const INDEX_FLUSH_EVERY: Duration = Duration::from_secs(1);

/// sled's trees.
struct Trees {
    blocks: sled::Tree,
    txids: sled::Tree,
    meta: sled::Tree,
    state: sled::Tree,
}

/// A chain stored in a block file indexed by one sled database.
pub struct SledStore {
    db: sled::Db,
    file: BlockFile,
    trees: Trees,
    // The chain info is read on every deliver and every admin request; cached, and updated only after a
    // successful append.
    info: RwLock<ChainInfo>,
    /// When sled was last flushed, and how often it is.
    flushed: Mutex<Instant>,
    flush_every: Duration,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("info", &self.info())
            .finish()
    }
}

fn storage(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Storage(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, first indexing the blocks that the block file holds and sled does
    /// not (those appended after sled's last flush).
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        // No background flush: sled is flushed only after the block file, so that it never names a block the
        // file may not hold (see `sync`).
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .map_err(|e| LedgerError::Storage(format!("{}: {e}", dir.display())))?;
        let trees = Trees {
            blocks: db.open_tree("blocks").map_err(storage)?,
            txids: db.open_tree("txids").map_err(storage)?,
            meta: db.open_tree("meta").map_err(storage)?,
            state: db.open_tree("state").map_err(storage)?,
        };
        let meta = &trees.meta;
        let height = match meta.get(HEIGHT).map_err(storage)? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| LedgerError::Corrupt("height".into()))?,
            ),
            None => 0,
        };
        let get = |k: &[u8]| -> Result<Vec<u8>, LedgerError> {
            Ok(meta
                .get(k)
                .map_err(storage)?
                .map(|v| v.to_vec())
                .unwrap_or_default())
        };
        let mut info = ChainInfo {
            height,
            current_hash: get(CURRENT)?,
            previous_hash: get(PREVIOUS)?,
        };
        let indexed_end = match trees.blocks.last().map_err(storage)? {
            Some((_, v)) => Location::from_bytes(&v)
                .map(Location::end)
                .ok_or_else(|| LedgerError::Corrupt("block index entry".into()))?,
            None => 0,
        };
        let from = info.height;
        let info_at_open_hash = info.current_hash.clone();
        let file = BlockFile::open(dir, indexed_end, |at, commit, bytes| {
            let block = Block::decode(bytes)
                .map_err(|e| LedgerError::Corrupt(format!("block file record: {e}")))?;
            let record = CommitRecord::decode(commit)
                .map_err(|e| LedgerError::Corrupt(format!("block file commit record: {e}")))?;
            // A record that does not continue the chain is not ours to index: the file is cut there.
            let follows = block
                .header
                .as_ref()
                .is_some_and(|h| h.number == info.height && h.previous_hash == info.current_hash);
            if follows {
                info = trees.index(&info, &block, at, &Commit::from_record(record))?;
            }
            Ok(follows)
        })?;
        // The last block the index names must be in the file as indexed (the file may hold zeros there if a
        // crash lost blocks that sled had already written).
        if from > 0 {
            let last = trees
                .blocks
                .get((from - 1).to_be_bytes())
                .map_err(storage)?
                .and_then(|v| Location::from_bytes(&v))
                .ok_or_else(|| {
                    LedgerError::Corrupt(format!("no index entry for block {}", from - 1))
                })?;
            let intact = file
                .read(last)
                .ok()
                .and_then(|b| Block::decode(b.as_slice()).ok())
                .and_then(|b| b.header.map(|h| header_hash(&h).to_vec()));
            if intact.as_ref() != Some(&info_at_open_hash) {
                return Err(LedgerError::Corrupt(format!(
                    "{}: block {} is not in the block file as its index says",
                    dir.display(),
                    from - 1
                )));
            }
        }
        if info.height > from {
            db.flush().map_err(storage)?;
            tracing::info!(target: "ledger", dir = %dir.display(), from, to = info.height,
                "indexed the blocks the block file held beyond the index");
        }
        Ok(Self {
            db,
            file,
            trees,
            info: RwLock::new(info),
            flushed: Mutex::new(Instant::now()),
            flush_every: INDEX_FLUSH_EVERY,
        })
    }

    /// Flushes sled only when [`sync`](BlockStore::sync) finds `every` passed since the last flush (tests use
    /// a long one, to find the blocks sled has not seen indexed again at reopening).
    pub fn with_index_flush_every(mut self, every: Duration) -> Self {
        self.flush_every = every;
        self
    }
}

impl Trees {
    /// Indexes `block`, stored at `at`, with everything in `commit`, in one sled transaction: the block's
    /// location, its transaction ids, its state writes, the chain info and any new config. Returns the new
    /// chain info.
    fn index(
        &self,
        info: &ChainInfo,
        block: &Block,
        at: Location,
        commit: &Commit,
    ) -> Result<ChainInfo, LedgerError> {
        let header = block.header.as_ref().ok_or(LedgerError::NoHeader)?;
        let next = ChainInfo {
            height: info.height + 1,
            current_hash: header_hash(header).to_vec(),
            previous_hash: header.previous_hash.clone(),
        };
        let key = header.number.to_be_bytes();
        let location = at.to_bytes();
        let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = commit
            .writes
            .iter()
            .map(|w| {
                (
                    state_key(&w.namespace, &w.key),
                    w.value.as_ref().map(|v| state_value(w.version, v)),
                )
            })
            .collect();
        (&self.blocks, &self.txids, &self.meta, &self.state)
            .transaction(|(blocks, txids, meta, state)| {
                for (k, v) in &writes {
                    match v {
                        Some(v) => state.insert(k.as_slice(), v.as_slice())?,
                        None => state.remove(k.as_slice())?,
                    };
                }
                blocks.insert(&key, &location)?;
                for (id, index) in &commit.tx_ids {
                    // The first commit of a tx id wins; a later duplicate keeps pointing at the original.
                    if txids.get(id.as_bytes())?.is_none() {
                        txids.insert(
                            id.as_bytes(),
                            [key.as_slice(), &index.to_be_bytes()].concat(),
                        )?;
                    }
                }
                meta.insert(HEIGHT, &next.height.to_be_bytes())?;
                meta.insert(CURRENT, next.current_hash.as_slice())?;
                meta.insert(PREVIOUS, next.previous_hash.as_slice())?;
                if let Some(config) = &commit.config {
                    meta.insert(CONFIG, config.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| storage(format!("{e:?}")))?;
        Ok(next)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // A clean stop spares the next open the replay; the file first, so that sled never names a block the
        // file may not hold.
        if let Err(e) = self
            .file
            .sync()
            .and_then(|()| self.db.flush().map_err(storage))
        {
            tracing::warn!(target: "ledger", error = %e, "flushing the ledger index at close failed; it is rebuilt from the block file at the next start");
        }
    }
}

impl BlockStore for SledStore {
    fn info(&self) -> ChainInfo {
        self.info.read().expect("ledger info lock").clone()
    }

    fn append_unsynced(&self, block: &Block, commit: Commit) -> Result<ChainInfo, LedgerError> {
        let header = block.header.as_ref().ok_or(LedgerError::NoHeader)?;
        let mut info = self.info.write().expect("ledger info lock");
        if header.number != info.height {
            return Err(LedgerError::OutOfOrder {
                height: info.height,
                got: header.number,
            });
        }
        let record = self
            .file
            .append(&commit.to_record().encode_to_vec(), &block.encode_to_vec())?;
        let next = self
            .trees
            .index(&info, block, record.block, &commit)
            .inspect_err(|_| self.file.unwind(record))?;
        *info = next.clone();
        Ok(next)
    }

    /// The block file is what makes appends durable: it is synced every time; sled, at most every
    /// [`INDEX_FLUSH_EVERY`], and only after the file, so that it never indexes a block the file may not hold.
    /// Appends and syncs come from one writer at a time (a chain task, a peer's commit lock), so no append
    /// slips in between the two.
    fn sync(&self) -> Result<(), LedgerError> {
        self.file.sync()?;
        let mut flushed = self.flushed.lock().expect("ledger flush lock");
        if flushed.elapsed() >= self.flush_every {
            self.db.flush().map_err(storage)?;
            *flushed = Instant::now();
        }
        Ok(())
    }

    fn block_bytes(&self, number: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        let Some(entry) = self
            .trees
            .blocks
            .get(number.to_be_bytes())
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let at = Location::from_bytes(&entry)
            .ok_or_else(|| LedgerError::Corrupt(format!("index entry of block {number}")))?;
        self.file.read(at).map(Some)
    }

    fn tx_location(&self, tx_id: &str) -> Result<Option<TxLocation>, LedgerError> {
        let Some(v) = self.trees.txids.get(tx_id.as_bytes()).map_err(storage)? else {
            return Ok(None);
        };
        if v.len() != 12 {
            return Err(LedgerError::Corrupt(format!("tx index entry of {tx_id}")));
        }
        let block = u64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
        let index = u32::from_be_bytes(v[8..].try_into().expect("4 bytes"));
        Ok(Some(TxLocation { block, index }))
    }

    fn config(&self) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self
            .trees
            .meta
            .get(CONFIG)
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<Versioned>, LedgerError> {
        match self
            .trees
            .state
            .get(state_key(namespace, key))
            .map_err(storage)?
        {
            Some(v) => Ok(Some(parse_value(&v)?)),
            None => Ok(None),
        }
    }

    fn state_range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Versioned)>, LedgerError> {
        let from = state_key(namespace, start);
        let prefix_len = namespace.len() + 1;
        let iter = if end.is_empty() {
            let mut upper = namespace.as_bytes().to_vec();
            upper.push(1);
            self.trees.state.range(from..upper)
        } else {
            self.trees.state.range(from..state_key(namespace, end))
        };
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item.map_err(storage)?;
            let key = String::from_utf8(k[prefix_len..].to_vec())
                .map_err(|_| LedgerError::Corrupt("state key".into()))?;
            out.push((key, parse_value(&v)?));
        }
        Ok(out)
    }
}

/// `namespace ‖ 0 ‖ key`: namespaces cannot contain a zero byte, so one namespace's keys sort together.
fn state_key(namespace: &str, key: &str) -> Vec<u8> {
    [namespace.as_bytes(), &[0], key.as_bytes()].concat()
}

/// `block ‖ tx ‖ value`, big-endian.
fn state_value(version: StateVersion, value: &[u8]) -> Vec<u8> {
    [
        &version.block.to_be_bytes()[..],
        &version.tx.to_be_bytes(),
        value,
    ]
    .concat()
}

fn parse_value(v: &[u8]) -> Result<Versioned, LedgerError> {
    if v.len() < 16 {
        return Err(LedgerError::Corrupt(
            "state value shorter than its version".into(),
        ));
    }
    let block = u64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
    let tx = u64::from_be_bytes(v[8..16].try_into().expect("8 bytes"));
    Ok((v[16..].to_vec(), StateVersion { block, tx }))
}
