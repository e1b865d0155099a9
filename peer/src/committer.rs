//! A joined channel on the peer: its ledger, its current config, and the commit of verified blocks.
//!
//! Every block is verified (number, previous hash, data hash, orderer signature against the config in force)
//! before anything is written; its transactions get validation codes in the TRANSACTIONS_FILTER metadata; and
//! block, tx index, height and any new config commit in one ledger transaction.

use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use weft_crypto::block::{self, BlockError};
use weft_crypto::{ChannelBundle, OwnSignatures};
use weft_ledger::{BlockStore, ChainInfo, Commit, LedgerError, SledStore};
use weft_wire::Message;
use weft_wire::common::{Block, BlockMetadataIndex, TxValidationCode};

use crate::state::LedgerState;
use crate::validation::validate_block;

/// Why a block was not committed. The ledger is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("refused block: {0}")]
    Refused(#[from] BlockError),
    #[error("refused block {number}: bad channel config: {reason}")]
    BadConfig { number: u64, reason: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A channel this peer has joined.
pub struct ChannelState {
    pub id: String,
    pub ledger: Arc<SledStore>,
    bundle: RwLock<Arc<ChannelBundle>>,
    /// The endorsements this peer signed, recognised in the blocks that carry them.
    own: Option<Arc<OwnSignatures>>,
    height: watch::Sender<u64>,
    // One committer at a time: appends must see the height they verified against.
    commit_lock: Mutex<()>,
    /// Verified blocks ahead of the height, by number.
    pending: Mutex<std::collections::BTreeMap<u64, Block>>,
}

impl std::fmt::Debug for ChannelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelState")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ChannelState {
    /// Reopens a joined channel from its ledger. `own`: the endorsements this peer signs.
    pub fn open(
        id: &str,
        ledger: Arc<SledStore>,
        own: Option<Arc<OwnSignatures>>,
    ) -> Result<Self, String> {
        let raw = ledger
            .config()
            .map_err(|e| e.to_string())?
            .ok_or("ledger has no config block")?;
        let config = weft_wire::decode("channel config", &raw).map_err(|e| e.to_string())?;
        let bundle = ChannelBundle::new(config).map_err(|e| e.to_string())?;
        let height = ledger.info().height;
        Ok(Self::new(id, ledger, bundle, own, height))
    }

    fn new(
        id: &str,
        ledger: Arc<SledStore>,
        bundle: ChannelBundle,
        own: Option<Arc<OwnSignatures>>,
        height: u64,
    ) -> Self {
        metrics::gauge!("ledger_blockchain_height", "channel" => id.to_string()).set(height as f64);
        Self {
            id: id.to_string(),
            ledger,
            bundle: RwLock::new(Arc::new(bundle)),
            own,
            height: watch::channel(height).0,
            commit_lock: Mutex::new(()),
            pending: Mutex::new(Default::default()),
        }
    }

    /// Joins a channel: `genesis` must be its block 0, a config block. The join block is trusted as the
    /// administrator's choice (as in Fabric); its data hash must still be right. `own`: the endorsements this
    /// peer signs.
    pub fn join(
        ledger: Arc<SledStore>,
        genesis: &Block,
        own: Option<Arc<OwnSignatures>>,
        now: i64,
    ) -> Result<Self, CommitError> {
        let number = block::check_data_hash(genesis)?;
        if number != 0 {
            return Err(BlockError::WrongNumber {
                expected: 0,
                got: number,
            }
            .into());
        }
        let bad = |reason: String| CommitError::BadConfig { number, reason };
        let config = block::config_of(genesis)
            .map_err(bad)?
            .ok_or_else(|| bad("block 0 is not a config block".into()))?;
        let id = config.channel_id.clone();
        let bundle = ChannelBundle::new(config.clone()).map_err(|e| bad(e.to_string()))?;
        if ledger.info().height == 0 {
            let (block, commit) = prepare(
                genesis.clone(),
                &bundle,
                None,
                &ledger,
                Some(config.encode_to_vec()),
                now,
            );
            ledger.append(&block, commit)?;
        }
        let height = ledger.info().height;
        Ok(Self::new(&id, ledger, bundle, own, height))
    }

    pub fn bundle(&self) -> Arc<ChannelBundle> {
        self.bundle.read().expect("bundle lock").clone()
    }

    pub fn info(&self) -> ChainInfo {
        self.ledger.info()
    }

    /// Where `tx_id` committed: its block and validation code. A block appended and not yet on disk (the
    /// ledger already reads it) is not committed yet.
    pub fn transaction(&self, tx_id: &str) -> Result<Option<(u64, i32)>, LedgerError> {
        let Some(loc) = self
            .ledger
            .tx_location(tx_id)?
            .filter(|l| l.block < *self.height.borrow())
        else {
            return Ok(None);
        };
        let block = self
            .ledger
            .block(loc.block)?
            .ok_or_else(|| LedgerError::Corrupt(format!("block {}", loc.block)))?;
        let code = block::validation_codes(&block)
            .get(loc.index as usize)
            .map_or(TxValidationCode::NotValidated as i32, |c| i32::from(*c));
        Ok(Some((loc.block, code)))
    }

    /// A watch of the height, for waiters.
    pub fn height(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// Verifies and commits the next block. Returns the new chain info and, for a config block, the new config.
    pub fn commit(
        &self,
        block: Block,
        now: i64,
    ) -> Result<(ChainInfo, Option<Arc<ChannelBundle>>), CommitError> {
        let _guard = self.commit_lock.lock().expect("commit lock");
        let committed = self.commit_locked(block, now, false)?;
        self.synced()?;
        Ok(committed)
    }

    /// Takes a block from any source: one below the height is a duplicate and ignored; one above it waits (up
    /// to [`MAX_PENDING`] blocks, beyond which it is dropped and fetched again later). Then, unless another
    /// caller is already committing, commits every waiting block that follows the height, its own and those
    /// other callers queued meanwhile, and flushes once for all of them: under load, commits group. A caller
    /// that finds the commit busy leaves its block to the one committing instead of queueing behind it, so
    /// that a catch-up does not park one thread per block on the lock. The caller verified the block itself
    /// (data hash and orderer signature, [`block::verify`]: once, before forwarding it); here only its place
    /// in the chain is checked.
    ///
    /// A refused block ends the run and is reported as dropped; when it is the caller's own, its reason is
    /// reported too, beside what the run committed before it (a block left to another caller is reported by
    /// that caller, as a dropped buffered block). Fails only when the ledger does.
    pub fn accept(&self, block: Block, now: i64) -> Result<Accepted, CommitError> {
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let mut out = Accepted::default();
        {
            let mut pending = self.pending.lock().expect("pending lock");
            if number < self.ledger.info().height {
                return Ok(out);
            }
            if pending.len() >= MAX_PENDING && !pending.contains_key(&number) {
                out.dropped.push(number);
                return Ok(out);
            }
            pending.insert(number, block);
        }
        // A block queued while the committer was between its last look at `pending` and its unlock would wait
        // for the next caller: look again after unlocking.
        while self.next_is_pending() {
            let Ok(_guard) = self.commit_lock.try_lock() else {
                break;
            };
            let before = out.committed.len();
            let went_through = self.commit_pending(number, now, &mut out);
            if out.committed.len() > before {
                self.synced()?;
            }
            if !went_through {
                break;
            }
        }
        let mut pending = self.pending.lock().expect("pending lock");
        let height = self.ledger.info().height;
        pending.retain(|n, _| *n >= height);
        metrics::gauge!("gossip_payload_buffer_size", "channel" => self.id.clone())
            .set(pending.len() as f64);
        Ok(out)
    }

    fn next_is_pending(&self) -> bool {
        let height = self.ledger.info().height;
        self.pending
            .lock()
            .expect("pending lock")
            .contains_key(&height)
    }

    /// Commits the pending blocks that follow the height, under the commit lock, into `out`; false once a
    /// refused block ended the run. `own` is the caller's block number.
    fn commit_pending(&self, own: u64, now: i64, out: &mut Accepted) -> bool {
        loop {
            let height = self.ledger.info().height;
            let next = self.pending.lock().expect("pending lock").remove(&height);
            let Some(next) = next else { return true };
            match self.commit_locked(next, now, true) {
                Ok(c) => out.committed.push(c),
                Err(e) => {
                    out.dropped.push(height);
                    if height == own {
                        out.refused = Some(e);
                    } else {
                        tracing::warn!(target: "committer", channel = %self.id, block = height, error = %e,
                            "dropped a buffered block");
                    }
                    return false;
                }
            }
        }
    }

    /// Flushes what was appended, then lets waiters see the new height: nobody hears of a commit before it is
    /// on disk.
    fn synced(&self) -> Result<(), CommitError> {
        self.ledger.sync()?;
        let height = self.ledger.info().height;
        metrics::gauge!("ledger_blockchain_height", "channel" => self.id.clone())
            .set(height as f64);
        self.height.send_replace(height);
        Ok(())
    }

    fn commit_locked(
        &self,
        block: Block,
        now: i64,
        verified: bool,
    ) -> Result<Committed, CommitError> {
        let processing = std::time::Instant::now();
        let info = self.ledger.info();
        let bundle = self.bundle();
        if verified {
            block::check_link(&block, info.height, &info.current_hash)?;
        } else {
            block::verify_next(&block, info.height, &info.current_hash, &bundle, now)?;
        }
        let number = info.height;
        let bad = |reason: String| CommitError::BadConfig { number, reason };
        let new_bundle = match block::config_of(&block).map_err(bad)? {
            Some(config) => {
                if config.channel_id != self.id {
                    return Err(bad(format!("config names channel {:?}", config.channel_id)));
                }
                if config.sequence <= bundle.config().sequence {
                    let current = bundle.config().sequence;
                    return Err(bad(format!(
                        "config sequence {} does not follow {current}",
                        config.sequence
                    )));
                }
                Some(Arc::new(
                    ChannelBundle::new(config).map_err(|e| bad(e.to_string()))?,
                ))
            }
            None => None,
        };
        let raw_config = new_bundle.as_ref().map(|b| b.config().encode_to_vec());
        let (block, commit) = prepare(
            block,
            new_bundle.as_deref().unwrap_or(&bundle),
            self.own.as_deref(),
            &self.ledger,
            raw_config,
            now,
        );
        let started = std::time::Instant::now();
        let info = self.ledger.append_unsynced(&block, commit)?;
        metrics::histogram!("gossip_state_commit_duration", "channel" => self.id.clone())
            .record(started.elapsed().as_secs_f64());
        // Fabric's name, one sample per block: its validation and ledger write. The flush that ends a run of
        // blocks committed together is shared by them and not counted here.
        metrics::histogram!("ledger_block_processing_time", "channel" => self.id.clone())
            .record(processing.elapsed().as_secs_f64());
        if let Some(b) = &new_bundle {
            *self.bundle.write().expect("bundle lock") = b.clone();
        }
        Ok((info, new_bundle))
    }
}

/// A committed block's chain info and, for a config block, the new config.
pub type Committed = (ChainInfo, Option<Arc<ChannelBundle>>);

/// What one [`ChannelState::accept`] did: the blocks it committed, in order; the numbers of blocks it let go
/// (refused, or no room to wait), which must be fetched again; and why the caller's own block was refused.
#[derive(Default)]
pub struct Accepted {
    pub committed: Vec<Committed>,
    pub dropped: Vec<u64>,
    pub refused: Option<CommitError>,
}

/// Blocks ahead of the height kept while waiting for the ones before them (a memory bound: beyond it, blocks
/// are dropped and fetched again by state transfer).
pub const MAX_PENDING: usize = 2_000;

/// Computes each transaction's validation code and the tx index entries, and records the codes in the block.
fn prepare(
    mut block: Block,
    bundle: &ChannelBundle,
    own: Option<&OwnSignatures>,
    ledger: &SledStore,
    config: Option<Vec<u8>>,
    now: i64,
) -> (Block, Commit) {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let txs = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    let committed = |id: &str| ledger.tx_location(id).ok().flatten().is_some();
    let results = validate_block(
        number,
        txs,
        bundle,
        own,
        &LedgerState(ledger),
        &committed,
        now,
    );
    let mut codes = Vec::with_capacity(results.len());
    let mut tx_ids = Vec::new();
    let mut writes = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        codes.push(r.code as u8);
        if r.code != TxValidationCode::Valid {
            tracing::info!(target: "committer", channel = %bundle.channel_id(), block = number, tx = i,
                tx_id = r.tx_id.as_deref().unwrap_or(""), code = r.code.as_str_name(),
                reason = r.reason.as_deref().unwrap_or(""), "invalid transaction");
        }
        if let Some(id) = r
            .tx_id
            .filter(|_| r.code != TxValidationCode::DuplicateTxid)
        {
            tx_ids.push((id, i as u32));
        }
        writes.extend(r.writes);
    }
    let md = &mut block.metadata.get_or_insert_with(Default::default).metadata;
    md.resize(3, Vec::new());
    md[BlockMetadataIndex::TransactionsFilter as usize] = codes;
    (
        block,
        Commit {
            tx_ids,
            config,
            writes,
        },
    )
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use weft_crypto::envelope;
    use weft_wire::common::{ChannelConfig, ConfigEnvelope, HeaderType};

    use super::*;

    fn joined(dir: &std::path::Path) -> ChannelState {
        let config = ConfigEnvelope {
            config: Some(ChannelConfig {
                channel_id: "mychannel".into(),
                ..Default::default()
            }),
            last_update: None,
        };
        let env = envelope::unsigned(
            HeaderType::Config,
            "mychannel",
            config.encode_to_vec(),
            SystemTime::now(),
        );
        let genesis = block::new_block(0, Vec::new(), vec![env.encode_to_vec()]);
        let ledger = Arc::new(SledStore::open(dir).unwrap());
        ChannelState::join(ledger, &genesis, None, 0).unwrap()
    }

    #[test]
    fn a_refused_own_block_still_reports_what_the_run_committed_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = joined(dir.path());
        // Block 1, queued by another intake thread, waits; our own block 2 names the wrong predecessor.
        let one = block::new_block(1, state.info().current_hash, Vec::new());
        state.pending.lock().unwrap().insert(1, one);
        let two = block::new_block(2, vec![0; 32], Vec::new());
        let accepted = state.accept(two, 0).expect("the ledger works");
        assert_eq!(accepted.committed.len(), 1, "block 1 committed in our run");
        assert_eq!(accepted.committed[0].0.height, 2);
        assert_eq!(accepted.dropped, [2]);
        assert!(
            matches!(
                accepted.refused,
                Some(CommitError::Refused(BlockError::BrokenChain { number: 2 }))
            ),
            "{:?}",
            accepted.refused
        );
        assert_eq!(*state.height().borrow(), 2, "the commit was announced");
    }

    #[test]
    fn a_transaction_is_reported_only_once_its_block_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let state = joined(dir.path());
        let one = block::new_block(1, state.info().current_hash, Vec::new());
        let commit = Commit {
            tx_ids: vec![("t1".into(), 0)],
            ..Default::default()
        };
        state.ledger.append_unsynced(&one, commit).unwrap();
        assert!(
            state.ledger.tx_location("t1").unwrap().is_some(),
            "the ledger reads it"
        );
        assert_eq!(state.transaction("t1").unwrap(), None, "not committed yet");
        state.synced().unwrap();
        assert_eq!(
            state.transaction("t1").unwrap(),
            Some((1, TxValidationCode::NotValidated as i32))
        );
    }

    #[test]
    fn a_block_offered_while_another_caller_commits_is_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(joined(dir.path()));
        let one = block::new_block(1, state.info().current_hash, Vec::new());
        let hash_one = block::header_hash(one.header.as_ref().unwrap()).to_vec();
        let committing = state.commit_lock.lock().unwrap();
        let (done, accepted) = std::sync::mpsc::channel();
        let offering = state.clone();
        std::thread::spawn(move || done.send(offering.accept(one, 0).map(|a| a.committed.len())));
        let left = accepted
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("accept returns while the commit is busy, instead of waiting for it");
        assert_eq!(left.unwrap(), 0);
        assert!(
            state.pending.lock().unwrap().contains_key(&1),
            "block 1 waits for the committer"
        );
        drop(committing);
        // The next caller commits the block left to the committer, then its own.
        let two = block::new_block(2, hash_one, Vec::new());
        let accepted = state.accept(two, 0).unwrap();
        assert_eq!(accepted.committed.len(), 2);
        assert_eq!(state.info().height, 3);
    }
}
