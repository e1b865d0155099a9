//! Blocks by gossip with virtual time: push fan-out and deduplication, tampered copies, blocks that never leave
//! the org, and state transfer for a peer that missed blocks.

mod sim;

use std::collections::BTreeSet;
use std::time::Duration;

use sim::Sim;
use weft_gossip::GossipConfig;
use weft_gossip::blocks::{MAX_HELD, Source};
use weft_gossip::core::Event;

const CH: &str = "mychannel";

fn org1(sim: &mut Sim, n: usize) -> Vec<usize> {
    let ids = sim.add_org1(n);
    for &i in &ids {
        sim.start(i);
    }
    sim.run_for(Duration::from_millis(10));
    let orgs: BTreeSet<String> = Sim::set(&["Org1MSP", "Org2MSP"]);
    let now = sim.now;
    for &i in &ids {
        sim.nodes[i]
            .core_mut()
            .join_channel(now, CH, orgs.clone(), vec![]);
    }
    sim.pump();
    sim.run_for(Duration::from_millis(50));
    ids
}

fn block(n: u64) -> Vec<u8> {
    format!("block {n}").into_bytes()
}

/// The orderer's blocks `seqs` reach each of `to`.
fn deliver(sim: &mut Sim, to: &[usize], seqs: std::ops::Range<u64>) {
    for seq in seqs {
        for &i in to {
            sim.deliver(i, CH, seq, &block(seq));
        }
    }
}

/// Node `i`'s intake verified block `seq`, fetched by state transfer, and reports it to gossip.
fn verified(sim: &mut Sim, i: usize, seq: u64) {
    let (trace, now) = (Sim::trace_of(&sim.nodes[i].name), sim.now);
    sim.nodes[i].core_mut().block_verified(
        now,
        CH,
        seq,
        block(seq).into(),
        None,
        Source::StateTransfer,
        trace,
    );
}

/// The ranges node `i` asked for by state transfer, in order.
fn requested(sim: &Sim, i: usize) -> Vec<(u64, u64)> {
    sim.nodes[i]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StateTransferRequested { start, end, .. } => Some((*start, *end)),
            _ => None,
        })
        .collect()
}

/// Fabric's defaults with push off (`propagateIterations: 0`).
/// No push: followers learn of blocks from the leader's StateInfo, which goes out within a few ms of each
/// height change here, so that what these tests time is state transfer's planning (the default gap between
/// publications, a second, is tested in `channels.rs`).
fn without_push() -> GossipConfig {
    GossipConfig {
        propagate_iterations: 0,
        state_info_min_gap: Duration::from_millis(5),
        ..GossipConfig::default()
    }
}

/// Push and state transfer off: blocks move only by pull.
fn pull_only() -> GossipConfig {
    GossipConfig {
        propagate_iterations: 0,
        state_transfer: false,
        ..GossipConfig::default()
    }
}

/// How many blocks node `i` received by pull.
fn pulled(sim: &Sim, i: usize) -> usize {
    sim.nodes[i]
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::BlockReceived {
                    source: Source::Pull,
                    ..
                }
            )
        })
        .count()
}

fn received(sim: &Sim, i: usize) -> usize {
    sim.nodes[i]
        .events
        .iter()
        .filter(|e| matches!(e, Event::BlockReceived { .. }))
        .count()
}

#[test]
fn pushed_blocks_reach_every_peer_of_the_org_in_order() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = org1(&mut sim, 6);
    for seq in 0..20 {
        sim.deliver(n[0], CH, seq, &block(seq));
        sim.run_for(Duration::from_millis(5));
    }
    // Blocks 5 ms apart go out in bursts, each within `maxPropagationBurstLatency` (10 ms) of the last push.
    sim.run_for(Duration::from_millis(15));
    for &i in &n {
        assert_eq!(sim.nodes[i].height(CH), 20, "{}", sim.nodes[i].name);
        assert_eq!(sim.nodes[i].ledger[CH][7], block(7));
        // Each block is verified at most once per peer, however many copies arrive.
        assert!(
            received(&sim, i) <= 20,
            "{} verified {} blocks",
            sim.nodes[i].name,
            received(&sim, i)
        );
    }
}

