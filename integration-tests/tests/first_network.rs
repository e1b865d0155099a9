//! Fabric's first-network as real processes: byfn's steps, crash recovery, and refusals.

use std::time::Duration;

use weft_integration_tests::{Network, Options, wait_for};

fn started(options: Options) -> Network {
    let mut net = Network::generate(options).expect("generate the network");
    net.start_all().expect("start the network");
    net
}

#[test]
fn byfn_steps_leave_all_four_peers_at_the_same_height_and_hash() {
    let net = started(Options::default());
    net.byfn();

    let info = net.cli(
        "peer1.org2.example.com",
        &["channel", "getinfo", "-c", "mychannel"],
    );
    assert!(
        info.starts_with("Blockchain info: {\"height\":3,\"currentBlockHash\":\""),
        "{info}"
    );
    let list = net.cli("peer0.org2.example.com", &["channel", "list"]);
    assert_eq!(list, "Channels peers has joined: \nmychannel\n");

    // The config block fetched from the orderer carries both anchor peers.
    net.cli_orderer(
        "peer0.org1.example.com",
        &["channel", "fetch", "config", "cfg.block", "-c", "mychannel"],
    );
    let raw = std::fs::read(net.path("cfg.block")).unwrap();
    let block: weft_wire::common::Block = weft_wire::decode("block", &raw).unwrap();
    assert_eq!(block.header.as_ref().unwrap().number, 2);
    let config = weft_crypto::block::config_of(&block).unwrap().unwrap();
    let anchors: Vec<usize> = config
        .application
        .unwrap()
        .orgs
        .iter()
        .map(|o| o.anchor_peers.len())
        .collect();
    assert_eq!(anchors, vec![1, 1]);

    let metrics = net.metrics("peer0.org1.example.com");
    assert!(
        metrics.contains("ledger_blockchain_height{channel=\"mychannel\"} 3"),
        "{metrics}"
    );
    // Blocks 1 and 2 went through validation and commit (block 0 came with the join).
    assert!(
        metrics.contains("ledger_block_processing_time_count{channel=\"mychannel\"} 2"),
        "{metrics}"
    );
    let metrics = net.metrics("orderer.example.com");
    assert!(metrics.contains("broadcast_processed_count{channel=\"mychannel\",type=\"CONFIG_UPDATE\",status=\"SUCCESS\"} 3"), "{metrics}");
}

