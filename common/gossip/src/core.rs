//! [`GossipCore`]: membership and channel state behind one sans-IO surface.
//!
//! Inputs: connections coming and going ([`handle_connected`](GossipCore::handle_connected),
//! [`handle_disconnected`](GossipCore::handle_disconnected), [`handle_connect_failed`](GossipCore::handle_connect_failed)),
//! received envelopes ([`handle_message`](GossipCore::handle_message)), time
//! ([`handle_timeout`](GossipCore::handle_timeout)) and the peer's channels
//! ([`join_channel`](GossipCore::join_channel), [`update_height`](GossipCore::update_height)).
//! Outputs: [`Transmit`]s for the transport and [`Event`]s for logs, metrics and views.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IteratorRandom;
use weft_wire::gossip::{Envelope, gossip_message::Content};

use crate::channel::Channel;
use crate::config::GossipConfig;
use crate::crypto::GossipCrypto;
use crate::membership::{Dial, DialKind, Peer};
use crate::message::{self, Reject};
use crate::types::{MemberView, MembershipView, PeerTime, PkiId, SelfInfo};

/// Something for the transport to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    /// Send `env` to `to`; when not connected, dial `endpoint` first (empty: drop if not connected).
    Send {
        to: PkiId,
        endpoint: String,
        env: Envelope,
    },
    /// Dial `endpoint` and report the result with `handle_connected` or `handle_connect_failed`.
    Connect { endpoint: String },
    /// Close the connection to `to`.
    Close { to: PkiId },
}

/// Something worth logging, counting or showing.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Members came alive or died.
    MembershipChanged {
        online: Vec<(PkiId, String)>,
        offline: Vec<(PkiId, String)>,
    },
    /// A channel's view changed (checked every `membershipTrackerInterval`).
    ChannelViewChanged {
        channel: String,
        members: usize,
        online: Vec<String>,
        offline: Vec<String>,
    },
    /// A received message was dropped.
    Rejected { from: PkiId, reason: Reject },
    /// A bootstrap or anchor peer could not be reached.
    ConnectFailed {
        endpoint: String,
        reason: String,
        attempts: u32,
        giving_up: bool,
    },
    /// A bootstrap peer of another org was refused.
    BootstrapOfForeignOrg { endpoint: String, org: String },
    /// An anchor that claims our org presented another org's identity.
    AnchorOrgMismatch {
        endpoint: String,
        expected: String,
        actual: String,
    },
    /// An alive message with our PKI-ID but another endpoint: two peers share an identity.
    BadConfiguration { endpoint: String },
    /// A peer reconnected with another PKI-ID from the same endpoint; the old one was purged.
    IdentitySwitch {
        endpoint: String,
        old: PkiId,
        new: PkiId,
    },
    /// A block arrived and must be verified; answer with `block_verified` or `block_rejected`.
    BlockReceived {
        channel: String,
        seq: u64,
        data: weft_wire::Bytes,
        from: PkiId,
        source: crate::blocks::Source,
        /// The sender's span for the block.
        trace: crate::blocks::TraceContext,
    },
    /// A copy of a block already held, being verified, or committed.
    DuplicateBlock {
        channel: String,
        seq: u64,
        source: crate::blocks::Source,
    },
    /// Blocks were requested from a peer by state transfer.
    StateTransferRequested {
        channel: String,
        start: u64,
        end: u64,
        peer: PkiId,
    },
    /// A peer asks for blocks `[start, end]`; answer with `answer_state_request`.
    StateRequest {
        channel: String,
        to: PkiId,
        nonce: u64,
        start: u64,
        end: u64,
    },
    /// We became or stopped being the channel's leader, or learned who leads.
    LeadershipChanged {
        channel: String,
        is_leader: bool,
        leader: Option<PkiId>,
    },
}

/// The gossip state machine of one peer.
pub struct GossipCore<C: GossipCrypto> {
    pub(crate) me: SelfInfo,
    pub(crate) config: GossipConfig,
    pub(crate) crypto: C,
    pub(crate) rng: StdRng,
    pub(crate) started: Instant,
    pub(crate) seq: u64,
    pub(crate) peers: BTreeMap<PkiId, Peer>,
    pub(crate) identities: BTreeMap<PkiId, (Vec<u8>, String)>,
    pub(crate) connected: BTreeSet<PkiId>,
    /// (receiver, subject): identities already sent, so each is sent once per connection.
    pub(crate) sent_identities: BTreeSet<(PkiId, PkiId)>,
    pub(crate) dials: BTreeMap<String, Dial>,
    pub(crate) channels: BTreeMap<String, Channel>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) timers: Timers,
    pub(crate) election_config: crate::election::ElectionConfig,
    pub(crate) pull_config: crate::pull::PullConfig,
}

