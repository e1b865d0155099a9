//! Cross-org membership through anchor peers, the external-endpoint rules, and channel isolation.

mod sim;

use std::collections::BTreeSet;
use std::time::Duration;

use prost::Message;
use sim::Sim;
use weft_gossip::GossipConfig;
use weft_gossip::channel::Anchor;

fn orgs() -> BTreeSet<String> {
    Sim::set(&["Org1MSP", "Org2MSP"])
}

/// Fabric's first-network: two orgs, two peers each, bootstrapping within the org.
fn first_network(sim: &mut Sim, peer1_org1_external: bool) -> [usize; 4] {
    let p1o1_ext = if peer1_org1_external { "p1o1:8051" } else { "" };
    let n = [
        sim.add(
            "peer0.org1",
            "Org1MSP",
            "p0o1:7051",
            "p0o1:7051",
            &["p1o1:8051"],
        ),
        sim.add(
            "peer1.org1",
            "Org1MSP",
            "p1o1:8051",
            p1o1_ext,
            &["p0o1:7051"],
        ),
        sim.add(
            "peer0.org2",
            "Org2MSP",
            "p0o2:9051",
            "p0o2:9051",
            &["p1o2:10051"],
        ),
        sim.add(
            "peer1.org2",
            "Org2MSP",
            "p1o2:10051",
            "p1o2:10051",
            &["p0o2:9051"],
        ),
    ];
    for i in n {
        sim.start(i);
    }
    n
}

fn join_all(sim: &mut Sim, nodes: &[usize], channel: &str, anchors: &[Anchor]) {
    let now = sim.now;
    for &i in nodes {
        sim.nodes[i]
            .core_mut()
            .join_channel(now, channel, orgs(), anchors.to_vec());
    }
    sim.pump();
}

fn anchor_org1() -> Anchor {
    Anchor {
        endpoint: "p0o1:7051".into(),
        org: "Org1MSP".into(),
    }
}

fn members(sim: &Sim, i: usize, channel: &str) -> BTreeSet<String> {
    let names: std::collections::BTreeMap<_, _> = sim
        .nodes
        .iter()
        .map(|n| (n.pki(), n.name.clone()))
        .collect();
    sim.nodes[i]
        .core()
        .channel_members(channel)
        .unwrap()
        .iter()
        .map(|m| names[&m.pki_id].clone())
        .collect()
}

#[test]
fn each_org_sees_only_itself_until_an_anchor_update_then_all_see_all_at_once() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = first_network(&mut sim, true);
    sim.run_for(Duration::from_secs(1));
    join_all(&mut sim, &n, "mychannel", &[]);
    sim.run_for(Duration::from_secs(30));
    assert_eq!(sim.sees(n[0]), Sim::set(&["peer1.org1"]));
    assert_eq!(sim.sees(n[2]), Sim::set(&["peer1.org2"]));
    assert_eq!(
        members(&sim, n[0], "mychannel"),
        Sim::set(&["peer0.org1", "peer1.org1"])
    );

    // Org1's anchor update commits on every peer.
    join_all(&mut sim, &n, "mychannel", &[anchor_org1()]);
    sim.run_for(Duration::from_millis(50));
    let all = Sim::set(&["peer0.org1", "peer1.org1", "peer0.org2", "peer1.org2"]);
    for &i in &n {
        let mut others = all.clone();
        others.remove(&sim.nodes[i].name);
        assert_eq!(
            sim.sees(i),
            others,
            "{} sees all three others within 50 ms",
            sim.nodes[i].name
        );
        assert_eq!(
            members(&sim, i, "mychannel"),
            all,
            "{} channel view",
            sim.nodes[i].name
        );
    }
}

#[test]
fn without_bootstrap_peers_of_one_org_meet_only_through_the_anchor() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = [
        sim.add("peer0.org1", "Org1MSP", "p0o1:7051", "p0o1:7051", &[]),
        sim.add("peer1.org1", "Org1MSP", "p1o1:8051", "p1o1:8051", &[]),
    ];
    for i in n {
        sim.start(i);
    }
    join_all(&mut sim, &n, "mychannel", &[]);
    sim.run_for(Duration::from_secs(60));
    assert!(sim.sees(n[0]).is_empty() && sim.sees(n[1]).is_empty());
    join_all(&mut sim, &n, "mychannel", &[anchor_org1()]);
    sim.run_for(Duration::from_millis(50));
    assert_eq!(sim.sees(n[0]), Sim::set(&["peer1.org1"]));
    assert_eq!(sim.sees(n[1]), Sim::set(&["peer0.org1"]));
}

#[test]
fn a_peer_without_external_endpoint_is_never_listed_by_the_other_org() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = first_network(&mut sim, false);
    let anchors = [
        anchor_org1(),
        Anchor {
            endpoint: "p0o2:9051".into(),
            org: "Org2MSP".into(),
        },
    ];
    join_all(&mut sim, &n, "mychannel", &anchors);
    sim.run_for(Duration::from_secs(120));
    for i in [n[2], n[3]] {
        assert_eq!(
            sim.sees(i),
            Sim::set(&[
                "peer0.org1",
                if i == n[2] {
                    "peer1.org2"
                } else {
                    "peer0.org2"
                }
            ])
        );
        assert!(!members(&sim, i, "mychannel").contains("peer1.org1"));
    }
    // It still sees its own org, and (rule 8) never dials a foreign anchor.
    assert_eq!(sim.sees(n[1]), Sim::set(&["peer0.org1"]));
    assert!(members(&sim, n[1], "mychannel").contains("peer0.org1"));
}

