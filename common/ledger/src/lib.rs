//! The block store: an append-only, hash-chained chain of blocks per channel, in a block file indexed by sled.
//!
//! Each append writes a record to the chain's block file (the block's bytes and everything it commits). `sync`
//! makes the block file durable, then writes to sled each block's index entry, transaction index entries,
//! state writes, any new channel config and last the chain info (height, current and previous hash), and
//! flushes sled now and then; what sled lost in a crash is written again from the file's records when the
//! store opens. After a crash the store holds exactly the blocks whose append was synced, so a restarted
//! process resumes from its height.
//!
//! Layout: [`store`] defines the [`BlockStore`] trait the nodes use; [`sled_store`] implements it with a
//! [`block_file`], the [`pending`] blocks not yet in sled and the [`recent`] ones kept in memory; [`ledgers`]
//! keeps one store per channel under `<root>/<channel>/`.

pub mod block_file;
pub mod ledgers;
pub mod pending;
pub mod recent;
pub mod sled_store;
pub mod store;

pub use ledgers::Ledgers;
pub use sled_store::SledStore;
pub use store::{
    BlockStore, ChainInfo, Commit, LedgerError, StateVersion, StateWrite, TxLocation, Versioned,
};
