//! Identities, MSPs, signatures, policies and block hashing: the trust rules every weft process applies.
//!
//! Layout:
//! - [`hash`]: SHA-256 helpers and the transaction id rule.
//! - [`signer`]: an ECDSA P-256 signing identity loaded from a Fabric MSP folder; signatures are low-S.
//! - [`identity`]: parsing a serialised identity's certificate and verifying its signatures.
//! - [`msp`]: an organisation's MSP (root certs, NodeOUs) validating identities and deriving their roles.
//! - [`policy`]: signature policies (`OR('Org1MSP.peer', ...)`) and implicit-meta policies (`MAJORITY Admins`).
//! - [`bundle`]: a channel's configuration turned into MSPs and named policies, the unit of authorisation.
//! - [`block`]: block header and data hashing, orderer signatures, and block verification.
//! - [`envelope`]: building and checking signed envelopes.
//! - [`own_signatures`]: signatures this process made, recognised when they come back so that they are not
//!   verified again.
//!
//! Everything here is pure: time enters as an argument, nothing reads a clock or does I/O except
//! [`signer::LocalMsp::load`], which reads the MSP folder it is given.

pub mod block;
pub mod bundle;
pub mod envelope;
pub mod hash;
pub mod identity;
pub mod identity_cache;
pub mod msp;
pub mod msp_dir;
pub mod own_signatures;
pub mod pem;
pub mod policy;
pub mod signer;

pub use bundle::ChannelBundle;
pub use identity::{Identity, IdentityError};
pub use msp::{Msp, MspError, Role};
pub use own_signatures::OwnSignatures;
pub use policy::{PolicyError, SignedData};
pub use signer::{LocalMsp, Signer, SignerError};
