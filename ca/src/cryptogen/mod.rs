//! Offline crypto material generation, like Hyperledger Fabric's `cryptogen generate`.
//!
//! [`load_config`] reads a `crypto-config.yaml` into a [`CryptoConfig`]; [`generate`] writes,
//! for each organisation `<domain>`:
//!
//! ```text
//! <out>/peerOrganizations/<domain>/          (ordererOrganizations/ for orderer orgs)
//!   ca/<ca-cn>-cert.pem  ca/priv_sk              signing root CA
//!   tlsca/tlsca.<domain>-cert.pem  tlsca/priv_sk TLS root CA
//!   msp/{cacerts,tlscacerts,admincerts|config.yaml}
//!   peers/<cn>/{msp/{cacerts,keystore/priv_sk,signcerts,tlscacerts,config.yaml|admincerts},
//!               tls/{ca.crt,server.crt,server.key}}          (orderers/ for orderer orgs)
//!   users/{Admin,UserN}@<domain>/{msp/...,tls/{ca.crt,client.crt,client.key}}
//! ```
//!
//! Keys are ECDSA P-256 in PKCS#8 PEM with mode 0600; certificates are signed with low-S
//! signatures, valid from five minutes ago for ten years.
//!
//! Module map: `config` (schema and loading), `template` and `plan` (names, SANs),
//! `ca` (certificate profiles), `key` (low-S signing key), `msp` and `files` (the tree),
//! `generate` (atomic per-org writing).

mod ca;
mod config;
mod error;
mod files;
mod generate;
mod key;
mod msp;
mod plan;
mod template;

pub use config::{
    CaSpec, CryptoConfig, DEFAULT_TEMPLATE, NodeSpec, NodeTemplate, OrgSpec, UsersSpec,
    load_config, parse_config,
};
pub use error::CryptogenError;
pub use generate::{OrgSummary, Summary, generate};
pub use msp::node_ou_config;
pub use plan::OrgKind;