#[test]
fn an_isolated_block_is_pushed_at_once_and_close_ones_wait_for_the_burst() {
    let config = GossipConfig {
        max_propagation_burst_size: 3,
        max_propagation_burst_latency: Duration::from_millis(10),
        // Only push: state transfer would fetch a held block as soon as the leader's height is seen.
        state_transfer: false,
        ..GossipConfig::default()
    };
    let mut sim = Sim::new(config);
    let n = org1(&mut sim, 2);
    let ms = Duration::from_millis;
    // Nothing was pushed lately: block 0 goes at once (the link takes 1 ms).
    sim.deliver(n[0], CH, 0, &block(0));
    sim.run_for(ms(2));
    assert_eq!(sim.nodes[n[1]].height(CH), 1);
    // Block 1 follows 2 ms after a push: it waits for `burstLatency` after that push.
    sim.deliver(n[0], CH, 1, &block(1));
    sim.run_for(ms(6));
    assert_eq!(sim.nodes[n[1]].height(CH), 1, "block 1 waits for the burst");
    sim.run_for(ms(4));
    assert_eq!(sim.nodes[n[1]].height(CH), 2, "sent 10 ms after block 0");
    // Three close blocks fill a burst: they go at once.
    deliver(&mut sim, &[n[0]], 2..5);
    sim.run_for(ms(2));
    assert_eq!(sim.nodes[n[1]].height(CH), 5);
}

#[test]
fn every_copy_carries_its_senders_trace_context() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = org1(&mut sim, 4);
    for seq in 0..3 {
        sim.deliver(n[0], CH, seq, &block(seq));
        sim.run_for(Duration::from_millis(20));
    }
    let names: std::collections::BTreeMap<_, _> = n
        .iter()
        .map(|&i| (sim.nodes[i].pki(), sim.nodes[i].name.clone()))
        .collect();
    let mut checked = 0;
    for &i in &n[1..] {
        assert_eq!(sim.nodes[i].height(CH), 3);
        for e in &sim.nodes[i].events {
            if let Event::BlockReceived { from, trace, .. } = e {
                assert_eq!(
                    trace,
                    &Sim::trace_of(&names[from]),
                    "a copy from {}",
                    names[from]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "every follower received every block");
}

#[test]
fn a_tampered_copy_is_dropped_and_a_good_copy_still_accepted() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = org1(&mut sim, 3);
    sim.deliver(n[0], CH, 0, &block(0));
    sim.run_for(Duration::from_millis(5));
    // A tampered block 1 pushed to peer2 by peer1.
    use weft_wire::gossip::{DataMessage, GossipMessage, Payload, gossip_message};
    let tampered = GossipMessage {
        tag: gossip_message::Tag::ChanAndOrg as i32,
        channel: CH.as_bytes().to_vec(),
        content: Some(gossip_message::Content::DataMsg(DataMessage {
            payload: Some(Payload {
                seq_num: 1,
                data: b"tampered 1".to_vec().into(),
                trace_context: Default::default(),
            }),
        })),
        ..Default::default()
    };
    sim.inject(n[1], n[2], weft_gossip::message::unsigned(&tampered));
    assert_eq!(sim.nodes[n[2]].height(CH), 1);
    sim.deliver(n[0], CH, 1, &block(1));
    sim.run_for(Duration::from_millis(20));
    assert_eq!(sim.nodes[n[2]].height(CH), 2);
    assert_eq!(sim.nodes[n[2]].ledger[CH][1], block(1));
}

#[test]
fn blocks_never_leave_the_org() {
    let mut sim = Sim::new(GossipConfig::default());
    let n = org1(&mut sim, 2);
    let o2 = sim.add("peer0.org2", "Org2MSP", "p0o2:9051", "p0o2:9051", &[]);
    sim.start(o2);
    let anchors = vec![weft_gossip::channel::Anchor {
        endpoint: "p0o1:7051".into(),
        org: "Org1MSP".into(),
    }];
    let now = sim.now;
    for &i in n.iter().chain([&o2]) {
        sim.nodes[i].core_mut().join_channel(
            now,
            CH,
            Sim::set(&["Org1MSP", "Org2MSP"]),
            anchors.clone(),
        );
    }
    sim.pump();
    sim.run_for(Duration::from_millis(50));
    assert!(sim.sees(o2).contains("peer0.org1"));
    deliver(&mut sim, &[n[0]], 0..5);
    sim.run_for(Duration::from_millis(50));
    assert_eq!(sim.nodes[n[1]].height(CH), 5);
    let data_msgs = sim.nodes[o2].received.iter().filter(|e| {
        matches!(
            weft_gossip::message::open(e).map(|m| m.content),
            Ok(Some(weft_wire::gossip::gossip_message::Content::DataMsg(_)))
        )
    });
    assert_eq!(data_msgs.count(), 0, "a block was pushed to another org");
}

#[test]
fn a_peer_that_missed_blocks_catches_up_by_state_transfer_at_once() {
    let mut sim = Sim::new(without_push());
    let n = org1(&mut sim, 3);
    deliver(&mut sim, &[n[0]], 0..57);
    // No push: the others learn the leader's height from its StateInfo and fetch the blocks themselves.
    sim.run_for(Duration::from_millis(200));
    for &i in &n {
        assert_eq!(sim.nodes[i].height(CH), 57, "{}", sim.nodes[i].name);
    }
    let requests = requested(&sim, n[1]).len();
    assert!(
        requests >= 6,
        "57 blocks in batches of 10 need at least 6 requests, saw {requests}"
    );
}

#[test]
fn the_newest_missing_blocks_are_left_to_their_push_for_a_grace() {
    // Every height goes out at once, so that the grace alone decides when blocks are fetched.
    let config = GossipConfig {
        state_info_min_gap: Duration::ZERO,
        ..GossipConfig::default()
    };
    let mut sim = Sim::new(config);
    let n = org1(&mut sim, 2);
    // The leader commits 25 blocks whose pushes never leave: peer1 learns of them by StateInfo only.
    let now = sim.now;
    for seq in 0..25 {
        sim.nodes[n[0]].accept(now, CH, seq, block(seq));
    }
    sim.pump();
    let asked = |sim: &Sim| requested(sim, n[1]);
    // Blocks older than the newest burst (10) cannot be on their way by push: fetched at once.
    sim.run_for(Duration::from_millis(10));
    assert_eq!(sim.nodes[n[1]].height(CH), 15, "asked {:?}", asked(&sim));
    // The newest 10 get two maxPropagationBurstLatency (20 ms) to arrive by push, then are fetched.
    sim.run_for(Duration::from_millis(20));
    assert_eq!(sim.nodes[n[1]].height(CH), 25, "asked {:?}", asked(&sim));
    assert!(asked(&sim).iter().all(|(_, end)| *end < 25));
}

#[test]
fn nothing_is_fetched_beyond_what_can_wait_behind_a_gap() {
    let mut sim = Sim::new(without_push());
    let n = org1(&mut sim, 3);
    deliver(&mut sim, &[n[0], n[1]], 0..1_500);
    // peer2's first requests to peer0 are lost: those ranges stay missing until the response timeout (3 s),
    // while every other range arrives.
    sim.cut.insert((n[0].min(n[2]), n[0].max(n[2])));
    sim.run_for(Duration::from_millis(5));
    sim.heal();
    sim.run_for(Duration::from_secs(1));
    let height = sim.nodes[n[2]].height(CH);
    let asked: Vec<u64> = requested(&sim, n[2])
        .into_iter()
        .map(|(_, end)| end)
        .collect();
    assert!(height < 1_000, "the gap was never there (height {height})");
    // Blocks beyond the held bound would be forgotten and fetched again and again while the gap lasts.
    assert!(
        asked.iter().all(|end| *end < height + MAX_HELD as u64),
        "fetched beyond height {height} + {MAX_HELD}: up to {:?}, {} requests",
        asked.iter().max(),
        asked.len()
    );
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[n[2]].height(CH), 1_500);
}

