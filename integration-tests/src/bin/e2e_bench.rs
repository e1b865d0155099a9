//! The four-peer loopback network under load: endorse on peer0.org1 and peer0.org2, order, wait for commit.
//!
//! Set-up: the first-network as processes (`WEFT_BIN` names the binaries' folder, release for figures),
//! byfn's steps, then `peer lifecycle chaincode commit` of `basic` (endorsed by both orgs). Then `E2E_WORKERS`
//! (default 32) tokio tasks in this process each loop: build a `CreateAsset` proposal with a unique id as
//! Org1's User1, endorse it on both peer0s at once, assemble, broadcast to the orderer, and wait for its
//! commit event from peer0.org1 (the CLI's `--waitForEvent`): one DeliverFiltered stream, opened before the
//! load starts, whose events are handed to the waiting workers by transaction id, as an application's commit
//! listener does. Connections are long-lived and shared by the workers.
//! On a two-core machine running all five nodes, 32 workers already saturate the CPU: more workers add
//! queueing latency, not throughput; fewer leave it idle.
//!
//! After `E2E_WARMUP_S` (default 3) seconds of warm-up, `E2E_DURATION_S` (default 20) seconds are measured:
//! - `e2e_committed_tx_per_s`: VALID commit events received in the window, per second;
//! - `e2e_latency_p50_ms` / `e2e_latency_p99_ms`: from just before broadcast to the commit event, for the
//!   transactions broadcast in the window;
//! - `e2e_invalid_tx`: transactions of the window committed with another code than VALID.
//!
//! The orderer's batch limits come from `deploy/local/configtx.yaml.tmpl` (MaxMessageCount 10, BatchTimeout
//! 2s) unless `E2E_MAX_MESSAGE_COUNT` / `E2E_BATCH_TIMEOUT` (e.g. `100`, `200ms`) override them in the
//! generated configtx.yaml, for comparison. At the end every peer must be at the same height and hash.
//!
//! The last lines are `name: value unit`.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;
use weft_crypto::{LocalMsp, Signer};
use weft_integration_tests::{Network, Options};
use weft_net::{Connection, Endpoint, NodeTls, TransportConfig, TrustStore};
use weft_peer::{client, proposal};
use weft_wire::common::TxValidationCode;

const CHANNEL: &str = "mychannel";
const CHAINCODE: &str = "basic";
const ORG1: &str = "peer0.org1.example.com";
const ORG2: &str = "peer0.org2.example.com";
/// Streams one worker keeps open at most on a connection is one; stay well under the server's limit (256).
const WORKERS_PER_CONNECTION: usize = 128;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One transaction's outcome.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Just before broadcast.
    broadcast_at: Instant,
    /// When the commit event arrived.
    done_at: Instant,
    endorse: Duration,
    broadcast: Duration,
    code: i32,
}

#[derive(Debug, Default)]
struct Outcome {
    samples: Vec<Sample>,
    errors: Vec<String>,
}

/// Connections shared by all workers, `n` per target.
struct Conns {
    org1: Vec<Connection>,
    org2: Vec<Connection>,
    orderer: Vec<Connection>,
}

/// Workers waiting for their transaction's commit event, by transaction id.
#[derive(Default)]
struct Waiters(Mutex<HashMap<String, oneshot::Sender<i32>>>);

impl Waiters {
    fn wait(&self, tx_id: &str) -> oneshot::Receiver<i32> {
        let (tx, rx) = oneshot::channel();
        self.0
            .lock()
            .expect("waiters")
            .insert(tx_id.to_string(), tx);
        rx
    }
}

/// Follows peer0.org1's commit events from block `from` on, handing each transaction's code to its waiter.
async fn dispatch(conn: Connection, signer: Arc<Signer>, from: u64, waiters: Arc<Waiters>) {
    let seek = client::seek_envelope(
        &signer,
        CHANNEL,
        client::at(from),
        client::at(u64::MAX),
        true,
    );
    let mut stream = client::deliver_filtered(&conn, seek)
        .await
        .expect("DeliverFiltered on peer0.org1");
    while let Ok(Some(block)) = client::next_filtered(&mut stream).await {
        let mut w = waiters.0.lock().expect("waiters");
        for t in block.filtered_transactions {
            if let Some(tx) = w.remove(&t.txid) {
                let _ = tx.send(t.tx_validation_code);
            }
        }
    }
}

