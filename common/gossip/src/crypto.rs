//! The seam between the cores and identities: signing, verifying, validating.
//!
//! The peer implements it with its MSPs; the simulator and unit tests implement it with cheap stand-ins.

use crate::types::PkiId;

/// Signs for this peer and judges other peers' identities and signatures.
pub trait GossipCrypto {
    /// Signs `msg` with this peer's key.
    fn sign(&self, msg: &[u8]) -> Vec<u8>;
    /// Validates a serialized identity: issued by a CA of a known org and not expired. Returns its PKI-ID and
    /// org (MSP ID).
    fn validate(&self, identity: &[u8]) -> Result<(PkiId, String), String>;
    /// Verifies `sig` over `msg` by `identity`.
    fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String>;
}
