//! The deliver client: pulls a channel's blocks from the orderer, verifies and commits them.
//!
//! A leader (static, or elected for the channel) runs one per channel. It asks for blocks from its height
//! onwards and reconnects with backoff when the stream breaks; after [`UNREACHABLE_AFTER`] without an ordering
//! service the peer's `/healthz` reports it ([`Health`]). A block that fails verification is logged, counted
//! and dropped, and the stream is restarted from the peer's height. Each block continues its trace from the
//! orderer's delivery span.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::client::{self, ClientError};
use crate::committer::{ChannelState, CommitError};
use crate::node::PeerNode;
use weft_gossip::blocks::Source;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long a leader may fail to reach the ordering service before `/healthz` reports it.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(5);

/// Deliver clients that cannot reach the ordering service, by channel: since when, and the last error. Backs
/// the peer's `orderer` health check.
#[derive(Debug, Default)]
pub struct Health(
    std::sync::Mutex<std::collections::BTreeMap<String, (std::time::Instant, String)>>,
);

impl Health {
    fn failed(&self, channel: &str, error: String) {
        let mut m = self.0.lock().expect("deliver health lock");
        // Failing since the first failure in a row; the message is the latest.
        let since = m
            .get(channel)
            .map_or_else(std::time::Instant::now, |(s, _)| *s);
        m.insert(channel.to_string(), (since, error));
    }

    fn ok(&self, channel: &str) {
        self.0.lock().expect("deliver health lock").remove(channel);
    }
}

impl weft_ops::admin::HealthCheck for Health {
    fn component(&self) -> &str {
        "orderer"
    }

