//! `make bench`: block dissemination on the four-peer loopback network with dynamic leader election and
//! Fabric's default fan-out (`propagatePeerNum` 3, `propagateIterations` 1).
//!
//! - `dissemination_p50_ms` / `dissemination_p99_ms`: from the orderer cutting a block (its `cut_at`) to the
//!   block's commit on the last of the four peers, over 1,000 blocks of ~300 KB (10 transactions of 30 KB) cut
//!   at 20 blocks/s.
//! - `orderer_cpu_per_block_ms`, `leader_cpu_per_block_ms`, `follower_cpu_per_block_ms`: CPU time (user and
//!   system, all threads) each process used per block over those 1,000 blocks; the orderer's includes taking
//!   the transactions' broadcasts. Two cores carry all five processes, so this is what a block's path
//!   competes for.
//! - `gossip_copies_per_block_follower`: copies of each block a follower received by gossip, duplicates
//!   included; `blocks_via_pull`: blocks a follower had to pull (0 means none waited for a pull round).
//! - `failover_ms`: from SIGKILL of Org1's leader to the new leader's first block from the orderer, while
//!   blocks keep being cut.
//! - `catchup_start_ms`, `catchup_blocks_per_s`: a follower restarted 2,000 blocks (of 10 transactions) behind:
//!   from launching the restarted peer's process to its first block by state transfer (an upper bound on
//!   "after the lag is seen": it includes process start and the first membership exchange), and the rate of
//!   the whole catch-up.
//! - `follower_burst_blocks_per_s`: a follower's commit rate while the orderer cuts blocks as fast as it can.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use weft_integration_tests::{Network, Options, wait_for};

/// Blocks per second cut during the latency measurement.
const RATE: f64 = 20.0;
const P0O1: &str = "peer0.org1.example.com";
const P1O1: &str = "peer1.org1.example.com";
const P0O2: &str = "peer0.org2.example.com";
const P1O2: &str = "peer1.org2.example.com";
const ALL: [&str; 4] = [P0O1, P1O1, P0O2, P1O2];
const ORDERER: &str = "orderer.example.com";

fn parse(t: &serde_json::Value) -> Option<SystemTime> {
    let s = t.as_str()?;
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

fn ms(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).map_or_else(
        |e| -(e.duration().as_secs_f64() * 1000.0),
        |d| d.as_secs_f64() * 1000.0,
    )
}

/// p50 and p99, sorting once.
fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

fn block(net: &Network, node: &str, n: u64) -> serde_json::Value {
    net.ops_json(node, &format!("/channels/mychannel/blocks/{n}"))
        .unwrap_or_default()
}

fn leader_of(net: &Network, peers: &[&str]) -> String {
    wait_for("a leader", Duration::from_secs(30), || {
        peers
            .iter()
            .find(|p| {
                net.ops_json(p, "/channels/mychannel")
                    .is_ok_and(|v| v["leader"] == true)
            })
            .map(|p| p.to_string())
            .ok_or_else(|| "none".to_string())
    })
}

/// The sum of `name`'s samples on mychannel whose labels include `label` (empty: all).
fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains("mychannel") && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn height(net: &Network, p: &str) -> u64 {
    net.chain(p).map_or(0, |c| c.0)
}

fn wait_height(net: &Network, peers: &[&str], h: u64, limit: Duration) {
    wait_for(&format!("height {h}"), limit, || {
        let hs: Vec<u64> = peers.iter().map(|p| height(net, p)).collect();
        if hs.iter().all(|x| *x >= h) {
            Ok(())
        } else {
            Err(format!("{hs:?}"))
        }
    });
}

/// Where a block's time goes, per hop, from the provenance records (medians and p99s are printed).
#[derive(Default)]
struct Stages {
    /// Cut → a leader's receipt from the orderer.
    deliver: Vec<f64>,
    /// A leader's receipt → its commit.
    leader_commit: Vec<f64>,
    /// The pusher's receipt → a follower's receipt.
    push_hop: Vec<f64>,
    /// A follower's receipt → its commit.
    follower_commit: Vec<f64>,
}

impl Stages {
    fn add(&mut self, cut: SystemTime, views: &[serde_json::Value]) {
        let at = |v: &serde_json::Value, k: &str| parse(&v[k]);
        let leaders: Vec<&serde_json::Value> =
            views.iter().filter(|v| v["source"] == "orderer").collect();
        for l in &leaders {
            if let (Some(r), Some(c)) = (at(l, "received_at"), at(l, "committed_at")) {
                self.deliver.push(ms(cut, r));
                self.leader_commit.push(ms(r, c));
            }
        }
        // Two peers per org and blocks never leave the org: a follower's pusher is its org's other peer.
        for (i, f) in views.iter().enumerate() {
            if f["source"] != "push" {
                continue;
            }
            let (Some(r), Some(c)) = (at(f, "received_at"), at(f, "committed_at")) else {
                continue;
            };
            self.follower_commit.push(ms(r, c));
            if let Some(s) = at(&views[i ^ 1], "received_at") {
                self.push_hop.push(ms(s, r));
            }
        }
    }