#[derive(Debug, Clone)]
pub(crate) struct Timers {
    pub alive: Instant,
    pub check: Instant,
    pub sync: Instant,
    pub reconnect: Instant,
    pub state_pull: Instant,
    pub state_publish: Instant,
    pub tracker: Instant,
}

impl<C: GossipCrypto> GossipCore<C> {
    /// A core for `me`, dialling `bootstrap` (same-org endpoints) at once.
    pub fn new(
        me: SelfInfo,
        config: GossipConfig,
        crypto: C,
        bootstrap: &[String],
        seed: u64,
        now: Instant,
    ) -> Self {
        let timers = Timers {
            alive: now + config.alive_time_interval,
            check: now + config.alive_check_interval(),
            sync: now + config.pull_interval,
            reconnect: now + config.reconnect_interval,
            state_pull: now + config.request_state_info_interval,
            state_publish: now + config.publish_state_info_interval,
            tracker: now + config.membership_tracker_interval,
        };
        let mut core = Self {
            me,
            config,
            crypto,
            rng: StdRng::seed_from_u64(seed),
            started: now,
            seq: 0,
            peers: BTreeMap::new(),
            identities: BTreeMap::new(),
            connected: BTreeSet::new(),
            sent_identities: BTreeSet::new(),
            dials: BTreeMap::new(),
            channels: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timers,
            election_config: Default::default(),
            pull_config: Default::default(),
        };
        for endpoint in bootstrap {
            if endpoint == &core.me.internal_endpoint || endpoint == &core.me.external_endpoint {
                continue;
            }
            core.dial(endpoint, DialKind::Bootstrap);
        }
        core
    }

    /// Sets the pull wait times (`digestWaitTime`, `requestWaitTime`, `responseWaitTime`).
    pub fn set_pull_config(&mut self, config: crate::pull::PullConfig) {
        self.pull_config = config;
    }

    /// Sets `peer.gossip.election.*` (before channels enable election).
    pub fn set_election_config(&mut self, config: crate::election::ElectionConfig) {
        self.election_config = config;
    }

    /// This peer.
    pub fn me(&self) -> &SelfInfo {
        &self.me
    }

