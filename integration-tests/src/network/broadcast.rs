//! Load for tests and benchmarks: MESSAGE transactions broadcast to the orderer as Org1's admin.

use super::{CHANNEL, Network};

impl Network {
    /// Broadcasts `n` MESSAGE transactions of `size` bytes to the orderer as Org1's admin, over `tasks`
    /// concurrent streams of one connection; returns when all are accepted.
    pub fn broadcast_messages(&self, n: usize, size: usize, tasks: usize) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(self.broadcaster().send(n, size, tasks, None));
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
    /// Sends `n` messages of `size` bytes over `tasks` concurrent streams, stopping early when `stop` turns
    /// true. Must run inside a tokio runtime.
    pub async fn send(
        &self,
        n: usize,
        size: usize,
        tasks: usize,
        stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) {
        let trust = weft_net::TrustStore::new(self.roots.clone());
        let ep =
            weft_net::Endpoint::client(&self.tls, &trust, weft_net::TransportConfig::default())
                .expect("endpoint");
        let conn = ep
            .connect_host(&self.orderer, None)
            .await
            .expect("orderer connection");
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (conn, signer, stop) = (conn.clone(), self.signer.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                for i in (t..n).step_by(tasks) {
                    if stop
                        .as_ref()
                        .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
                    {
                        return;
                    }
                    let mut data = format!("message {i} ").into_bytes();
                    data.resize(size.max(data.len()), b'.');
                    let kind = weft_wire::common::HeaderType::Message;
                    let (env, _) = weft_crypto::envelope::create(
                        &signer,
                        kind,
                        CHANNEL,
                        data,
                        std::time::SystemTime::now(),
                    );
                    weft_peer::client::broadcast(&conn, env)
                        .await
                        .expect("broadcast accepted");
                }
            }));
        }
        for h in handles {
            h.await.expect("broadcaster task");
        }
    }
}
