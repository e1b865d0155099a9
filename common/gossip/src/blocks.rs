//! Blocks in gossip: push with fan-out and a deduplicating window (Fabric's DataMessage handling), and state
//! transfer for peers that are behind (Fabric's `gossip/state`).
//!
//! The core never verifies a block itself: a block that arrives (push, state transfer) and is neither below our
//! height nor already held or being verified becomes an [`Event::BlockReceived`]; the driver verifies it once,
//! off the core, and reports back with [`GossipCore::block_verified`]. Only then is it stored, forwarded and
//! committed. Blocks never leave the org by push; state transfer serves any peer of an org in the channel.
//! Where Fabric waits for its next `state.checkInterval`, weft requests a missing range as soon as a higher
//! height is seen, from several peers at once.
//!
//! Push bursts (`maxPropagationBurstSize`, `maxPropagationBurstLatency`): Fabric's emitter holds every block
//! until `burstSize` are waiting or the `burstLatency` tick comes, so each block waits up to 10 ms. weft sends a
//! block at once when no push went out within the last `burstLatency`; blocks that follow closer than that wait
//! and go out together, when `burstSize` are waiting or `burstLatency` after the previous push. The keys keep
//! their meaning (a burst holds at most `burstSize` blocks, none waits longer than `burstLatency`), and an
//! isolated block does not wait at all.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use rand::Rng;
use weft_wire::Bytes;
use weft_wire::gossip::{
    DataMessage, Envelope, Payload, RemoteStateRequest, RemoteStateResponse, gossip_message,
};

use crate::core::{Event, GossipCore};
use crate::crypto::GossipCrypto;
use crate::message::{self, Reject};
use crate::types::PkiId;

/// W3C trace context riding with a block (the proto's `map<string,string>`). Opaque to the core: the driver
/// fills it from the span that handled the block, and the core carries it in every payload it sends.
pub type TraceContext = std::collections::BTreeMap<String, String>;

/// How a block reached this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Orderer,
    Push,
    Pull,
    StateTransfer,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Orderer => "orderer",
            Source::Push => "push",
            Source::Pull => "pull",
            Source::StateTransfer => "state_transfer",
        }
    }
}

/// A state-transfer request waiting for its answer.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub start: u64,
    pub end: u64,
    pub peer: PkiId,
    pub deadline: Instant,
    pub attempts: u32,
}

/// One channel's block state.
#[derive(Debug, Clone, Default)]
pub struct Blocks {
    /// Our committed height.
    pub height: u64,
    /// Recent verified blocks (DataMessage envelopes) by number.
    pub(crate) window: BTreeMap<u64, Envelope>,
    /// Blocks handed to the driver for verification.
    pub(crate) verifying: BTreeSet<u64>,
    /// Verified blocks above the height, waiting in the committer for the ones before them. The window keeps
    /// only the newest few; without this, blocks that arrived ahead of a gap would be fetched again.
    pub(crate) held: BTreeSet<u64>,
    /// Pushed blocks still to be sent: (envelope, sender to skip, iterations left).
    pub(crate) to_push: Vec<(Envelope, Option<PkiId>, u32)>,
    /// When the last push went out.
    pub(crate) pushed_at: Option<Instant>,
    /// When the waiting pushes must go out.
    pub(crate) push_due: Option<Instant>,
    /// State-transfer requests by nonce.
    pub(crate) inflight: BTreeMap<u64, InFlight>,
    /// Heights above ours that other peers' StateInfo showed, each with when it was first seen (both
    /// ascending): how long each missing block has been known to exist.
    pub(crate) seen_heights: VecDeque<(u64, Instant)>,
    /// When newest missing blocks, left to their push, may be requested.
    pub(crate) push_grace_until: Option<Instant>,
}

/// Verified, uncommitted blocks remembered at most (below the committer's own bound, so that every block
/// remembered is really waiting there).
pub const MAX_HELD: usize = 1_000;

impl Blocks {
    /// Whether block `n` is here already: verified and kept, waiting to commit, or being verified.
    pub(crate) fn has(&self, n: u64) -> bool {
        self.window.contains_key(&n) || self.held.contains(&n) || self.verifying.contains(&n)
    }

