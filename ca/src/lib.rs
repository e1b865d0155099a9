//! Certificate authority: cryptogen-style MSP generation.
//!
//! # Layout
//!
//! - [`cryptogen`] owns offline crypto material generation exactly like Hyperledger Fabric's
//!   `cryptogen` tool: it reads a `crypto-config.yaml` ([`cryptogen::CryptoConfig`]) and writes
//!   `peerOrganizations/` and `ordererOrganizations/` trees with a signing CA, a TLS CA, an org
//!   MSP and one local MSP plus TLS material per node and user.
//!
//! The `weft-ca` binary (`src/main.rs`) is a thin clap front end over [`cryptogen`].

pub mod cryptogen;
