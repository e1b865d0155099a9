//! Load for tests and benchmarks: MESSAGE transactions broadcast to the orderer as Org1's admin.

use weft_wire::Message;

use super::{CHANNEL, Network};

impl Network {
    /// Broadcasts `n` MESSAGE transactions of `size` bytes to the orderer as Org1's admin, over `tasks`
    /// concurrent streams of one connection; returns when all are accepted.
    pub fn broadcast_messages(&self, n: usize, size: usize, tasks: usize) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            self.broadcaster()
                .connect()
                .await
                .send(n, size, tasks, None)
                .await
        });
    }

    /// A client that broadcasts MESSAGE transactions as Org1's admin.
    pub fn broadcaster(&self) -> Broadcaster {
        let crypto = self.path("crypto-config");
        let admin = crypto.join("peerOrganizations/org1.example.com/users/Admin@org1.example.com");
        let signer = weft_crypto::LocalMsp::load(&admin.join("msp"), "Org1MSP")
            .expect("admin MSP")
            .signer;
        let ca = crypto
            .join("ordererOrganizations/example.com/msp/tlscacerts/tlsca.example.com-cert.pem");
        let roots =
            weft_crypto::pem::blocks(&std::fs::read(ca).expect("orderer CA"), "CERTIFICATE")
                .expect("PEM");
        let tls =
            weft_net::NodeTls::load(&admin.join("tls/client.crt"), &admin.join("tls/client.key"))
                .expect("TLS");
        Broadcaster {
            signer: std::sync::Arc::new(signer),
            tls,
            roots,
            orderer: self.orderer.address(),
        }
    }
}

/// Sends MESSAGE transactions to the orderer (load for tests and benchmarks).
pub struct Broadcaster {
    signer: std::sync::Arc<weft_crypto::Signer>,
    tls: weft_net::NodeTls,
    roots: Vec<Vec<u8>>,
    orderer: String,
}

impl Broadcaster {
    /// Connects to the orderer. Sends on the session share its connection, as a Fabric client keeps its gRPC
    /// connection: a handshake per batch would load the orderer with work no real client gives it.
    pub async fn connect(&self) -> BroadcastSession {
        let trust = weft_net::TrustStore::new(self.roots.clone());
        let endpoint =
            weft_net::Endpoint::client(&self.tls, &trust, weft_net::TransportConfig::default())
                .expect("endpoint");
        let conn = endpoint
            .connect_host(&self.orderer, None)
            .await
            .expect("orderer connection");
        BroadcastSession {
            _endpoint: endpoint,
            conn,
            signer: self.signer.clone(),
        }
    }
}

/// A connection to the orderer for broadcasting.
pub struct BroadcastSession {
    _endpoint: weft_net::Endpoint,
    conn: weft_net::Connection,
    signer: std::sync::Arc<weft_crypto::Signer>,
}

impl BroadcastSession {
    /// Signs `n` MESSAGE transactions of `size` bytes, then sends them over `tasks` concurrent Broadcast
    /// streams, stopping early when `stop` turns true; returns when all sent are accepted. Signing first, and
    /// writing each stream's share without waiting for each answer (the orderer answers a stream's envelopes
    /// in order, as Fabric's Broadcast stream allows), keep the load generator's own CPU low: it shares the
    /// machine with the network it measures. Waiting for each answer cost it 45 µs per envelope; streaming, 27.
    pub async fn send(
        &self,
        n: usize,
        size: usize,
        tasks: usize,
        stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) {
        let signed: Vec<weft_wire::common::Envelope> = (0..n)
            .map(|i| {
                let mut data = format!("message {i} ").into_bytes();
                data.resize(size.max(data.len()), b'.');
                let kind = weft_wire::common::HeaderType::Message;
                let now = std::time::SystemTime::now();
                weft_crypto::envelope::create(&self.signer, kind, CHANNEL, data, now).0
            })
            .collect();
        let tasks = tasks.max(1);
        let mut shares: Vec<Vec<weft_wire::common::Envelope>> = vec![Vec::new(); tasks];
        for (i, env) in signed.into_iter().enumerate() {
            shares[i % tasks].push(env);
        }
        let mut handles = Vec::new();
        for share in shares.into_iter().filter(|s| !s.is_empty()) {
            let (conn, stop) = (self.conn.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                let stream = conn.open().await.expect("broadcast stream");
                let (mut tx, mut rx, max) = stream.into_parts();
                // The answers are read as they come, while the envelopes are written.
                let answers = tokio::spawn(async move {
                    let mut accepted = 0usize;
                    while let Some(frame) = weft_net::frame::read_frame(&mut rx, max)
                        .await
                        .expect("broadcast answer")
                    {
                        let resp = weft_wire::orderer::BroadcastResponse::decode(frame)
                            .expect("a broadcast response");
                        assert_eq!(
                            resp.status,
                            weft_wire::common::Status::Success as i32,
                            "broadcast refused: {}",
                            resp.info
                        );
                        accepted += 1;
                    }
                    accepted
                });
                let mut sent = 0;
                for env in share {
                    if stop
                        .as_ref()
                        .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
                    {
                        break;
                    }
                    let req = weft_wire::service::Request {
                        kind: Some(weft_wire::service::request::Kind::Broadcast(env)),
                    };
                    weft_net::frame::write_frame(&mut tx, vec![req.encode_to_vec().into()], max)
                        .await
                        .expect("broadcast sent");
                    sent += 1;
                }
                let _ = tx.finish();
                assert_eq!(
                    answers.await.expect("answer reader"),
                    sent,
                    "every envelope answered"
                );
            }));
        }
        for h in handles {
            h.await.expect("broadcaster task");
        }
    }
}
