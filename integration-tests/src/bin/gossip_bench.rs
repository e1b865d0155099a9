//! `make bench`: gossip membership figures on the four-peer loopback network, Fabric's default timers.
//!
//! - `membership_convergence_ms`: from Org1's anchor update being accepted by the orderer (the CLI returns)
//!   until every peer lists all three others as alive. The figure includes the block's delivery and commit.
//! - `dead_detection_ms`: from SIGKILL of peer1.org2 until the three others all list it as dead.
//!
//! Each is the median of several fresh networks (the worst run is printed too); the last lines are
//! `name: value unit`.

use std::time::{Duration, Instant};

use weft_integration_tests::{Network, Options};

const RUNS: usize = 5;
const NAMES: [&str; 4] = [
    "peer0.org1.example.com",
    "peer1.org1.example.com",
    "peer0.org2.example.com",
    "peer1.org2.example.com",
];

/// Polls `done` as fast as the admin endpoints answer; returns the elapsed time since `t0`.
fn until(t0: Instant, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    while !done() {
        assert!(t0.elapsed() < limit, "not converged within {limit:?}");
    }
    t0.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut convergence = Vec::new();
    let mut dead = Vec::new();
    for run in 1..=RUNS {
        let mut net = Network::generate(Options::default()).expect("generate");
        net.start_all().expect("start");
        net.create_and_join();
        net.wait_all_at(1);
        let t0 = Instant::now();
        net.anchor_update(1);
        let took = until(t0, Duration::from_secs(60), || {
            NAMES
                .iter()
                .all(|n| net.gossip_view(n, false).is_ok_and(|v| v.len() == 3))
        });
        convergence.push(took.as_secs_f64() * 1000.0);

        let t0 = Instant::now();
        net.kill(NAMES[3]);
        let took = until(t0, Duration::from_secs(60), || {
            NAMES[..3]
                .iter()
                .all(|n| net.gossip_view(n, true).is_ok_and(|d| d.contains(NAMES[3])))
        });
        dead.push(took.as_secs_f64() * 1000.0);
        println!(
            "run {run}: convergence {:.1} ms, dead detection {:.1} ms",
            convergence[run - 1],
            dead[run - 1]
        );
    }
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!("membership_convergence_max_ms: {:.1} ms", max(&convergence));
    println!("dead_detection_max_ms: {:.1} ms", max(&dead));
    println!("membership_convergence_ms: {:.1} ms", median(convergence));
    println!("dead_detection_ms: {:.1} ms", median(dead));
}
