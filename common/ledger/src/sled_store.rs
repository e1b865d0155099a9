//! [`BlockStore`] on sled and a block file: each block and what it commits go to the [`BlockFile`] as one
//! record; sled holds the trees `blocks` (number → where in the file), `tx_index` (one key per commit of a
//! transaction id, see [`tx_key`]), `meta` (chain info, config) and `state`.
//!
//! Order of writes: an append writes the record and keeps the block [`Pending`]; `sync` makes the file durable
//! (one `fdatasync` per commit), then writes the pending blocks to sled, one plain insert at a time (a sled
//! transaction or batch writes and waits on its own log on every call: four times the CPU of plain inserts,
//! and a disk write per block), the chain info last, and flushes sled at most every [`INDEX_FLUSH_EVERY`].
//! Until a block is in sled, reads find it pending. So sled is always a prefix of the file's blocks; after a
//! crash, opening writes again to sled the records from its height on (state writes, tx ids, config: the same
//! values, so a block sled held in part is completed), and cuts off what no complete record holds. This rests
//! on sled recovering a prefix of its log: its recovery reads messages in log-sequence order and stops at the
//! first torn or missing one, and this store's inserts come from one writer, in order. So a block's chain
//! info, written last, is never recovered without the writes before it.

use std::path::Path;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use prost::Message;
use weft_crypto::block::header_hash;
use weft_wire::Bytes;
use weft_wire::common::Block;
use weft_wire::ledger::CommitRecord;

use crate::block_file::{self, BlockFile, Location};
use crate::pending::{Appended, Pending};
use crate::recent::Recent;
use crate::store::{
    BlockStore, ChainInfo, Commit, LedgerError, StateVersion, TxLocation, Versioned,
};

/// Height, current hash and previous hash, in one value: `height ‖ current (32 bytes) ‖ previous`.
const CHAIN: &[u8] = b"chain";
/// The chain info of ledgers written before [`CHAIN`], read when it is absent.
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
    tx_index: sled::Tree,
    meta: sled::Tree,
    state: sled::Tree,
}

/// A chain stored in a block file indexed by one sled database.
pub struct SledStore {
    db: sled::Db,
    file: BlockFile,
    trees: Trees,
    // The chain info is read on every deliver and every admin request; cached, and updated after each append.
    info: RwLock<ChainInfo>,
    /// Appended blocks not yet in sled.
    pending: Mutex<Pending>,
    /// The newest blocks appended, encoded.
    recent: Mutex<Recent>,
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
    /// Opens (or creates) the store in `dir`, first writing to sled the blocks that the block file holds from
    /// sled's height on (those synced after sled's last flush).
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        // No background flush: sled is written only after the block file is synced (see `sync`).
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .map_err(|e| LedgerError::Storage(format!("{}: {e}", dir.display())))?;
        let trees = Trees {
            blocks: db.open_tree("blocks").map_err(storage)?,
            tx_index: db.open_tree(TX_INDEX).map_err(storage)?,
            meta: db.open_tree("meta").map_err(storage)?,
            state: db.open_tree("state").map_err(storage)?,
        };
        migrate_txids(&db, &trees.tx_index)?;
        let mut info = trees.chain_info()?;
        let from = info.height;
        // Where the last block of sled's height ends (sled may hold part of the next one).
        let last =
            match from.checked_sub(1) {
                Some(n) => Some(trees.location(n)?.ok_or_else(|| {
                    LedgerError::Corrupt(format!("no index entry for block {n}"))
                })?),
                None => None,
            };
        // The last block sled names must be in the file as indexed (the file holds zeros there if a crash lost
        // blocks that sled had already written); checked before opening the file, which may cut it.
        if let Some(last) = last {
            let intact = block_file::read_before_open(dir, last)
                .and_then(|b| Block::decode(b.as_slice()).ok())
                .and_then(|b| b.header.map(|h| header_hash(&h).to_vec()));
            if intact.as_ref() != Some(&info.current_hash) {
                return Err(LedgerError::Corrupt(format!(
                    "{}: block {} is not in the block file as its index says",
                    dir.display(),
                    from - 1
                )));
            }
        }
        let file = BlockFile::open(dir, last.map_or(0, Location::end), |at, commit, bytes| {
            let block = Block::decode(bytes)
                .map_err(|e| LedgerError::Corrupt(format!("block file record: {e}")))?;
            let record = CommitRecord::decode(commit)
                .map_err(|e| LedgerError::Corrupt(format!("block file commit record: {e}")))?;
            // A record that does not continue the chain is not ours to index: the file is cut there.
            let Some(header) = block
                .header
                .as_ref()
                .filter(|h| h.number == info.height && h.previous_hash == info.current_hash)
            else {
                return Ok(false);
            };
            let next = info.after(header);
            trees.apply(info.height, at, &Commit::from_record(record), &next)?;
            info = next;
            Ok(true)
        })?;
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
            pending: Mutex::default(),
            recent: Mutex::default(),
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

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("ledger pending lock")
    }
}

