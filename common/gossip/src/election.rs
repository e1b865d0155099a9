//! Leader election per channel among the org's peers (Fabric's `gossip/election`), with dynamic leaders.
//!
//! After start-up the peer waits until the candidate view is stable (two equal samples `membershipSampleInterval`
//! apart), `startupGracePeriod` passes, or a declaration arrives. With no known leader it proposes itself and
//! collects proposals for `leaderElectionDuration`; the lowest PKI-ID wins, and leadership is sticky: a peer that
//! hears a declaration follows. A leader declares every `leaderAliveThreshold / 2`; a follower that hears nothing
//! for `leaderAliveThreshold` starts a new election; a leader hearing a lower PKI-ID's declaration steps down.
//! weft does not wait where it knows: an election starts as soon as the connection to the leader closes, and a
//! round ends as soon as every alive candidate has proposed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use weft_wire::gossip::{LeadershipMessage, gossip_message};

use crate::core::{Event, GossipCore};
use crate::crypto::GossipCrypto;
use crate::message::{self, Reject};
use crate::types::{PeerTime, PkiId};

/// `peer.gossip.election.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionConfig {
    pub startup_grace_period: Duration,
    pub membership_sample_interval: Duration,
    pub leader_alive_threshold: Duration,
    pub leader_election_duration: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        Self {
            startup_grace_period: Duration::from_secs(15),
            membership_sample_interval: Duration::from_secs(1),
            leader_alive_threshold: Duration::from_secs(10),
            leader_election_duration: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for the candidate view to settle; the last sample's size.
    Stabilizing {
        last: Option<usize>,
        next_sample: Instant,
        until: Instant,
    },
    /// Proposed ourselves; collecting until `deadline`.
    Electing {
        deadline: Instant,
        proposals: BTreeSet<PkiId>,
    },
    /// Leading; next declaration at `next`.
    Leader { next: Instant },
    /// Following `leader` (if known); a new election starts at `deadline` without news.
    Follower { deadline: Instant },
    /// Stepped down on purpose; no candidacy until `until` or another leader appears.
    Yielding { until: Instant },
}

/// One channel's election.
#[derive(Debug, Clone)]
pub struct Election {
    phase: Phase,
    pub leader: Option<PkiId>,
    /// Last (incarnation, sequence) seen per sender, to drop stale messages.
    seen: std::collections::BTreeMap<PkiId, PeerTime>,
}

impl Election {
    pub fn new(now: Instant, config: &ElectionConfig) -> Self {
        let phase = Phase::Stabilizing {
            last: None,
            next_sample: now + config.membership_sample_interval,
            until: now + config.startup_grace_period,
        };
        Self {
            phase,
            leader: None,
            seen: Default::default(),
        }
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.phase, Phase::Leader { .. })
    }

    pub(crate) fn deadline(&self) -> Instant {
        match &self.phase {
            Phase::Stabilizing {
                next_sample, until, ..
            } => (*next_sample).min(*until),
            Phase::Electing { deadline, .. } | Phase::Follower { deadline } => *deadline,
            Phase::Leader { next } => *next,
            Phase::Yielding { until } => *until,
        }
    }
}

const CHAN_AND_ORG: gossip_message::Tag = gossip_message::Tag::ChanAndOrg;

impl<C: GossipCrypto> GossipCore<C> {
    /// Turns dynamic leader election on for `channel` (`peer.gossip.useLeaderElection`).
    pub fn enable_election(&mut self, now: Instant, channel: &str) {
        let config = self.election_config.clone();
        if let Some(ch) = self.channels.get_mut(channel)
            && ch.election.is_none()
        {
            ch.election = Some(Election::new(now, &config));
        }
    }

    /// Whether we lead `channel`, and who does.
    pub fn leadership(&self, channel: &str) -> Option<(bool, Option<PkiId>)> {
        let e = self.channels.get(channel)?.election.as_ref()?;
        Some((e.is_leader(), e.leader.clone()))
    }