#[test]
fn heights_travel_in_state_info_at_once() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = first_network(&mut sim, true);
    join_all(&mut sim, &n, "mychannel", &[anchor_org1()]);
    // Past the gap after the StateInfos of joining: the next height change goes out at once.
    sim.run_for(GossipConfig::default().state_info_min_gap + Duration::from_millis(50));
    let now = sim.now;
    sim.nodes[n[3]]
        .core_mut()
        .update_height(now, "mychannel", 42);
    sim.pump();
    sim.run_for(Duration::from_millis(10));
    let pki = sim.nodes[n[3]].pki();
    for &i in &n[..3] {
        let view = sim.nodes[i].core().channel_members("mychannel").unwrap();
        assert_eq!(
            view.iter().find(|m| m.pki_id == pki).map(|m| m.height),
            Some(42)
        );
    }
}

#[test]
fn heights_that_change_faster_than_the_gap_are_published_together() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = first_network(&mut sim, true);
    join_all(&mut sim, &n, "mychannel", &[anchor_org1()]);
    // Past the gap after the StateInfos of joining: the next height change goes out at once.
    sim.run_for(GossipConfig::default().state_info_min_gap + Duration::from_millis(50));
    // Distinct StateInfos of peer1 that reached peer0 (directly or relayed).
    let pki = sim.nodes[n[1]].pki();
    let state_infos = |sim: &Sim| {
        sim.state_infos(n[0], &pki)
            .into_iter()
            .map(|(_, si)| si.timestamp.map(|t| (t.inc_num, t.seq_num)))
            .collect::<BTreeSet<_>>()
            .len()
    };
    let before = state_infos(&sim);
    // 100 commits within 1 ms: the first height goes out at once, the rest once, a gap later.
    let gap = GossipConfig::default().state_info_min_gap;
    for h in 1..=100 {
        let now = sim.now;
        sim.nodes[n[1]]
            .core_mut()
            .update_height(now, "mychannel", h);
        sim.run_for(Duration::from_micros(10));
    }
    sim.run_for(gap + Duration::from_millis(5));
    let view = sim.nodes[n[0]].core().channel_members("mychannel").unwrap();
    assert_eq!(
        view.iter().find(|m| m.pki_id == pki).map(|m| m.height),
        Some(100)
    );
    assert_eq!(
        state_infos(&sim) - before,
        2,
        "one at once, one for the rest"
    );
}

#[test]
fn a_relayed_copy_of_a_state_info_already_held_is_not_verified_again() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = first_network(&mut sim, true);
    join_all(&mut sim, &n, "mychannel", &[anchor_org1()]);
    // Past the gap after the StateInfos of joining: the next height change goes out at once.
    sim.run_for(GossipConfig::default().state_info_min_gap + Duration::from_millis(50));
    let pki = sim.nodes[n[1]].pki();
    let (held, _) = sim
        .state_infos(n[0], &pki)
        .pop()
        .expect("peer0 holds peer1's StateInfo");
    let before = sim.nodes[n[0]].verified();
    // The same publication again, relayed by another member: nothing to learn, no signature to check.
    sim.inject(n[2], n[0], held.clone());
    assert_eq!(sim.nodes[n[0]].verified(), before);
    // A newer one is still verified, and taken.
    let now = sim.now;
    sim.nodes[n[1]]
        .core_mut()
        .update_height(now, "mychannel", 7);
    sim.pump();
    sim.run_for(Duration::from_millis(10));
    assert!(sim.nodes[n[0]].verified() > before);
    let view = sim.nodes[n[0]].core().channel_members("mychannel").unwrap();
    assert_eq!(
        view.iter().find(|m| m.pki_id == pki).map(|m| m.height),
        Some(7)
    );
}

#[test]
fn a_peer_in_another_channel_never_sees_the_channel_name() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = first_network(&mut sim, true);
    // peer1.org2 joins only "other"; the rest join "mychannel" and "other".
    let now = sim.now;
    for &i in &n[..3] {
        sim.nodes[i]
            .core_mut()
            .join_channel(now, "mychannel", orgs(), vec![anchor_org1()]);
    }
    for &i in &n {
        sim.nodes[i]
            .core_mut()
            .join_channel(now, "other", orgs(), vec![anchor_org1()]);
    }
    sim.pump();
    sim.run_for(Duration::from_secs(60));
    assert_eq!(members(&sim, n[3], "other").len(), 4);
    assert!(
        sim.nodes[n[3]]
            .core()
            .channel_members("mychannel")
            .is_none()
    );
    assert!(!members(&sim, n[0], "mychannel").contains("peer1.org2"));
    assert!(!sim.nodes[n[3]].received.is_empty());
    for env in &sim.nodes[n[3]].received {
        assert!(
            !env.encode_to_vec().windows(9).any(|w| w == b"mychannel"),
            "the channel name leaked"
        );
    }
}