impl Trees {
    /// The chain info sled holds.
    fn chain_info(&self) -> Result<ChainInfo, LedgerError> {
        let corrupt = || LedgerError::Corrupt("chain info".into());
        if let Some(v) = self.meta.get(CHAIN).map_err(storage)? {
            if v.len() < 40 {
                return Err(corrupt());
            }
            return Ok(ChainInfo {
                height: u64::from_be_bytes(v[..8].try_into().map_err(|_| corrupt())?),
                current_hash: v[8..40].to_vec(),
                previous_hash: v[40..].to_vec(),
            });
        }
        let get = |k: &[u8]| -> Result<Vec<u8>, LedgerError> {
            Ok(self
                .meta
                .get(k)
                .map_err(storage)?
                .map(|v| v.to_vec())
                .unwrap_or_default())
        };
        let height = get(HEIGHT)?;
        Ok(ChainInfo {
            height: if height.is_empty() {
                0
            } else {
                u64::from_be_bytes(height.as_slice().try_into().map_err(|_| corrupt())?)
            },
            current_hash: get(CURRENT)?,
            previous_hash: get(PREVIOUS)?,
        })
    }

    /// Where block `number`'s bytes are, as sled indexes them.
    fn location(&self, number: u64) -> Result<Option<Location>, LedgerError> {
        match self.blocks.get(number.to_be_bytes()).map_err(storage)? {
            Some(v) => Location::from_bytes(&v)
                .map(Some)
                .ok_or_else(|| LedgerError::Corrupt(format!("index entry of block {number}"))),
            None => Ok(None),
        }
    }

    /// Writes block `number`, stored at `at`, with everything in `commit`: state writes, location, tx ids (the
    /// first commit of an id wins), config, and last the chain info `next`, which makes it part of the height.
    /// Writing a block again gives the same result, which is what completes a block a crash cut short.
    fn apply(
        &self,
        number: u64,
        at: Location,
        commit: &Commit,
        next: &ChainInfo,
    ) -> Result<(), LedgerError> {
        for (k, v) in state_entries(commit) {
            match v {
                Some(v) => self.state.insert(k, v),
                None => self.state.remove(k),
            }
            .map_err(storage)?;
        }
        let key = number.to_be_bytes();
        self.blocks
            .insert(key, &at.to_bytes()[..])
            .map_err(storage)?;
        for (id, index) in &commit.tx_ids {
            let at = TxLocation {
                block: number,
                index: *index,
            };
            self.tx_index
                .insert(tx_key(id, Some(at)), &[])
                .map_err(storage)?;
        }
        if let Some(config) = &commit.config {
            self.meta
                .insert(CONFIG, config.as_slice())
                .map_err(storage)?;
        }
        let chain = [
            &next.height.to_be_bytes()[..],
            &next.current_hash,
            &next.previous_hash,
        ]
        .concat();
        self.meta.insert(CHAIN, chain).map_err(storage)?;
        Ok(())
    }
}

