//! A node's TLS identity (certificate chain and key) and the rustls configurations built from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::trust::TrustStore;

/// Why TLS material could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("TLS configuration refused: {0}")]
    Config(String),
}

/// The certificate chain and key a node presents, both as server and as client.
#[derive(Debug)]
pub struct NodeTls {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for NodeTls {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl NodeTls {
    /// Loads a PEM certificate (chain) and PEM private key, e.g. `tls/server.crt` and `tls/server.key`.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Read {
            path: path.into(),
            reason: e.to_string(),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| read_err(cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| read_err(cert, &e))?;
        if chain.is_empty() {
            return Err(read_err(cert, &"no certificate in file"));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| read_err(key, &e))?;
        Ok(Self { chain, key })
    }

    /// From DER parts.
    pub fn from_der(chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Self {
        Self {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(pkcs8_key.into()),
        }
    }

    /// The DER of the leaf certificate.
    pub fn leaf(&self) -> &[u8] {
        &self.chain[0]
    }

    /// A server configuration that requires and verifies client certificates against `trust`.
    pub fn server_config(&self, trust: &TrustStore) -> Result<rustls::ServerConfig, TlsError> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(trust.provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(Arc::new(trust.clone()))
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        cfg.alpn_protocols = vec![crate::ALPN.to_vec()];
        Ok(cfg)
    }

    /// A client configuration that presents this certificate and verifies servers against `trust`.
    pub fn client_config(&self, trust: &TrustStore) -> Result<rustls::ClientConfig, TlsError> {
        let mut cfg = rustls::ClientConfig::builder_with_provider(trust.provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(trust.clone()))
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        cfg.alpn_protocols = vec![crate::ALPN.to_vec()];
        Ok(cfg)
    }
}
