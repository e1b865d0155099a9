//! Gossip membership between real peer processes: the walk-through of seed 003 (bootstrap, join, anchor
//! peers), external endpoints, dead-peer detection, forged messages and channel-name secrecy.

use std::collections::BTreeSet;
use std::time::Duration;

use weft_integration_tests::{Network, Options, wait_for};

const P0O1: &str = "peer0.org1.example.com";
const P1O1: &str = "peer1.org1.example.com";
const P0O2: &str = "peer0.org2.example.com";
const P1O2: &str = "peer1.org2.example.com";
const ALL: [&str; 4] = [P0O1, P1O1, P0O2, P1O2];

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn others(me: &str) -> BTreeSet<String> {
    ALL.iter()
        .filter(|n| **n != me)
        .map(|s| s.to_string())
        .collect()
}

fn wait_sees(net: &Network, who: &str, expected: BTreeSet<String>) {
    wait_for(
        &format!("{who} to see {expected:?}"),
        Duration::from_secs(20),
        || {
            let v = net.gossip_view(who, false)?;
            if v == expected {
                Ok(())
            } else {
                Err(format!("{v:?}"))
            }
        },
    );
}

fn wait_channel(net: &Network, who: &str, expected: BTreeSet<String>) {
    wait_for(
        &format!("{who}'s channel view to be {expected:?}"),
        Duration::from_secs(20),
        || {
            let v = net.channel_view(who)?;
            if v == expected {
                Ok(())
            } else {
                Err(format!("{v:?}"))
            }
        },
    );
}

/// Seed 003, step by step: peer0.org1 alone logs its unreachable bootstrap peer; peers of an org meet once
/// both run; after joining mychannel each org sees only itself; after Org1's anchor update all four peers see
/// all three others.
#[test]
fn the_classic_gossip_walkthrough() {
    let mut net = Network::generate(Options::default()).unwrap();
    net.start_orderer().unwrap();
    net.start_peer(P0O1).unwrap();
    let unreachable = format!(
        "Failed to connect to bootstrap or anchor peer {}",
        net.peer(P1O1).address()
    );
    wait_for(
        "peer0.org1 to log its unreachable bootstrap peer",
        Duration::from_secs(20),
        || {
            net.log(P0O1)
                .contains(&unreachable)
                .then_some(())
                .ok_or_else(|| net.log(P0O1))
        },
    );

    net.start_peer(P1O1).unwrap();
    wait_sees(&net, P0O1, set(&[P1O1]));
    wait_sees(&net, P1O1, set(&[P0O1]));

    net.start_peer(P0O2).unwrap();
    net.start_peer(P1O2).unwrap();
    wait_sees(&net, P0O2, set(&[P1O2]));
    wait_sees(&net, P1O2, set(&[P0O2]));
    assert_eq!(
        net.gossip_view(P0O1, false).unwrap(),
        set(&[P1O1]),
        "orgs do not meet without anchors"
    );

    net.create_and_join();
    for p in [P0O1, P1O1] {
        wait_channel(&net, p, set(&[P0O1, P1O1]));
    }
    for p in [P0O2, P1O2] {
        wait_channel(&net, p, set(&[P0O2, P1O2]));
    }

    net.anchor_update(1);
    for p in ALL {
        wait_sees(&net, p, others(p));
        wait_channel(&net, p, set(&ALL));
    }
    net.anchor_update(2);
    net.wait_all_at(3);
    for p in ALL {
        assert_eq!(net.gossip_view(p, false).unwrap(), others(p));
    }
    let m = net.metrics(P0O1);
    assert!(
        m.contains("gossip_comm_messages_sent") && m.contains("gossip_comm_messages_received"),
        "{m}"
    );
    let log = net.log(P1O2);
    assert!(log.contains("membership changed"), "{log}");
}