/// A commit's state writes as sled keeps them (`None`: a delete).
fn state_entries(commit: &Commit) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> + '_ {
    commit.writes.iter().map(|w| {
        (
            state_key(&w.namespace, &w.key),
            w.value.as_ref().map(|v| state_value(w.version, v)),
        )
    })
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // A clean stop writes what is pending and spares the next open the replay.
        if let Err(e) = self.sync().and_then(|()| self.db.flush().map_err(storage)) {
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
        let bytes = Bytes::from(block.encode_to_vec());
        let at = self
            .file
            .append(&commit.to_record().encode_to_vec(), &bytes)?;
        self.recent
            .lock()
            .expect("ledger recent lock")
            .push(header.number, bytes);
        let next = info.after(header);
        let state: Vec<_> = state_entries(&commit).collect();
        self.pending().add(
            Appended {
                number: header.number,
                at,
                commit,
                info: next.clone(),
            },
            state,
        );
        *info = next.clone();
        Ok(next)
    }

    /// Makes the block file durable, then writes the pending blocks to sled and, at most every
    /// [`INDEX_FLUSH_EVERY`], flushes sled. Appends and syncs come from one writer at a time (a chain task, a
    /// peer's commit lock).
    fn sync(&self) -> Result<(), LedgerError> {
        self.file.sync()?;
        let mut pending = self.pending();
        for b in pending.blocks() {
            self.trees.apply(b.number, b.at, &b.commit, &b.info)?;
        }
        pending.clear();
        drop(pending);
        let mut flushed = self.flushed.lock().expect("ledger flush lock");
        if flushed.elapsed() >= self.flush_every {
            self.db.flush().map_err(storage)?;
            *flushed = Instant::now();
        }
        Ok(())
    }

    fn block_bytes(&self, number: u64) -> Result<Option<Bytes>, LedgerError> {
        if let Some(b) = self.recent.lock().expect("ledger recent lock").get(number) {
            return Ok(Some(b));
        }
        let at = match self.pending().location(number) {
            Some(at) => Some(at),
            None => self.trees.location(number)?,
        };
        at.map(|at| self.file.read(at).map(Bytes::from)).transpose()
    }

    fn tx_location(&self, tx_id: &str) -> Result<Option<TxLocation>, LedgerError> {
        // sled first, where an id's first commit is when both hold it; under the pending lock, so that a sync
        // does not move blocks between the two in the meantime.
        let pending = self.pending();
        let prefix = tx_key(tx_id, None);
        let Some(first) = self.trees.tx_index.scan_prefix(&prefix).keys().next() else {
            return Ok(pending.tx(tx_id));
        };
        drop(pending);
        let first = first.map_err(storage)?;
        tx_location_in(&first[prefix.len()..])
            .map(Some)
            .ok_or_else(|| LedgerError::Corrupt(format!("tx index entry of {tx_id}")))
    }

    fn config(&self) -> Result<Option<Vec<u8>>, LedgerError> {
        if let Some(c) = self.pending().config() {
            return Ok(Some(c.to_vec()));
        }
        Ok(self
            .trees
            .meta
            .get(CONFIG)
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<Versioned>, LedgerError> {
        let key = state_key(namespace, key);
        if let Some(v) = self.pending().state(&key) {
            return v.map(parse_value).transpose();
        }
        match self.trees.state.get(key).map_err(storage)? {
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
        let to = if end.is_empty() {
            let mut upper = namespace.as_bytes().to_vec();
            upper.push(1);
            upper
        } else {
            state_key(namespace, end)
        };
        // sled and the pending blocks seen together: `sync` moves blocks from one to the other under this lock.
        let pending = self.pending();
        let mut found = std::collections::BTreeMap::new();
        for item in self.trees.state.range(from.clone()..to.clone()) {
            let (k, v) = item.map_err(storage)?;
            found.insert(k.to_vec(), Some(v.to_vec()));
        }
        for (k, v) in pending.state_in(&from, &to) {
            found.insert(k.to_vec(), v.map(<[u8]>::to_vec));
        }
        drop(pending);
        let prefix_len = namespace.len() + 1;
        let mut out = Vec::with_capacity(found.len());
        for (k, v) in found {
            let Some(v) = v else { continue };
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

/// The tree of transaction ids; before it, `txids` held one entry per id, its location as value.
const TX_INDEX: &str = "tx_index";
const TXIDS: &str = "txids";

/// A commit of transaction `id` at `at`, as a key of `tx_index`: the id's length (4 bytes, big-endian), the
/// id, then the block number and the transaction's index in it (big-endian). So an id's keys sort by where
/// they committed and its first commit is the first key with the prefix `tx_key(id, None)`. A commit is one
/// insert, with no lookup first: with one key per id, keeping the first commit would need one, and on a
/// peer's commit path that lookup cost as much as the insert.
fn tx_key(id: &str, at: Option<TxLocation>) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + id.len() + 12);
    key.extend_from_slice(&(id.len() as u32).to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    if let Some(at) = at {
        key.extend_from_slice(&at.block.to_be_bytes());
        key.extend_from_slice(&at.index.to_be_bytes());
    }
    key
}

/// A location as the last 12 bytes of a `tx_index` key (and the values of `txids`) hold it.
fn tx_location_in(at: &[u8]) -> Option<TxLocation> {
    let (block, index) = (at.len() == 12).then(|| at.split_at(8))?;
    Some(TxLocation {
        block: u64::from_be_bytes(block.try_into().ok()?),
        index: u32::from_be_bytes(index.try_into().ok()?),
    })
}

/// Moves a ledger's `txids` entries, if it has that tree, to `tx_index`, then drops `txids`. A crash in
/// between leaves `txids` in place and the next opening moves it again: the same keys.
fn migrate_txids(db: &sled::Db, tx_index: &sled::Tree) -> Result<(), LedgerError> {
    if !db.tree_names().iter().any(|n| n == TXIDS.as_bytes()) {
        return Ok(());
    }
    let old = db.open_tree(TXIDS).map_err(storage)?;
    let mut moved = 0usize;
    for entry in old.iter() {
        let (id, v) = entry.map_err(storage)?;
        let corrupt = || LedgerError::Corrupt("an entry of the old tx id index".into());
        let id = std::str::from_utf8(&id).map_err(|_| corrupt())?;
        let at = tx_location_in(&v).ok_or_else(corrupt)?;
        tx_index
            .insert(tx_key(id, Some(at)), &[])
            .map_err(storage)?;
        moved += 1;
    }
    db.flush().map_err(storage)?;
    db.drop_tree(TXIDS).map_err(storage)?;
    db.flush().map_err(storage)?;
    tracing::info!(target: "ledger", moved, "moved the transaction id index to its new layout");
    Ok(())
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

#[cfg(test)]
mod tests {
    use weft_crypto::block::new_block;

    use super::*;
    use crate::store::StateWrite;

    fn write(key: &str, value: Option<&str>, block: u64) -> StateWrite {
        StateWrite {
            namespace: "basic".into(),
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
            version: StateVersion { block, tx: 0 },
        }
    }

    fn next_block(store: &SledStore) -> Block {
        let info = store.info();
        new_block(
            info.height,
            info.current_hash,
            vec![format!("tx{}", info.height).into_bytes()],
        )
    }

    #[test]
    fn an_appended_block_reaches_sled_only_once_synced_and_reads_see_it_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let zero = next_block(&store);
        let commit = Commit {
            writes: vec![write("a", Some("1"), 0), write("b", Some("2"), 0)],
            ..Default::default()
        };
        store.append(&zero, commit).unwrap();
        let one = next_block(&store);
        let commit = Commit {
            tx_ids: vec![("t1".into(), 0)],
            config: Some(b"config 1".to_vec()),
            writes: vec![write("a", None, 1), write("c", Some("3"), 1)],
        };
        store.append_unsynced(&one, commit).unwrap();
        // Not in sled yet...
        assert_eq!(store.trees.location(1).unwrap(), None);
        assert_eq!(store.trees.chain_info().unwrap().height, 1);
        assert!(
            store
                .trees
                .state
                .get(state_key("basic", "c"))
                .unwrap()
                .is_none()
        );
        // ... but every read sees it, as it will be.
        let check = |store: &SledStore| {
            assert_eq!(store.block(1).unwrap().as_ref(), Some(&one));
            assert_eq!(store.get_state("basic", "a").unwrap(), None);
            assert_eq!(
                store.get_state("basic", "c").unwrap(),
                Some((b"3".to_vec(), StateVersion { block: 1, tx: 0 }))
            );
            let keys: Vec<String> = store
                .state_range("basic", "", "")
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(keys, ["b", "c"]);
            assert_eq!(store.tx_location("t1").unwrap().map(|l| l.block), Some(1));
            assert_eq!(store.config().unwrap(), Some(b"config 1".to_vec()));
        };
        check(&store);
        store.sync().unwrap();
        assert!(store.trees.location(1).unwrap().is_some());
        assert_eq!(store.trees.chain_info().unwrap().height, 2);
        check(&store);
    }

    #[test]
    fn a_block_sled_holds_in_part_is_completed_at_reopening() {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                let target = to.join(e.file_name());
                if e.file_type().unwrap().is_dir() {
                    copy(&e.path(), &target);
                } else {
                    std::fs::copy(e.path(), target).unwrap();
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let zero = next_block(&store);
        store.append(&zero, Commit::default()).unwrap();
        let one = next_block(&store);
        let commit = Commit {
            tx_ids: vec![("t1".into(), 0)],
            writes: vec![write("a", Some("1"), 1)],
            ..Default::default()
        };
        store.append_unsynced(&one, commit).unwrap();
        store.file.sync().unwrap();
        // A crash while sled was being written: the state write and the location made it, the rest did not.
        let pending = store.pending();
        let b = &pending.blocks()[0];
        for (k, v) in state_entries(&b.commit) {
            store.trees.state.insert(k, v.unwrap()).unwrap();
        }
        store
            .trees
            .blocks
            .insert(1u64.to_be_bytes(), &b.at.to_bytes()[..])
            .unwrap();
        drop(pending);
        store.db.flush().unwrap();
        let image = tempfile::tempdir().unwrap();
        copy(dir.path(), image.path());
        drop(store);

        let reopened = SledStore::open(image.path()).unwrap();
        assert_eq!(reopened.trees.chain_info().unwrap().height, 2);
        assert_eq!(reopened.info().height, 2);
        assert_eq!(
            reopened.tx_location("t1").unwrap().map(|l| l.block),
            Some(1)
        );
        assert_eq!(
            reopened.get_state("basic", "a").unwrap(),
            Some((b"1".to_vec(), StateVersion { block: 1, tx: 0 }))
        );
        assert_eq!(reopened.block(1).unwrap().as_ref(), Some(&one));
    }

    #[test]
    fn the_newest_blocks_are_read_from_memory_and_older_ones_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // Each block a little over an eighth of what is kept in memory: of twelve, the first ones are only in
        // the file.
        let size = crate::recent::RECENT_BYTES / 8;
        let mut blocks = Vec::new();
        for _ in 0..12 {
            let info = store.info();
            let b = new_block(
                info.height,
                info.current_hash,
                vec![vec![info.height as u8; size]],
            );
            store.append(&b, Commit::default()).unwrap();
            blocks.push(b);
        }
        let newest = store.block_bytes(11).unwrap().unwrap();
        assert_eq!(newest, blocks[11].encode_to_vec());
        // The same buffer each time: no read, no copy.
        let again = store.block_bytes(11).unwrap().unwrap();
        assert_eq!(newest.as_ptr(), again.as_ptr());
        let oldest = store.block_bytes(0).unwrap().unwrap();
        assert_eq!(oldest, blocks[0].encode_to_vec());
        assert_ne!(
            oldest.as_ptr(),
            store.block_bytes(0).unwrap().unwrap().as_ptr()
        );
        drop(store);
        // A reopened store has none in memory and reads them all from the file.
        let reopened = SledStore::open(dir.path()).unwrap();
        for (n, b) in blocks.iter().enumerate() {
            assert_eq!(reopened.block(n as u64).unwrap().as_ref(), Some(b));
        }
    }

    #[test]
    fn an_id_is_found_only_by_itself_not_by_a_prefix_or_an_extension_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let commit = Commit {
            tx_ids: vec![("ab".into(), 0), ("abc".into(), 1)],
            ..Default::default()
        };
        store.append(&next_block(&store), commit).unwrap();
        let at = |id| store.tx_location(id).unwrap().map(|l| l.index);
        assert_eq!(
            (at("a"), at("ab"), at("abc"), at("abcd")),
            (None, Some(0), Some(1), None)
        );
    }

    #[test]
    fn a_ledger_with_the_old_tx_id_index_has_it_moved_at_opening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let old = db.open_tree(TXIDS).unwrap();
            let at = [&7u64.to_be_bytes()[..], &3u32.to_be_bytes()].concat();
            old.insert("t", at).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let moved = Some(TxLocation { block: 7, index: 3 });
        assert_eq!(store.tx_location("t").unwrap(), moved);
        assert!(!store.db.tree_names().iter().any(|n| n == TXIDS.as_bytes()));
        drop(store);
        assert_eq!(location_after_reopening(dir.path(), "t"), moved);
    }

    #[test]
    fn a_transaction_id_committed_twice_stays_indexed_at_its_first_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for (n, index) in [(0u64, 3u32), (1, 0)] {
            let commit = Commit {
                tx_ids: vec![("t".into(), index)],
                ..Default::default()
            };
            store.append(&next_block(&store), commit).unwrap();
            assert_eq!(store.info().height, n + 1);
        }
        let first = Some(TxLocation { block: 0, index: 3 });
        assert_eq!(store.tx_location("t").unwrap(), first);
        drop(store);
        assert_eq!(location_after_reopening(dir.path(), "t"), first);
    }

    fn location_after_reopening(dir: &Path, tx_id: &str) -> Option<TxLocation> {
        SledStore::open(dir).unwrap().tx_location(tx_id).unwrap()
    }
}