#[test]
fn blocks_waiting_behind_a_gap_are_not_fetched_again() {
    let mut sim = Sim::new(without_push());
    let n = org1(&mut sim, 3);
    // peer2 already verified blocks 20..57 (they wait in its committer for 0..19); the window keeps only
    // the newest 10 of them.
    let now = sim.now;
    for seq in 20..57 {
        verified(&mut sim, n[2], seq);
        sim.nodes[n[2]].accept(now, CH, seq, block(seq));
    }
    deliver(&mut sim, &[n[0]], 0..57);
    sim.run_for(Duration::from_millis(200));
    assert_eq!(sim.nodes[n[2]].height(CH), 57);
    let asked = requested(&sim, n[2]);
    assert!(
        asked.iter().all(|(_, end)| *end < 20),
        "only the gap 0..19 is fetched, asked {asked:?}"
    );
}

#[test]
fn a_block_the_committer_lets_go_is_fetched_again() {
    let mut sim = Sim::new(without_push());
    let n = org1(&mut sim, 2);
    // peer1 verified block 3, but its committer dropped it (no room): after `block_rejected` it is fetched again.
    verified(&mut sim, n[1], 3);
    sim.nodes[n[1]].core_mut().block_rejected(CH, 3);
    deliver(&mut sim, &[n[0]], 0..5);
    sim.run_for(Duration::from_millis(200));
    assert_eq!(sim.nodes[n[1]].height(CH), 5);
}