    fn check(&self) -> Result<(), String> {
        let m = self.0.lock().expect("deliver health lock");
        let failing: Vec<String> = m
            .iter()
            .filter(|(_, (since, _))| since.elapsed() >= UNREACHABLE_AFTER)
            .map(|(ch, (since, e))| {
                format!(
                    "channel {ch}: no ordering service reachable for {}s ({e})",
                    since.elapsed().as_secs()
                )
            })
            .collect();
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing.join("; "))
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(node: Arc<PeerNode>, state: Arc<ChannelState>, shutdown: watch::Receiver<bool>) {
    deliver(&node, &state, shutdown).await;
    // Not delivering (stopped, or no longer the leader): reachability is someone else's concern.
    node.deliver_health.ok(&state.id);
}

async fn deliver(
    node: &Arc<PeerNode>,
    state: &Arc<ChannelState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut failing_since: Option<std::time::Instant> = None;
    let mut attempt = 0usize;
    loop {
        let addresses = state.bundle().config().orderer_addresses.clone();
        let result = if addresses.is_empty() {
            Err(ClientError::Transport(
                "the channel config lists no orderer address".into(),
            ))
        } else {
            let address = &addresses[attempt % addresses.len()];
            tokio::select! {
                r = session(node, state, address) => r,
                _ = shutdown.changed() => return,
            }
        };
        attempt += 1;
        if result.as_ref().is_ok_and(|p| *p) {
            failing_since = None;
        } else {
            let since = *failing_since.get_or_insert_with(std::time::Instant::now);
            if node.dynamic && since.elapsed() >= node.reconnect_total {
                tracing::warn!(target: "deliveryClient", channel = %state.id, "cannot reach the ordering service for {:?}: yielding leadership", node.reconnect_total);
                node.gossip.yield_leadership(&state.id);
                return;
            }
        }
        match result {
            Ok(progressed) if progressed => backoff = MIN_BACKOFF,
            Ok(_) => {}
            Err(e) => {
                node.deliver_health.failed(&state.id, e.to_string());
                tracing::warn!(target: "deliveryClient", channel = %state.id, error = %e, retry_in = ?backoff,
                    "deliver stream failed");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One Deliver stream. Returns whether any block was committed.
async fn session(
    node: &Arc<PeerNode>,
    state: &Arc<ChannelState>,
    address: &str,
) -> Result<bool, ClientError> {
    let conn = node
        .endpoint
        .connect_host(address, None)
        .await
        .map_err(ClientError::Transport)?;
    let height = state.info().height;
    let seek = client::seek_envelope(
        &node.signer,
        &state.id,
        client::at(height),
        client::at(u64::MAX),
        true,
    );
    let mut stream = client::deliver(&conn, seek).await?;
    node.deliver_health.ok(&state.id);
    tracing::info!(target: "deliveryClient", channel = %state.id, orderer = %address, from = height,
        "pulling blocks from the ordering service");
    let mut progressed = false;
    // Commits run off the async workers and overlap with receiving the next blocks: the committer commits them
    // in order and flushes once for those that queued meanwhile, so a burst does not pay a flush per block.
    // Handles, not a JoinSet: a commit that was handed over runs to its end even if this stream breaks.
    let mut commits = std::collections::VecDeque::new();
    while let Some(client::Delivered {
        block,
        bytes,
        trace,
    }) = client::next_block_traced(&mut stream).await?
    {
        let number = block.header.as_ref().map_or(0, |h| h.number);
        if number < state.info().height {
            // Already committed, from gossip.
            continue;
        }
        // This peer's hop in the block's trace, a child of the orderer's delivery span.
        let span = tracing::info_span!("receive_block", channel = %state.id, block = number as i64, source = "orderer", from = %address);
        weft_ops::trace::set_parent(&span, &trace);
        // Verify once, push to the org at once, then commit: followers need not wait for our disk.
        if let Err(e) = span.in_scope(|| node.verify_once(state, &block)) {
            metrics::counter!("deliver_blocks_refused", "channel" => state.id.clone()).increment(1);
            tracing::warn!(target: "deliveryClient", channel = %state.id, orderer = %address, block = number,
                error = %e, "refused block from the ordering service");
            conn.close("refused block");
            return Ok(progressed);
        }
        let mine = weft_ops::trace::inject(&span);
        drop(span);
        if node.block_gossip {
            node.gossip
                .from_orderer(&state.id, number, bytes, mine.clone());
        }
        node.provenance
            .record(&state.id, number, Source::Orderer, None, mine);
        // A disk slower than the stream slows the stream instead of queueing without bound.
        while commits.len() >= COMMITS_IN_FLIGHT
            || commits.front().is_some_and(|c: &Commit| c.is_finished())
        {
            let done = commits.pop_front().expect("not empty").await;
            if !committed(done, state, address, &mut progressed)? {
                conn.close("refused block");
                return Ok(progressed);
            }
        }
        let (n, st) = (node.clone(), state.clone());
        commits.push_back(tokio::task::spawn_blocking(move || {
            (number, n.commit(&st, block))
        }));
    }
    for c in commits {
        let done = c.await;
        if !committed(done, state, address, &mut progressed)? {
            conn.close("refused block");
            break;
        }
    }
    Ok(progressed)
}

/// Blocks from the orderer handed to the committer and not yet reported back.
const COMMITS_IN_FLIGHT: usize = 64;

/// One block's commit task: its number and outcome.
type Commit = tokio::task::JoinHandle<(u64, Result<(), CommitError>)>;

/// Takes the outcome of one block's commit task: whether the stream may go on (false: the orderer sent a block
/// the committer refused). A ledger failure is an error.
fn committed(
    done: Result<(u64, Result<(), CommitError>), tokio::task::JoinError>,
    state: &ChannelState,
    address: &str,
    progressed: &mut bool,
) -> Result<bool, ClientError> {
    let (number, result) = done.map_err(|e| ClientError::Transport(format!("commit task: {e}")))?;
    match result {
        Ok(()) => {
            *progressed = true;
            Ok(true)
        }
        Err(CommitError::Ledger(e)) => Err(ClientError::Transport(format!("ledger: {e}"))),
        Err(e) => {
            metrics::counter!("deliver_blocks_refused", "channel" => state.id.clone()).increment(1);
            tracing::warn!(target: "deliveryClient", channel = %state.id, orderer = %address, block = number,
                error = %e, "refused block from the ordering service");
            Ok(false)
        }
    }
}
