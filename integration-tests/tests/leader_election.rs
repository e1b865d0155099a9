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

fn elected() -> Options {
    let env = [
        ("USELEADERELECTION", "true"),
        ("ORGLEADER", "false"),
        ("ELECTION_STARTUPGRACEPERIOD", "2s"),
        ("ELECTION_MEMBERSHIPSAMPLEINTERVAL", "200ms"),
        ("ELECTION_LEADERALIVETHRESHOLD", "2s"),
        ("ELECTION_LEADERELECTIONDURATION", "500ms"),
    ];
    let peer_env = env
        .iter()
        .map(|(k, v)| (format!("CORE_PEER_GOSSIP_{k}"), v.to_string()))
        .collect();
    Options {
        peer_env,
        ..Default::default()
    }
}

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
    let mut net = Network::generate(elected()).unwrap();
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