#[test]
fn without_bootstrap_peers_of_an_org_meet_only_through_the_anchor_update() {
    let mut net = Network::generate(Options {
        no_bootstrap: true,
        ..Default::default()
    })
    .unwrap();
    net.start_all().unwrap();
    net.create_and_join();
    net.wait_all_at(1);
    for p in ALL {
        assert!(
            net.gossip_view(p, false).unwrap().is_empty(),
            "{p} met someone without bootstrap or anchors"
        );
    }
    net.anchor_update(1);
    wait_sees(&net, P0O1, others(P0O1));
    wait_sees(&net, P1O1, others(P1O1));
}

#[test]
fn a_peer_without_external_endpoint_is_never_listed_by_the_other_org() {
    // Short gossip rounds, so that several pulls and alive rounds pass while we watch.
    let fast = [
        ("ALIVETIMEINTERVAL", "300ms"),
        ("PULLINTERVAL", "300ms"),
        ("DIGESTWAITTIME", "50ms"),
        ("RESPONSEWAITTIME", "100ms"),
        ("REQUESTSTATEINFOINTERVAL", "300ms"),
    ];
    let peer_env = fast
        .iter()
        .map(|(k, v)| (format!("CORE_PEER_GOSSIP_{k}"), v.to_string()))
        .collect();
    let options = Options {
        no_external_endpoint: vec![P1O1.into()],
        peer_env,
        ..Default::default()
    };
    let mut net = Network::generate(options).unwrap();
    net.start_all().unwrap();
    net.byfn();
    wait_sees(&net, P0O2, set(&[P0O1, P1O2]));
    wait_sees(&net, P1O1, set(&[P0O1]));
    let log = net.log(P1O1);
    assert!(
        log.contains(
            "External endpoint is empty, peer will not be accessible outside of its organization"
        ),
        "{log}"
    );
    // Many rounds later, still not listed.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        for p in [P0O2, P1O2] {
            assert!(
                !net.gossip_view(p, false).unwrap().contains(P1O1),
                "{p} lists peer1.org1"
            );
            assert!(
                !net.channel_view(p).unwrap().contains(P1O1),
                "{p}'s channel view lists peer1.org1"
            );
        }
    }
}

#[test]
fn a_sigkilled_peer_is_dead_everywhere_then_alive_after_restart() {
    let mut net = Network::generate(Options::default()).unwrap();
    net.start_all().unwrap();
    net.byfn();
    for p in ALL {
        wait_sees(&net, p, others(p));
    }
    net.kill(P1O2);
    // Fabric's bound: aliveExpirationTimeout (25 s) plus one check period (2.5 s).
    for p in [P0O1, P1O1, P0O2] {
        wait_for(
            &format!("{p} to see peer1.org2 dead"),
            Duration::from_millis(27_500),
            || {
                let dead = net.gossip_view(p, true)?;
                if dead.contains(P1O2) {
                    Ok(())
                } else {
                    Err(format!("dead: {dead:?}"))
                }
            },
        );
    }
    net.start_peer(P1O2).unwrap();
    for p in ALL {
        wait_sees(&net, p, others(p));
    }
}

/// The test joins gossip as a legitimate member (Org1's User1, real handshake) and plays two roles: a forger
/// that sends an alive message claiming to be peer1.org1 signed with the wrong key, and an outsider that is
/// in no channel and must never learn a channel's name.
mod over_the_wire {
    use super::*;
    use std::sync::Arc;

    use prost::Message;
    use weft_crypto::LocalMsp;
    use weft_gossip::PeerTime;
    use weft_gossip::message;
    use weft_net::{Comm, CommConfig, CommEvent, Endpoint, NodeTls, TransportConfig, TrustStore};
    use weft_peer::gossip::auth::{Msps, PeerAuth};

