//! One channel's view (Fabric's `gossip/gossip/channel`): signed StateInfo messages carrying ledger height,
//! identified by a channel MAC instead of the channel's name, pulled and pushed among the channel's orgs.
//!
//! A peer counts as a member of the channel only if it is alive, its org is in the channel config, and we hold a
//! valid StateInfo for it. StateInfo is published as soon as it changes (Fabric waits for the next
//! `publishStateInfoInterval` check) and exchanged at once with every new connection. Each publication is
//! signed here and verified by every receiver, so changes closer than `state_info_min_gap` (a second) to the
//! last one go out together at the end of that gap: a peer committing blocks would otherwise spend its CPU,
//! and everyone else's, on a signature per block of heights that are stale a moment later.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use weft_wire::gossip::{
    Envelope, Properties, StateInfo, StateInfoPullRequest, StateInfoSnapshot, gossip_message,
};

use crate::core::{Event, GossipCore, Transmit};
use crate::crypto::GossipCrypto;
use crate::disclosure::{self, Party};
use crate::membership::DialKind;
use crate::message::{self, Reject};
use crate::types::{ChannelMember, PeerTime, PkiId};

/// An anchor peer from a channel config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub endpoint: String,
    pub org: String,
}

/// One joined channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub orgs: BTreeSet<String>,
    pub anchors: Vec<Anchor>,
    pub height: u64,
    pub left: bool,
    /// When our StateInfo was last published, and when a change held back since must go out.
    published_at: Option<Instant>,
    publish_due: Option<Instant>,
    own: Option<Envelope>,
    /// Verified StateInfo per peer: timestamp, envelope, properties.
    infos: BTreeMap<PkiId, (PeerTime, Envelope, Properties)>,
    reported: BTreeSet<PkiId>,
    /// Blocks: our height, the push window, state transfer.
    pub blocks: crate::blocks::Blocks,
    /// Dynamic leader election, when enabled.
    pub election: Option<crate::election::Election>,
    /// Block pull rounds.
    pub(crate) pull: crate::pull::Pull,
}

impl Channel {
    pub(crate) fn forget(&mut self, pki: &PkiId) {
        self.infos.remove(pki);
    }

    /// Whether we hold a valid StateInfo of `pki` in this channel.
    pub fn has_state_info(&self, pki: &PkiId) -> bool {
        self.infos.contains_key(pki)
    }

    /// Ledger heights the channel's peers advertise.
    pub fn heights(&self) -> Vec<(PkiId, u64)> {
        self.infos
            .iter()
            .map(|(p, (_, _, props))| (p.clone(), props.ledger_height))
            .collect()
    }
}

const CHAN_OR_ORG: gossip_message::Tag = gossip_message::Tag::ChanOrOrg;

impl<C: GossipCrypto> GossipCore<C> {
    /// Joins `channel`, or applies a new config of it: its orgs and anchor peers. Anchors are dialled now.
    pub fn join_channel(
        &mut self,
        now: Instant,
        channel: &str,
        orgs: BTreeSet<String>,
        anchors: Vec<Anchor>,
    ) {
        let ch = self
            .channels
            .entry(channel.to_string())
            .or_insert_with(|| Channel {
                name: channel.to_string(),
                orgs: BTreeSet::new(),
                anchors: Vec::new(),
                height: 0,
                left: false,
                published_at: None,
                publish_due: None,
                own: None,
                infos: BTreeMap::new(),
                reported: BTreeSet::new(),
                blocks: Default::default(),
                election: None,
                pull: Default::default(),
            });
        ch.orgs = orgs;
        ch.anchors = anchors.clone();
        let identities = &self.identities;
        let orgs = &ch.orgs;
        ch.infos.retain(|pki, _| {
            identities
                .get(pki)
                .is_some_and(|(_, org)| orgs.contains(org))
        });
        for a in anchors {
            let mine =
                a.endpoint == self.me.internal_endpoint || a.endpoint == self.me.external_endpoint;
            if mine
                || !disclosure::may_contact_anchor(
                    &self.me.org,
                    !self.me.external_endpoint.is_empty(),
                    &a.org,
                )
            {
                continue;
            }
            self.dial(&a.endpoint, DialKind::Anchor(a.org.clone()));
        }
        self.publish_state_info(now, channel);
    }

