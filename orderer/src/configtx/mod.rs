//! `configtx.yaml`, as Fabric's configtxgen reads it, turned into channel configs and config transactions.
//!
//! [`yaml`] holds the file's schema (YAML anchors and `<<` merges are resolved before it is applied);
//! [`profile`] turns a profile into a genesis block, a channel creation transaction or an anchor peer update.

pub mod profile;
pub mod yaml;

use std::path::PathBuf;

pub use profile::{anchor_peers_update, channel_create_tx, genesis_block, genesis_config};
pub use yaml::{ConfigTx, load};

/// Why a configtx.yaml or one of its profiles could not be used. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigTxError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {key}: {reason}")]
    Parse {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error("profile {0:?} not found in configtx.yaml")]
    NoProfile(String),
    #[error("profile {profile:?}: {reason}")]
    Invalid { profile: String, reason: String },
    #[error("organization {org}: MSPDir {dir}: {reason}")]
    Msp {
        org: String,
        dir: PathBuf,
        reason: String,
    },
}