#[test]
fn an_unanswered_state_request_is_retried_elsewhere() {
    let mut sim = Sim::new(without_push());
    let n = org1(&mut sim, 3);
    deliver(&mut sim, &[n[0], n[1]], 0..5);
    // peer2 hears the heights, but the first holder it asks goes silent.
    sim.isolate(n[0]);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[n[2]].height(CH), 5);
}

#[test]
fn with_push_and_state_transfer_off_followers_converge_by_pull() {
    let mut sim = Sim::new(pull_only());
    let n = org1(&mut sim, 3);
    deliver(&mut sim, &[n[0]], 0..5);
    // Pull rounds run every pullInterval (4 s), each taking digestWaitTime plus a response.
    sim.run_for(Duration::from_secs(20));
    for &i in &n {
        assert_eq!(sim.nodes[i].height(CH), 5, "{}", sim.nodes[i].name);
    }
    assert!(pulled(&sim, n[1]) >= 1, "blocks came by pull");
}

/// How many pull messages of `kind` ("digest", "update") node `i` refused as of another round or too late.
fn refused_late(sim: &Sim, i: usize, kind: &str) -> usize {
    sim.nodes[i]
        .events
        .iter()
        .filter(|e| {
            matches!(e, Event::Rejected { reason: weft_gossip::message::Reject::Unexpected(r), .. }
                if r.starts_with(kind) && r.ends_with("late nonce"))
        })
        .count()
}

/// Whether `env` is a pull Hello.
fn is_hello(env: &weft_wire::gossip::Envelope) -> bool {
    use weft_wire::gossip::gossip_message::Content;
    weft_gossip::message::open(env).is_ok_and(|m| matches!(m.content, Some(Content::Hello(_))))
}

#[test]
fn pull_digests_and_updates_later_than_their_wait_are_dropped_and_timely_ones_taken() {
    let waits = weft_gossip::pull::PullConfig::default();
    let mut sim = Sim::new(pull_only());
    let n = org1(&mut sim, 2);
    deliver(&mut sim, &[n[0]], 0..3);

    // Digests slower than digestWaitTime: each round of n1 has moved on to its requests when they come.
    sim.delay.insert(
        (n[0], n[1]),
        waits.digest_wait_time + Duration::from_millis(100),
    );
    sim.run_for(Duration::from_secs(12));
    assert_eq!(sim.nodes[n[1]].height(CH), 0);
    assert!(
        refused_late(&sim, n[1], "digest") >= 2,
        "a late digest per round"
    );
    assert_eq!(
        refused_late(&sim, n[1], "update"),
        0,
        "nothing was asked for"
    );

    // A digest in time, then an update slower than responseWaitTime: the round is over when it comes.
    sim.delay.clear();
    let hellos = |sim: &Sim| {
        sim.nodes[n[0]]
            .received
            .iter()
            .filter(|e| is_hello(e))
            .count()
    };
    let before = hellos(&sim);
    let give_up = sim.now + 2 * GossipConfig::default().pull_interval;
    while hellos(&sim) == before {
        assert!(sim.now < give_up, "n1 started no pull round");
        sim.run_for(Duration::from_millis(10));
    }
    sim.delay.insert(
        (n[0], n[1]),
        waits.response_wait_time + Duration::from_secs(1),
    );
    sim.run_for(waits.digest_wait_time + waits.response_wait_time + Duration::from_secs(2));
    assert_eq!(sim.nodes[n[1]].height(CH), 0);
    assert!(refused_late(&sim, n[1], "update") >= 1, "the late update");

    // The same exchange in time brings the blocks.
    sim.delay.clear();
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[n[1]].height(CH), 3);
    assert!(pulled(&sim, n[1]) >= 1, "blocks came by pull");
}

#[test]
fn pull_updates_with_a_foreign_nonce_are_rejected() {
    use weft_wire::gossip::{DataUpdate, GossipMessage, PullMsgType, gossip_message};
    let mut sim = Sim::new(GossipConfig::default());
    let n = org1(&mut sim, 2);
    let update = GossipMessage {
        tag: gossip_message::Tag::ChanAndOrg as i32,
        channel: CH.as_bytes().to_vec(),
        content: Some(gossip_message::Content::DataUpdate(DataUpdate {
            nonce: 12345,
            data: vec![],
            msg_type: PullMsgType::BlockMsg as i32,
        })),
        ..Default::default()
    };
    sim.inject(n[0], n[1], weft_gossip::message::unsigned(&update));
    assert!(sim.nodes[n[1]].events.iter().any(|e| matches!(
        e,
        Event::Rejected {
            reason: weft_gossip::message::Reject::Unexpected(_),
            ..
        }
    )));
}
