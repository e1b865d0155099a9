//! ECDSA P-256 keys that sign certificates with low-S signatures.
//!
//! Fabric's cryptogen signs through a signer that normalises `s` to the lower half of the
//! curve order (Fabric's MSP rejects or re-encodes high-S signatures), so certificates here
//! are signed the same way rather than with rcgen's default signer.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData, SignatureAlgorithm, SigningKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

use super::error::CryptogenError;

/// Order `n` of the P-256 group, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `n / 2`, the largest low-S value.
const P256_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

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
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, kp.serialized_der(), &rng)
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
        let (r, s) = sig.as_ref().split_at(32);
        let mut s: [u8; 32] = s.try_into().map_err(|_| rcgen::Error::RingUnspecified)?;
        to_low_s(&mut s);
        Ok(der_signature(r, &s))
    }
}

/// Replaces `s` by `n - s` when `s > n/2` (big-endian comparison and subtraction).
pub(crate) fn to_low_s(s: &mut [u8; 32]) {
    if s.as_slice() <= P256_HALF_N.as_slice() {
        return;
    }
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        s[i] = d as u8;
    }
}

/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`.
fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let r = der_uint(r);
    let s = der_uint(s);
    // At most 2 * 35 bytes: the short length form always suffices.
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend_from_slice(&r);
    out.extend_from_slice(&s);
    out
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let bytes = strip_zeros(bytes);
    let pad = bytes.first().is_none_or(|b| b & 0x80 != 0);
    let len = bytes.len() + usize::from(pad);
    let mut out = vec![0x02, len as u8];
    if pad {
        out.push(0);
    }
    out.extend_from_slice(bytes);
    out
}

fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    /// Whether `s` is in the lower half of the P-256 order.
    fn is_low_s(s: &[u8]) -> bool {
        let s = strip_zeros(s);
        s.len() < 32 || (s.len() == 32 && s <= P256_HALF_N.as_slice())
    }

    #[test]
    fn low_s_maps_high_values_into_lower_half() {
        let mut s = P256_N;
        s[31] -= 1; // n - 1 -> 1
        to_low_s(&mut s);
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(s, one);
        let mut half = P256_HALF_N;
        to_low_s(&mut half);
        assert_eq!(half, P256_HALF_N);
        assert!(is_low_s(&P256_HALF_N));
        let mut above = P256_HALF_N;
        above[31] += 1;
        assert!(!is_low_s(&above));
    }

    #[test]
    fn signatures_verify_and_are_low_s() {
        let key = EcKey::generate().unwrap();
        assert!(key.pkcs8_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.der_bytes().to_vec());
        for i in 0..32u8 {
            let msg = [i; 16];
            let sig = key.sign(&msg).unwrap();
            public.verify(&msg, &sig).unwrap();
            // Parse the DER back: 30 len 02 rlen r 02 slen s.
            let rlen = usize::from(sig[3]);
            let s = &sig[4 + rlen + 2..];
            assert!(is_low_s(s), "signature {i} is high-S");
        }
    }
}
