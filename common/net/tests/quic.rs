//! Real QUIC on 127.0.0.1 port 0: mutual TLS, refusal of unknown CAs, frame limits.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use weft_net::{Endpoint, FrameError, NodeTls, TransportConfig, TrustStore};
use weft_wire::common::Envelope;

struct Ca {
    der: Vec<u8>,
    key: KeyPair,
    params: CertificateParams,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca { der, key, params }
}

fn leaf(ca: &Ca, name: &str) -> NodeTls {
    let mut params =
        CertificateParams::new(vec![name.to_string(), "localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    NodeTls::from_der(vec![cert.der().to_vec()], key.serialize_der())
}

/// A leaf whose validity ended yesterday.
fn expired_leaf(ca: &Ca, name: &str) -> NodeTls {
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now - time::Duration::days(1);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    NodeTls::from_der(vec![cert.der().to_vec()], key.serialize_der())
}

fn small_frames() -> TransportConfig {
    TransportConfig {
        max_frame: 1024,
        ..Default::default()
    }
}

async fn echo_server(tls: &NodeTls, trust: &TrustStore) -> Endpoint {
    let server =
        Endpoint::bind("127.0.0.1:0".parse().unwrap(), tls, trust, small_frames()).unwrap();
    let s = server.clone();
    tokio::spawn(async move {
        while let Some(conn) = s.accept().await {
            tokio::spawn(async move {
                while let Some(mut stream) = conn.accept_stream().await {
                    tokio::spawn(async move {
                        loop {
                            match stream.recv::<Envelope>().await {
                                Ok(Some(env)) => stream.send(&env).await.unwrap(),
                                Ok(None) => break stream.finish(),
                                Err(e) => {
                                    let reply = Envelope {
                                        payload: e.to_string().into_bytes(),
                                        signature: vec![],
                                    };
                                    let _ = stream.send(&reply).await;
                                    break stream.finish();
                                }
                            }
                        }
                    });
                }
            });
        }
    });
    server
}

#[tokio::test]
async fn mutual_tls_round_trip_and_unknown_ca_refused() {
    let org = ca("tlsca.org1");
    let trust = TrustStore::new(vec![org.der.clone()]);
    let server = echo_server(&leaf(&org, "peer0"), &trust).await;
    let addr = server.local_addr().unwrap();

    let client = Endpoint::client(&leaf(&org, "client"), &trust, small_frames()).unwrap();
    let conn = client.connect(addr, "localhost").await.unwrap();
    let mut s = conn.open().await.unwrap();
    let msg = Envelope {
        payload: b"hello".to_vec(),
        signature: b"sig".to_vec(),
    };
    s.send(&msg).await.unwrap();
    assert_eq!(s.recv::<Envelope>().await.unwrap(), Some(msg));
    assert!(conn.peer_cert().is_some());

    // A client whose certificate comes from another CA: the server refuses the handshake.
    let evil = ca("tlsca.evil");
    let evil_trust = TrustStore::new(vec![org.der.clone(), evil.der.clone()]);
    let evil_client =
        Endpoint::client(&leaf(&evil, "mallory"), &evil_trust, small_frames()).unwrap();
    let refused = async {
        let conn = evil_client.connect(addr, "localhost").await?;
        let mut s = conn.open().await?;
        s.send(&Envelope::default())
            .await
            .map_err(|e| e.to_string())?;
        s.recv::<Envelope>().await.map_err(|e| e.to_string())
    };
    assert!(
        refused.await.is_err(),
        "a client from an unknown CA must be refused"
    );

    // A server from an unknown CA is refused by the client.
    let rogue = echo_server(&leaf(&evil, "peer0"), &evil_trust).await;
    let err = client
        .connect(rogue.local_addr().unwrap(), "localhost")
        .await
        .unwrap_err();
    assert!(err.contains("connection to localhost"), "{err}");

    // The wrong name is refused too.
    let err = client.connect(addr, "peer9.elsewhere").await.unwrap_err();
    assert!(err.contains("failed"), "{err}");

    // After all that, the server still serves good clients.
    let conn = client.connect(addr, "localhost").await.unwrap();
    let mut s = conn.open().await.unwrap();
    s.send(&Envelope::default()).await.unwrap();
    assert!(s.recv::<Envelope>().await.unwrap().is_some());

    // Trust can be extended at run time: the evil client is accepted once its CA is trusted.
    assert_eq!(trust.extend([evil.der.clone()]), 1);
    let conn = evil_client.connect(addr, "localhost").await.unwrap();
    let mut s = conn.open().await.unwrap();
    s.send(&Envelope::default()).await.unwrap();
    assert!(s.recv::<Envelope>().await.unwrap().is_some());
}

#[tokio::test]
async fn on_loopback_datagrams_grow_beyond_ethernet_size() {
    let org = ca("tlsca.org1");
    let trust = TrustStore::new(vec![org.der.clone()]);
    let server = echo_server(&leaf(&org, "peer0"), &trust).await;
    let client = Endpoint::client(&leaf(&org, "client"), &trust, small_frames()).unwrap();
    let conn = client
        .connect(server.local_addr().unwrap(), "localhost")
        .await
        .unwrap();
    let mut s = conn.open().await.unwrap();
    // MTU discovery probes the path in the background; each echo's round trip is the wait between looks.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        s.send(&Envelope::default()).await.unwrap();
        assert!(s.recv::<Envelope>().await.unwrap().is_some());
        let mtu = conn.inner.stats().path.current_mtu;
        if mtu > 1_500 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "path MTU still {mtu} after 10 s"
        );
    }
}

