//! A certificate-backed identity: its public key, subject and validity, and signature verification.

use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use weft_wire::common::SerializedIdentity;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why an identity or a signature was rejected. Nothing is cached or changed when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("malformed serialized identity: {0}")]
    Malformed(String),
    #[error("malformed certificate: {0}")]
    BadCertificate(String),
    #[error("unknown MSP {0}")]
    UnknownMsp(String),
    #[error("certificate of {subject} is not issued by a root CA of {mspid}")]
    UntrustedIssuer { subject: String, mspid: String },
    #[error("certificate of {subject} is outside its validity period")]
    Expired { subject: String },
    #[error(
        "identity {subject} has no NodeOU role (client, peer, admin or orderer) although {mspid} requires one"
    )]
    NoNodeOu { subject: String, mspid: String },
    #[error("signature does not verify against {subject}'s public key")]
    BadSignature { subject: String },
    #[error("identity {subject} is not {role} of its MSP")]
    MissingRole { subject: String, role: String },
    #[error("signature is not low-S or not DER")]
    NotLowS,
}

/// An identity parsed from its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub mspid: String,
    pub cert_der: Vec<u8>,
    /// The uncompressed EC point.
    public_key: Vec<u8>,
    /// The certificate subject, as text (for logs and errors).
    pub subject: String,
    pub common_name: String,
    pub organizational_units: Vec<String>,
    /// Validity as Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl Identity {
    /// Parses `SerializedIdentity` bytes (MSP ID and a PEM certificate).
    pub fn from_serialized(bytes: &[u8]) -> Result<Self, IdentityError> {
        let sid: SerializedIdentity = weft_wire::decode("serialized identity", bytes)
            .map_err(|e| IdentityError::Malformed(e.to_string()))?;
        let der =
            crate::pem::first(&sid.id_bytes, "CERTIFICATE").map_err(IdentityError::Malformed)?;
        Self::from_der(&sid.mspid, &der)
    }

    /// Parses a DER certificate belonging to `mspid`.
    pub fn from_der(mspid: &str, der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        let subject = cert.subject();
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string();
        let organizational_units = subject
            .iter_organizational_unit()
            .filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect();
        Ok(Self {
            mspid: mspid.to_string(),
            cert_der: der.to_vec(),
            public_key: cert.public_key().subject_public_key.data.to_vec(),
            subject: subject.to_string(),
            common_name,
            organizational_units,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// The uncompressed public key point.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Verifies a DER ECDSA-SHA256 signature over `msg`; high-S signatures are refused, as in Fabric.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), IdentityError> {
        if !is_low_s(sig) {
            return Err(IdentityError::NotLowS);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.public_key)
            .verify(msg, sig)
            .map_err(|_| IdentityError::BadSignature {
                subject: self.subject.clone(),
            })
    }

    /// Whether this certificate was signed by `issuer_der`'s key.
    pub fn issued_by(&self, issuer_der: &[u8]) -> bool {
        let (Ok((_, cert)), Ok((_, issuer))) = (
            X509Certificate::from_der(&self.cert_der),
            X509Certificate::from_der(issuer_der),
        ) else {
            return false;
        };
        cert.issuer() == issuer.subject()
            && cert.verify_signature(Some(issuer.public_key())).is_ok()
    }
}

#[cfg(test)]
impl Identity {
    /// An identity with no certificate, for policy tests that only look at MSP IDs and roles.
    pub(crate) fn test_only_blank() -> Self {
        Self {
            mspid: String::new(),
            cert_der: vec![],
            public_key: vec![],
            subject: String::new(),
            common_name: String::new(),
            organizational_units: vec![],
            not_before: 0,
            not_after: i64::MAX,
        }
    }
}

// P-256's group order n, and n/2 (a signature's S must be at most n/2 to be canonical).
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
const HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// Splits a DER `SEQUENCE { INTEGER r, INTEGER s }` into 32-byte big-endian r and s.
fn parse_der_sig(sig: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    fn int(b: &[u8]) -> Option<([u8; 32], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = len as usize;
        if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
            return None;
        }
        let (v, rest) = rest.split_at(len);
        let v = if v.len() == 33 && v[0] == 0 {
            &v[1..]
        } else {
            v
        };
        if v.len() > 32 {
            return None;
        }
        let mut out = [0u8; 32];
        out[32 - v.len()..].copy_from_slice(v);
        Some((out, rest))
    }
    let (&tag, rest) = sig.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len as usize != body.len() {
        return None;
    }
    let (r, rest) = int(body)?;
    let (s, rest) = int(rest)?;
    rest.is_empty().then_some((r, s))
}

fn der_int(v: &[u8; 32]) -> Vec<u8> {
    let start = v.iter().position(|&b| b != 0).unwrap_or(31);
    let mut body = v[start..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    let mut out = vec![0x02, body.len() as u8];
    out.extend(body);
    out
}

/// Whether a DER signature's S is at most n/2.
pub fn is_low_s(sig: &[u8]) -> bool {
    parse_der_sig(sig).is_some_and(|(_, s)| s <= HALF_N)
}

/// Rewrites a DER signature with S replaced by n − S when S > n/2; both verify, only low-S is canonical.
pub fn to_low_s(sig: &[u8]) -> Option<Vec<u8>> {
    let (r, mut s) = parse_der_sig(sig)?;
    if s > HALF_N {
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(N[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            s[i] = (d + (borrow << 8)) as u8;
        }
    }
    let (r, s) = (der_int(&r), der_int(&s));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    Some(out)
}

/// Fabric's PKI-ID of a serialized identity: SHA-256(MSP ID ‖ certificate bytes).
pub fn pki_id(serialized: &[u8]) -> Result<[u8; 32], IdentityError> {
    let sid: SerializedIdentity = weft_wire::decode("serialized identity", serialized)
        .map_err(|e| IdentityError::Malformed(e.to_string()))?;
    Ok(crate::hash::sha256_concat([
        sid.mspid.as_bytes(),
        sid.id_bytes.as_slice(),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_s_is_flipped_and_low_s_kept() {
        let mut high = [0u8; 32];
        high.copy_from_slice(&N);
        high[31] -= 1; // n - 1 is high; n - (n - 1) = 1
        let mut r = [0u8; 32];
        r[31] = 5;
        let sig = [vec![0x30, 0], der_int(&r), der_int(&high)].concat();
        let mut sig = sig;
        sig[1] = (sig.len() - 2) as u8;
        assert!(!is_low_s(&sig));
        let low = to_low_s(&sig).unwrap();
        assert!(is_low_s(&low));
        let (_, s) = parse_der_sig(&low).unwrap();
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(s, one);
        assert_eq!(to_low_s(&low).unwrap(), low);
    }

    #[test]
    fn garbage_is_not_a_signature() {
        assert!(!is_low_s(b"not der"));
        assert!(to_low_s(&[0x30, 0x02, 0x02, 0x00]).is_none());
    }
}
