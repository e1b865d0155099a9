//! Signatures this process made and will meet again. A peer endorses a proposal, and the block that carries
//! the transaction brings its endorsement back to the same peer for validation. A signature made with our key
//! over exactly these bytes verifies, so finding it here gives the verdict that ECDSA would give, without the
//! verification. Anything not remembered exactly (other bytes, another signature, another identity) is
//! verified as usual: a tampered copy of our endorsement is refused here as on every other peer.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::hash::sha256_concat;
use crate::policy::SignedData;
use crate::signer::Signer;

/// Signatures remembered at most; when full, the memory is cleared (a forgotten signature is only verified).
const LIMIT: usize = 100_000;

/// The signatures one identity made, each remembered until it is met once.
#[derive(Debug)]
pub struct OwnSignatures {
    /// Our `SerializedIdentity` bytes: only signatures claiming this identity are looked up.
    identity: Vec<u8>,
    /// SHA-256 of the lengths and bytes of identity, data and signature.
    made: Mutex<HashSet<[u8; 32]>>,
}

fn key(sd: &SignedData<'_>) -> [u8; 32] {
    let len = |b: &[u8]| (b.len() as u64).to_be_bytes();
    let (i, d, s) = (len(sd.identity), len(sd.data), len(sd.signature));
    sha256_concat([&i, sd.identity, &d, sd.data, &s, sd.signature])
}

impl OwnSignatures {
    /// Remembers signatures made by `signer`.
    pub fn new(signer: &Signer) -> Self {
        Self {
            identity: signer.serialized().to_vec(),
            made: Mutex::default(),
        }
    }

    /// Signs `msg` with `signer` and, when `signer` is the identity remembered for, remembers the signature.
    pub fn sign(&self, signer: &Signer, msg: &[u8]) -> Vec<u8> {
        let signature = signer.sign(msg);
        if signer.serialized() == self.identity {
            let k = key(&SignedData {
                identity: &self.identity,
                data: msg,
                signature: &signature,
            });
            let mut made = self.made.lock().expect("own signatures lock");
            if made.len() >= LIMIT {
                made.clear();
            }
            made.insert(k);
        }
        signature
    }

    /// Whether we made exactly this signature over exactly these bytes; it is forgotten once met.
    pub fn take(&self, sd: &SignedData<'_>) -> bool {
        sd.identity == self.identity.as_slice()
            && self
                .made
                .lock()
                .expect("own signatures lock")
                .remove(&key(sd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "peer0");
        let cert = params.self_signed(&key).unwrap();
        Signer::new("Org1MSP", cert.pem().into_bytes(), &key.serialize_der()).unwrap()
    }

    #[test]
    fn only_the_exact_signature_over_the_exact_bytes_is_known_and_only_once() {
        let me = signer();
        let own = OwnSignatures::new(&me);
        let sig = own.sign(&me, b"endorsed payload");
        let at = |data: &[u8], signature: &[u8]| {
            own.take(&SignedData {
                identity: me.serialized(),
                data,
                signature,
            })
        };
        assert!(!at(b"endorsed payload!", &sig), "other bytes");
        let mut tampered = sig.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(!at(b"endorsed payload", &tampered), "another signature");
        assert!(
            !own.take(&SignedData {
                identity: b"someone else",
                data: b"endorsed payload",
                signature: &sig,
            }),
            "another identity"
        );
        assert!(at(b"endorsed payload", &sig));
        assert!(!at(b"endorsed payload", &sig), "met once, then forgotten");
    }

    #[test]
    fn another_signer_s_signatures_are_not_remembered() {
        let (me, other) = (signer(), signer());
        let own = OwnSignatures::new(&me);
        let sig = own.sign(&other, b"data");
        assert!(!own.take(&SignedData {
            identity: other.serialized(),
            data: b"data",
            signature: &sig,
        }));
    }
}
