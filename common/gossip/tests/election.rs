//! Leader election with virtual time: one leader per org, sticky leadership, failover, partitions, yield.

mod sim;

use std::collections::BTreeSet;
use std::time::Duration;

use sim::Sim;
use weft_gossip::GossipConfig;

const CH: &str = "mychannel";

fn start_and_join(sim: &mut Sim, ids: &[usize]) {
    for &i in ids {
        sim.start(i);
    }
    let now = sim.now;
    for &i in ids {
        let core = sim.nodes[i].core_mut();
        core.join_channel(now, CH, Sim::set(&["Org1MSP"]), vec![]);
        core.enable_election(now, CH);
    }
    sim.pump();
}

fn leaders(sim: &Sim, ids: &[usize]) -> BTreeSet<String> {
    ids.iter()
        .filter(|&&i| sim.nodes[i].up() && sim.nodes[i].core().leadership(CH).is_some_and(|l| l.0))
        .map(|&i| sim.nodes[i].name.clone())
        .collect()
}

/// The name of the lowest PKI-ID among `ids`.
fn lowest(sim: &Sim, ids: &[usize]) -> String {
    ids.iter()
        .min_by_key(|&&i| sim.nodes[i].pki())
        .map(|&i| sim.nodes[i].name.clone())
        .unwrap()
}

#[test]
fn simultaneous_start_elects_exactly_the_lowest_pki_id() {
    let mut sim = Sim::new(GossipConfig::default());
    let ids = sim.add_org1(4);
    start_and_join(&mut sim, &ids);
    sim.run_for(Duration::from_secs(20));
    assert_eq!(leaders(&sim, &ids), Sim::set(&[&lowest(&sim, &ids)]));
    // Everyone agrees on who leads.
    let pki = sim
        .nodes
        .iter()
        .find(|n| n.name == lowest(&sim, &ids))
        .unwrap()
        .pki();
    for &i in &ids {
        assert_eq!(
            sim.nodes[i].core().leadership(CH).unwrap().1,
            Some(pki.clone()),
            "{}",
            sim.nodes[i].name
        );
    }
}

#[test]
fn leadership_is_sticky_when_a_lower_id_joins_later() {
    let mut sim = Sim::new(GossipConfig::default());
    let ids = sim.add_org1(4);
    let lowest_name = lowest(&sim, &ids);
    let low = ids
        .iter()
        .copied()
        .find(|&i| sim.nodes[i].name == lowest_name)
        .unwrap();
    let early: Vec<usize> = ids.iter().copied().filter(|&i| i != low).collect();
    start_and_join(&mut sim, &early);
    sim.run_for(Duration::from_secs(20));
    let first = leaders(&sim, &early);
    assert_eq!(first.len(), 1);
    start_and_join(&mut sim, &[low]);
    sim.run_for(Duration::from_secs(60));
    assert_eq!(
        leaders(&sim, &ids),
        first,
        "the lower id must not take over"
    );
}

#[test]
fn when_the_leader_dies_another_takes_over_at_once() {
    let mut sim = Sim::new(GossipConfig::default());
    let ids = sim.add_org1(3);
    start_and_join(&mut sim, &ids);
    sim.run_for(Duration::from_secs(20));
    let leader = leaders(&sim, &ids).into_iter().next().unwrap();
    let li = ids
        .iter()
        .copied()
        .find(|&i| sim.nodes[i].name == leader)
        .unwrap();
    sim.kill(li);
    sim.run_for(Duration::from_millis(100));
    let rest: Vec<usize> = ids.iter().copied().filter(|&i| i != li).collect();
    assert_eq!(
        leaders(&sim, &rest),
        Sim::set(&[&lowest(&sim, &rest)]),
        "failover within 100 ms of the disconnect"
    );
}

#[test]
fn a_partition_gives_a_leader_per_side_and_healing_leaves_one() {
    let mut sim = Sim::new(GossipConfig::default());
    let ids = sim.add_org1(3);
    start_and_join(&mut sim, &ids);
    sim.run_for(Duration::from_secs(20));
    let leader = leaders(&sim, &ids).into_iter().next().unwrap();
    let li = ids
        .iter()
        .copied()
        .find(|&i| sim.nodes[i].name == leader)
        .unwrap();
    sim.isolate(li);
    sim.run_for(Duration::from_secs(15));
    assert_eq!(leaders(&sim, &ids).len(), 2, "one leader on each side");
    sim.heal();
    sim.run_for(Duration::from_secs(30));
    assert_eq!(
        leaders(&sim, &ids).len(),
        1,
        "healing leaves one: {:?}",
        leaders(&sim, &ids)
    );
}

#[test]
fn a_yielding_leader_steps_down_and_stays_out() {
    let mut sim = Sim::new(GossipConfig::default());
    let ids = sim.add_org1(3);
    start_and_join(&mut sim, &ids);
    sim.run_for(Duration::from_secs(20));
    let leader = leaders(&sim, &ids).into_iter().next().unwrap();
    let li = ids
        .iter()
        .copied()
        .find(|&i| sim.nodes[i].name == leader)
        .unwrap();
    let now = sim.now;
    sim.nodes[li].core_mut().yield_leadership(now, CH);
    sim.pump();
    sim.run_for(Duration::from_secs(20));
    let after = leaders(&sim, &ids);
    assert_eq!(after.len(), 1);
    assert!(
        !after.contains(&leader),
        "the yielding peer took leadership back"
    );
}