    /// Same-org peers with a StateInfo in `channel` (the candidates), alive, and us.
    fn candidates(&self, channel: &str) -> BTreeSet<PkiId> {
        let mut out: BTreeSet<PkiId> = self
            .channels
            .get(channel)
            .map(|c| c.heights().into_iter().map(|(p, _)| p).collect())
            .unwrap_or_default();
        out.retain(|p| {
            self.peers
                .get(p)
                .is_some_and(|p| !p.dead && p.org == self.me.org)
        });
        out.insert(self.me.pki_id.clone());
        out
    }

    /// The leader's connection closed or it died: do not wait for `leaderAliveThreshold`.
    pub(crate) fn leader_gone(&mut self, now: Instant, pki: &PkiId) {
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| {
                c.election
                    .as_ref()
                    .is_some_and(|e| e.leader.as_ref() == Some(pki) && !e.is_leader())
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.start_election(now, &name);
        }
    }

    fn set_phase(&mut self, channel: &str, phase: Phase, leader: Option<PkiId>) {
        let Some(e) = self
            .channels
            .get_mut(channel)
            .and_then(|c| c.election.as_mut())
        else {
            return;
        };
        let was = (e.is_leader(), e.leader.clone());
        e.phase = phase;
        e.leader = leader;
        let now = (e.is_leader(), e.leader.clone());
        if was != now {
            self.events.push_back(Event::LeadershipChanged {
                channel: channel.to_string(),
                is_leader: now.0,
                leader: now.1,
            });
        }
    }

    fn start_election(&mut self, now: Instant, channel: &str) {
        let deadline = now + self.election_config.leader_election_duration;
        let mut proposals = BTreeSet::new();
        proposals.insert(self.me.pki_id.clone());
        self.set_phase(
            channel,
            Phase::Electing {
                deadline,
                proposals,
            },
            None,
        );
        self.send_leadership(channel, false);
        self.conclude_if_complete(now, channel);
    }

    fn become_leader(&mut self, now: Instant, channel: &str) {
        let next = now + self.election_config.leader_alive_threshold / 2;
        self.set_phase(
            channel,
            Phase::Leader { next },
            Some(self.me.pki_id.clone()),
        );
        self.send_leadership(channel, true);
    }

    fn follow(&mut self, now: Instant, channel: &str, leader: Option<PkiId>) {
        let deadline = now + self.election_config.leader_alive_threshold;
        self.set_phase(channel, Phase::Follower { deadline }, leader);
    }

    /// Ends an election round once every alive candidate has proposed (the outcome can no longer change).
    fn conclude_if_complete(&mut self, now: Instant, channel: &str) {
        let candidates = self.candidates(channel);
        let Some(Phase::Electing { proposals, .. }) = self
            .channels
            .get(channel)
            .and_then(|c| c.election.as_ref())
            .map(|e| &e.phase)
        else {
            return;
        };
        if candidates.is_subset(proposals) {
            self.conclude(now, channel);
        }
    }

    fn conclude(&mut self, now: Instant, channel: &str) {
        let Some(Phase::Electing { proposals, .. }) = self
            .channels
            .get(channel)
            .and_then(|c| c.election.as_ref())
            .map(|e| e.phase.clone())
        else {
            return;
        };
        let lowest = proposals.iter().min().cloned();
        if lowest.as_ref() == Some(&self.me.pki_id) {
            self.become_leader(now, channel);
        } else {
            self.follow(now, channel, None);
        }
    }

    fn send_leadership(&mut self, channel: &str, declaration: bool) {
        let time = self.next_time();
        let lm = LeadershipMessage {
            pki_id: self.me.pki_id.0.clone(),
            timestamp: Some(time.into()),
            is_declaration: declaration,
        };
        let mut msg = message::message(CHAN_AND_ORG, gossip_message::Content::LeadershipMsg(lm));
        msg.channel = channel.as_bytes().to_vec();
        let env = message::signed(&self.crypto, &msg);
        let mut targets = self.candidates(channel);
        targets.remove(&self.me.pki_id);
        for t in targets {
            self.send(&t, env.clone());
        }
    }

