//! Block pull among the org's channel peers (Fabric's four-phase `algo/pull.go`, block mediator).
//!
//! Every `pullInterval` the initiator sends Hello{nonce} to `pullPeerNum` peers; each answers with a digest of
//! the blocks in its window; after `digestWaitTime` the initiator asks one random owner for each block it lacks;
//! owners answer with the blocks; responses count until `responseWaitTime`, then the round ends. A responder
//! remembers a Hello's nonce for `requestWaitTime` and ignores requests with other nonces; the initiator ignores
//! digests and updates whose nonce is not of its round. Only same-org peers with a StateInfo in the channel
//! take part: blocks never leave the org.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::Rng;
use weft_wire::gossip::{
    DataDigest, DataRequest, DataUpdate, GossipHello, PullMsgType, gossip_message,
};

use crate::blocks::Source;
use crate::core::GossipCore;
use crate::crypto::GossipCrypto;
use crate::message::{self, Reject};
use crate::types::PkiId;

/// `peer.gossip.{digestWaitTime, requestWaitTime, responseWaitTime}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullConfig {
    pub digest_wait_time: Duration,
    pub request_wait_time: Duration,
    pub response_wait_time: Duration,
}

impl Default for PullConfig {
    fn default() -> Self {
        Self {
            digest_wait_time: Duration::from_secs(1),
            request_wait_time: Duration::from_millis(1500),
            response_wait_time: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Digests { until: Instant },
    Responses { until: Instant },
}

/// One pull round of a channel, as initiator.
#[derive(Debug, Clone)]
struct Round {
    /// Nonce sent to each peer.
    nonces: BTreeMap<PkiId, u64>,
    /// Block number → peers that have it.
    owners: BTreeMap<u64, Vec<PkiId>>,
    phase: Phase,
}

/// A channel's pull state: our round, and the Hello nonces we answered.
#[derive(Debug, Clone, Default)]
pub struct Pull {
    round: Option<Round>,
    answered: BTreeMap<(PkiId, u64), Instant>,
}

impl Pull {
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let round = self.round.as_ref().map(|r| match r.phase {
            Phase::Digests { until } | Phase::Responses { until } => until,
        });
        round
            .into_iter()
            .chain(self.answered.values().copied())
            .min()
    }
}

const CHAN_AND_ORG: gossip_message::Tag = gossip_message::Tag::ChanAndOrg;
const BLOCK: i32 = PullMsgType::BlockMsg as i32;

impl<C: GossipCrypto> GossipCore<C> {
    fn pull_msg(channel: &str, content: gossip_message::Content) -> weft_wire::gossip::Envelope {
        let mut msg = message::message(CHAN_AND_ORG, content);
        msg.channel = channel.as_bytes().to_vec();
        message::unsigned(&msg)
    }

    /// Same-org peers with a StateInfo in `channel`.
    fn org_members(&self, channel: &str) -> BTreeSet<PkiId> {
        let Some(ch) = self.channels.get(channel) else {
            return BTreeSet::new();
        };
        ch.heights()
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| {
                self.peers
                    .get(p)
                    .is_some_and(|p| !p.dead && p.org == self.me.org)
            })
            .collect()
    }

    /// Starts a pull round on every channel (every `pullInterval`).
    pub(crate) fn start_pull_rounds(&mut self, now: Instant) {
        let names = self.channel_names();
        for name in names {
            let members = self.org_members(&name);
            let targets = self.sample(self.config.pull_peer_num, |p| members.contains(&p.pki));
            if targets.is_empty() {
                continue;
            }
            let mut nonces = BTreeMap::new();
            for t in targets {
                let nonce: u64 = self.rng.random();
                nonces.insert(t.clone(), nonce);
                let hello = GossipHello {
                    nonce,
                    metadata: Vec::new(),
                    msg_type: BLOCK,
                };
                self.send(
                    &t,
                    Self::pull_msg(&name, gossip_message::Content::Hello(hello)),
                );
            }
            let until = now + self.pull_config.digest_wait_time;
            let ch = self.channels.get_mut(&name).expect("listed");
            ch.pull.round = Some(Round {
                nonces,
                owners: BTreeMap::new(),
                phase: Phase::Digests { until },
            });
        }
    }

    /// Pull deadlines: digests collected → requests; responses over → round ends; remembered nonces expire.
    pub(crate) fn pull_timeouts(&mut self, now: Instant) {
        let names = self.channel_names();
        for name in names {
            let response_wait = self.pull_config.response_wait_time;
            let Some(ch) = self.channels.get_mut(&name) else {
                continue;
            };
            ch.pull.answered.retain(|_, until| *until > now);
            let Some(round) = ch.pull.round.as_mut() else {
                continue;
            };
            match round.phase {
                Phase::Digests { until } if now >= until => {
                    round.phase = Phase::Responses {
                        until: now + response_wait,
                    };
                    let owners = std::mem::take(&mut round.owners);
                    let nonces = round.nonces.clone();
                    let mut requests: BTreeMap<PkiId, Vec<u64>> = BTreeMap::new();
                    for (seq, peers) in owners {
                        let pick = peers[self.rng.random_range(0..peers.len())].clone();
                        requests.entry(pick).or_default().push(seq);
                    }
                    for (peer, seqs) in requests {
                        let nonce = nonces[&peer];
                        let digests = seqs.iter().map(|s| s.to_string().into_bytes()).collect();
                        let req = DataRequest {
                            nonce,
                            digests,
                            msg_type: BLOCK,
                        };
                        self.send(
                            &peer,
                            Self::pull_msg(&name, gossip_message::Content::DataReq(req)),
                        );
                    }
                }
                Phase::Responses { until } if now >= until => ch.pull.round = None,
                _ => {}
            }
        }
    }

