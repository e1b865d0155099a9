//! Execute-order-validate on the four-peer network: endorse, order, validate and commit with `basic`.

use std::process::Output;
use std::time::Duration;

use weft_integration_tests::{Network, Options, wait_for};

const P0O1: &str = "peer0.org1.example.com";
const P1O1: &str = "peer1.org1.example.com";
const P0O2: &str = "peer0.org2.example.com";
const P1O2: &str = "peer1.org2.example.com";
const ALL: [&str; 4] = [P0O1, P1O1, P0O2, P1O2];
const CREATE_A1: &str = r#"{"Args":["CreateAsset","a1","blue","5","Tom","100"]}"#;
const READ_A1: &str = r#"{"Args":["ReadAsset","a1"]}"#;

fn network() -> Network {
    let mut net = Network::generate(Options::default()).unwrap();
    net.start_all().unwrap();
    net.byfn();
    net
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The transaction id the CLI reports (`txid [..] committed with status (..)`).
fn tx_id(out: &Output) -> String {
    let t = text(out);
    let start = t.find("txid [").unwrap_or_else(|| panic!("no txid in {t}")) + 6;
    t[start..start + 64].to_string()
}

fn code_on(net: &Network, peer: &str, tx: &str) -> Result<String, String> {
    let v = net.ops_json(peer, &format!("/channels/mychannel/transactions/{tx}"))?;
    Ok(v["validation_code"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn wait_code_everywhere(net: &Network, tx: &str, expected: &str) {
    for p in ALL {
        wait_for(
            &format!("{tx} on {p} to be {expected}"),
            Duration::from_secs(20),
            || {
                let c = code_on(net, p, tx)?;
                if c == expected { Ok(()) } else { Err(c) }
            },
        );
    }
}

#[test]
fn an_invoke_endorsed_by_both_orgs_commits_everywhere_and_survives_a_restart() {
    let mut net = network();
    net.define("basic", 1, None);
    let out = net.invoke(P0O1, "basic", &[P0O1, P0O2], CREATE_A1);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Chaincode invoke successful. result: status:200"),
        "{}",
        text(&out)
    );
    let tx = tx_id(&out);
    // --waitForEvent waits for the commit event of every endorsing peer, as Fabric's CLI does.
    for p in [P0O1, P0O2] {
        let line = format!(
            "txid [{tx}] committed with status (VALID) at {}",
            net.peer(p).address()
        );
        assert!(text(&out).contains(&line), "{line} in {}", text(&out));
    }
    wait_code_everywhere(&net, &tx, "VALID");
    let asset = r#"{"AppraisedValue":100,"Color":"blue","ID":"a1","Owner":"Tom","Size":5}"#;
    for p in ALL {
        assert_eq!(net.query(p, "basic", READ_A1).unwrap(), asset, "on {p}");
    }
    net.kill(P1O2);
    net.start_peer(P1O2).unwrap();
    assert_eq!(
        net.query(P1O2, "basic", READ_A1).unwrap(),
        asset,
        "state survives a SIGKILL and restart"
    );
}

#[test]
fn two_invokes_reading_the_same_key_in_one_block_conflict() {
    let net = network();
    net.define("basic", 1, None);
    assert!(
        net.invoke(P0O1, "basic", &[P0O1, P0O2], CREATE_A1)
            .status
            .success()
    );
    // Both endorse against the same version of a1, and both reach the orderer within one batch timeout.
    let (a, b) = std::thread::scope(|s| {
        let t1 = s.spawn(|| {
            net.invoke(
                P0O1,
                "basic",
                &[P0O1, P0O2],
                r#"{"Args":["TransferAsset","a1","Ann"]}"#,
            )
        });
        let t2 = s.spawn(|| {
            net.invoke(
                P0O2,
                "basic",
                &[P0O1, P0O2],
                r#"{"Args":["TransferAsset","a1","Bob"]}"#,
            )
        });
        (t1.join().unwrap(), t2.join().unwrap())
    });
    let (ok, conflicted) = if a.status.success() { (a, b) } else { (b, a) };
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        !conflicted.status.success(),
        "both committed: {}",
        text(&conflicted)
    );
    assert!(
        text(&conflicted).contains("MVCC_READ_CONFLICT"),
        "{}",
        text(&conflicted)
    );
    let (ok_tx, bad_tx) = (tx_id(&ok), tx_id(&conflicted));
    wait_code_everywhere(&net, &ok_tx, "VALID");
    wait_code_everywhere(&net, &bad_tx, "MVCC_READ_CONFLICT");
    let block = |tx: &str| {
        net.ops_json(P0O1, &format!("/channels/mychannel/transactions/{tx}"))
            .unwrap()["block"]
            .as_u64()
    };
    assert_eq!(
        block(&ok_tx),
        block(&bad_tx),
        "the two transactions shared a block"
    );
}

#[test]
fn one_org_endorsing_under_an_and_policy_fails_everywhere_and_changes_nothing() {
    let net = network();
    net.define("basic", 1, Some("AND('Org1MSP.peer','Org2MSP.peer')"));
    let out = net.invoke(P0O1, "basic", &[P0O1], CREATE_A1);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("ENDORSEMENT_POLICY_FAILURE"),
        "{}",
        text(&out)
    );
    wait_code_everywhere(&net, &tx_id(&out), "ENDORSEMENT_POLICY_FAILURE");
    for p in ALL {
        let err = net.query(p, "basic", READ_A1).unwrap_err();
        assert!(err.contains("the asset a1 does not exist"), "{p}: {err}");
    }
}

#[test]
fn bad_cli_input_gives_a_clear_error() {
    let net = network();
    net.define("basic", 1, None);
    let out = net.cli_with(
        P0O1,
        &[
            "chaincode",
            "invoke",
            "-C",
            "mychannel",
            "-n",
            "basic",
            "-c",
            r#"{"Args":["CreateAsset","#,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("invalid -c argument"), "{}", text(&out));
    let err = net.query(P0O1, "nope", READ_A1).unwrap_err();
    assert!(err.contains("chaincode nope not found"), "{err}");
    let err = net
        .query(P0O1, "kv", r#"{"Args":["get","k"]}"#)
        .unwrap_err();
    assert!(
        err.contains("make sure the chaincode kv has been successfully defined"),
        "{err}"
    );
}

/// A client built from the libraries, to send what the CLI never would.
mod raw_client {
    use super::*;
    use std::time::SystemTime;

    use weft_crypto::LocalMsp;
    use weft_net::{Endpoint, NodeTls, TransportConfig, TrustStore};
    use weft_peer::{client, proposal};
    use weft_wire::common::TxValidationCode;

    pub struct Client {
        signer: weft_crypto::Signer,
        endpoint: Endpoint,
    }

    pub fn client(net: &Network) -> Client {
        client_as(
            net,
            "peerOrganizations/org1.example.com/users/Admin@org1.example.com",
            "Org1MSP",
        )
    }

    /// A client with the user's MSP and TLS pair under `crypto-config/<user>`.
    pub fn client_as(net: &Network, user: &str, mspid: &str) -> Client {
        let crypto = net.path("crypto-config");
        let admin = crypto.join(user);
        let local = LocalMsp::load(&admin.join("msp"), mspid).unwrap();
        let mut roots = Vec::new();
        for f in [
            "peerOrganizations/org1.example.com/msp/tlscacerts/tlsca.org1.example.com-cert.pem",
            "peerOrganizations/org2.example.com/msp/tlscacerts/tlsca.org2.example.com-cert.pem",
            "ordererOrganizations/example.com/msp/tlscacerts/tlsca.example.com-cert.pem",
        ] {
            roots.extend(
                weft_crypto::pem::blocks(&std::fs::read(crypto.join(f)).unwrap(), "CERTIFICATE")
                    .unwrap(),
            );
        }
        let tls =
            NodeTls::load(&admin.join("tls/client.crt"), &admin.join("tls/client.key")).unwrap();
        let endpoint =
            Endpoint::client(&tls, &TrustStore::new(roots), TransportConfig::default()).unwrap();
        Client {
            signer: local.signer,
            endpoint,
        }
    }

    impl Client {
        /// Endorses CreateAsset(id) on both orgs; `tamper` corrupts the second endorsement's signature.
        pub async fn endorsed(
            &self,
            net: &Network,
            id: &str,
            tamper: bool,
        ) -> (String, weft_wire::common::Envelope) {
            let args = ["CreateAsset", id, "red", "1", "Eve", "1"]
                .iter()
                .map(|a| a.as_bytes().to_vec())
                .collect();
            let built = proposal::build(
                &self.signer,
                "mychannel",
                "basic",
                args,
                SystemTime::now(),
                Default::default(),
            );
            let mut responses = Vec::new();
            for p in [P0O1, P0O2] {
                let conn = self.connect(net, p).await;
                responses.push(client::endorse(&conn, built.signed.clone()).await.unwrap());
            }
            if tamper {
                let e = responses[1].endorsement.as_mut().unwrap();
                let last = e.signature.len() - 3;
                e.signature[last] ^= 0x55;
            }
            (
                built.tx_id.clone(),
                proposal::assemble(&self.signer, &built, &responses).unwrap(),
            )
        }

        pub fn signer(&self) -> &weft_crypto::Signer {
            &self.signer
        }

        pub async fn connect(&self, net: &Network, peer: &str) -> weft_net::Connection {
            self.endpoint
                .connect_host(&net.peer(peer).address(), None)
                .await
                .unwrap()
        }

        pub async fn connect_orderer(&self, net: &Network) -> weft_net::Connection {
            self.endpoint
                .connect_host(&net.orderer.address(), None)
                .await
                .unwrap()
        }

        pub async fn submit(&self, net: &Network, env: weft_wire::common::Envelope) {
            let conn = self.connect_orderer(net).await;
            client::broadcast(&conn, env).await.unwrap();
        }

        /// The transaction's code, from peer0.org1's commit events since the oldest block.
        async fn status(&self, net: &Network, tx: &str) -> TxValidationCode {
            let conn = self.connect(net, P0O1).await;
            let seek = client::seek_envelope(
                &self.signer,
                "mychannel",
                client::oldest(),
                client::at(u64::MAX),
                true,
            );
            let mut events = client::deliver_filtered(&conn, seek).await.unwrap();
            let (_, code) =
                tokio::time::timeout(Duration::from_secs(20), client::commit_of(&mut events, tx))
                    .await
                    .expect("committed within 20 s")
                    .unwrap();
            TxValidationCode::try_from(code).unwrap()
        }
    }

    #[test]
    fn a_tampered_endorsement_and_a_replayed_transaction_are_rejected() {
        let net = network();
        net.define("basic", 1, None);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let c = {
            let _guard = rt.enter();
            client(&net)
        };
        rt.block_on(async {
            let (tx, env) = c.endorsed(&net, "t1", true).await;
            c.submit(&net, env).await;
            assert_eq!(
                c.status(&net, &tx).await,
                TxValidationCode::EndorsementPolicyFailure
            );

            let (tx, env) = c.endorsed(&net, "r1", false).await;
            c.submit(&net, env.clone()).await;
            assert_eq!(c.status(&net, &tx).await, TxValidationCode::Valid);
            c.submit(&net, env).await;
        });
        wait_for(
            "the replay to be refused on every peer",
            Duration::from_secs(20),
            || {
                let refused = ALL
                    .iter()
                    .filter(|p| net.log(p).contains("code=\"DUPLICATE_TXID\""))
                    .count();
                if refused == 4 {
                    Ok(())
                } else {
                    Err(format!("{refused} of 4 peers"))
                }
            },
        );
        for p in ALL {
            assert!(
                net.query(p, "basic", r#"{"Args":["ReadAsset","t1"]}"#)
                    .is_err(),
                "{p}: the tampered tx wrote"
            );
            assert!(
                net.query(p, "basic", r#"{"Args":["ReadAsset","r1"]}"#)
                    .is_ok(),
                "{p}"
            );
        }
    }
}

/// A peer's Deliver and DeliverFiltered streams, as an application's block and commit listeners use them.
mod peer_deliver {
    use super::raw_client::*;
    use super::*;
    use weft_peer::client::{self, ClientError};
    use weft_wire::common::{BlockMetadataIndex, Status, TxValidationCode};

    #[test]
    fn a_peer_streams_its_commits_to_readers_only() {
        let net = network();
        net.define("basic", 1, None);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _guard = rt.enter();
        let org1 = client(&net);
        let outsider = client_as(
            &net,
            "ordererOrganizations/example.com/users/Admin@example.com",
            "OrdererMSP",
        );
        let from = net.chain(P1O2).unwrap().0;
        rt.block_on(async {
            // peer1.org2 endorsed nothing: its events are its own commits.
            let conn = org1.connect(&net, P1O2).await;
            let seek = |c: &Client, start, wait| {
                client::seek_envelope(c.signer(), "mychannel", start, client::at(u64::MAX), wait)
            };
            let mut events = client::deliver_filtered(&conn, seek(&org1, client::at(from), true))
                .await
                .unwrap();
            let (tx, env) = org1.endorsed(&net, "d1", false).await;
            org1.submit(&net, env).await;
            let (block, code) = client::commit_of(&mut events, &tx).await.unwrap();
            assert_eq!(code, TxValidationCode::Valid as i32);
            assert!(block >= from);

            // Deliver gives the block whole, as committed here: the orderer's block with the peer's codes.
            let mine = client::fetch(&conn, org1.signer(), "mychannel", client::at(block))
                .await
                .unwrap();
            let orderer = org1.connect_orderer(&net).await;
            let ordered = client::fetch(&orderer, org1.signer(), "mychannel", client::at(block))
                .await
                .unwrap();
            assert_eq!(mine.header, ordered.header);
            let codes = &mine.metadata.as_ref().unwrap().metadata
                [BlockMetadataIndex::TransactionsFilter as usize];
            assert_eq!(codes, &[TxValidationCode::Valid as u8]);

            // A block not committed yet, asked for with FAIL_IF_NOT_READY: NOT_FOUND, not a wait.
            let mut ahead =
                client::deliver_filtered(&conn, seek(&org1, client::at(block + 100), false))
                    .await
                    .unwrap();
            assert!(matches!(
                client::next_filtered(&mut ahead).await,
                Err(ClientError::Status {
                    status: Status::NotFound,
                    ..
                })
            ));

            // The orderer's admin is no reader of the channel's application.
            let conn = outsider.connect(&net, P1O2).await;
            let mut refused =
                client::deliver_filtered(&conn, seek(&outsider, client::oldest(), true))
                    .await
                    .unwrap();
            assert!(matches!(
                client::next_filtered(&mut refused).await,
                Err(ClientError::Status {
                    status: Status::Forbidden,
                    ..
                })
            ));
        });
    }
}
