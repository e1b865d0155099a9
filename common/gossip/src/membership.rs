//! Membership: who is alive, who is dead, and how we find out (Fabric's `discovery_impl.go`).
//!
//! Alive messages are signed and ordered by (incarnation, sequence); a member silent for
//! `aliveExpirationTimeout`, or whose connection closes, is dead; a newer alive message resurrects it; dead
//! members are forgotten after `aliveExpirationTimeout × msgExpirationFactor` unless they are bootstrap or anchor
//! peers. Where Fabric waits for its next periodic round, weft acts at once on news: a new connection or a newly
//! learned member triggers an immediate membership exchange.

use std::time::Instant;

use weft_wire::gossip::{
    AliveMessage, Envelope, MembershipRequest, MembershipResponse, gossip_message,
};

use crate::core::{Event, GossipCore, Transmit};
use crate::crypto::GossipCrypto;
use crate::disclosure::{self, Party};
use crate::message::{self, Reject};
use crate::types::{PeerTime, PkiId};

/// What we know of another peer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub pki: PkiId,
    pub org: String,
    /// Advertised to other orgs (empty: invisible to them).
    pub external: String,
    /// From the secret envelope; only same-org peers reveal it.
    pub internal: Option<String>,
    pub time: PeerTime,
    /// The last signed alive envelope, kept for membership responses.
    pub last_alive: Option<Envelope>,
    pub last_seen: Instant,
    pub dead: bool,
}

impl Peer {
    /// The endpoint a peer of `my_org` uses to reach this one.
    pub fn endpoint_for(&self, my_org: &str) -> &str {
        match &self.internal {
            Some(i) if self.org == my_org && !i.is_empty() => i,
            _ => &self.external,
        }
    }

    pub fn party(&self) -> Party<'_> {
        Party {
            org: &self.org,
            has_external: !self.external.is_empty(),
        }
    }
}

/// Why we dial an endpoint on our own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialKind {
    Bootstrap,
    /// An anchor peer of the given org, from a channel config.
    Anchor(String),
}

/// A bootstrap or anchor endpoint we keep trying.
#[derive(Debug, Clone)]
pub struct Dial {
    pub kind: DialKind,
    pub attempts: u32,
    pub pending: bool,
    pub retry_at: Option<Instant>,
    /// The PKI-ID it turned out to have.
    pub pki: Option<PkiId>,
    pub refused: bool,
}

/// A newly authenticated connection.
#[derive(Debug, Clone)]
pub struct Connected {
    pub pki: PkiId,
    pub org: String,
    pub identity: Vec<u8>,
    /// The endpoint we dialled, for outbound connections.
    pub dialled: Option<String>,
}

impl<C: GossipCrypto> GossipCore<C> {
    pub(crate) fn dial(&mut self, endpoint: &str, kind: DialKind) {
        let entry = self.dials.entry(endpoint.to_string()).or_insert(Dial {
            kind,
            attempts: 0,
            pending: false,
            retry_at: None,
            pki: None,
            refused: false,
        });
        // A skipped dial must not stay due, or it would be retried at every tick.
        entry.retry_at = None;
        if entry.pending
            || entry.refused
            || entry
                .pki
                .as_ref()
                .is_some_and(|p| self.connected.contains(p))
        {
            return;
        }
        entry.pending = true;
        entry.attempts += 1;
        self.transmits.push_back(Transmit::Connect {
            endpoint: endpoint.to_string(),
        });
    }

    pub(crate) fn retry_dials(&mut self, now: Instant) {
        let due: Vec<(String, DialKind)> = self
            .dials
            .iter()
            .filter(|(_, d)| d.retry_at.is_some_and(|t| now >= t))
            .map(|(e, d)| (e.clone(), d.kind.clone()))
            .collect();
        for (endpoint, kind) in due {
            self.dial(&endpoint, kind);
        }
    }

    /// Whether `endpoint` is a bootstrap or anchor endpoint (never purged).
    fn is_pinned(&self, peer: &Peer) -> bool {
        self.dials
            .iter()
            .any(|(e, d)| d.pki.as_ref() == Some(&peer.pki) || e == &peer.external)
    }