    /// The first block from `n` on that is not here. Walks runs in order rather than looking each number up:
    /// behind a gap, up to [`MAX_HELD`] blocks may be held, and the planner runs on every message.
    fn first_missing(&self, mut n: u64) -> u64 {
        loop {
            let from = n;
            n = past_run(self.held.range(n..).copied(), n);
            n = past_run(self.verifying.range(n..).copied(), n);
            n = past_run(self.window.range(n..).map(|(k, _)| *k), n);
            if n == from {
                return n;
            }
        }
    }
}

/// The first number from `n` on that `ascending` (numbers from `n` on, in order) does not hold.
fn past_run(ascending: impl Iterator<Item = u64>, mut n: u64) -> u64 {
    for k in ascending {
        if k != n {
            break;
        }
        n += 1;
    }
    n
}

const CHAN_AND_ORG: gossip_message::Tag = gossip_message::Tag::ChanAndOrg;
const CHAN_OR_ORG: gossip_message::Tag = gossip_message::Tag::ChanOrOrg;

fn data_env(channel: &str, seq: u64, data: Bytes, trace: TraceContext) -> Envelope {
    let mut msg = message::message(
        CHAN_AND_ORG,
        gossip_message::Content::DataMsg(DataMessage {
            payload: Some(Payload {
                seq_num: seq,
                data,
                trace_context: trace,
            }),
        }),
    );
    msg.channel = channel.as_bytes().to_vec();
    message::unsigned(&msg)
}

impl<C: GossipCrypto> GossipCore<C> {
    /// A block this peer got from the orderer and verified: store it and push it to the org.
    pub fn block_from_orderer(
        &mut self,
        now: Instant,
        channel: &str,
        seq: u64,
        data: Bytes,
        trace: TraceContext,
    ) {
        self.block_verified(now, channel, seq, data, None, Source::Orderer, trace);
    }

    /// The driver verified block `seq` (received from `from` by `source`): store and forward it. `trace` is
    /// this peer's span for the block, carried by the copies it sends.
    #[allow(clippy::too_many_arguments)]
    pub fn block_verified(
        &mut self,
        now: Instant,
        channel: &str,
        seq: u64,
        data: Bytes,
        from: Option<PkiId>,
        source: Source,
        trace: TraceContext,
    ) {
        let keep = self.config.max_block_count_to_store.max(1) as u64;
        let iterations = self.config.propagate_iterations;
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let b = &mut ch.blocks;
        b.verifying.remove(&seq);
        if b.window.contains_key(&seq) {
            return;
        }
        if seq >= b.height && b.held.len() < MAX_HELD {
            b.held.insert(seq);
        }
        let env = data_env(channel, seq, data, trace);
        b.window.insert(seq, env.clone());
        while let Some((&oldest, _)) = b.window.iter().next() {
            let newest = *b.window.keys().next_back().expect("not empty");
            if newest - oldest < keep {
                break;
            }
            b.window.remove(&oldest);
        }
        // Push what came from the orderer or by push (infect and forward); pulled or transferred blocks are
        // catch-up, not news.
        if iterations > 0 && matches!(source, Source::Orderer | Source::Push) {
            b.to_push.push((env, from, iterations));
            let latency = self.config.max_propagation_burst_latency;
            let quiet = b.pushed_at.is_none_or(|t| now >= t + latency);
            if quiet || b.to_push.len() >= self.config.max_propagation_burst_size.max(1) {
                self.flush_pushes(now, channel);
            } else if b.push_due.is_none() {
                b.push_due = b.pushed_at.map(|t| t + latency);
            }
        }
    }

