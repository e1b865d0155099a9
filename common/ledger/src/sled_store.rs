//! [`BlockStore`] on sled and a block file: the blocks' bytes go to the [`BlockFile`]; sled holds the trees
//! `blocks` (number → where in the file), `txids` (id → location), `meta` and `state`, written in one
//! transaction per block.
//!
//! Order of writes: the block's bytes first, then the sled transaction; `sync` flushes the file before sled.
//! After a crash, bytes the index never named are cut off when the store opens.

use std::path::Path;
use std::sync::RwLock;

use prost::Message;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use weft_crypto::block::header_hash;
use weft_wire::common::Block;

use crate::block_file::{BlockFile, Location};
use crate::store::{
    BlockStore, ChainInfo, Commit, LedgerError, StateVersion, TxLocation, Versioned,
};

const HEIGHT: &[u8] = b"height";
const CURRENT: &[u8] = b"current_hash";
const PREVIOUS: &[u8] = b"previous_hash";
const CONFIG: &[u8] = b"config";

/// A chain stored in one sled database.
pub struct SledStore {
    db: sled::Db,
    file: BlockFile,
    blocks: sled::Tree,
    txids: sled::Tree,
    meta: sled::Tree,
    state: sled::Tree,
    // The chain info is read on every deliver and every admin request; cached, and updated only after a
    // successful append.
    info: RwLock<ChainInfo>,
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
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        // No background flush: sled's index must not reach the disk before the block file (see `sync`).
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .map_err(|e| LedgerError::Storage(format!("{}: {e}", dir.display())))?;
        let blocks = db.open_tree("blocks").map_err(storage)?;
        let txids = db.open_tree("txids").map_err(storage)?;
        let meta = db.open_tree("meta").map_err(storage)?;
        let state = db.open_tree("state").map_err(storage)?;
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
        let info = ChainInfo {
            height,
            current_hash: get(CURRENT)?,
            previous_hash: get(PREVIOUS)?,
        };
        let indexed_end = match blocks.last().map_err(storage)? {
            Some((_, v)) => Location::from_bytes(&v)
                .map(Location::end)
                .ok_or_else(|| LedgerError::Corrupt("block index entry".into()))?,
            None => 0,
        };
        let file = BlockFile::open(dir, indexed_end)?;
        Ok(Self {
            db,
            file,
            blocks,
            txids,
            meta,
            state,
            info: RwLock::new(info),
        })
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
        let next = ChainInfo {
            height: info.height + 1,
            current_hash: header_hash(header).to_vec(),
            previous_hash: header.previous_hash.clone(),
        };
        let key = header.number.to_be_bytes();
        let at = self.file.append(&block.encode_to_vec())?;
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
            .map_err(|e: TransactionError<()>| {
                self.file.unwind(at);
                storage(format!("{e:?}"))
            })?;
        *info = next.clone();
        Ok(next)
    }

    fn sync(&self) -> Result<(), LedgerError> {
        self.file.sync()?;
        self.db.flush().map(|_| ()).map_err(storage)
    }

    fn block_bytes(&self, number: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        let Some(entry) = self.blocks.get(number.to_be_bytes()).map_err(storage)? else {
            return Ok(None);
        };
        let at = Location::from_bytes(&entry)
            .ok_or_else(|| LedgerError::Corrupt(format!("index entry of block {number}")))?;
        self.file.read(at).map(Some)
    }

    fn tx_location(&self, tx_id: &str) -> Result<Option<TxLocation>, LedgerError> {
        let Some(v) = self.txids.get(tx_id.as_bytes()).map_err(storage)? else {
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
        Ok(self.meta.get(CONFIG).map_err(storage)?.map(|v| v.to_vec()))
    }

    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<Versioned>, LedgerError> {
        match self.state.get(state_key(namespace, key)).map_err(storage)? {
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
            self.state.range(from..upper)
        } else {
            self.state.range(from..state_key(namespace, end))
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
