//! Operations TLS, as Fabric's `operations.tls` (peer) and `Operations.TLS` (orderer): the service speaks
//! HTTPS with the given certificate; client certificates are asked for and, when presented, verified against
//! the client root CAs. `/healthz` and `/version` stay open to any TLS client, while `/logspec` and `/metrics`
//! need a verified client certificate ([`require_client_cert`]). With `clientAuthRequired` the handshake itself
//! refuses clients without one.
//!
//! The router never sees sockets: [`serve_tls`] tells it per connection whether the client presented a
//! verified certificate, as a [`ClientCert`] request extension, so the gate is tested without TLS.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::{AdminError, DRAIN_TIMEOUT};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The operations service's TLS settings, paths already resolved against the config folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain the service presents.
    pub cert: PathBuf,
    /// Its PEM private key.
    pub key: PathBuf,
    /// PEM files with the CAs that client certificates must chain to.
    pub client_root_cas: Vec<PathBuf>,
    /// Refuse the handshake to clients without a certificate (otherwise only `/logspec` and `/metrics` need one).
    pub client_auth_required: bool,
}

/// Why operations TLS cannot start. `key` names the setting in the binary's own config file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key}: cannot read {path}: {reason}")]
    Read {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{key}: {path} holds no certificate")]
    NoCertificate { key: &'static str, path: PathBuf },
    #[error("operations TLS: {0}")]
    Config(String),
}

/// Names of the settings, as the binary's config file spells them, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct TlsKeys {
    pub cert: &'static str,
    pub key: &'static str,
    pub client_root_cas: &'static str,
}

fn certs(path: &Path, key: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Read {
            key,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            key,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

impl TlsSettings {
    /// Loads the files and builds the server's TLS config.
    pub fn server_config(&self, keys: TlsKeys) -> Result<Arc<ServerConfig>, TlsError> {
        let chain = certs(&self.cert, keys.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| TlsError::Read {
            key: keys.key,
            path: self.key.clone(),
            reason: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = if self.client_root_cas.is_empty() {
            if self.client_auth_required {
                return Err(TlsError::Config(format!(
                    "client authentication is required but {} lists no CA",
                    keys.client_root_cas
                )));
            }
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for path in &self.client_root_cas {
                for c in certs(path, keys.client_root_cas)? {
                    roots
                        .add(c)
                        .map_err(|e| TlsError::Config(format!("{}: {e}", path.display())))?;
                }
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if self.client_auth_required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?,
            )
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(format!("{}: {e}", keys.key)))?;
        Ok(Arc::new(config))
    }
}

/// Whether the connection's client presented a certificate that chains to the client root CAs. Set on every
/// request by [`serve_tls`]; absent when the service runs without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCert(pub bool);

/// Route layer for `/logspec` and `/metrics`: over TLS they need a verified client certificate (401 without).
pub async fn require_client_cert(request: Request, next: Next) -> Response {
    match request.extensions().get::<ClientCert>() {
        Some(ClientCert(false)) => AdminError::ClientCertRequired.into_response(),
        _ => next.run(request).await,
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then tells every connection to close once
/// its request in flight is answered (an idle keep-alive connection closes at once) and waits for them up to
/// [`DRAIN_TIMEOUT`], as `axum::serve`'s graceful shutdown does for [`serve`](super::serve). Failed handshakes
/// are logged and cost nothing else.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut connections = JoinSet::new();
    let (stopping, stop) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(target: "ops", error = %e, "operations listener: accept failed");
                        continue;
                    }
                };
                let (acceptor, router, mut stop) = (acceptor.clone(), router.clone(), stop.clone());
                connections.spawn(async move {
                    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::warn!(target: "ops", %remote, error = %e, "operations TLS handshake refused");
                            return;
                        }
                        Err(_) => return,
                    };
                    let cert = ClientCert(stream.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty()));
                    let service = TowerToHyperService::new(router.layer(Extension(cert)));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => return,
                        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
                    }
                    let _ = conn.await;
                });
            }
        }
    }
    let _ = stopping.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(target: "ops", timeout = ?DRAIN_TIMEOUT, "admin server drain timed out; dropping connections");
    }
    Ok(())
}