    /// The next thing for the transport to do.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = &self.timers;
        let dials = self
            .dials
            .values()
            .filter_map(|d| d.retry_at)
            .chain(self.next_state_deadline())
            .chain(self.next_election_deadline())
            .chain(self.next_pull_deadline())
            .chain(self.next_push_deadline())
            .chain(self.next_state_info_deadline());
        [
            t.alive,
            t.check,
            t.sync,
            t.reconnect,
            t.state_pull,
            t.state_publish,
            t.tracker,
        ]
        .into_iter()
        .chain(dials)
        .min()
    }

    /// Runs every periodic task that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.timers.alive {
            self.timers.alive = now + self.config.alive_time_interval;
            self.push_own_alive(now);
        }
        if now >= self.timers.check {
            self.timers.check = now + self.config.alive_check_interval();
            self.expire_dead(now);
            self.purge(now);
        }
        if now >= self.timers.sync {
            self.timers.sync = now + self.config.pull_interval;
            self.sync_membership(now);
            self.start_pull_rounds(now);
        }
        if now >= self.timers.reconnect {
            self.timers.reconnect = now + self.config.reconnect_interval;
            self.reconnect_dead(now);
        }
        if now >= self.timers.state_pull {
            self.timers.state_pull = now + self.config.request_state_info_interval;
            self.pull_state_info();
        }
        if now >= self.timers.state_publish {
            self.timers.state_publish = now + self.config.publish_state_info_interval;
            self.publish_held_state_info(now, true);
        }
        if now >= self.timers.tracker {
            self.timers.tracker = now + self.config.membership_tracker_interval;
            self.track_channels(now);
        }
        self.retry_dials(now);
        if self.next_state_deadline().is_some_and(|d| now >= d) {
            self.expire_state_requests(now);
        }
        if self.next_election_deadline().is_some_and(|d| now >= d) {
            self.election_timeouts(now);
        }
        if self.next_pull_deadline().is_some_and(|d| now >= d) {
            self.pull_timeouts(now);
        }
        if self.next_push_deadline().is_some_and(|d| now >= d) {
            self.push_timeouts(now);
        }
        if self.next_state_info_deadline().is_some_and(|d| now >= d) {
            self.publish_held_state_info(now, false);
        }
    }

    /// A received envelope from an authenticated connection to `from`.
    pub fn handle_message(&mut self, now: Instant, from: &PkiId, env: Envelope) {
        let result = message::open(&env).and_then(|msg| {
            let tag = msg.tag;
            let (channel, nonce) = (msg.channel.clone(), msg.nonce);
            match msg.content {
                Some(Content::AliveMsg(am)) if tag_is(tag, EMPTY) => {
                    self.handle_alive(now, from, &env, &am, true).map(|_| ())
                }
                Some(Content::MemReq(req)) if tag_is(tag, EMPTY) => {
                    self.handle_membership_request(now, from, req)
                }
                Some(Content::MemRes(res)) if tag_is(tag, EMPTY) => {
                    self.handle_membership_response(now, from, res);
                    Ok(())
                }
                Some(Content::StateInfo(si)) if tag_is(tag, CHAN_OR_ORG) => {
                    self.handle_state_info(now, &env, &si, true)
                }
                Some(Content::StateInfoPullReq(req)) if tag_is(tag, CHAN_OR_ORG) => {
                    self.handle_state_info_pull(from, &req.channel_mac)
                }
                Some(Content::StateSnapshot(snap)) if tag_is(tag, CHAN_OR_ORG) => {
                    for el in snap.elements {
                        match message::open(&el) {
                            Ok(m) => match m.content {
                                Some(Content::StateInfo(si)) => {
                                    if let Err(reason) =
                                        self.handle_state_info(now, &el, &si, false)
                                    {
                                        self.events.push_back(Event::Rejected {
                                            from: from.clone(),
                                            reason,
                                        });
                                    }
                                }
                                _ => self.events.push_back(Event::Rejected {
                                    from: from.clone(),
                                    reason: Reject::Unexpected("non-state-info in snapshot"),
                                }),
                            },
                            Err(reason) => self.events.push_back(Event::Rejected {
                                from: from.clone(),
                                reason,
                            }),
                        }
                    }
                    Ok(())
                }
                Some(Content::AliveMsg(_) | Content::MemReq(_) | Content::MemRes(_)) => {
                    Err(Reject::Unexpected("illegal tag"))
                }
                Some(
                    Content::StateInfo(_)
                    | Content::StateInfoPullReq(_)
                    | Content::StateSnapshot(_),
                ) => Err(Reject::Unexpected("illegal tag")),
                Some(Content::DataMsg(dm)) if tag_is(tag, CHAN_AND_ORG) => {
                    self.handle_data(from, &channel, dm, crate::blocks::Source::Push)
                }
                Some(Content::StateRequest(req)) if tag_is(tag, CHAN_OR_ORG) => {
                    self.handle_state_request(from, &channel, nonce, req)
                }
                Some(Content::StateResponse(res)) if tag_is(tag, CHAN_OR_ORG) => {
                    self.handle_state_response(now, from, nonce, res)
                }
                Some(
                    Content::DataMsg(_) | Content::StateRequest(_) | Content::StateResponse(_),
                ) => Err(Reject::Unexpected("illegal tag")),
                Some(Content::LeadershipMsg(lm)) if tag_is(tag, CHAN_AND_ORG) => {
                    self.handle_leadership(now, from, &channel, &env, lm)
                }
                Some(Content::LeadershipMsg(_)) => Err(Reject::Unexpected("illegal tag")),
                Some(Content::Hello(h)) if tag_is(tag, CHAN_AND_ORG) => {
                    self.handle_hello(now, from, &channel, h)
                }
                Some(Content::DataDig(d)) if tag_is(tag, CHAN_AND_ORG) => {
                    self.handle_digest(from, &channel, d)
                }
                Some(Content::DataReq(r)) if tag_is(tag, CHAN_AND_ORG) => {
                    self.handle_data_request(from, &channel, r)
                }
                Some(Content::DataUpdate(u)) if tag_is(tag, CHAN_AND_ORG) => {
                    self.handle_data_update(from, &channel, u)
                }
                Some(
                    Content::Hello(_)
                    | Content::DataDig(_)
                    | Content::DataReq(_)
                    | Content::DataUpdate(_),
                ) => Err(Reject::Unexpected("illegal tag")),
                Some(Content::PeerIdentity(pi)) if tag_is(tag, EMPTY) => {
                    self.handle_peer_identity(&pi)
                }
                Some(Content::PeerIdentity(_)) => Err(Reject::Unexpected("illegal tag")),
                Some(Content::Conn(_)) => Err(Reject::Unexpected("handshake after handshake")),
                None => Err(Reject::Malformed("no content".into())),
            }
        });
        if let Err(reason) = result {
            self.events.push_back(Event::Rejected {
                from: from.clone(),
                reason,
            });
        }
    }

    /// The membership view for the admin endpoint.
    pub fn membership(&self, now: Instant) -> MembershipView {
        let view = |p: &Peer| MemberView {
            pki_id: p.pki.clone(),
            endpoint: p.endpoint_for(&self.me.org).to_string(),
            org: p.org.clone(),
            last_seen_ms_ago: now.saturating_duration_since(p.last_seen).as_millis() as u64,
        };
        MembershipView {
            alive: self.peers.values().filter(|p| !p.dead).map(view).collect(),
            dead: self.peers.values().filter(|p| p.dead).map(view).collect(),
        }
    }

    /// Alive peers (excluding us).
    pub fn alive_count(&self) -> usize {
        self.peers.values().filter(|p| !p.dead).count()
    }

    pub(crate) fn next_time(&mut self) -> PeerTime {
        self.seq += 1;
        PeerTime {
            inc: self.me.incarnation,
            seq: self.seq,
        }
    }

    /// Up to `n` random alive peers satisfying `keep`, in a deterministic order for a given seed.
    pub(crate) fn sample(&mut self, n: usize, keep: impl Fn(&Peer) -> bool) -> Vec<PkiId> {
        let candidates: Vec<PkiId> = self
            .peers
            .values()
            .filter(|p| !p.dead && keep(p))
            .map(|p| p.pki.clone())
            .collect();
        let n = n.min(candidates.len());
        candidates.into_iter().choose_multiple(&mut self.rng, n)
    }

    /// Queues `env` to peer `to` at its best endpoint for us.
    pub(crate) fn send(&mut self, to: &PkiId, env: Envelope) {
        let endpoint = self
            .peers
            .get(to)
            .map(|p| p.endpoint_for(&self.me.org).to_string())
            .unwrap_or_default();
        self.transmits.push_back(Transmit::Send {
            to: to.clone(),
            endpoint,
            env,
        });
    }

    /// Sends `env`, which is about `subject`, to `to`, preceded by `subject`'s certificate the first time.
    pub(crate) fn send_about(&mut self, to: &PkiId, subject: &PkiId, env: Envelope) {
        if to != subject
            && self.sent_identities.insert((to.clone(), subject.clone()))
            && let Some((cert, _)) = self.identities.get(subject)
        {
            let pi = weft_wire::gossip::PeerIdentity {
                pki_id: subject.0.clone(),
                cert: cert.clone(),
                metadata: Vec::new(),
            };
            let msg = message::message(
                weft_wire::gossip::gossip_message::Tag::Empty,
                Content::PeerIdentity(pi),
            );
            self.send(to, message::unsigned(&msg));
        }
        self.send(to, env);
    }

    fn handle_peer_identity(&mut self, pi: &weft_wire::gossip::PeerIdentity) -> Result<(), Reject> {
        let claimed = PkiId(pi.pki_id.clone());
        let (actual, org) = self
            .crypto
            .validate(&pi.cert)
            .map_err(Reject::InvalidIdentity)?;
        if actual != claimed {
            return Err(Reject::PkiIdMismatch { claimed, actual });
        }
        if actual != self.me.pki_id {
            self.identities.insert(actual, (pi.cert.clone(), org));
        }
        Ok(())
    }

    pub(crate) fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

const EMPTY: i32 = weft_wire::gossip::gossip_message::Tag::Empty as i32;
const CHAN_OR_ORG: i32 = weft_wire::gossip::gossip_message::Tag::ChanOrOrg as i32;
const CHAN_AND_ORG: i32 = weft_wire::gossip::gossip_message::Tag::ChanAndOrg as i32;

fn tag_is(tag: i32, want: i32) -> bool {
    tag == want
}
