//! The block store: an append-only, hash-chained chain of blocks per channel, on sled.
//!
//! Each append writes the block, its transaction index entries, the chain info (height, current and previous
//! hash) and, for config blocks, the channel config, in one sled transaction, then flushes. After a crash
//! the store holds exactly the blocks whose append returned, so a restarted process resumes from its height.
//!
//! Layout: [`store`] defines the [`BlockStore`] trait the nodes use; [`sled_store`] implements it; [`ledgers`]
//! keeps one store per channel under `<root>/<channel>/`.

pub mod ledgers;
pub mod sled_store;
pub mod store;

pub use ledgers::Ledgers;
pub use sled_store::SledStore;
pub use store::{
    BlockStore, ChainInfo, Commit, LedgerError, StateVersion, StateWrite, TxLocation, Versioned,
};
