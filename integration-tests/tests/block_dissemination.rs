//! Blocks reaching peers by gossip: followers fed by their org's leader (push), and a follower that was down
//! catching up from its neighbours (state transfer), each block's provenance recorded.

use std::time::Duration;

use weft_integration_tests::{Network, Options, wait_for};

const P0O1: &str = "peer0.org1.example.com";
const P1O1: &str = "peer1.org1.example.com";
const P0O2: &str = "peer0.org2.example.com";
const P1O2: &str = "peer1.org2.example.com";

/// peer0s are static leaders that push what they get from the orderer; peer1s are followers.
fn leaders_and_followers() -> Options {
    let mut per = Vec::new();
    for p in [P1O1, P1O2] {
        per.push((
            p.to_string(),
            "CORE_PEER_GOSSIP_ORGLEADER".to_string(),
            "false".to_string(),
        ));
    }
    for p in [P0O1, P0O2] {
        per.push((
            p.to_string(),
            "CORE_PEER_DELIVERYCLIENT_BLOCKGOSSIPENABLED".to_string(),
            "true".to_string(),
        ));
    }
    Options {
        peer_env_for: per,
        ..Default::default()
    }
}

fn block(net: &Network, peer: &str, n: u64) -> Result<serde_json::Value, String> {
    net.ops_json(peer, &format!("/channels/mychannel/blocks/{n}"))
}

#[test]
fn followers_get_blocks_by_push_and_a_restarted_follower_catches_up_by_state_transfer() {
    let mut net = Network::generate(leaders_and_followers()).unwrap();
    net.start_all().unwrap();
    net.byfn();
    // Block 1 (Org1's anchor update): the leader had it from the orderer, the follower by push from it.
    let at_leader = block(&net, P0O1, 1).unwrap();
    assert_eq!(at_leader["source"], "orderer", "{at_leader}");
    let at_follower = block(&net, P1O1, 1).unwrap();
    assert_eq!(at_follower["source"], "push", "{at_follower}");
    assert_eq!(
        at_follower["from"],
        net.peer(P0O1).address(),
        "{at_follower}"
    );
    assert_eq!(at_follower["hash"], at_leader["hash"]);
    let ch = net.ops_json(P1O1, "/channels/mychannel").unwrap();
    assert_eq!(ch["leader"], false, "{ch}");
    assert_eq!(
        net.ops_json(P0O1, "/channels/mychannel").unwrap()["leader"],
        true
    );

    // A follower down while blocks are cut fetches them from its neighbours when it returns.
    net.kill(P1O2);
    let anchors = net
        .artifacts()
        .join("Org2MSPanchors.tx")
        .display()
        .to_string();
    for _ in 0..4 {
        net.cli_orderer(
            P0O2,
            &["channel", "update", "-c", "mychannel", "-f", &anchors],
        );
    }
    net.wait_all_at(7);
    net.start_peer(P1O2).unwrap();
    let hash = net.wait_all_at(7);
    let caught: Vec<String> = (3..7)
        .map(|n| {
            block(&net, P1O2, n).unwrap()["source"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(caught.iter().all(|s| s == "state_transfer"), "{caught:?}");
    wait_for("metrics of received blocks", Duration::from_secs(5), || {
        let m = net.metrics(P1O2);
        m.contains("gossip_blocks_received_total{channel=\"mychannel\",source=\"state_transfer\"}")
            .then_some(())
            .ok_or(m)
    });
    assert_eq!(net.chain(P1O2).unwrap().1, hash);
}

#[test]
fn a_follower_stopped_while_500_blocks_are_cut_catches_up_after_restart() {
    let mut net = Network::generate(leaders_and_followers()).unwrap();
    net.start_all().unwrap();
    net.byfn();
    net.kill(P1O1);
    // MaxMessageCount is 10: 5,000 messages make 500 blocks.
    net.broadcast_messages(5000, 16, 8);
    let leader_height = wait_for(
        "the leaders to commit 500 more blocks",
        Duration::from_secs(120),
        || {
            let h = net.chain(P0O1)?.0;
            if h >= 503 {
                Ok(h)
            } else {
                Err(format!("height {h}"))
            }
        },
    );
    net.start_peer(P1O1).unwrap();
    wait_for(
        "the restarted follower to catch up",
        Duration::from_secs(120),
        || {
            let (h, _) = net.chain(P1O1)?;
            if h >= leader_height {
                Ok(())
            } else {
                Err(format!("height {h} of {leader_height}"))
            }
        },
    );
    assert_eq!(block(&net, P1O1, 250).unwrap()["source"], "state_transfer");
    assert_eq!(net.chain(P1O1).unwrap().1, net.chain(P0O1).unwrap().1);
}

#[test]
fn with_push_disabled_followers_converge_by_pull() {
    let mut options = leaders_and_followers();
    options.peer_env = [
        ("CORE_PEER_GOSSIP_PROPAGATEITERATIONS", "0"),
        ("CORE_PEER_GOSSIP_STATE_ENABLED", "false"),
        ("CORE_PEER_GOSSIP_PULLINTERVAL", "400ms"),
        ("CORE_PEER_GOSSIP_DIGESTWAITTIME", "50ms"),
        ("CORE_PEER_GOSSIP_RESPONSEWAITTIME", "100ms"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut net = Network::generate(options).unwrap();
    net.start_all().unwrap();
    net.byfn();
    for p in [P1O1, P1O2] {
        assert_eq!(block(&net, p, 2).unwrap()["source"], "pull", "{p}");
    }
}

#[test]
fn contradictory_leader_settings_fail_fast_naming_both_keys() {
    let net = Network::generate(Options::default()).unwrap();
    let out = std::process::Command::new(weft_integration_tests::bin_dir().join("peer"))
        .args(["node", "start"])
        .env_remove("FABRIC_CFG_PATH")
        .env("CORE_PEER_GOSSIP_USELEADERELECTION", "true")
        .env("CORE_PEER_GOSSIP_ORGLEADER", "true")
        .env("CORE_PEER_FILESYSTEMPATH", net.path("x"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("CORE_PEER_GOSSIP_USELEADERELECTION")
            && err.contains("CORE_PEER_GOSSIP_ORGLEADER"),
        "{err}"
    );
}