    /// Our ledger height on `channel` changed: publish at once, and fetch what others have beyond it.
    pub fn update_height(&mut self, now: Instant, channel: &str, height: u64) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        if ch.height != height {
            ch.height = height;
            let gap = self.config.state_info_min_gap;
            match ch.published_at {
                Some(t) if now < t + gap => {
                    ch.publish_due.get_or_insert(t + gap);
                }
                _ => self.publish_state_info(now, channel),
            }
        }
        self.blocks_height(now, channel, height);
    }

    /// Channel members (alive, org in the channel, with a valid StateInfo), us included.
    pub fn channel_members(&self, channel: &str) -> Option<Vec<ChannelMember>> {
        let ch = self.channels.get(channel)?;
        let mut out = vec![ChannelMember {
            pki_id: self.me.pki_id.clone(),
            endpoint: if self.me.external_endpoint.is_empty() {
                self.me.internal_endpoint.clone()
            } else {
                self.me.external_endpoint.clone()
            },
            org: self.me.org.clone(),
            height: ch.height,
            left: ch.left,
        }];
        for (pki, (_, _, props)) in &ch.infos {
            let Some(p) = self
                .peers
                .get(pki)
                .filter(|p| !p.dead && ch.orgs.contains(&p.org))
            else {
                continue;
            };
            out.push(ChannelMember {
                pki_id: pki.clone(),
                endpoint: p.endpoint_for(&self.me.org).to_string(),
                org: p.org.clone(),
                height: props.ledger_height,
                left: props.left_channel,
            });
        }
        Some(out)
    }

    /// Names of joined channels.
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.keys().cloned().collect()
    }

    fn publish_state_info(&mut self, now: Instant, channel: &str) {
        let time = self.next_time();
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        ch.published_at = Some(now);
        ch.publish_due = None;
        let si = StateInfo {
            timestamp: Some(time.into()),
            pki_id: self.me.pki_id.0.clone(),
            channel_mac: message::channel_mac(&self.me.pki_id, channel),
            properties: Some(Properties {
                ledger_height: ch.height,
                left_channel: ch.left,
                chaincodes: Vec::new(),
            }),
        };
        let env = message::signed(
            &self.crypto,
            &message::message(CHAN_OR_ORG, gossip_message::Content::StateInfo(si)),
        );
        ch.own = Some(env.clone());
        let orgs = ch.orgs.clone();
        let me = Party {
            org: &self.me.org,
            has_external: !self.me.external_endpoint.is_empty(),
        };
        let (my_org, my_ext) = (me.org.to_string(), me.has_external);
        let targets = self.sample(usize::MAX, |p| {
            orgs.contains(&p.org)
                && disclosure::may_disclose_state_info(
                    Party {
                        org: &my_org,
                        has_external: my_ext,
                    },
                    p.party(),
                )
        });
        for t in targets {
            self.send(&t, env.clone());
        }
    }

    /// When a held-back StateInfo must go out.
    pub(crate) fn next_state_info_deadline(&self) -> Option<Instant> {
        self.channels.values().filter_map(|c| c.publish_due).min()
    }

    /// Publishes held-back StateInfos: those due at `now`, or with `all` (the `publishStateInfoInterval`
    /// check) every one.
    pub(crate) fn publish_held_state_info(&mut self, now: Instant, all: bool) {
        let due: Vec<String> = self
            .channels
            .values()
            .filter(|c| c.publish_due.is_some_and(|d| all || now >= d))
            .map(|c| c.name.clone())
            .collect();
        for ch in due {
            self.publish_state_info(now, &ch);
        }
    }

    /// On a new connection: send our StateInfo of each channel the peer's org is in, and ask for its snapshot.
    pub(crate) fn exchange_state_info(&mut self, to: &PkiId, to_org: &str) {
        let me = Party {
            org: &self.me.org,
            has_external: !self.me.external_endpoint.is_empty(),
        };
        let remote = Party {
            org: to_org,
            has_external: true,
        };
        let mut out = Vec::new();
        for ch in self.channels.values().filter(|c| c.orgs.contains(to_org)) {
            if let Some(own) = &ch.own
                && disclosure::may_disclose_state_info(me, remote)
            {
                out.push(own.clone());
            }
            let req = StateInfoPullRequest {
                channel_mac: message::channel_mac(&self.me.pki_id, &ch.name),
            };
            out.push(message::unsigned(&message::message(
                CHAN_OR_ORG,
                gossip_message::Content::StateInfoPullReq(req),
            )));
        }
        for env in out {
            self.transmits.push_back(Transmit::Send {
                to: to.clone(),
                endpoint: String::new(),
                env,
            });
        }
    }

    pub(crate) fn pull_state_info(&mut self) {
        let names: Vec<(String, BTreeSet<String>)> = self
            .channels
            .values()
            .map(|c| (c.name.clone(), c.orgs.clone()))
            .collect();
        for (name, orgs) in names {
            let targets = self.sample(self.config.pull_peer_num, |p| orgs.contains(&p.org));
            let req = StateInfoPullRequest {
                channel_mac: message::channel_mac(&self.me.pki_id, &name),
            };
            let env = message::unsigned(&message::message(
                CHAN_OR_ORG,
                gossip_message::Content::StateInfoPullReq(req),
            ));
            for t in targets {
                self.send(&t, env.clone());
            }
        }
    }

    /// The joined channel whose MAC for `pki` is `mac`.
    fn channel_by_mac(&self, pki: &PkiId, mac: &[u8]) -> Option<String> {
        self.channels
            .keys()
            .find(|name| message::channel_mac(pki, name) == mac)
            .cloned()
    }

    pub(crate) fn handle_state_info(
        &mut self,
        _now: Instant,
        env: &Envelope,
        si: &StateInfo,
        forward: bool,
    ) -> Result<(), Reject> {
        let pki = PkiId(si.pki_id.clone());
        if pki == self.me.pki_id {
            return Ok(());
        }
        // Not a channel we joined: we cannot even tell which one it is.
        let Some(name) = self.channel_by_mac(&pki, &si.channel_mac) else {
            return Ok(());
        };
        let (identity, org) = self
            .identities
            .get(&pki)
            .cloned()
            .ok_or_else(|| Reject::UnknownIdentity(pki.clone()))?;
        if !self.channels[&name].orgs.contains(&org) {
            return Err(Reject::NotEligible);
        }
        let time = si
            .timestamp
            .as_ref()
            .map(PeerTime::from)
            .unwrap_or_default();
        // A copy no newer than the one held changes nothing, genuine or not, so it is dropped unverified: each
        // publication reaches a peer once from its publisher and again from every peer that relays it.
        if self.channels[&name]
            .infos
            .get(&pki)
            .is_some_and(|(t, _, _)| *t >= time)
        {
            return Ok(());
        }
        self.crypto
            .verify(&identity, &env.payload, &env.signature)
            .map_err(|e| Reject::BadSignature(pki.clone(), e))?;
        let ch = self.channels.get_mut(&name).expect("found above");
        ch.infos.insert(
            pki.clone(),
            (time, env.clone(), si.properties.clone().unwrap_or_default()),
        );
        self.plan_state_transfer(_now, &name);
        let ch = self.channels.get_mut(&name).expect("found above");
        if forward {
            let orgs = ch.orgs.clone();
            let subject_ext = self.peers.get(&pki).is_some_and(|p| !p.external.is_empty());
            let targets = self.sample(self.config.propagate_peer_num, |p| {
                p.pki != pki
                    && orgs.contains(&p.org)
                    && disclosure::may_disclose_state_info(
                        Party {
                            org: &org,
                            has_external: subject_ext,
                        },
                        p.party(),
                    )
            });
            for t in targets {
                self.send_about(&t, &pki, env.clone());
            }
        }
        Ok(())
    }

    pub(crate) fn handle_state_info_pull(
        &mut self,
        from: &PkiId,
        mac: &[u8],
    ) -> Result<(), Reject> {
        let Some(name) = self.channel_by_mac(from, mac) else {
            return Ok(());
        };
        let Some((_, r_org)) = self.identities.get(from).cloned() else {
            return Err(Reject::UnknownIdentity(from.clone()));
        };
        let ch = &self.channels[&name];
        if !ch.orgs.contains(&r_org) {
            return Err(Reject::NotEligible);
        }
        let remote = Party {
            org: &r_org,
            has_external: true,
        };
        let mut elements: Vec<Envelope> = Vec::new();
        if let Some(own) = &ch.own
            && disclosure::may_disclose_state_info(
                Party {
                    org: &self.me.org,
                    has_external: !self.me.external_endpoint.is_empty(),
                },
                remote,
            )
        {
            elements.push(own.clone());
        }
        for (pki, (_, env, _)) in &ch.infos {
            let Some(p) = self.peers.get(pki).filter(|p| !p.dead) else {
                continue;
            };
            if pki != from && disclosure::may_disclose_state_info(p.party(), remote) {
                elements.push(env.clone());
            }
        }
        let snap = StateInfoSnapshot { elements };
        let env = message::unsigned(&message::message(
            CHAN_OR_ORG,
            gossip_message::Content::StateSnapshot(snap),
        ));
        self.send(from, env);
        Ok(())
    }

    /// Reports channel views that changed since the last check.
    pub(crate) fn track_channels(&mut self, _now: Instant) {
        let names = self.channel_names();
        for name in names {
            let members: BTreeSet<PkiId> = self
                .channel_members(&name)
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.pki_id)
                .filter(|p| p != &self.me.pki_id)
                .collect();
            let ch = self.channels.get_mut(&name).expect("listed");
            if members == ch.reported {
                continue;
            }
            let endpoint = |pki: &PkiId| {
                self.peers
                    .get(pki)
                    .map(|p| p.endpoint_for(&self.me.org).to_string())
                    .unwrap_or_else(|| pki.hex())
            };
            let online = members.difference(&ch.reported).map(endpoint).collect();
            let offline = ch.reported.difference(&members).map(endpoint).collect();
            let count = members.len() + 1;
            ch.reported = members;
            self.events.push_back(Event::ChannelViewChanged {
                channel: name,
                members: count,
                online,
                offline,
            });
        }
    }
}
