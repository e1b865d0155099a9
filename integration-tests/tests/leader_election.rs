//! Dynamic leader election between real peers: one leader per org, only leaders stream from the orderer,
//! followers fed by gossip, and failover when the leader is SIGKILLed.

use std::collections::BTreeSet;
use std::time::Duration;

use weft_integration_tests::{Network, Options, wait_for};

const P0O1: &str = "peer0.org1.example.com";
const P1O1: &str = "peer1.org1.example.com";
const P0O2: &str = "peer0.org2.example.com";
const P1O2: &str = "peer1.org2.example.com";
const ALL: [&str; 4] = [P0O1, P1O1, P0O2, P1O2];

fn leaders(net: &Network, peers: &[&str]) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for p in peers {
        if net.ops_json(p, "/channels/mychannel")?["leader"] == true {
            out.insert(p.to_string());
        }
    }
    Ok(out)
}

fn one_leader_per_org(net: &Network, peers: &[&str]) -> BTreeSet<String> {
    wait_for("one leader per org", Duration::from_secs(30), || {
        let l = leaders(net, peers)?;
        let org1 = l.iter().filter(|p| p.contains("org1")).count();
        let org2 = l.iter().filter(|p| p.contains("org2")).count();
        let want_org1 = peers.iter().any(|p| p.contains("org1"));
        if (org1 == 1 || !want_org1) && org2 == 1 {
            Ok(l)
        } else {
            Err(format!("{l:?}"))
        }
    })
}

#[test]
fn one_leader_per_org_streams_from_the_orderer_and_a_killed_leader_is_replaced() {
    let mut net = Network::generate(Options::elected()).unwrap();
    net.start_all().unwrap();
    net.byfn();
    let leaders = one_leader_per_org(&net, &ALL);
    // Only the leaders hold a Deliver stream, in the orderer's own view.
    wait_for(
        "only leaders stream from the orderer",
        Duration::from_secs(10),
        || {
            let v = net.ops_json("orderer.example.com", "/channels/mychannel/deliverers")?;
            let names: BTreeSet<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            if names == leaders {
                Ok(())
            } else {
                Err(format!("streams: {names:?}, leaders: {leaders:?}"))
            }
        },
    );
    let metrics = net.metrics(leaders.iter().next().unwrap());
    assert!(
        metrics.contains("gossip_leader_election_leader{channel=\"mychannel\"} 1"),
        "{metrics}"
    );

    // SIGKILL Org1's leader: the other Org1 peer takes over and blocks keep arriving with no gap.
    let org1_leader = leaders.iter().find(|p| p.contains("org1")).unwrap().clone();
    let survivors: Vec<&str> = ALL.iter().copied().filter(|p| *p != org1_leader).collect();
    net.kill(&org1_leader);
    let new = one_leader_per_org(&net, &survivors);
    assert!(!new.contains(&org1_leader));
    let anchors = net
        .artifacts()
        .join("Org2MSPanchors.tx")
        .display()
        .to_string();
    for _ in 0..3 {
        net.cli_orderer(
            P0O2,
            &["channel", "update", "-c", "mychannel", "-f", &anchors],
        );
    }
    net.wait_all_at(6);
    // The old leader returns as a follower and catches up.
    net.start_peer(&org1_leader).unwrap();
    net.wait_all_at(6);
}

fn pki_of(net: &Network, peer: &str) -> String {
    net.ops_json(peer, "/gossip/membership").unwrap()["self"]["pki_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn partition(net: &Network, peer: &str, drop: &[String]) {
    let body = serde_json::json!({ "drop": drop }).to_string();
    let addr = net.peer(peer).ops_address();
    let (code, text) = weft_ops::admin::http_get::put_json(
        &addr,
        "/debug/gossip/partition",
        &body,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(code, 204, "{text}");
}

#[test]
fn a_partition_between_the_org1_peers_gives_two_leaders_and_healing_leaves_one() {
    let mut options = Options::elected();
    let fast = [
        ("ALIVETIMEINTERVAL", "200ms"),
        ("ALIVEEXPIRATIONTIMEOUT", "1s"),
        ("RECONNECTINTERVAL", "500ms"),
    ];
    options.peer_env.extend(
        fast.iter()
            .map(|(k, v)| (format!("CORE_PEER_GOSSIP_{k}"), v.to_string())),
    );
    options
        .peer_env
        .push(("WEFT_FAULT_INJECTION".into(), "1".into()));
    let mut net = Network::generate(options).unwrap();
    net.start_all().unwrap();
    net.byfn();
    one_leader_per_org(&net, &ALL);
    let (a, b) = (pki_of(&net, P0O1), pki_of(&net, P1O1));
    partition(&net, P0O1, std::slice::from_ref(&b));
    partition(&net, P1O1, std::slice::from_ref(&a));
    wait_for(
        "a leader on each side of the partition",
        Duration::from_secs(30),
        || {
            let l = leaders(&net, &[P0O1, P1O1])?;
            if l.len() == 2 {
                Ok(())
            } else {
                Err(format!("{l:?}"))
            }
        },
    );
    partition(&net, P0O1, &[]);
    partition(&net, P1O1, &[]);
    wait_for(
        "one Org1 leader after healing",
        Duration::from_secs(30),
        || {
            let l = leaders(&net, &[P0O1, P1O1])?;
            if l.len() == 1 {
                Ok(())
            } else {
                Err(format!("{l:?}"))
            }
        },
    );
}