async fn connect_n(ep: &Endpoint, addr: &str, n: usize) -> Vec<Connection> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            ep.connect_host(addr, None)
                .await
                .unwrap_or_else(|e| panic!("connecting to {addr}: {e}")),
        );
    }
    out
}

fn pem_certs(path: &std::path::Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    weft_crypto::pem::blocks(&data, "CERTIFICATE").expect("PEM certificates")
}

/// Org1's User1: its signer, and a client endpoint with its TLS pair trusting both orgs' and the orderer's
/// TLS CAs.
fn client_identity(net: &Network) -> (Signer, Endpoint) {
    let org1 = net.path("crypto-config/peerOrganizations/org1.example.com");
    let org2 = net.path("crypto-config/peerOrganizations/org2.example.com");
    let user = org1.join("users/User1@org1.example.com");
    let local = LocalMsp::load(&user.join("msp"), "Org1MSP").expect("User1's MSP");
    let tls = NodeTls::load(&user.join("tls/client.crt"), &user.join("tls/client.key"))
        .expect("User1's TLS pair");
    let mut roots = Vec::new();
    roots.extend(pem_certs(
        &org1.join("peers/peer0.org1.example.com/tls/ca.crt"),
    ));
    roots.extend(pem_certs(
        &org2.join("peers/peer0.org2.example.com/tls/ca.crt"),
    ));
    roots.extend(pem_certs(&net.orderer_ca()));
    let trust = TrustStore::new(roots);
    let ep = Endpoint::client(&tls, &trust, TransportConfig::default()).expect("client endpoint");
    (local.signer, ep)
}