    /// A gossip participant speaking as `org`'s User1.
    fn participant(
        rt: &tokio::runtime::Runtime,
        net: &Network,
        org: u8,
    ) -> (
        Comm,
        tokio::sync::mpsc::Receiver<CommEvent>,
        Arc<weft_crypto::Signer>,
    ) {
        let base = net.path(&format!(
            "crypto-config/peerOrganizations/org{org}.example.com"
        ));
        let user = base.join(format!("users/User1@org{org}.example.com"));
        let local = LocalMsp::load(&user.join("msp"), &format!("Org{org}MSP")).unwrap();
        let signer = Arc::new(local.signer);
        let msps = Msps::default();
        msps.insert(local.msp);
        let tls =
            NodeTls::load(&user.join("tls/client.crt"), &user.join("tls/client.key")).unwrap();
        let trust = TrustStore::new(local.tls_ca_certs);
        let _guard = rt.enter();
        let endpoint = Endpoint::client(&tls, &trust, TransportConfig::default()).unwrap();
        let auth = PeerAuth::new(signer.clone(), msps);
        let (comm, events) = Comm::new(
            endpoint,
            tls.leaf().to_vec(),
            Arc::new(auth),
            CommConfig::default(),
        );
        (comm, events, signer)
    }

    #[test]
    fn a_forged_alive_message_is_rejected_and_counted() {
        let mut net = Network::generate(Options::default()).unwrap();
        net.start_all().unwrap();
        net.byfn();
        wait_sees(&net, P0O1, others(P0O1));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (comm, _events, signer) = participant(&rt, &net, 1);
        let target = rt
            .block_on(comm.connect(&net.peer(P0O1).address()))
            .unwrap();

        // Valid format, peer1.org1's PKI-ID and endpoint, signed with User1's key.
        let pki = peer_pki(&net, P1O1);
        let alive = message::alive(
            &pki,
            &net.peer(P1O1).address(),
            PeerTime {
                inc: u64::MAX,
                seq: 1,
            },
            None,
        );
        let payload = alive.encode_to_vec();
        let forged = weft_wire::gossip::Envelope {
            signature: signer.sign(&payload),
            payload: payload.into(),
            secret_envelope: None,
        };
        assert!(comm.send(&target.pki_id, forged).is_ok());
        wait_for(
            "the forged alive to be counted",
            Duration::from_secs(10),
            || {
                let m = net.metrics(P0O1);
                m.contains("gossip_messages_rejected_total{reason=\"bad_signature\"}")
                    .then_some(())
                    .ok_or(m)
            },
        );
        assert!(net.log(P0O1).contains("dropped gossip message"));
        assert_eq!(
            net.gossip_view(P0O1, true).unwrap(),
            set(&[]),
            "nothing died of it"
        );
    }

    fn peer_pki(net: &Network, name: &str) -> weft_gossip::PkiId {
        let v = net.ops_json(name, "/gossip/membership").unwrap();
        let hex = v["self"]["pki_id"].as_str().unwrap();
        weft_gossip::PkiId(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect(),
        )
    }

    #[test]
    fn a_member_outside_the_channel_never_receives_its_name() {
        let mut net = Network::generate(Options::default()).unwrap();
        net.start_all().unwrap();
        net.byfn();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (comm, mut events, _) = participant(&rt, &net, 2);
        rt.block_on(comm.connect(&net.peer(P0O2).address()))
            .unwrap();
        // Collect what the peer tells us: alive messages, membership, state info for its channel (by MAC).
        let received: Vec<weft_wire::gossip::Envelope> = rt.block_on(async {
            let mut out = Vec::new();
            let mut state_info = false;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while !state_info || out.len() < 3 {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Ok(Some(CommEvent::Message { env, .. })) => {
                        let m = message::open(&env).unwrap();
                        state_info |= matches!(
                            m.content,
                            Some(weft_wire::gossip::gossip_message::Content::StateInfo(_))
                        );
                        out.push(env);
                    }
                    Ok(Some(_)) => {}
                    _ => panic!("no state info within 10 s; got {} messages", out.len()),
                }
            }
            out
        });
        for env in &received {
            let bytes = env.encode_to_vec();
            assert!(
                !bytes.windows(9).any(|w| w == b"mychannel"),
                "the channel name reached an outsider"
            );
        }
    }
}