    /// An authenticated connection came up.
    pub fn handle_connected(&mut self, now: Instant, c: Connected) {
        if c.pki == self.me.pki_id {
            return;
        }
        if let Some(endpoint) = &c.dialled {
            if let Some(dial) = self.dials.get_mut(endpoint) {
                dial.pending = false;
                match &dial.kind {
                    DialKind::Bootstrap if c.org != self.me.org => {
                        dial.refused = true;
                        self.events.push_back(Event::BootstrapOfForeignOrg {
                            endpoint: endpoint.clone(),
                            org: c.org.clone(),
                        });
                        self.transmits.push_back(Transmit::Close { to: c.pki });
                        return;
                    }
                    DialKind::Anchor(expected)
                        if *expected == self.me.org && c.org != self.me.org =>
                    {
                        dial.refused = true;
                        let (endpoint, expected) = (endpoint.clone(), expected.clone());
                        self.events.push_back(Event::AnchorOrgMismatch {
                            endpoint,
                            expected,
                            actual: c.org.clone(),
                        });
                        self.transmits.push_back(Transmit::Close { to: c.pki });
                        return;
                    }
                    _ => dial.pki = Some(c.pki.clone()),
                }
            }
            // The same endpoint now answers with another PKI-ID of the same org: the old identity is gone.
            let switched: Vec<PkiId> = self
                .peers
                .values()
                .filter(|p| {
                    p.pki != c.pki && p.org == c.org && p.endpoint_for(&self.me.org) == endpoint
                })
                .map(|p| p.pki.clone())
                .collect();
            for old in switched {
                self.peers.remove(&old);
                self.identities.remove(&old);
                self.events.push_back(Event::IdentitySwitch {
                    endpoint: endpoint.clone(),
                    old,
                    new: c.pki.clone(),
                });
            }
        }
        self.identities
            .insert(c.pki.clone(), (c.identity, c.org.clone()));
        self.connected.insert(c.pki.clone());
        for d in self
            .dials
            .values_mut()
            .filter(|d| d.pki.as_ref() == Some(&c.pki))
        {
            d.retry_at = None;
        }
        // Tell the new neighbour who we are and ask for its view now, rather than at the next round.
        self.request_membership(now, &c.pki, &c.org);
        self.exchange_state_info(&c.pki, &c.org);
    }

    /// A dial failed. A member we believed alive at that endpoint is presumed dead at once, as Fabric does on a
    /// failed send; its next alive message, relayed by others, brings it back if it was only unreachable from here.
    pub fn handle_connect_failed(&mut self, now: Instant, endpoint: &str, reason: &str) {
        let me_org = self.me.org.clone();
        let unreachable: Vec<PkiId> = self
            .peers
            .values()
            .filter(|p| {
                !p.dead && !self.connected.contains(&p.pki) && p.endpoint_for(&me_org) == endpoint
            })
            .map(|p| p.pki.clone())
            .collect();
        for pki in unreachable {
            if let Some(p) = self.peers.get_mut(&pki) {
                p.dead = true;
            }
            self.events.push_back(Event::MembershipChanged {
                online: vec![],
                offline: vec![(pki, endpoint.to_string())],
            });
        }
        let Some(dial) = self.dials.get_mut(endpoint) else {
            return;
        };
        dial.pending = false;
        let giving_up = dial.attempts >= self.config.max_connection_attempts;
        if !giving_up {
            dial.retry_at = Some(now + self.config.reconnect_interval);
        }
        self.events.push_back(Event::ConnectFailed {
            endpoint: endpoint.to_string(),
            reason: reason.to_string(),
            attempts: dial.attempts,
            giving_up,
        });
    }

    /// A connection closed or failed: the peer is presumed dead at once.
    pub fn handle_disconnected(&mut self, now: Instant, pki: &PkiId) {
        self.connected.remove(pki);
        self.sent_identities.retain(|(to, _)| to != pki);
        let me_org = self.me.org.clone();
        // Bootstrap and anchor peers are dialled again later; the rest come back by their own alive messages.
        for d in self
            .dials
            .values_mut()
            .filter(|d| d.pki.as_ref() == Some(pki) && !d.refused)
        {
            d.retry_at = Some(now + self.config.reconnect_interval);
        }
        if let Some(p) = self.peers.get_mut(pki).filter(|p| !p.dead) {
            p.dead = true;
            let endpoint = p.endpoint_for(&me_org).to_string();
            self.events.push_back(Event::MembershipChanged {
                online: vec![],
                offline: vec![(pki.clone(), endpoint)],
            });
        }
        self.leader_gone(now, pki);
    }

