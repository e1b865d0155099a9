//! A signing identity: an ECDSA P-256 key and its certificate, loaded from a Fabric MSP folder.

use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use weft_wire::Message;
use weft_wire::common::SerializedIdentity;

use crate::identity::to_low_s;

/// Why a signing identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// A file or folder of the MSP layout could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file was read but does not hold what the MSP layout says it holds.
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// Signs with one identity. Signatures are DER ECDSA-SHA256 with a low S, as Fabric requires.
pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    mspid: String,
    cert_pem: Vec<u8>,
    serialized: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("mspid", &self.mspid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from a PKCS#8 DER key and the PEM certificate that carries its public key.
    pub fn new(mspid: &str, cert_pem: Vec<u8>, pkcs8_der: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8_der, &rng)
            .map_err(|e| format!("not an ECDSA P-256 PKCS#8 key: {e}"))?;
        let cert_der = crate::pem::first(&cert_pem, "CERTIFICATE")?;
        let ident =
            crate::identity::Identity::from_der(mspid, &cert_der).map_err(|e| e.to_string())?;
        if ident.public_key() != ring::signature::KeyPair::public_key(&key).as_ref() {
            return Err("the private key does not match the certificate's public key".into());
        }
        let serialized = SerializedIdentity {
            mspid: mspid.to_string(),
            id_bytes: cert_pem.clone(),
        }
        .encode_to_vec();
        Ok(Self {
            key,
            rng,
            mspid: mspid.to_string(),
            cert_pem,
            serialized,
        })
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig = self
            .key
            .sign(&self.rng, msg)
            .expect("ECDSA signing with a valid key does not fail");
        to_low_s(sig.as_ref()).expect("ring produces well-formed DER signatures")
    }

    /// The MSP this identity belongs to.
    pub fn mspid(&self) -> &str {
        &self.mspid
    }

    /// The PEM certificate.
    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// The serialised identity (`SerializedIdentity` bytes) that goes into headers as the creator.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// A fresh 24-byte nonce, as Fabric's clients use.
    pub fn nonce(&self) -> Vec<u8> {
        let mut n = vec![0u8; 24];
        ring::rand::SecureRandom::fill(&self.rng, &mut n).expect("the system RNG works");
        n
    }
}

/// A node's or user's local MSP folder (`msp/{signcerts,keystore,cacerts,tlscacerts,config.yaml}`).
#[derive(Debug)]
pub struct LocalMsp {
    /// The identity that signs for this process.
    pub signer: Signer,
    /// The DER of `cacerts/*` (the org's signing root CAs).
    pub ca_certs: Vec<Vec<u8>>,
    /// The DER of `tlscacerts/*`.
    pub tls_ca_certs: Vec<Vec<u8>>,
    /// The local MSP as an organisation definition, to validate identities presented to this process.
    pub msp: crate::msp::Msp,
}

impl LocalMsp {
    /// Loads the MSP folder `dir` for MSP ID `mspid`.
    pub fn load(dir: &Path, mspid: &str) -> Result<Self, SignerError> {
        let cert_path = single_file(&dir.join("signcerts"))?;
        let cert_pem = read(&cert_path)?;
        let key_path = single_file(&dir.join("keystore"))?;
        let key_pem = read(&key_path)?;
        let key_der =
            crate::pem::first(&key_pem, "PRIVATE KEY").map_err(|reason| SignerError::Invalid {
                path: key_path.clone(),
                reason,
            })?;
        let signer =
            Signer::new(mspid, cert_pem, &key_der).map_err(|reason| SignerError::Invalid {
                path: key_path,
                reason,
            })?;
        let org = crate::msp_dir::read_org_msp(dir, mspid)?;
        let msp = crate::msp::Msp::from_config(&org).map_err(|e| SignerError::Invalid {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            signer,
            ca_certs: org.root_certs,
            tls_ca_certs: org.tls_root_certs,
            msp,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, SignerError> {
    std::fs::read(path).map_err(|source| SignerError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn files(dir: &Path) -> Result<Vec<PathBuf>, SignerError> {
    let rd = std::fs::read_dir(dir).map_err(|source| SignerError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

fn single_file(dir: &Path) -> Result<PathBuf, SignerError> {
    files(dir)?
        .into_iter()
        .next()
        .ok_or_else(|| SignerError::Invalid {
            path: dir.to_path_buf(),
            reason: "folder is empty".into(),
        })
}

/// DER certificates of every PEM file in `dir`; a missing folder holds none.
pub fn certs_in(dir: &Path) -> Result<Vec<Vec<u8>>, SignerError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for path in files(dir)? {
        let data = read(&path)?;
        let certs =
            crate::pem::blocks(&data, "CERTIFICATE").map_err(|reason| SignerError::Invalid {
                path: path.clone(),
                reason,
            })?;
        out.extend(certs);
    }
    Ok(out)
}
