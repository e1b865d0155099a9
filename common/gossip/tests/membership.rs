//! Membership rules with virtual time: bootstrap, expiry, resurrection, purge exemptions, ordering,
//! disclosure, forged messages.

mod sim;

use std::time::Duration;

use prost::Message;
use sim::Sim;
use weft_gossip::core::Event;
use weft_gossip::message::{self, Reject};
use weft_gossip::{GossipConfig, PeerTime};
use weft_wire::gossip::{MembershipRequest, gossip_message};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Org1's two peers bootstrapping from each other.
fn org1_pair(sim: &mut Sim) -> (usize, usize) {
    let a = sim.add(
        "peer0.org1",
        "Org1MSP",
        "p0o1:7051",
        "p0o1:7051",
        &["p1o1:8051"],
    );
    let b = sim.add(
        "peer1.org1",
        "Org1MSP",
        "p1o1:8051",
        "p1o1:8051",
        &["p0o1:7051"],
    );
    (a, b)
}

#[test]
fn unreachable_bootstrap_is_reported_then_peers_meet_when_it_starts() {
    let mut sim = Sim::new(GossipConfig::default());
    let (a, b) = org1_pair(&mut sim);
    sim.start(a);
    sim.run_for(secs(1));
    assert!(sim.nodes[a].events.iter().any(|e| matches!(e, Event::ConnectFailed { endpoint, attempts: 1, giving_up: false, .. } if endpoint == "p1o1:8051")));
    assert!(sim.sees(a).is_empty());

    sim.start(b);
    sim.run_for(Duration::from_millis(10));
    assert_eq!(
        sim.sees(a),
        Sim::set(&["peer1.org1"]),
        "they meet at once, without waiting for a round"
    );
    assert_eq!(sim.sees(b), Sim::set(&["peer0.org1"]));
}

#[test]
fn a_bootstrap_peer_of_another_org_is_refused() {
    let mut sim = Sim::new(GossipConfig::default());
    let a = sim.add(
        "peer0.org1",
        "Org1MSP",
        "p0o1:7051",
        "p0o1:7051",
        &["p0o2:9051"],
    );
    let c = sim.add("peer0.org2", "Org2MSP", "p0o2:9051", "p0o2:9051", &[]);
    sim.start(c);
    sim.start(a);
    sim.run_for(secs(30));
    assert!(
        sim.nodes[a]
            .events
            .iter()
            .any(|e| matches!(e, Event::BootstrapOfForeignOrg { org, .. } if org == "Org2MSP"))
    );
    assert!(sim.sees(a).is_empty());
}

#[test]
fn silence_makes_a_member_dead_and_a_newer_alive_resurrects_it() {
    let config = GossipConfig::default();
    let timeout = config.alive_expiration_timeout;
    let check = config.alive_check_interval();
    let mut sim = Sim::new(config);
    let (a, b) = org1_pair(&mut sim);
    sim.start(a);
    sim.start(b);
    sim.run_for(secs(1));
    sim.isolate(b);
    // Still alive just before the timeout...
    sim.run_for(timeout - secs(2));
    assert_eq!(sim.sees(a), Sim::set(&["peer1.org1"]));
    // ...and dead by the timeout plus one check period.
    sim.run_for(secs(2) + check);
    assert_eq!(sim.dead(a), Sim::set(&["peer1.org1"]));
    assert!(sim.sees(a).is_empty());
    sim.heal();
    sim.run_for(secs(30));
    assert_eq!(
        sim.sees(a),
        Sim::set(&["peer1.org1"]),
        "resurrected by its newer alive messages"
    );
}

#[test]
fn a_closed_connection_makes_the_member_dead_at_once_and_a_restart_brings_it_back() {
    let mut sim = Sim::new(GossipConfig::default());
    let (a, b) = org1_pair(&mut sim);
    sim.start(a);
    sim.start(b);
    sim.run_for(secs(1));
    sim.kill(b);
    assert_eq!(sim.dead(a), Sim::set(&["peer1.org1"]));
    sim.start(b);
    sim.run_for(Duration::from_millis(10));
    assert_eq!(
        sim.sees(a),
        Sim::set(&["peer1.org1"]),
        "a restarted bootstrap peer reconnects and is alive again"
    );
}