    fn print(&self) {
        for (name, v) in [
            ("cut -> leader received", &self.deliver),
            ("leader received -> committed", &self.leader_commit),
            (
                "sender received -> follower received (push)",
                &self.push_hop,
            ),
            ("follower received -> committed", &self.follower_commit),
        ] {
            if !v.is_empty() {
                let (p50, p99) = percentiles(v.clone());
                println!(
                    "  {name}: p50 {p50:.1} ms, p99 {p99:.1} ms ({} samples)",
                    v.len()
                );
            }
        }
    }
}

fn main() {
    let env = [("USELEADERELECTION", "true"), ("ORGLEADER", "false")];
    let peer_env = env
        .iter()
        .map(|(k, v)| (format!("CORE_PEER_GOSSIP_{k}"), v.to_string()))
        .collect();
    let mut net = Network::generate(Options {
        peer_env,
        ..Default::default()
    })
    .expect("generate");
    net.start_all().expect("start");
    net.byfn();
    let org1_leader = leader_of(&net, &[P0O1, P1O1]);
    let org2_leader = leader_of(&net, &[P0O2, P1O2]);
    let follower = if org2_leader == P0O2 { P1O2 } else { P0O2 };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let b = net.broadcaster();

    // 1. Dissemination of 1,000 blocks of ~300 KB.
    let h0 = height(&net, P0O1);
    let blocks = 1000u64;
    // Paced at a rate the network sustains, so that the figure is the path of a block, not a queue.
    println!("cutting {blocks} blocks of 10 x 30 KB transactions at {RATE} blocks/s...");
    let period = Duration::from_secs_f64(1.0 / RATE);
    let session = rt.block_on(b.connect());
    let leaders = [org1_leader.as_str(), org2_leader.as_str()];
    let followers: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|p| !leaders.contains(p))
        .collect();
    let cpu = |nodes: &[&str]| -> Duration { nodes.iter().filter_map(|n| net.cpu_time(n)).sum() };
    let cpu_before = [cpu(&[ORDERER]), cpu(&leaders), cpu(&followers)];
    let mut next = Instant::now();
    for _ in 0..blocks {
        rt.block_on(session.send(10, 30 * 1024, 10, None));
        next += period;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    wait_height(&net, &ALL, h0 + blocks, Duration::from_secs(600));
    // CPU per block and process: the orderer (which also takes the broadcasts), a leader, a follower.
    let cpu_per_block: Vec<f64> = [cpu(&[ORDERER]), cpu(&leaders), cpu(&followers)]
        .iter()
        .zip(cpu_before)
        .zip([1.0, 2.0, 2.0])
        .map(|((after, before), n)| (*after - before).as_secs_f64() * 1000.0 / n / blocks as f64)
        .collect();
    let mut latencies = Vec::new();
    let mut stages = Stages::default();
    let follower_at = ALL.iter().position(|p| *p == follower).expect("a peer");
    let mut pulled = 0;
    for n in h0..h0 + blocks {
        let views: Vec<serde_json::Value> = ALL.iter().map(|p| block(&net, p, n)).collect();
        if views[follower_at]["source"] == "pull" {
            pulled += 1;
        }
        let Some(cut) = parse(&block(&net, ORDERER, n)["cut_at"]) else {
            continue;
        };
        stages.add(cut, &views);
        let last = views.iter().filter_map(|v| parse(&v["committed_at"])).max();
        if let Some(last) = last {
            latencies.push(ms(cut, last));
        }
    }
    let m = net.metrics(follower);
    let copies = metric_sum(&m, "gossip_blocks_received_total", "")
        + metric_sum(&m, "gossip_blocks_duplicate_total", "");
    println!("dissemination: {} blocks measured", latencies.len());
    stages.print();

    // 2. Failover: SIGKILL Org1's leader while blocks keep coming.
    let stop = Arc::new(AtomicBool::new(false));
    let steady = {
        let (b, stop) = (net.broadcaster(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let session = rt.block_on(b.connect());
            while !stop.load(Ordering::Relaxed) {
                rt.block_on(session.send(10, 100, 1, Some(stop.clone())));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let other = if org1_leader == P0O1 { P1O1 } else { P0O1 };
    // Kill only once the steady load is reaching Org1, so the failover is measured under traffic.
    wait_height(
        &net,
        &[other],
        height(&net, other) + 5,
        Duration::from_secs(60),
    );
    let killed_at = SystemTime::now();
    net.kill(&org1_leader);
    let failover = wait_for(
        "the new Org1 leader's first block from the orderer",
        Duration::from_secs(60),
        || {
            let h = height(&net, other);
            for n in (h.saturating_sub(20)..h).rev() {
                let v = block(&net, other, n);
                if v["source"] == "orderer"
                    && parse(&v["received_at"]).is_some_and(|t| t >= killed_at)
                {
                    let first = (h.saturating_sub(200)..h)
                        .filter_map(|k| {
                            let v = block(&net, other, k);
                            (v["source"] == "orderer")
                                .then(|| parse(&v["received_at"]))
                                .flatten()
                                .filter(|t| *t >= killed_at)
                        })
                        .min()
                        .expect("found above");
                    return Ok(ms(killed_at, first));
                }
            }
            Err(format!("height {h}"))
        },
    );
    stop.store(true, Ordering::Relaxed);
    steady.join().expect("steady load");
    net.start_peer(&org1_leader).expect("restart");

    // 3. Catch-up of a follower 2,000 blocks behind.
    net.kill(follower);
    let hs = height(&net, &org2_leader);
    println!("cutting 2000 blocks while {follower} is down...");
    rt.block_on(session.send(20_000, 100, 8, None));
    wait_height(&net, &[&org2_leader], hs + 2000, Duration::from_secs(600));
    let target = height(&net, &org2_leader);
    // The rest of the network is at the head before the follower comes back: the figure is the follower's
    // catch-up, not the other peers finishing the same blocks on the same two cores.
    let others: Vec<&str> = ALL.iter().copied().filter(|p| *p != follower).collect();
    wait_height(&net, &others, target, Duration::from_secs(600));
    // Taken before the launch: `start_peer` returns only once `/healthz` answers, and state transfer may
    // already have begun by then.
    println!("restarting {follower}, {} blocks behind...", target - hs);
    let restarted = SystemTime::now();
    net.start_peer(follower).expect("restart follower");
    wait_height(&net, &[follower], target, Duration::from_secs(600));
    let transferred: Vec<(SystemTime, Option<SystemTime>)> = (hs..target)
        .map(|n| block(&net, follower, n))
        .filter(|v| v["source"] == "state_transfer")
        .filter_map(|v| Some((parse(&v["received_at"])?, parse(&v["committed_at"]))))
        .collect();
    let first = transferred
        .iter()
        .map(|t| t.0)
        .min()
        .expect("blocks came by state transfer");
    let last = transferred
        .iter()
        .filter_map(|t| t.1)
        .max()
        .expect("committed");
    let catchup_rate = transferred.len() as f64 / (ms(first, last) / 1000.0);
    // Copies the restarted follower fetched per block (1.0: no range was fetched twice).
    let m = net.metrics(follower);
    let transfer = "source=\"state_transfer\"";
    let fetched = metric_sum(&m, "gossip_blocks_received_total", transfer)
        + metric_sum(&m, "gossip_blocks_duplicate_total", transfer);
    let catchup_copies = fetched / transferred.len() as f64;

    // 4. A burst: the follower keeps pace with the orderer.
    let hb = height(&net, follower);
    println!("burst: cutting 2000 blocks as fast as the orderer can...");
    let started = Instant::now();
    rt.block_on(session.send(20_000, 100, 16, None));
    wait_height(&net, &[follower], hb + 2000, Duration::from_secs(600));
    let end = height(&net, follower);
    let commits: Vec<SystemTime> = (hb..end)
        .filter_map(|n| parse(&block(&net, follower, n)["committed_at"]))
        .collect();
    let (a, z) = (
        commits.iter().min().copied().unwrap(),
        commits.iter().max().copied().unwrap(),
    );
    let burst = commits.len() as f64 / (ms(a, z) / 1000.0);
    // The orderer's own pace over the same blocks: the follower cannot beat it.
    let cuts: Vec<SystemTime> = (hb..end)
        .filter_map(|n| parse(&block(&net, ORDERER, n)["cut_at"]))
        .collect();
    let cut_rate = match (cuts.iter().min(), cuts.iter().max()) {
        (Some(a), Some(z)) => cuts.len() as f64 / (ms(*a, *z) / 1000.0),
        _ => 0.0,
    };
    println!(
        "burst: {} blocks in {:.1} s of load",
        end - hb,
        started.elapsed().as_secs_f64()
    );

    let (p50, p99) = percentiles(latencies);
    println!("dissemination_p50_ms: {p50:.1} ms");
    println!("dissemination_p99_ms: {p99:.1} ms");
    for (who, ms) in ["orderer", "leader", "follower"].iter().zip(&cpu_per_block) {
        println!("{who}_cpu_per_block_ms: {ms:.2} ms");
    }
    println!(
        "gossip_copies_per_block_follower: {:.2} copies",
        copies / blocks as f64
    );
    println!("blocks_via_pull: {pulled} blocks");
    println!("failover_ms: {failover:.1} ms");
    println!("catchup_start_ms: {:.1} ms", ms(restarted, first));
    println!("catchup_blocks_per_s: {catchup_rate:.0} blocks/s");
    println!("catchup_copies_per_block: {catchup_copies:.2} copies");
    println!("follower_burst_blocks_per_s: {burst:.0} blocks/s");
    println!("orderer_burst_blocks_per_s: {cut_rate:.0} blocks/s");
}
