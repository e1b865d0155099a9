//! Operations TLS: the client-certificate gate as a router test (no socket), then real TLS on 127.0.0.1:0 with
//! certificates made here, probed with `http_get`.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt;

use super::{AdminState, ClientCert, TlsError, TlsKeys, TlsSettings, http_get, router, serve_tls};
use crate::logging::LogHandle;

const KEYS: TlsKeys = TlsKeys {
    cert: "operations.tls.cert.file",
    key: "operations.tls.key.file",
    client_root_cas: "operations.tls.clientRootCAs.files",
};

fn app() -> axum::Router {
    let mut state = AdminState::new("0.1.0", "abc123");
    state.log = Some(LogHandle::detached("info").unwrap());
    state.metrics = Some(super::install_metrics().unwrap());
    router(state)
}

async fn status(cert: Option<ClientCert>, uri: &str) -> StatusCode {
    let mut request = Request::get(uri).body(Body::empty()).unwrap();
    if let Some(c) = cert {
        request.extensions_mut().insert(c);
    }
    app().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn logspec_and_metrics_need_a_client_certificate_over_tls() {
    for uri in ["/logspec", "/metrics"] {
        assert_eq!(
            status(Some(ClientCert(false)), uri).await,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
        assert_eq!(
            status(Some(ClientCert(true)), uri).await,
            StatusCode::OK,
            "{uri}"
        );
        // Without TLS there is no certificate to ask for.
        assert_eq!(status(None, uri).await, StatusCode::OK, "{uri}");
    }
    for uri in ["/healthz", "/version"] {
        assert_eq!(
            status(Some(ClientCert(false)), uri).await,
            StatusCode::OK,
            "{uri}"
        );
    }
    let mut request = Request::get("/logspec").body(Body::empty()).unwrap();
    request.extensions_mut().insert(ClientCert(false));
    let response = app().oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "client certificate required");
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { params, key, pem }
}

/// A leaf signed by `ca`, valid for 127.0.0.1: (certificate PEM, key PEM).
fn leaf(ca: &Ca, name: &str) -> (String, String) {
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, pem: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pem).unwrap();
    p
}

fn client(ca: &Ca, identity: Option<&(String, String)>) -> http_get::Tls {
    let roots = vec![CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap()];
    let identity = identity.map(|(cert, key)| {
        (
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
    });
    http_get::Tls::new(roots, identity).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_optional_and_required_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let org = ca("tlsca.org1.example.com");
    let other = ca("tlsca.elsewhere");
    let (cert, key) = leaf(&org, "peer0.org1.example.com");
    let admin = leaf(&org, "Admin@org1.example.com");
    let stranger = leaf(&other, "stranger");
    let mut settings = TlsSettings {
        cert: write(dir.path(), "server.crt", &cert),
        key: write(dir.path(), "server.key", &key),
        client_root_cas: vec![write(dir.path(), "ca.crt", &org.pem)],
        client_auth_required: false,
    };

    for required in [false, true] {
        settings.client_auth_required = required;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_tls(
            listener,
            app(),
            settings.server_config(KEYS).unwrap(),
            async move {
                let _ = stopped.await;
            },
        ));
        let (anonymous, trusted, foreign) = (
            client(&org, None),
            client(&org, Some(&admin)),
            client(&org, Some(&stranger)),
        );
        let results = tokio::task::spawn_blocking(move || {
            let t = Duration::from_secs(10);
            let get = |tls: &http_get::Tls, path| {
                http_get::get_with(&addr, path, t, Some(tls)).map(|(code, _)| code)
            };
            (
                get(&anonymous, "/healthz"),
                get(&anonymous, "/logspec"),
                get(&trusted, "/logspec"),
                get(&trusted, "/metrics"),
                get(&foreign, "/healthz"),
                http_get::get(&addr, "/healthz", t),
            )
        })
        .await
        .unwrap();
        let (health, anonymous_logspec, logspec, metrics, foreign, plain) = results;
        if required {
            assert!(
                health.is_err(),
                "no client certificate, no handshake: {health:?}"
            );
            assert!(anonymous_logspec.is_err());
        } else {
            assert_eq!(health.unwrap(), 200);
            assert_eq!(anonymous_logspec.unwrap(), 401);
        }
        assert_eq!(logspec.unwrap(), 200);
        assert_eq!(metrics.unwrap(), 200);
        assert!(
            foreign.is_err(),
            "a certificate from another CA is refused: {foreign:?}"
        );
        assert!(plain.is_err(), "plain HTTP to the TLS port: {plain:?}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}

#[test]
fn bad_tls_settings_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let org = ca("tlsca");
    let (cert, key) = leaf(&org, "peer");
    let good = TlsSettings {
        cert: write(dir.path(), "server.crt", &cert),
        key: write(dir.path(), "server.key", &key),
        client_root_cas: vec![],
        client_auth_required: false,
    };
    assert!(
        good.server_config(KEYS).is_ok(),
        "no client CAs: TLS without client certificates"
    );

    let missing = TlsSettings {
        cert: dir.path().join("nope.crt"),
        ..good.clone()
    };
    let e = missing.server_config(KEYS).unwrap_err();
    assert!(
        matches!(e, TlsError::Read { key, .. } if key == KEYS.cert),
        "{e}"
    );

    let not_a_cert = TlsSettings {
        cert: write(dir.path(), "key-as-cert.pem", &key),
        ..good.clone()
    };
    let e = not_a_cert.server_config(KEYS).unwrap_err().to_string();
    assert!(e.contains(KEYS.cert), "{e}");

    let required_without_cas = TlsSettings {
        client_auth_required: true,
        ..good
    };
    let e = required_without_cas
        .server_config(KEYS)
        .unwrap_err()
        .to_string();
    assert!(e.contains(KEYS.client_root_cas), "{e}");
}