#[test]
fn dead_members_are_purged_except_bootstrap_and_anchor_peers() {
    let config = GossipConfig::default();
    let purge = config.purge_after();
    let mut sim = Sim::new(config);
    let (a, b) = org1_pair(&mut sim);
    let c = sim.add(
        "peer2.org1",
        "Org1MSP",
        "p2o1:7151",
        "p2o1:7151",
        &["p0o1:7051"],
    );
    for i in [a, b, c] {
        sim.start(i);
    }
    sim.run_for(secs(1));
    assert_eq!(sim.sees(a), Sim::set(&["peer1.org1", "peer2.org1"]));
    sim.kill(b);
    sim.kill(c);
    sim.run_for(purge + secs(10));
    // peer1 is peer0's bootstrap peer: kept (dead) forever; peer2 is forgotten.
    assert_eq!(sim.dead(a), Sim::set(&["peer1.org1"]));
    assert!(sim.sees(a).is_empty());
}

#[test]
fn alive_messages_are_ordered_by_incarnation_then_sequence() {
    let mut sim = Sim::new(GossipConfig::default());
    let (a, b) = org1_pair(&mut sim);
    sim.start(a);
    sim.start(b);
    sim.run_for(secs(1));
    let crypto = sim::FakeCrypto::of(sim.nodes[b].identity());
    let pki = sim.nodes[b].pki();
    let alive = |t: PeerTime| message::signed(&crypto, &message::alive(&pki, "p1o1:8051", t, None));
    // A replay of an old message changes nothing and is not an error.
    let before = sim.nodes[a].core().membership(sim.now);
    sim.inject(b, a, alive(PeerTime { inc: 1, seq: 1 }));
    assert_eq!(
        sim.nodes[a].core().membership(sim.now).alive.len(),
        before.alive.len()
    );
    // A higher incarnation wins over any sequence.
    sim.kill(b);
    assert_eq!(sim.dead(a), Sim::set(&["peer1.org1"]));
    sim.inject(
        b,
        a,
        alive(PeerTime {
            inc: u64::MAX,
            seq: 0,
        }),
    );
    assert_eq!(sim.sees(a), Sim::set(&["peer1.org1"]));
}

#[test]
fn forged_and_impersonating_messages_are_rejected_and_counted() {
    let mut sim = Sim::new(GossipConfig::default());
    let (a, b) = org1_pair(&mut sim);
    sim.start(a);
    sim.start(b);
    sim.run_for(secs(1));
    let pki_b = sim.nodes[b].pki();
    // Valid format, wrong key: signed with someone else's identity.
    let mallory = sim::FakeCrypto::of(b"Org1MSP|mallory".to_vec());
    let forged = message::signed(
        &mallory,
        &message::alive(
            &pki_b,
            "p1o1:8051",
            PeerTime {
                inc: u64::MAX,
                seq: 1,
            },
            None,
        ),
    );
    sim.inject(b, a, forged);
    assert!(sim.nodes[a].events.iter().any(|e| matches!(
        e,
        Event::Rejected {
            reason: Reject::BadSignature(..),
            ..
        }
    )));

    // An alive embedding an identity whose hash is not the claimed PKI-ID.
    let alive = message::alive(
        &pki_b,
        "x",
        PeerTime {
            inc: u64::MAX,
            seq: 2,
        },
        Some(b"Org1MSP|mallory"),
    );
    sim.inject(b, a, message::signed(&mallory, &alive));
    assert!(sim.nodes[a].events.iter().any(|e| matches!(
        e,
        Event::Rejected {
            reason: Reject::PkiIdMismatch { .. },
            ..
        }
    )));

    // An identity from an unknown CA.
    let stranger = sim::FakeCrypto::of(b"UnknownMSP|eve".to_vec());
    let eve = weft_gossip::PkiId(sim::digest(&[b"UnknownMSP|eve"]));
    let alive = message::alive(
        &eve,
        "eve:1",
        PeerTime { inc: 1, seq: 1 },
        Some(b"UnknownMSP|eve"),
    );
    sim.inject(b, a, message::signed(&stranger, &alive));
    assert!(sim.nodes[a].events.iter().any(|e| matches!(
        e,
        Event::Rejected {
            reason: Reject::InvalidIdentity(_),
            ..
        }
    )));

    // A membership request carrying someone else's alive message.
    let c_crypto = sim::FakeCrypto::of(sim.nodes[a].identity());
    let other = message::signed(
        &c_crypto,
        &message::alive(
            &sim.nodes[a].pki(),
            "p0o1:7051",
            PeerTime { inc: 9, seq: 9 },
            None,
        ),
    );
    let req = message::message(
        gossip_message::Tag::Empty,
        gossip_message::Content::MemReq(MembershipRequest {
            self_information: Some(other),
            known: vec![],
        }),
    );
    sim.inject(b, a, message::unsigned(&req));
    assert!(sim.nodes[a].events.iter().any(|e| matches!(
        e,
        Event::Rejected {
            reason: Reject::Impersonation(_),
            ..
        }
    )));

    // Garbage.
    sim.inject(
        b,
        a,
        weft_wire::gossip::Envelope {
            payload: vec![0xff; 3].into(),
            ..Default::default()
        },
    );
    assert!(sim.nodes[a].events.iter().any(|e| matches!(
        e,
        Event::Rejected {
            reason: Reject::Malformed(_),
            ..
        }
    )));
    // None of it changed what a sees.
    assert_eq!(sim.sees(a), Sim::set(&["peer1.org1"]));
}