    /// Our signed alive message, with the internal endpoint as a secret.
    pub(crate) fn own_alive(&mut self, now: Instant) -> Envelope {
        let time = self.next_time();
        let identity = (self.age(now) < self.config.publish_cert_period)
            .then_some(self.me.identity.as_slice());
        let msg = message::alive(&self.me.pki_id, &self.me.external_endpoint, time, identity);
        let env = message::signed(&self.crypto, &msg);
        message::with_secret(&self.crypto, env, &self.me.internal_endpoint)
    }

    fn me_party(&self) -> Party<'_> {
        Party {
            org: &self.me.org,
            has_external: !self.me.external_endpoint.is_empty(),
        }
    }

    /// `env` as `to` may see it: without the secret for peers of other orgs.
    pub(crate) fn for_peer(&self, env: &Envelope, to_org: &str) -> Envelope {
        if disclosure::may_send_secret(
            &self.me.org,
            Party {
                org: to_org,
                has_external: false,
            },
        ) {
            env.clone()
        } else {
            message::without_secret(env)
        }
    }

    pub(crate) fn push_own_alive(&mut self, now: Instant) {
        let env = self.own_alive(now);
        let my_org = self.me.org.clone();
        let me_has_external = !self.me.external_endpoint.is_empty();
        let targets = self.sample(self.config.propagate_peer_num, |p| {
            disclosure::may_forward_alive(
                &my_org,
                Party {
                    org: &my_org,
                    has_external: me_has_external,
                },
                p.party(),
            )
        });
        for t in targets {
            let org = self.peers[&t].org.clone();
            let env = self.for_peer(&env, &org);
            self.send(&t, env);
        }
    }

    pub(crate) fn request_membership(&mut self, now: Instant, to: &PkiId, to_org: &str) {
        let remote = Party {
            org: to_org,
            has_external: true,
        };
        if !disclosure::may_disclose_alive(&self.me.org, self.me_party(), remote) {
            return;
        }
        let alive = self.own_alive(now);
        let req = MembershipRequest {
            self_information: Some(self.for_peer(&alive, to_org)),
            known: Vec::new(),
        };
        let env = message::unsigned(&message::message(
            gossip_message::Tag::Empty,
            gossip_message::Content::MemReq(req),
        ));
        self.send(to, env);
    }

    /// Validates an alive message and updates membership. Returns whether it told us something new.
    pub(crate) fn handle_alive(
        &mut self,
        now: Instant,
        from: &PkiId,
        env: &Envelope,
        am: &AliveMessage,
        forward: bool,
    ) -> Result<bool, Reject> {
        let (Some(member), Some(ts)) = (&am.membership, &am.timestamp) else {
            return Err(Reject::Malformed(
                "alive message without membership or timestamp".into(),
            ));
        };
        let pki = PkiId(member.pki_id.clone());
        if pki.0.is_empty() {
            return Err(Reject::Malformed("alive message without PKI-ID".into()));
        }
        if pki == self.me.pki_id {
            if member.endpoint != self.me.external_endpoint {
                self.events.push_back(Event::BadConfiguration {
                    endpoint: member.endpoint.clone(),
                });
            }
            return Ok(false);
        }
        let (identity, org) = if am.identity.is_empty() {
            self.identities
                .get(&pki)
                .cloned()
                .ok_or_else(|| Reject::UnknownIdentity(pki.clone()))?
        } else {
            let (actual, org) = self
                .crypto
                .validate(&am.identity)
                .map_err(Reject::InvalidIdentity)?;
            if actual != pki {
                return Err(Reject::PkiIdMismatch {
                    claimed: pki,
                    actual,
                });
            }
            (am.identity.clone(), org)
        };
        self.crypto
            .verify(&identity, &env.payload, &env.signature)
            .map_err(|e| Reject::BadSignature(pki.clone(), e))?;
        let time = PeerTime::from(ts);
        if self.peers.get(&pki).is_some_and(|p| p.time >= time) {
            if let Some(p) = self.peers.get_mut(&pki).filter(|p| !p.dead) {
                p.last_seen = p.last_seen.max(now);
            }
            return Ok(false);
        }
        self.identities
            .insert(pki.clone(), (identity.clone(), org.clone()));
        let internal = (org == self.me.org)
            .then(|| message::internal_endpoint(&self.crypto, env, &identity))
            .flatten();
        let previous = self.peers.get(&pki).map(|p| p.dead);
        let peer = Peer {
            pki: pki.clone(),
            org: org.clone(),
            external: member.endpoint.clone(),
            internal: internal.or_else(|| self.peers.get(&pki).and_then(|p| p.internal.clone())),
            time,
            last_alive: Some(env.clone()),
            last_seen: now,
            dead: false,
        };
        let endpoint = peer.endpoint_for(&self.me.org).to_string();
        self.peers.insert(pki.clone(), peer);
        let became_alive = previous != Some(false);
        if became_alive {
            self.events.push_back(Event::MembershipChanged {
                online: vec![(pki.clone(), endpoint)],
                offline: vec![],
            });
        }
        if forward {
            self.forward_alive(from, &pki, env);
        }
        if became_alive && from != &pki {
            // Learned of it from someone else: introduce ourselves now rather than at the next round.
            self.request_membership(now, &pki, &org);
        }
        Ok(true)
    }

    fn forward_alive(&mut self, from: &PkiId, subject: &PkiId, env: &Envelope) {
        let Some(s) = self.peers.get(subject) else {
            return;
        };
        let (s_org, s_ext) = (s.org.clone(), !s.external.is_empty());
        let my_org = self.me.org.clone();
        let targets = self.sample(self.config.propagate_peer_num, |p| {
            &p.pki != from
                && &p.pki != subject
                && disclosure::may_forward_alive(
                    &my_org,
                    Party {
                        org: &s_org,
                        has_external: s_ext,
                    },
                    p.party(),
                )
        });
        for t in targets {
            let org = self.peers[&t].org.clone();
            let env = self.for_peer(env, &org);
            self.send_about(&t, subject, env);
        }
    }

    pub(crate) fn handle_membership_request(
        &mut self,
        now: Instant,
        from: &PkiId,
        req: MembershipRequest,
    ) -> Result<(), Reject> {
        let env = req
            .self_information
            .ok_or_else(|| Reject::Malformed("membership request without alive".into()))?;
        let msg = message::open(&env)?;
        let Some(gossip_message::Content::AliveMsg(am)) = msg.content else {
            return Err(Reject::Malformed("membership request without alive".into()));
        };
        if am.membership.as_ref().map(|m| m.pki_id.as_slice()) != Some(from.0.as_slice()) {
            return Err(Reject::Impersonation(from.clone()));
        }
        self.handle_alive(now, from, &env, &am, true)?;
        let (r_org, r_ext) = match self.peers.get(from) {
            Some(p) => (p.org.clone(), !p.external.is_empty()),
            None => return Ok(()),
        };
        let remote = Party {
            org: &r_org,
            has_external: r_ext,
        };
        let own = self.own_alive(now);
        let mut alive = Vec::new();
        if disclosure::may_disclose_alive(&self.me.org, self.me_party(), remote) {
            alive.push(self.for_peer(&own, &r_org));
        }
        let mut dead = Vec::new();
        let mut subjects = Vec::new();
        for p in self.peers.values().filter(|p| &p.pki != from) {
            let Some(env) = &p.last_alive else { continue };
            if disclosure::may_disclose_alive(&self.me.org, p.party(), remote) {
                let env = self.for_peer(env, &r_org);
                subjects.push(p.pki.clone());
                if p.dead {
                    dead.push(env)
                } else {
                    alive.push(env)
                }
            }
        }
        // The requester may not hold these peers' certificates yet.
        for s in subjects {
            if self.sent_identities.insert((from.clone(), s.clone()))
                && let Some((cert, _)) = self.identities.get(&s)
            {
                let pi = weft_wire::gossip::PeerIdentity {
                    pki_id: s.0.clone(),
                    cert: cert.clone(),
                    metadata: Vec::new(),
                };
                let msg = message::message(
                    gossip_message::Tag::Empty,
                    gossip_message::Content::PeerIdentity(pi),
                );
                self.send(from, message::unsigned(&msg));
            }
        }
        let res = MembershipResponse { alive, dead };
        let env = message::unsigned(&message::message(
            gossip_message::Tag::Empty,
            gossip_message::Content::MemRes(res),
        ));
        self.send(from, env);
        Ok(())
    }

    pub(crate) fn handle_membership_response(
        &mut self,
        now: Instant,
        from: &PkiId,
        res: MembershipResponse,
    ) {
        for env in res.alive {
            let result = message::open(&env).and_then(|m| match m.content {
                Some(gossip_message::Content::AliveMsg(am)) => {
                    self.handle_alive(now, from, &env, &am, true).map(|_| ())
                }
                _ => Err(Reject::Unexpected("non-alive in membership response")),
            });
            if let Err(reason) = result {
                self.events.push_back(Event::Rejected {
                    from: from.clone(),
                    reason,
                });
            }
        }
        for env in res.dead {
            // Learn dead members we did not know, so that we try them on reconnect rounds.
            let Ok(m) = message::open(&env) else { continue };
            let Some(gossip_message::Content::AliveMsg(am)) = m.content else {
                continue;
            };
            let pki = PkiId(
                am.membership
                    .as_ref()
                    .map(|m| m.pki_id.clone())
                    .unwrap_or_default(),
            );
            if pki.0.is_empty() || pki == self.me.pki_id || self.peers.contains_key(&pki) {
                continue;
            }
            if self
                .handle_alive(now, from, &env, &am, false)
                .unwrap_or(false)
                && let Some(p) = self.peers.get_mut(&pki)
            {
                p.dead = true;
            }
        }
    }

    pub(crate) fn expire_dead(&mut self, now: Instant) {
        let timeout = self.config.alive_expiration_timeout;
        let me_org = self.me.org.clone();
        let mut offline = Vec::new();
        for p in self
            .peers
            .values_mut()
            .filter(|p| !p.dead && now.saturating_duration_since(p.last_seen) > timeout)
        {
            p.dead = true;
            offline.push((p.pki.clone(), p.endpoint_for(&me_org).to_string()));
        }
        for (pki, _) in &offline {
            self.transmits
                .push_back(Transmit::Close { to: pki.clone() });
        }
        if !offline.is_empty() {
            self.events.push_back(Event::MembershipChanged {
                online: vec![],
                offline,
            });
        }
    }

    pub(crate) fn purge(&mut self, now: Instant) {
        let after = self.config.purge_after();
        let gone: Vec<PkiId> = self
            .peers
            .values()
            .filter(|p| {
                p.dead && now.saturating_duration_since(p.last_seen) > after && !self.is_pinned(p)
            })
            .map(|p| p.pki.clone())
            .collect();
        for pki in gone {
            self.peers.remove(&pki);
            self.identities.remove(&pki);
            for ch in self.channels.values_mut() {
                ch.forget(&pki);
            }
        }
    }

    pub(crate) fn sync_membership(&mut self, now: Instant) {
        let targets = self.sample(self.config.pull_peer_num, |_| true);
        for t in targets {
            let org = self.peers[&t].org.clone();
            self.request_membership(now, &t, &org);
        }
    }

    pub(crate) fn reconnect_dead(&mut self, now: Instant) {
        let dead: Vec<(PkiId, String)> = self
            .peers
            .values()
            .filter(|p| p.dead)
            .map(|p| (p.pki.clone(), p.org.clone()))
            .collect();
        for (pki, org) in dead {
            self.request_membership(now, &pki, &org);
        }
    }

    /// Whether `pki` is alive.
    pub fn is_alive(&self, pki: &PkiId) -> bool {
        self.peers.get(pki).is_some_and(|p| !p.dead)
    }
}