#[test]
fn a_sigkilled_peer_and_orderer_resume_from_their_height() {
    let mut net = started(Options::default());
    net.byfn();
    let anchors = net
        .artifacts()
        .join("Org1MSPanchors.tx")
        .display()
        .to_string();
    let update = |net: &Network| {
        net.cli_orderer(
            "peer0.org1.example.com",
            &["channel", "update", "-c", "mychannel", "-f", &anchors],
        )
    };

    net.kill("peer1.org1.example.com");
    for _ in 0..3 {
        update(&net);
    }
    net.wait_all_at(6);

    net.start_peer("peer1.org1.example.com").unwrap();
    let hash = net.wait_all_at(6);
    let log = net.log("peer1.org1.example.com");
    assert!(
        log.contains("reopened channel channel=mychannel height=3"),
        "{log}"
    );
    assert!(log.contains("from=3"), "resumes from its own height: {log}");

    // The orderer, SIGKILLed and restarted, keeps its chain and extends it. Meanwhile the peers' /healthz
    // reports it unreachable.
    net.kill("orderer.example.com");
    let unhealthy = wait_for(
        "the orderer reported unreachable",
        Duration::from_secs(30),
        || match net.ops_json("peer0.org1.example.com", "/healthz") {
            Err(e) if e.starts_with("503") && e.contains(r#""component":"orderer""#) => Ok(e),
            other => Err(format!("{other:?}")),
        },
    );
    assert!(unhealthy.contains("channel mychannel"), "{unhealthy}");
    net.start_orderer().unwrap();
    wait_for("healthy again", Duration::from_secs(30), || {
        net.ops_json("peer0.org1.example.com", "/healthz")
            .map(|_| ())
    });
    let out = net.cli_with(
        "peer0.org1.example.com",
        &["channel", "getinfo", "-c", "mychannel"],
        &[],
    );
    assert!(out.status.success());
    update(&net);
    let next = net.wait_all_at(7);
    assert_ne!(next, hash);
    let log = net.log("orderer.example.com");
    assert_eq!(
        log.matches("bootstrapped from genesis block").count(),
        1,
        "bootstrapped once only: {log}"
    );
}

#[test]
fn a_tampered_block_from_a_rogue_orderer_is_refused() {
    let rogue_port = weft_integration_tests::free_port();
    let rogue_addr = format!("127.0.0.1:{rogue_port}");
    let mut net = Network::generate(Options {
        extra_orderer_addresses_first: vec![rogue_addr.clone()],
        ..Default::default()
    })
    .unwrap();
    net.start_all().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let served = rogue::spawn(&rt, &net, rogue_port);

    net.byfn();
    assert!(
        served.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the rogue orderer served no block"
    );
    for p in &net.peers {
        let metrics = net.metrics(&p.name);
        assert!(
            metrics.contains("deliver_blocks_refused{channel=\"mychannel\"}"),
            "{}: {metrics}",
            p.name
        );
        let log = net.log(&p.name);
        assert!(
            log.contains("refused block from the ordering service"),
            "{log}"
        );
        assert!(
            log.contains("orderer signature refused"),
            "refused for its signature: {log}"
        );
    }
    // The peers hold the orderer's genuine chain.
    net.cli_orderer(
        "peer0.org1.example.com",
        &[
            "channel",
            "fetch",
            "newest",
            "newest.block",
            "-c",
            "mychannel",
        ],
    );
    let raw = std::fs::read(net.path("newest.block")).unwrap();
    let block: weft_wire::common::Block = weft_wire::decode("block", &raw).unwrap();
    let genuine = hex_of(&weft_crypto::block::header_hash(
        block.header.as_ref().unwrap(),
    ));
    assert_eq!(net.chain("peer1.org2.example.com").unwrap(), (3, genuine));
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn clients_of_an_unknown_ca_are_refused_by_orderer_and_peers() {
    let net = started(Options::default());
    net.byfn();

    // Another CA minting an "Org1" with the same names: its certificates must not pass.
    let evil = tempfile::tempdir().unwrap();
    let cfg = evil.path().join("crypto-config.yaml");
    std::fs::write(&cfg, "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n    Users:\n      Count: 1\n").unwrap();
    let out = std::process::Command::new(weft_integration_tests::bin_dir().join("weft-ca"))
        .args(["cryptogen", "generate"])
        .arg(format!("--config={}", cfg.display()))
        .arg(format!("--output={}", evil.path().join("out").display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let admin = evil
        .path()
        .join("out/peerOrganizations/org1.example.com/users/Admin@org1.example.com");
    let evil_tls = [
        (
            "CORE_PEER_TLS_CLIENTCERT_FILE",
            admin.join("tls/client.crt").display().to_string(),
        ),
        (
            "CORE_PEER_TLS_CLIENTKEY_FILE",
            admin.join("tls/client.key").display().to_string(),
        ),
    ];

    let peer = "peer0.org1.example.com";
    let out = net.cli_with(peer, &["channel", "getinfo", "-c", "mychannel"], &evil_tls);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a TLS client of an unknown CA was served"
    );
    // Refused during the TLS handshake; the client sees it when connecting or when its first stream opens.
    assert!(err.contains("handshake failed"), "{err}");

    let ca = net.orderer_ca().display().to_string();
    let o = net.orderer.address();
    let fetch = [
        "channel",
        "fetch",
        "oldest",
        "x.block",
        "-c",
        "mychannel",
        "-o",
        &o,
        "--tls",
        "--cafile",
        &ca,
    ];
    let out = net.cli_with(peer, &fetch, &evil_tls);
    assert!(
        !out.status.success(),
        "the orderer served a TLS client of an unknown CA"
    );

    for node in ["orderer.example.com", peer] {
        wait_for(
            &format!("{node} counts the refused handshake"),
            Duration::from_secs(10),
            || {
                let m = net.metrics(node);
                m.contains("comm_connections_refused_total")
                    .then_some(())
                    .ok_or(m)
            },
        );
        assert!(
            net.log(node)
                .contains("refused connection: TLS handshake failed")
        );
    }

    // Valid TLS but a signing identity from the unknown CA: refused by policy, with the reason.
    let evil_msp = [(
        "CORE_PEER_MSPCONFIGPATH",
        admin.join("msp").display().to_string(),
    )];
    let out = net.cli_with(peer, &["channel", "getinfo", "-c", "mychannel"], &evil_msp);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Forbidden") && err.contains("not issued by a root CA"),
        "{err}"
    );

    // Both still serve legitimate clients.
    assert!(
        net.cli(peer, &["channel", "getinfo", "-c", "mychannel"])
            .contains("\"height\":3")
    );
    net.cli_orderer(
        peer,
        &["channel", "fetch", "oldest", "ok.block", "-c", "mychannel"],
    );
}

/// An orderer impostor: it holds the orderer's TLS key (so peers connect to it) but not its signing key. It
/// serves the real orderer's blocks with their data altered and the data hash recomputed, so only the
/// orderer's signature can tell.
mod rogue {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use weft_crypto::{LocalMsp, block, envelope};
    use weft_integration_tests::Network;
    use weft_net::{Endpoint, NodeTls, TransportConfig, TrustStore};
    use weft_peer::client;
    use weft_wire::orderer::{DeliverResponse, SeekInfo, deliver_response, seek_position};
    use weft_wire::service::{Request, request};

    fn certs(path: &std::path::Path) -> Vec<Vec<u8>> {
        weft_crypto::pem::blocks(&std::fs::read(path).unwrap(), "CERTIFICATE").unwrap()
    }

    pub fn spawn(rt: &tokio::runtime::Runtime, net: &Network, port: u16) -> Arc<AtomicUsize> {
        let crypto = net.path("crypto-config");
        let ord = crypto.join("ordererOrganizations/example.com/orderers/orderer.example.com/tls");
        let org1 = crypto.join("peerOrganizations/org1.example.com");
        let org2 = crypto.join("peerOrganizations/org2.example.com");
        let tls = NodeTls::load(&ord.join("server.crt"), &ord.join("server.key")).unwrap();
        let mut roots = certs(&org1.join("msp/tlscacerts/tlsca.org1.example.com-cert.pem"));
        roots.extend(certs(
            &org2.join("msp/tlscacerts/tlsca.org2.example.com-cert.pem"),
        ));
        roots.extend(certs(&ord.join("ca.crt")));
        let trust = TrustStore::new(roots);
        let admin = org1.join("users/Admin@org1.example.com");
        let signer = Arc::new(
            LocalMsp::load(&admin.join("msp"), "Org1MSP")
                .unwrap()
                .signer,
        );
        let client_tls =
            NodeTls::load(&admin.join("tls/client.crt"), &admin.join("tls/client.key")).unwrap();
        let real = net.orderer.address();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        rt.spawn(async move {
            let ep = Endpoint::bind(
                format!("127.0.0.1:{port}").parse().unwrap(),
                &tls,
                &trust,
                TransportConfig::default(),
            )
            .unwrap();
            let upstream =
                Endpoint::client(&client_tls, &trust, TransportConfig::default()).unwrap();
            while let Some(conn) = ep.accept().await {
                let (upstream, signer, real, count) = (
                    upstream.clone(),
                    signer.clone(),
                    real.clone(),
                    count.clone(),
                );
                tokio::spawn(async move {
                    while let Some(mut s) = conn.accept_stream().await {
                        let Ok(Some(Request {
                            kind: Some(request::Kind::Deliver(env)),
                        })) = s.recv::<Request>().await
                        else {
                            continue;
                        };
                        let opened = envelope::open(&env).unwrap();
                        let seek: SeekInfo = weft_wire::decode("seek", &opened.data).unwrap();
                        let Some(seek_position::Type::Specified(start)) =
                            seek.start.and_then(|p| p.r#type)
                        else {
                            continue;
                        };
                        let real_conn = upstream.connect_host(&real, None).await.unwrap();
                        let at = client::at(start.number);
                        let seek =
                            client::seek_envelope(&signer, opened.channel_id(), at, at, true);
                        let mut stream = client::deliver(&real_conn, seek).await.unwrap();
                        let Ok(Some(mut b)) = client::next_block(&mut stream).await else {
                            continue;
                        };
                        let data = b.data.as_mut().unwrap();
                        data.data[0] = [&data.data[0][..], b"tampered"].concat().into();
                        b.header.as_mut().unwrap().data_hash = block::data_hash(data).to_vec();
                        let resp = DeliverResponse {
                            r#type: Some(deliver_response::Type::Block(b)),
                            trace_context: Default::default(),
                        };
                        if s.send(&resp).await.is_ok() {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        served
    }
}