    /// The driver found block `seq` invalid, or the committer let it go: forget it so that another copy can be
    /// fetched.
    pub fn block_rejected(&mut self, channel: &str, seq: u64) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.blocks.verifying.remove(&seq);
            ch.blocks.held.remove(&seq);
            ch.blocks.window.remove(&seq);
        }
    }

    /// The earliest time waiting pushes must go out.
    pub(crate) fn next_push_deadline(&self) -> Option<Instant> {
        self.channels
            .values()
            .filter_map(|c| c.blocks.push_due)
            .min()
    }

    /// Sends the pushes that are due.
    pub(crate) fn push_timeouts(&mut self, now: Instant) {
        let due: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| c.blocks.push_due.is_some_and(|d| now >= d))
            .map(|(n, _)| n.clone())
            .collect();
        for channel in due {
            self.flush_pushes(now, &channel);
        }
    }

    fn flush_pushes(&mut self, now: Instant, channel: &str) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        ch.blocks.pushed_at = Some(now);
        ch.blocks.push_due = None;
        let pushes = std::mem::take(&mut ch.blocks.to_push);
        let my_org = self.me.org.clone();
        let members: BTreeSet<PkiId> = self
            .channels
            .get(channel)
            .map(|c| c.heights().into_iter().map(|(p, _)| p).collect())
            .unwrap_or_default();
        for (env, skip, iterations) in pushes {
            let mut targets = Vec::new();
            for _ in 0..iterations {
                targets.extend(self.sample(self.config.propagate_peer_num, |p| {
                    p.org == my_org && Some(&p.pki) != skip.as_ref() && members.contains(&p.pki)
                }));
            }
            // A block is a few hundred KB: the last target gets the envelope itself, not a copy.
            if let Some(last) = targets.pop() {
                for t in &targets {
                    self.send(t, env.clone());
                }
                self.send(&last, env);
            }
        }
    }

    /// A DataMessage pushed by `from`.
    pub(crate) fn handle_data(
        &mut self,
        from: &PkiId,
        channel: &[u8],
        dm: DataMessage,
        source: Source,
    ) -> Result<(), Reject> {
        let channel = String::from_utf8(channel.to_vec())
            .map_err(|_| Reject::Malformed("channel name".into()))?;
        let from_org = self
            .identities
            .get(from)
            .map(|(_, o)| o.clone())
            .ok_or_else(|| Reject::UnknownIdentity(from.clone()))?;
        if from_org != self.me.org {
            return Err(Reject::Unexpected("block from another org"));
        }
        let Some(p) = dm.payload else {
            return Err(Reject::Malformed("data message without payload".into()));
        };
        self.offer(&channel, p, from, source);
        Ok(())
    }

    /// A block arrived: hand it for verification unless it is old, held, or being verified.
    fn offer(&mut self, channel: &str, p: Payload, from: &PkiId, source: Source) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let seq = p.seq_num;
        let b = &mut ch.blocks;
        if seq < b.height || b.has(seq) {
            self.events.push_back(Event::DuplicateBlock {
                channel: channel.to_string(),
                seq,
                source,
            });
            return;
        }
        b.verifying.insert(seq);
        self.events.push_back(Event::BlockReceived {
            channel: channel.to_string(),
            seq,
            data: p.data,
            from: from.clone(),
            source,
            trace: p.trace_context,
        });
    }

    /// Our committed height changed: note it, and fetch what others have beyond it.
    pub(crate) fn blocks_height(&mut self, now: Instant, channel: &str, height: u64) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.blocks.height = height;
            ch.blocks
                .window
                .retain(|s, _| *s + self.config.max_block_count_to_store as u64 >= height);
            ch.blocks.held.retain(|s| *s >= height);
        }
        self.plan_state_transfer(now, channel);
    }

    /// Requests missing ranges from peers whose StateInfo shows they have them.
    pub(crate) fn plan_state_transfer(&mut self, now: Instant, channel: &str) {
        if !self.config.state_transfer {
            return;
        }
        let batch = self.config.state_batch_size.max(1);
        let Some(ch) = self.channels.get(channel) else {
            return;
        };
        let heights: Vec<(PkiId, u64)> = ch
            .heights()
            .into_iter()
            .filter(|(p, _)| self.peers.get(p).is_some_and(|p| !p.dead))
            .collect();
        let best = heights.iter().map(|(_, h)| *h).max().unwrap_or(0);
        let limit = self.fetch_limit(now, channel, best);
        let Some(ch) = self.channels.get(channel) else {
            return;
        };
        let b = &ch.blocks;
        // The next block not committed, held, being verified or requested.
        let mut next = b.height;
        let covered = |n: u64| b.has(n) || b.inflight.values().any(|r| r.start <= n && n <= r.end);
        let mut requests = Vec::new();
        let free = self
            .config
            .state_parallel_requests
            .saturating_sub(b.inflight.len());
        while next < limit && requests.len() < free {
            if covered(next) {
                next = match b
                    .inflight
                    .values()
                    .find(|r| r.start <= next && next <= r.end)
                {
                    Some(r) => r.end + 1,
                    None => b.first_missing(next),
                };
                continue;
            }
            // A range stops before the first block already here.
            let mut end = next;
            while end + 1 < limit && end + 1 < next + batch && !covered(end + 1) {
                end += 1;
            }
            let holders: Vec<PkiId> = heights
                .iter()
                .filter(|(_, h)| *h > end)
                .map(|(p, _)| p.clone())
                .collect();
            if holders.is_empty() {
                break;
            }
            let peer = holders[self.rng.random_range(0..holders.len())].clone();
            requests.push((next, end, peer));
            next = end + 1;
        }
        for (start, end, peer) in requests {
            self.request_range(now, channel, start, end, peer, 0);
        }
    }

    /// Where state transfer may fetch up to now, given the `best` height seen on `channel`:
    /// - not beyond what can wait for the blocks before it ([`MAX_HELD`]): a block fetched there would be
    ///   forgotten, and fetched again and again while the gap before it lasts;
    /// - not the newest `maxPropagationBurstSize` missing blocks, for two `maxPropagationBurstLatency` after
    ///   their height was first seen, while push is on: a leader's StateInfo (small) overtakes its push of the
    ///   same block (up to a whole block), and fetching it at once would move it twice.
    fn fetch_limit(&mut self, now: Instant, channel: &str, best: u64) -> u64 {
        let pushing = self.config.propagate_iterations > 0;
        let grace = 2 * self.config.max_propagation_burst_latency;
        let burst = self.config.max_propagation_burst_size as u64;
        let Some(ch) = self.channels.get_mut(channel) else {
            return best;
        };
        let b = &mut ch.blocks;
        while b.seen_heights.front().is_some_and(|(h, _)| *h <= b.height) {
            b.seen_heights.pop_front();
        }
        if best > b.height && b.seen_heights.back().is_none_or(|(h, _)| *h < best) {
            b.seen_heights.push_back((best, now));
        }
        let reach = best.min(b.height + MAX_HELD as u64);
        let ripe = if pushing {
            let known = b
                .seen_heights
                .iter()
                .take_while(|(_, at)| now >= *at + grace)
                .last()
                .map_or(0, |(h, _)| *h);
            known.max(best.saturating_sub(burst))
        } else {
            best
        };
        let limit = ripe.min(reach);
        // Wake when the grace of blocks within reach ends.
        b.push_grace_until = (limit < reach)
            .then(|| b.seen_heights.iter().find(|(h, _)| *h > limit))
            .flatten()
            .map(|(_, at)| *at + grace);
        limit
    }

    fn request_range(
        &mut self,
        now: Instant,
        channel: &str,
        start: u64,
        end: u64,
        peer: PkiId,
        attempts: u32,
    ) {
        let nonce: u64 = self.rng.random();
        let deadline = now + self.config.state_response_timeout;
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        ch.blocks.inflight.insert(
            nonce,
            InFlight {
                start,
                end,
                peer: peer.clone(),
                deadline,
                attempts,
            },
        );
        let mut msg = message::message(
            CHAN_OR_ORG,
            gossip_message::Content::StateRequest(RemoteStateRequest {
                start_seq_num: start,
                end_seq_num: end,
            }),
        );
        msg.nonce = nonce;
        msg.channel = message::channel_mac(&self.me.pki_id, channel);
        self.events.push_back(Event::StateTransferRequested {
            channel: channel.to_string(),
            start,
            end,
            peer: peer.clone(),
        });
        self.send(&peer, message::unsigned(&msg));
    }

    /// Retries state-transfer requests whose answer is overdue, up to `state.maxRetries` times.
    pub(crate) fn expire_state_requests(&mut self, now: Instant) {
        let names = self.channel_names();
        for name in names {
            let Some(ch) = self.channels.get_mut(&name) else {
                continue;
            };
            let overdue: Vec<(u64, InFlight)> = ch
                .blocks
                .inflight
                .iter()
                .filter(|(_, r)| now >= r.deadline)
                .map(|(n, r)| (*n, r.clone()))
                .collect();
            for (nonce, _) in &overdue {
                ch.blocks.inflight.remove(nonce);
            }
            for (_, r) in overdue {
                if r.attempts < self.config.state_max_retries {
                    let holders: Vec<PkiId> = self.channels[&name]
                        .heights()
                        .into_iter()
                        .filter(|(p, h)| {
                            *h > r.end && *p != r.peer && self.peers.get(p).is_some_and(|p| !p.dead)
                        })
                        .map(|(p, _)| p)
                        .collect();
                    let peer = if holders.is_empty() {
                        r.peer
                    } else {
                        holders[self.rng.random_range(0..holders.len())].clone()
                    };
                    self.request_range(now, &name, r.start, r.end, peer, r.attempts + 1);
                }
            }
            self.plan_state_transfer(now, &name);
        }
    }

    /// The earliest state-transfer deadline.
    pub(crate) fn next_state_deadline(&self) -> Option<Instant> {
        self.channels
            .values()
            .flat_map(|c| {
                let b = &c.blocks;
                b.inflight
                    .values()
                    .map(|r| r.deadline)
                    .chain(b.push_grace_until)
            })
            .min()
    }

    /// A peer asks us for blocks: the driver reads them and answers with [`GossipCore::answer_state_request`].
    pub(crate) fn handle_state_request(
        &mut self,
        from: &PkiId,
        mac: &[u8],
        nonce: u64,
        req: RemoteStateRequest,
    ) -> Result<(), Reject> {
        let channel = self
            .channels
            .keys()
            .find(|n| message::channel_mac(from, n) == mac)
            .cloned();
        let Some(channel) = channel else {
            return Ok(());
        };
        let org = self
            .identities
            .get(from)
            .map(|(_, o)| o.clone())
            .ok_or_else(|| Reject::UnknownIdentity(from.clone()))?;
        if !self.channels[&channel].orgs.contains(&org) {
            return Err(Reject::NotEligible);
        }
        let (start, end) = (req.start_seq_num, req.end_seq_num);
        if start > end || end - start >= self.config.state_batch_size.max(1) {
            return Err(Reject::Malformed(format!(
                "state request for [{start}, {end}]"
            )));
        }
        self.events.push_back(Event::StateRequest {
            channel,
            to: from.clone(),
            nonce,
            start,
            end,
        });
        Ok(())
    }

    /// Sends the blocks a peer asked for (`blocks`: (number, encoded block, trace context)).
    pub fn answer_state_request(
        &mut self,
        channel: &str,
        to: &PkiId,
        nonce: u64,
        blocks: Vec<(u64, Bytes, TraceContext)>,
    ) {
        let payloads = blocks
            .into_iter()
            .map(|(seq_num, data, trace_context)| Payload {
                seq_num,
                data,
                trace_context,
            })
            .collect();
        let mut msg = message::message(
            CHAN_OR_ORG,
            gossip_message::Content::StateResponse(RemoteStateResponse { payloads }),
        );
        msg.nonce = nonce;
        msg.channel = message::channel_mac(to, channel);
        self.send(to, message::unsigned(&msg));
    }

    pub(crate) fn handle_state_response(
        &mut self,
        now: Instant,
        from: &PkiId,
        nonce: u64,
        res: RemoteStateResponse,
    ) -> Result<(), Reject> {
        let channel = self
            .channels
            .iter()
            .find(|(_, c)| {
                c.blocks
                    .inflight
                    .get(&nonce)
                    .is_some_and(|r| &r.peer == from)
            })
            .map(|(n, _)| n.clone());
        let Some(channel) = channel else {
            return Err(Reject::Unexpected(
                "state response without a matching request",
            ));
        };
        let r = self
            .channels
            .get_mut(&channel)
            .expect("found")
            .blocks
            .inflight
            .remove(&nonce)
            .expect("found");
        for p in res
            .payloads
            .into_iter()
            .filter(|p| r.start <= p.seq_num && p.seq_num <= r.end)
        {
            self.offer(&channel, p, from, Source::StateTransfer);
        }
        self.plan_state_transfer(now, &channel);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_missing_skips_runs_across_the_sets() {
        let mut b = Blocks::default();
        b.held.extend([3, 4, 5, 9]);
        b.verifying.insert(6);
        b.window.insert(7, Envelope::default());
        assert_eq!(b.first_missing(2), 2);
        assert_eq!(b.first_missing(3), 8);
        assert_eq!(b.first_missing(9), 10);
        assert!((3..8).all(|n| b.has(n)) && !b.has(8));
    }
}