#[tokio::test]
async fn oversized_and_malformed_frames_are_refused() {
    let org = ca("tlsca.org1");
    let trust = TrustStore::new(vec![org.der.clone()]);
    let server = echo_server(&leaf(&org, "peer0"), &trust).await;
    let addr = server.local_addr().unwrap();
    let client = Endpoint::client(&leaf(&org, "c"), &trust, TransportConfig::default()).unwrap();
    let conn = client.connect(addr, "localhost").await.unwrap();

    // Too large for the server's limit: the server answers with the reason and ends the stream.
    let mut s = conn.open().await.unwrap();
    s.send(&Envelope {
        payload: vec![7; 4096],
        signature: vec![],
    })
    .await
    .unwrap();
    let reply = s.recv::<Envelope>().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&reply.payload).contains("exceeds the maximum"));

    // Not protobuf.
    let mut s = conn.open().await.unwrap();
    weft_net::frame::write_frame(&mut s.send, vec![vec![0x0a, 0xff, 0xff, 0xff].into()], 1024)
        .await
        .unwrap();
    let reply = s.recv::<Envelope>().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&reply.payload).contains("malformed"));

    // The sender refuses frames over its own limit before writing.
    let small = Endpoint::client(&leaf(&org, "c2"), &trust, small_frames()).unwrap();
    let conn = small.connect(addr, "localhost").await.unwrap();
    let mut s = conn.open().await.unwrap();
    let err = s
        .send(&Envelope {
            payload: vec![0; 2048],
            signature: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, FrameError::TooLarge { .. }));
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused() {
    let org = ca("tlsca.org1");
    let trust = TrustStore::new(vec![org.der.clone()]);
    let server = echo_server(&leaf(&org, "peer0"), &trust).await;
    let addr = server.local_addr().unwrap();
    let client = Endpoint::client(&expired_leaf(&org, "old"), &trust, small_frames()).unwrap();
    let refused = async {
        let conn = client.connect(addr, "localhost").await?;
        let mut s = conn.open().await?;
        s.send(&Envelope::default())
            .await
            .map_err(|e| e.to_string())?;
        s.recv::<Envelope>().await.map_err(|e| e.to_string())
    };
    assert!(
        refused.await.is_err(),
        "an expired client certificate must be refused"
    );
}
