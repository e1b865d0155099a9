//! The TLS root CAs a process trusts, shared by every connection and replaceable at run time.
//!
//! rustls verifiers are immutable, so the store keeps a WebPKI verifier built from the current roots and
//! rebuilds it when the roots change; connections already up are not affected.

use std::sync::{Arc, RwLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

struct Verifiers {
    roots: Vec<Vec<u8>>,
    client: Option<Arc<dyn ClientCertVerifier>>,
    server: Option<Arc<WebPkiServerVerifier>>,
}

/// TLS roots (DER) accepted for both incoming clients and dialled servers. Cloning shares the store.
#[derive(Clone)]
pub struct TrustStore {
    provider: Arc<CryptoProvider>,
    inner: Arc<RwLock<Verifiers>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("roots", &self.roots().len())
            .finish()
    }
}

impl TrustStore {
    /// A store trusting `roots` (DER certificates).
    pub fn new(roots: Vec<Vec<u8>>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let store = Self {
            provider,
            inner: Arc::new(RwLock::new(Verifiers {
                roots: Vec::new(),
                client: None,
                server: None,
            })),
        };
        store.set(roots);
        store
    }

    /// The crypto provider every configuration of this process uses.
    pub fn provider(&self) -> Arc<CryptoProvider> {
        self.provider.clone()
    }

    /// The roots currently trusted.
    pub fn roots(&self) -> Vec<Vec<u8>> {
        self.inner.read().expect("trust store lock").roots.clone()
    }

    /// Adds roots not yet trusted. Returns how many were new.
    pub fn extend(&self, roots: impl IntoIterator<Item = Vec<u8>>) -> usize {
        let mut all = self.roots();
        let before = all.len();
        for r in roots {
            if !all.contains(&r) {
                all.push(r);
            }
        }
        let added = all.len() - before;
        if added > 0 {
            self.set(all);
        }
        added
    }

    /// Replaces the trusted roots. Certificates that cannot be parsed are skipped with a log line.
    pub fn set(&self, roots: Vec<Vec<u8>>) {
        let mut store = RootCertStore::empty();
        for der in &roots {
            if let Err(e) = store.add(CertificateDer::from(der.clone())) {
                tracing::warn!(target: "comm", error = %e, "ignoring a TLS root certificate that cannot be used");
            }
        }
        let store = Arc::new(store);
        let (client, server) = if store.is_empty() {
            (None, None)
        } else {
            let client =
                WebPkiClientVerifier::builder_with_provider(store.clone(), self.provider.clone())
                    .build()
                    .ok();
            let server = WebPkiServerVerifier::builder_with_provider(store, self.provider.clone())
                .build()
                .ok();
            (client, server)
        };
        *self.inner.write().expect("trust store lock") = Verifiers {
            roots,
            client,
            server,
        };
    }

    fn client(&self) -> Result<Arc<dyn ClientCertVerifier>, Error> {
        self.inner
            .read()
            .expect("trust store lock")
            .client
            .clone()
            .ok_or(Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
    }

    fn server(&self) -> Result<Arc<WebPkiServerVerifier>, Error> {
        self.inner
            .read()
            .expect("trust store lock")
            .server
            .clone()
            .ok_or(Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ClientCertVerifier for TrustStore {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Hints are optional; the roots change at run time and cannot be borrowed out of the lock.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.client()?
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ServerCertVerifier for TrustStore {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.server()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}