    /// Steps down and stays out of elections for `leaderAliveThreshold × 6` (the orderer is unreachable).
    pub fn yield_leadership(&mut self, now: Instant, channel: &str) {
        let is_leader = self
            .channels
            .get(channel)
            .and_then(|c| c.election.as_ref())
            .is_some_and(Election::is_leader);
        if is_leader {
            let until = now + self.election_config.leader_alive_threshold * 6;
            self.set_phase(channel, Phase::Yielding { until }, None);
        }
    }

    pub(crate) fn handle_leadership(
        &mut self,
        now: Instant,
        from: &PkiId,
        channel: &[u8],
        env: &weft_wire::gossip::Envelope,
        lm: LeadershipMessage,
    ) -> Result<(), Reject> {
        let channel = String::from_utf8(channel.to_vec())
            .map_err(|_| Reject::Malformed("channel name".into()))?;
        let sender = PkiId(lm.pki_id.clone());
        if &sender != from {
            return Err(Reject::Impersonation(from.clone()));
        }
        let (identity, org) = self
            .identities
            .get(from)
            .cloned()
            .ok_or_else(|| Reject::UnknownIdentity(from.clone()))?;
        if org != self.me.org {
            return Err(Reject::Unexpected("leadership message from another org"));
        }
        self.crypto
            .verify(&identity, &env.payload, &env.signature)
            .map_err(|e| Reject::BadSignature(from.clone(), e))?;
        let time = lm
            .timestamp
            .as_ref()
            .map(PeerTime::from)
            .unwrap_or_default();
        let Some(e) = self
            .channels
            .get_mut(&channel)
            .and_then(|c| c.election.as_mut())
        else {
            return Ok(());
        };
        if e.seen.get(from).is_some_and(|t| *t >= time) {
            return Err(Reject::Stale(from.clone()));
        }
        e.seen.insert(from.clone(), time);
        let phase = e.phase.clone();
        if lm.is_declaration {
            match phase {
                // A lower PKI-ID leads: step down. A higher one will step down when it hears us.
                Phase::Leader { .. } if sender < self.me.pki_id => {
                    self.follow(now, &channel, Some(sender))
                }
                Phase::Leader { .. } => {}
                _ => self.follow(now, &channel, Some(sender)),
            }
        } else if let Phase::Electing {
            mut proposals,
            deadline,
        } = phase
        {
            proposals.insert(sender);
            self.set_phase(
                &channel,
                Phase::Electing {
                    deadline,
                    proposals,
                },
                None,
            );
            self.conclude_if_complete(now, &channel);
        } else if matches!(phase, Phase::Leader { .. }) {
            // Someone is electing while we lead: tell them at once.
            self.send_leadership(&channel, true);
        }
        Ok(())
    }

    /// Election timers of every channel.
    pub(crate) fn election_timeouts(&mut self, now: Instant) {
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| c.election.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(e) = self.channels.get(&name).and_then(|c| c.election.as_ref()) else {
                continue;
            };
            if now < e.deadline() {
                continue;
            }
            match e.phase.clone() {
                Phase::Stabilizing { last, until, .. } => {
                    let size = self.candidates(&name).len();
                    if last == Some(size) || now >= until {
                        self.start_election(now, &name);
                    } else {
                        let next_sample = now + self.election_config.membership_sample_interval;
                        self.set_phase(
                            &name,
                            Phase::Stabilizing {
                                last: Some(size),
                                next_sample,
                                until,
                            },
                            None,
                        );
                    }
                }
                Phase::Electing { .. } => self.conclude(now, &name),
                Phase::Leader { .. } => {
                    let next = now + self.election_config.leader_alive_threshold / 2;
                    let me = Some(self.me.pki_id.clone());
                    self.set_phase(&name, Phase::Leader { next }, me);
                    self.send_leadership(&name, true);
                }
                Phase::Follower { .. } | Phase::Yielding { .. } => self.start_election(now, &name),
            }
        }
    }

    /// The earliest election deadline.
    pub(crate) fn next_election_deadline(&self) -> Option<Instant> {
        self.channels
            .values()
            .filter_map(|c| c.election.as_ref().map(Election::deadline))
            .min()
    }
}