/// Runs one transaction; returns its sample or why it failed.
async fn one_tx(
    signer: &Signer,
    conns: &Conns,
    waiters: &Waiters,
    slot: usize,
    asset: &str,
) -> Result<Sample, String> {
    let args = ["CreateAsset", asset, "blue", "5", "Tom", "100"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let built = proposal::build(
        signer,
        CHANNEL,
        CHAINCODE,
        args,
        SystemTime::now(),
        Default::default(),
    );
    let pick = |v: &[Connection]| v[slot % v.len()].clone();
    let (c1, c2, ord) = (pick(&conns.org1), pick(&conns.org2), pick(&conns.orderer));
    let t_endorse = Instant::now();
    let (r1, r2) = tokio::join!(
        client::endorse(&c1, built.signed.clone()),
        client::endorse(&c2, built.signed.clone())
    );
    let responses = [
        r1.map_err(|e| format!("endorse on {ORG1}: {e}"))?,
        r2.map_err(|e| format!("endorse on {ORG2}: {e}"))?,
    ];
    let env = proposal::assemble(signer, &built, &responses).map_err(|e| e.to_string())?;
    let committed = waiters.wait(&built.tx_id);
    let broadcast_at = Instant::now();
    client::broadcast(&ord, env)
        .await
        .map_err(|e| format!("broadcast: {e}"))?;
    let broadcast = broadcast_at.elapsed();
    let code = tokio::time::timeout(Duration::from_secs(60), committed)
        .await
        .map_err(|_| format!("no commit event for {} within 60 s", built.tx_id))?
        .map_err(|_| format!("the event stream ended before {} committed", built.tx_id))?;
    let done_at = Instant::now();
    Ok(Sample {
        broadcast_at,
        done_at,
        endorse: broadcast_at - t_endorse,
        broadcast,
        code,
    })
}

async fn worker(
    id: usize,
    signer: Arc<Signer>,
    conns: Arc<Conns>,
    waiters: Arc<Waiters>,
    end: Instant,
    committed: Arc<AtomicU64>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut i = 0u64;
    while Instant::now() < end {
        let asset = format!("asset-{id}-{i}");
        i += 1;
        match one_tx(
            &signer,
            &conns,
            &waiters,
            id / WORKERS_PER_CONNECTION,
            &asset,
        )
        .await
        {
            Ok(s) => {
                if s.code == TxValidationCode::Valid as i32 {
                    committed.fetch_add(1, Ordering::Relaxed);
                }
                out.samples.push(s);
            }
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// peer0.org1's height of mychannel, from its operations endpoint.
fn height(ops: &str) -> u64 {
    weft_ops::admin::http_get::get(ops, "/channels", Duration::from_secs(5))
        .ok()
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
        .and_then(|v| {
            v["channels"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == CHANNEL)?["height"]
                .as_u64()
        })
        .unwrap_or(0)
}

/// Rewrites the generated configtx.yaml's batch limits and regenerates the system channel's genesis block.
fn tune_batch(net: &Network, max_count: Option<u32>, timeout: Option<String>) {
    let path = net.path("configtx.yaml");
    let mut yaml = std::fs::read_to_string(&path).expect("configtx.yaml");
    if let Some(n) = max_count {
        assert!(yaml.contains("MaxMessageCount: 10"));
        yaml = yaml.replacen("MaxMessageCount: 10", &format!("MaxMessageCount: {n}"), 1);
    }
    if let Some(t) = timeout {
        assert!(yaml.contains("BatchTimeout: 2s"));
        yaml = yaml.replacen("BatchTimeout: 2s", &format!("BatchTimeout: {t}"), 1);
    }
    std::fs::write(&path, yaml).expect("write configtx.yaml");
    let out = Command::new(weft_integration_tests::bin_dir().join("configtxgen"))
        .arg("-configPath")
        .arg(net.dir.path())
        .args([
            "-profile",
            "TwoOrgsOrdererGenesis",
            "-channelID",
            "system-channel",
            "-outputBlock",
        ])
        .arg(net.path("channel-artifacts/genesis.block"))
        .output()
        .expect("run configtxgen");
    assert!(
        out.status.success(),
        "configtxgen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let workers: usize = env_or("E2E_WORKERS", 32);
    let duration = Duration::from_secs(env_or("E2E_DURATION_S", 20));
    let warmup = Duration::from_secs(env_or("E2E_WARMUP_S", 3));
    let max_count: Option<u32> = std::env::var("E2E_MAX_MESSAGE_COUNT")
        .ok()
        .map(|v| v.parse().expect("E2E_MAX_MESSAGE_COUNT is a number"));
    let batch_timeout = std::env::var("E2E_BATCH_TIMEOUT").ok();

    let mut net = Network::generate(Options::default()).expect("generate");
    if max_count.is_some() || batch_timeout.is_some() {
        tune_batch(&net, max_count, batch_timeout.clone());
    }
    println!(
        "e2e_bench: {workers} workers, {}s warm-up + {}s measured; batch: MaxMessageCount {}, BatchTimeout {}",
        warmup.as_secs(),
        duration.as_secs(),
        max_count.map_or("10 (template)".to_string(), |n| n.to_string()),
        batch_timeout
            .clone()
            .unwrap_or_else(|| "2s (template)".to_string())
    );
    net.start_all().expect("start");
    net.byfn();
    let p1 = net.peer(ORG1).clone();
    let p2 = net.peer(ORG2).clone();
    net.define(CHAINCODE, 1, None);
    println!("network up, {CHAINCODE} defined on {CHANNEL}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // quinn binds its socket on the current runtime.
    let _enter = rt.enter();
    let (signer, ep) = client_identity(&net);
    let signer = Arc::new(signer);
    let per = workers.div_ceil(WORKERS_PER_CONNECTION).max(1);
    let conns = rt.block_on(async {
        Arc::new(Conns {
            org1: connect_n(&ep, &p1.address(), per).await,
            org2: connect_n(&ep, &p2.address(), per).await,
            orderer: connect_n(&ep, &net.orderer.address(), per).await,
        })
    });
    let ops = p1.ops_address();
    // Events from the height before the load on: none of the workers' transactions can be missed.
    let waiters = Arc::new(Waiters::default());
    let events = rt
        .block_on(async { ep.connect_host(&p1.address(), None).await })
        .expect("connecting to peer0.org1 for commit events");
    rt.spawn(dispatch(
        events,
        signer.clone(),
        height(&ops),
        waiters.clone(),
    ));
    let committed = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let start = t0 + warmup;
    let end = start + duration;
    let mut h_start = 0;
    let outcomes: Vec<Outcome> = rt.block_on(async {
        let handles: Vec<_> = (0..workers)
            .map(|id| {
                tokio::spawn(worker(
                    id,
                    signer.clone(),
                    conns.clone(),
                    waiters.clone(),
                    end,
                    committed.clone(),
                ))
            })
            .collect();
        let mut tick =
            tokio::time::interval_at((t0 + Duration::from_secs(1)).into(), Duration::from_secs(1));
        let mut started = false;
        loop {
            tick.tick().await;
            let now = Instant::now();
            if !started && now >= start {
                started = true;
                let o = ops.clone();
                h_start = tokio::task::spawn_blocking(move || height(&o))
                    .await
                    .unwrap_or(0);
            }
            let secs = (now - t0).as_secs();
            if secs.is_multiple_of(5) {
                let o = ops.clone();
                let h = tokio::task::spawn_blocking(move || height(&o))
                    .await
                    .unwrap_or(0);
                println!(
                    "  t={secs:>3}s  {} VALID commits so far, peer0.org1 height {h}{}",
                    committed.load(Ordering::Relaxed),
                    if now < start { " (warm-up)" } else { "" }
                );
            }
            if now >= end {
                break;
            }
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("worker"));
        }
        out
    });
    let h_end = height(&ops);

    let mut latency = Vec::new();
    let mut endorse = Vec::new();
    let mut broadcast = Vec::new();
    let mut waits = Vec::new();
    let (mut valid_in_window, mut invalid, mut total) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for o in outcomes {
        errors.extend(o.errors);
        for s in o.samples {
            total += 1;
            if s.done_at >= start && s.done_at <= end && s.code == TxValidationCode::Valid as i32 {
                valid_in_window += 1;
            }
            if s.broadcast_at >= start && s.broadcast_at < end {
                if s.code != TxValidationCode::Valid as i32 {
                    invalid += 1;
                }
                latency.push(ms(s.done_at - s.broadcast_at));
                endorse.push(ms(s.endorse));
                broadcast.push(ms(s.broadcast));
                waits.push(ms(s.done_at - s.broadcast_at - s.broadcast));
            }
        }
    }
    println!(
        "{total} transactions completed in all ({} in the window), {} errors",
        latency.len(),
        errors.len()
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    let (latency, endorse, broadcast, waits) = (
        sorted(latency),
        sorted(endorse),
        sorted(broadcast),
        sorted(waits),
    );
    let blocks = h_end.saturating_sub(h_start);
    println!(
        "peer0.org1 height {h_start} → {h_end} over the window and drain: {blocks} blocks, {:.1} tx/block",
        latency.len() as f64 / blocks.max(1) as f64
    );
    for (name, v) in [
        ("endorse (both peers)", &endorse),
        ("broadcast (orderer ack)", &broadcast),
        ("commit wait after ack", &waits),
        ("broadcast → commit event", &latency),
    ] {
        println!(
            "  {name:<26} p50 {:>8.1} ms  p90 {:>8.1} ms  p99 {:>8.1} ms",
            percentile(v, 0.5),
            percentile(v, 0.9),
            percentile(v, 0.99)
        );
    }

    // Every peer must have the same chain once the load is over.
    let final_height = net.chain(ORG1).expect("peer0.org1 chain").0;
    let hash = net.wait_all_at(final_height);
    println!(
        "all four peers at height {final_height}, block hash {}",
        &hash[..16.min(hash.len())]
    );

    println!("e2e_errors: {} tx", errors.len());
    println!(
        "e2e_committed_tx_per_s: {:.1} tx/s",
        valid_in_window as f64 / duration.as_secs_f64()
    );
    println!("e2e_latency_p50_ms: {:.1} ms", percentile(&latency, 0.5));
    println!("e2e_latency_p99_ms: {:.1} ms", percentile(&latency, 0.99));
    println!("e2e_invalid_tx: {invalid} tx");
}
