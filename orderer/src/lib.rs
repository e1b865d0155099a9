//! weft's solo ordering service and configtxgen.
//!
//! Layout:
//! - [`config`]: `orderer.yaml` with `ORDERER_*` overrides.
//! - [`cutter`]: the block cutter (sans-IO).
//! - [`chain`]: one task per channel that cuts, signs and persists blocks and applies config updates.
//! - [`config_update`]: channel creation and anchor peer updates, validated against policies.
//! - [`registry`]: the channels, their ledgers and chain tasks.
//! - [`broadcast`], [`deliver`], [`server`]: the QUIC service.
//! - [`http`]: the orderer's admin routes beyond the operations service.
//! - [`configtx`]: `configtx.yaml` and the artifacts configtxgen writes.

pub mod broadcast;
pub mod chain;
pub mod config;
pub mod config_update;
pub mod configtx;
pub mod cutter;
pub mod deliver;
pub mod http;
pub mod registry;
pub mod server;
