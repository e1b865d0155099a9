//! weft's peer: a committing node and Fabric's `peer` CLI.
//!
//! Layout:
//! - [`config`]: `core.yaml` with `CORE_*` overrides.
//! - [`committer`]: a joined channel: verify, validate and commit blocks.
//! - [`deliver_client`]: pulls blocks from the orderer.
//! - [`deliver_service`]: serves committed blocks and commit events (Deliver, DeliverFiltered) to clients.
//! - [`endorser`]: simulates chaincode calls and endorses the results.
//! - [`proposal`]: the client side of a transaction.
//! - [`provenance`]: how each block arrived.
//! - [`gossip`]: the gossip driver and its handle.
//! - [`node`]: the process's shared state and channel joining.
//! - [`state`]: the world state as chaincode and validation read it.
//! - [`validation`]: endorsement policy and MVCC validation of a block.
//! - [`admin_service`]: the QUIC service: `peer channel join | getinfo | list`, endorsement, deliver streams.
//! - [`http`]: the peer's admin HTTP routes.
//! - [`intake`]: blocks arriving by gossip, verified once; serving blocks to peers.
//! - [`client`]: Broadcast, Deliver and admin calls as a client.
//! - [`cli`]: the `peer` command line.

pub mod admin_service;
pub mod cli;
pub mod client;
pub mod committer;
pub mod config;
pub mod deliver_client;
pub mod deliver_service;
pub mod endorser;
pub mod gossip;
pub mod http;
pub mod intake;
pub mod node;
pub mod proposal;
pub mod provenance;
pub mod state;
pub mod validation;

/// Seconds since the Unix epoch, for certificate validity checks.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