    pub(crate) fn next_pull_deadline(&self) -> Option<Instant> {
        self.channels
            .values()
            .filter_map(|c| c.pull.deadline())
            .min()
    }

    fn pull_peer_ok(&self, from: &PkiId, channel: &[u8]) -> Result<Option<String>, Reject> {
        let name = String::from_utf8(channel.to_vec())
            .map_err(|_| Reject::Malformed("channel name".into()))?;
        if !self.channels.contains_key(&name) {
            return Ok(None);
        }
        if !self.org_members(&name).contains(from) {
            return Err(Reject::NotEligible);
        }
        Ok(Some(name))
    }

    pub(crate) fn handle_hello(
        &mut self,
        now: Instant,
        from: &PkiId,
        channel: &[u8],
        hello: GossipHello,
    ) -> Result<(), Reject> {
        let Some(name) = self.pull_peer_ok(from, channel)? else {
            return Ok(());
        };
        let until = now + self.pull_config.request_wait_time;
        let ch = self.channels.get_mut(&name).expect("checked");
        ch.pull.answered.insert((from.clone(), hello.nonce), until);
        let digests = ch
            .blocks
            .window
            .keys()
            .map(|s| s.to_string().into_bytes())
            .collect();
        let dig = DataDigest {
            nonce: hello.nonce,
            digests,
            msg_type: BLOCK,
        };
        self.send(
            from,
            Self::pull_msg(&name, gossip_message::Content::DataDig(dig)),
        );
        Ok(())
    }

    pub(crate) fn handle_digest(
        &mut self,
        from: &PkiId,
        channel: &[u8],
        dig: DataDigest,
    ) -> Result<(), Reject> {
        let Some(name) = self.pull_peer_ok(from, channel)? else {
            return Ok(());
        };
        let ch = self.channels.get_mut(&name).expect("checked");
        let b = &ch.blocks;
        let Some(round) = ch.pull.round.as_mut() else {
            return Err(Reject::Unexpected("digest outside a pull round"));
        };
        if round.nonces.get(from) != Some(&dig.nonce)
            || !matches!(round.phase, Phase::Digests { .. })
        {
            return Err(Reject::Unexpected("digest with a foreign or late nonce"));
        }
        for d in dig.digests {
            let Some(seq) = std::str::from_utf8(&d)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            // Ingress filter: only blocks we lack.
            if seq >= b.height && !b.has(seq) {
                round.owners.entry(seq).or_default().push(from.clone());
            }
        }
        Ok(())
    }

    pub(crate) fn handle_data_request(
        &mut self,
        from: &PkiId,
        channel: &[u8],
        req: DataRequest,
    ) -> Result<(), Reject> {
        let Some(name) = self.pull_peer_ok(from, channel)? else {
            return Ok(());
        };
        let ch = self.channels.get(&name).expect("checked");
        if !ch.pull.answered.contains_key(&(from.clone(), req.nonce)) {
            return Err(Reject::Unexpected("request with an unknown nonce"));
        }
        let data = req
            .digests
            .iter()
            .filter_map(|d| std::str::from_utf8(d).ok()?.parse::<u64>().ok())
            .filter_map(|seq| ch.blocks.window.get(&seq).cloned())
            .collect();
        let update = DataUpdate {
            nonce: req.nonce,
            data,
            msg_type: BLOCK,
        };
        self.send(
            from,
            Self::pull_msg(&name, gossip_message::Content::DataUpdate(update)),
        );
        Ok(())
    }

    pub(crate) fn handle_data_update(
        &mut self,
        from: &PkiId,
        channel: &[u8],
        update: DataUpdate,
    ) -> Result<(), Reject> {
        let Some(name) = self.pull_peer_ok(from, channel)? else {
            return Ok(());
        };
        let ch = self.channels.get(&name).expect("checked");
        let ok = ch.pull.round.as_ref().is_some_and(|r| {
            r.nonces.get(from) == Some(&update.nonce) && matches!(r.phase, Phase::Responses { .. })
        });
        if !ok {
            return Err(Reject::Unexpected("update with a foreign or late nonce"));
        }
        for env in update.data {
            let Ok(msg) = message::open(&env) else {
                continue;
            };
            if let Some(gossip_message::Content::DataMsg(dm)) = msg.content {
                self.handle_data(from, channel, dm, Source::Pull)?;
            }
        }
        Ok(())
    }
}
