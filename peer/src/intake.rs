//! Blocks arriving by gossip (push, state transfer) and peers' requests for blocks.
//!
//! Each block is verified once — data hash and the orderer's signature against the channel's BlockValidation
//! policy — off the async workers, and a block whose header hash was already verified is not verified again.
//! Verified blocks are reported to gossip (which forwards pushed ones) and handed to the committer's in-order
//! buffer. A peer that sends a block failing verification is logged and counted; the block is dropped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use weft_gossip::blocks::{Source, TraceContext};
use weft_ledger::BlockStore;
use weft_wire::Message;
use weft_wire::common::Block;

use crate::gossip::Delivery;
use crate::node::PeerNode;

/// Header hashes of blocks already verified, so that a copy is not verified again. Cleared when full.
#[derive(Default)]
pub struct Verified(Mutex<HashSet<[u8; 32]>>);

const VERIFIED: usize = 100_000;

impl Verified {
    pub fn seen(&self, hash: &[u8; 32]) -> bool {
        self.0.lock().expect("verified lock").contains(hash)
    }

    pub fn add(&self, hash: [u8; 32]) {
        let mut set = self.0.lock().expect("verified lock");
        if set.len() >= VERIFIED {
            set.clear();
        }
        set.insert(hash);
    }
}

/// Runs until gossip stops.
pub async fn run(node: Arc<PeerNode>, mut deliveries: mpsc::Receiver<Delivery>) {
    while let Some(d) = deliveries.recv().await {
        let node = node.clone();
        match d {
            Delivery::Block {
                channel,
                seq,
                data,
                from,
                source,
                trace,
            } => {
                tokio::task::spawn_blocking(move || {
                    intake(&node, &channel, seq, data, from, source, &trace)
                });
            }
            Delivery::Leadership {
                channel,
                is_leader,
                leader,
            } => node.leadership_changed(&channel, is_leader, leader),
            Delivery::StateRequest {
                channel,
                to,
                nonce,
                start,
                end,
            } => {
                tokio::task::spawn_blocking(move || {
                    let Some(ch) = node.channel(&channel) else {
                        return;
                    };
                    let blocks = (start..=end)
                        .map_while(|n| {
                            ch.ledger.block_bytes(n).ok().flatten().map(|b| {
                                // The copy continues the block's trace from this peer's receipt.
                                let trace = node
                                    .provenance
                                    .get(&channel, n)
                                    .map(|r| r.trace)
                                    .unwrap_or_default();
                                (n, b, trace)
                            })
                        })
                        .collect();
                    node.gossip.answer_state(&channel, to, nonce, blocks);
                });
            }
        }
    }
}

fn intake(
    node: &PeerNode,
    channel: &str,
    seq: u64,
    data: weft_wire::Bytes,
    from: weft_gossip::PkiId,
    source: Source,
    trace: &TraceContext,
) {
    // One span per hop: a child of the sender's span for this block.
    let span = tracing::info_span!("receive_block", %channel, block = seq as i64, source = source.as_str(), from = %from);
    weft_ops::trace::set_parent(&span, trace);
    let receive = span.enter();
    let Some(ch) = node.channel(channel) else {
        node.gossip.block_rejected(channel, seq);
        return;
    };
    let refuse = |reason: String| {
        metrics::counter!("gossip_blocks_refused_total", "channel" => channel.to_string(), "source" => source.as_str())
            .increment(1);
        tracing::warn!(target: "gossip", %channel, block = seq, peer = %from, source = source.as_str(), %reason,
            "refused a block from a peer");
        node.gossip.block_rejected(channel, seq);
    };
    let block = match Block::decode(data.clone()) {
        Ok(b) if b.header.as_ref().is_some_and(|h| h.number == seq) => b,
        Ok(_) => return refuse(format!("the block is not number {seq}")),
        Err(e) => return refuse(format!("malformed block: {e}")),
    };
    if let Err(e) = node.verify_once(&ch, &block) {
        return refuse(e.to_string());
    }
    metrics::counter!("gossip_blocks_received_total", "channel" => channel.to_string(), "source" => source.as_str()).increment(1);
    let mine = weft_ops::trace::inject(&span);
    node.provenance
        .record(channel, seq, source, Some(&from), mine.clone());
    node.gossip
        .block_verified(channel, seq, data, Some(from), source, mine);
    drop(receive);
    if let Err(e) = node.commit(&ch, block) {
        tracing::warn!(target: "committer", %channel, block = seq, error = %e, "could not commit a gossiped block");
    }
}
