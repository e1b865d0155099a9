//! ECDSA P-256 keys that sign certificates with low-S signatures.
//!
//! Fabric's cryptogen signs through a signer that normalises `s` to the lower half of the
//! curve order (Fabric's MSP rejects or re-encodes high-S signatures), so certificates here
//! are signed the same way rather than with rcgen's default signer.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData, SignatureAlgorithm, SigningKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

use super::error::CryptogenError;

/// A freshly generated P-256 key: the ring key pair used for signing and its PKCS#8 PEM.
pub(crate) struct EcKey {
    pair: EcdsaKeyPair,
    pkcs8_pem: String,
    rng: SystemRandom,
}

impl EcKey {
    /// Generates a new random key.
    pub(crate) fn generate() -> Result<Self, CryptogenError> {
        let kp = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(CryptogenError::crypto("ECDSA P-256 key"))?;
        let rng = SystemRandom::new();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, kp.serialized_der(), &rng)
                .map_err(|e| CryptogenError::Crypto {
                    what: "ECDSA P-256 key".to_owned(),
                    reason: e.to_string(),
                })?;
        Ok(Self {
            pair,
            pkcs8_pem: kp.serialize_pem(),
            rng,
        })
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub(crate) fn pkcs8_pem(&self) -> &str {
        &self.pkcs8_pem
    }

    /// Fabric's subject key identifier: SHA-256 of the uncompressed public point.
    pub(crate) fn ski(&self) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, self.pair.public_key().as_ref())
            .as_ref()
            .to_vec()
    }
}

impl PublicKeyData for EcKey {
    fn der_bytes(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for EcKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let sig = self
            .pair
            .sign(&self.rng, msg)
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        weft_crypto::identity::to_low_s(sig.as_ref()).ok_or(rcgen::Error::RingUnspecified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    #[test]
    fn signatures_verify_and_are_low_s() {
        let key = EcKey::generate().unwrap();
        assert!(key.pkcs8_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.der_bytes().to_vec());
        for i in 0..32u8 {
            let msg = [i; 16];
            let sig = key.sign(&msg).unwrap();
            public.verify(&msg, &sig).unwrap();
            assert!(
                weft_crypto::identity::is_low_s(&sig),
                "signature {i} is high-S"
            );
        }
    }
}