#[test]
fn an_alive_with_our_pki_id_and_another_endpoint_is_a_bad_configuration() {
    let mut sim = Sim::new(GossipConfig::default());
    let (a, b) = org1_pair(&mut sim);
    sim.start(a);
    sim.start(b);
    sim.run_for(secs(1));
    let me = sim::FakeCrypto::of(sim.nodes[a].identity());
    let clone = message::signed(
        &me,
        &message::alive(
            &sim.nodes[a].pki(),
            "elsewhere:7051",
            PeerTime { inc: 99, seq: 1 },
            None,
        ),
    );
    sim.inject(b, a, clone);
    assert!(sim.nodes[a].events.iter().any(
        |e| matches!(e, Event::BadConfiguration { endpoint } if endpoint == "elsewhere:7051")
    ));
}

#[test]
fn internal_endpoints_never_leave_the_org() {
    let mut sim = Sim::new(GossipConfig::default());
    let a = sim.add(
        "peer0.org1",
        "Org1MSP",
        "internal-p0o1:7051",
        "p0o1:7051",
        &[],
    );
    let c = sim.add(
        "peer0.org2",
        "Org2MSP",
        "internal-p0o2:9051",
        "p0o2:9051",
        &[],
    );
    sim.start(a);
    sim.start(c);
    let anchors = vec![weft_gossip::channel::Anchor {
        endpoint: "p0o1:7051".into(),
        org: "Org1MSP".into(),
    }];
    let orgs = Sim::set(&["Org1MSP", "Org2MSP"]);
    let now = sim.now;
    sim.nodes[a]
        .core_mut()
        .join_channel(now, "mychannel", orgs.clone(), anchors.clone());
    sim.nodes[c]
        .core_mut()
        .join_channel(now, "mychannel", orgs, anchors);
    sim.pump();
    sim.run_for(secs(30));
    assert_eq!(sim.sees(c), Sim::set(&["peer0.org1"]));
    for env in &sim.nodes[c].received {
        assert!(
            env.secret_envelope.is_none(),
            "a secret reached another org"
        );
        assert!(
            !env.encode_to_vec().windows(8).any(|w| w == b"internal"),
            "an internal endpoint reached another org"
        );
    }
}

#[test]
fn a_member_known_only_by_hearsay_is_presumed_dead_when_dialling_it_fails() {
    let mut sim = Sim::new(GossipConfig::default());
    let (a, b) = org1_pair(&mut sim);
    let c = sim.add(
        "peer2.org1",
        "Org1MSP",
        "p2o1:7151",
        "p2o1:7151",
        &["p1o1:8051"],
    );
    sim.start(a);
    sim.start(b);
    sim.run_for(secs(1));
    // a cannot reach c: a learns of c only through b.
    sim.cut.insert((a.min(c), a.max(c)));
    sim.start(c);
    sim.run_for(Duration::from_millis(5));
    assert!(sim.sees(a).contains("peer2.org1"));
    let now = sim.now;
    sim.nodes[a]
        .core_mut()
        .handle_connect_failed(now, "p2o1:7151", "timed out");
    assert!(
        sim.dead(a).contains("peer2.org1"),
        "presumed dead without waiting for aliveExpirationTimeout"
    );
}
