//! The gossip driver task: the only owner of the core. It turns comm events, commands and timers into core
//! inputs, and core outputs into sends, dials, closes, log lines and metrics.

use std::time::Instant;

use tokio::sync::{mpsc, watch};
use weft_gossip::core::{Event, Transmit};
use weft_gossip::membership::Connected;
use weft_gossip::{GossipConfig, GossipCore, PkiId, SelfInfo};
use weft_net::{Comm, CommConfig, CommEvent, Endpoint};

use super::auth::PeerAuth;
use super::views::SelfView;
use super::{Command, Delivery, GossipHandle};

/// Commands waiting for the driver (committers, admin requests, dial results).
const COMMANDS: usize = 4096;

/// Everything gossip needs to start.
pub struct Setup {
    pub me: SelfInfo,
    /// `peer.gossip.bootstrap`.
    pub bootstrap: Vec<String>,
    pub config: GossipConfig,
    pub comm_config: CommConfig,
    pub auth: PeerAuth,
    /// The process's QUIC endpoint, shared with the peer's other services.
    pub endpoint: Endpoint,
    /// The DER of our TLS certificate, whose hash the handshake binds to our identity.
    pub own_tls_cert: Vec<u8>,
    /// Dynamic leader election (`peer.gossip.useLeaderElection`) and its timers.
    pub election: Option<weft_gossip::election::ElectionConfig>,
    /// The pull engine's wait times.
    pub pull: weft_gossip::pull::PullConfig,
}

/// Blocks and state requests waiting for the intake (a bound: beyond it a block is dropped and fetched again).
const DELIVERIES: usize = 1024;

/// Starts gossip: the comm layer and the driver task. Runs until `shutdown`.
pub fn start(
    setup: Setup,
    shutdown: watch::Receiver<bool>,
) -> (GossipHandle, mpsc::Receiver<Delivery>) {
    let Setup {
        me,
        bootstrap,
        config,
        comm_config,
        auth,
        endpoint,
        own_tls_cert,
        election,
        pull,
    } = setup;
    let (comm, events) = Comm::new(
        endpoint,
        own_tls_cert,
        std::sync::Arc::new(auth.clone()),
        comm_config,
    );
    let (commands, rx) = mpsc::channel(COMMANDS);
    let view = SelfView {
        pki_id: me.pki_id.hex(),
        endpoint: if me.external_endpoint.is_empty() {
            me.internal_endpoint.clone()
        } else {
            me.external_endpoint.clone()
        },
        org: me.org.clone(),
    };
    if me.external_endpoint.is_empty() {
        tracing::warn!(target: "gossip", "External endpoint is empty, peer will not be accessible outside of its organization");
    }
    let seed = u64::from_le_bytes(me.pki_id.0[..8].try_into().unwrap_or_default()) ^ me.incarnation;
    let mut core = GossipCore::new(me, config, auth, &bootstrap, seed, Instant::now());
    if let Some(e) = &election {
        core.set_election_config(e.clone());
    }
    core.set_pull_config(pull);
    let (deliveries, delivered) = mpsc::channel(DELIVERIES);
    let driver = Driver {
        core,
        dynamic: election.is_some(),
        partitioned: Default::default(),
        comm: comm.clone(),
        commands: commands.clone(),
        deliveries,
    };
    tokio::spawn(driver.run(events, rx, shutdown));
    (
        GossipHandle {
            commands,
            comm,
            me: view,
        },
        delivered,
    )
}

struct Driver {
    core: GossipCore<PeerAuth>,
    dynamic: bool,
    /// Peers cut off by a test fault: nothing is sent to them, and what they send is dropped.
    partitioned: std::collections::BTreeSet<PkiId>,
    comm: Comm,
    commands: mpsc::Sender<Command>,
    deliveries: mpsc::Sender<Delivery>,
}

impl Driver {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<CommEvent>,
        mut commands: mpsc::Receiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        tracing::info!(target: "gossip", pki_id = %self.core.me().pki_id, endpoint = %self.core.me().internal_endpoint, "gossip started");
        loop {
            self.flush();
            let deadline = self.core.poll_timeout();
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.comm_event(ev),
                    None => return,
                },
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => return,
                },
                () = timer => self.core.handle_timeout(Instant::now()),
                _ = shutdown.changed() => return,
            }
        }
    }

    fn comm_event(&mut self, ev: CommEvent) {
        let now = Instant::now();
        match ev {
            // Outbound connections are reported by the dial that made them (with the endpoint dialled).
            CommEvent::Connected(r) if r.inbound => {
                if self.partitioned.contains(&PkiId(r.pki_id.clone())) {
                    return;
                }
                let c = Connected {
                    pki: PkiId(r.pki_id),
                    org: r.org,
                    identity: r.identity,
                    dialled: None,
                };
                self.core.handle_connected(now, c);
            }
            CommEvent::Connected(_) => {}
            CommEvent::Message { from, env } => {
                if self.partitioned.contains(&PkiId(from.pki_id.clone())) {
                    return;
                }
                self.core.handle_message(now, &PkiId(from.pki_id), env);
            }
            CommEvent::Disconnected { pki_id, reason } => {
                tracing::debug!(target: "gossip", peer = %PkiId(pki_id.clone()), %reason, "connection closed");
                self.core.handle_disconnected(now, &PkiId(pki_id));
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Join {
                channel,
                orgs,
                anchors,
            } => {
                tracing::info!(target: "gossip", %channel, orgs = ?orgs, anchors = ?anchors.iter().map(|a| &a.endpoint).collect::<Vec<_>>(),
                    "joining gossip of channel");
                self.core.join_channel(now, &channel, orgs, anchors);
                if self.dynamic {
                    self.core.enable_election(now, &channel);
                }
            }
            Command::Height { channel, height } => self.core.update_height(now, &channel, height),
            Command::BlockVerified {
                channel,
                seq,
                data,
                from,
                source,
                trace,
            } => {
                self.core
                    .block_verified(now, &channel, seq, data, from, source, trace);
            }
            Command::BlockRejected { channel, seq } => self.core.block_rejected(&channel, seq),
            Command::Yield { channel } => self.core.yield_leadership(now, &channel),
            Command::Partition(peers) => {
                tracing::warn!(target: "gossip", peers = ?peers, "test fault: dropping gossip to and from these peers");
                self.partitioned = peers;
            }
            Command::AnswerState {
                channel,
                to,
                nonce,
                blocks,
            } => {
                self.core.answer_state_request(&channel, &to, nonce, blocks);
            }
            Command::Dialled { endpoint, result } => match result {
                Ok(r) => {
                    if self.partitioned.contains(&PkiId(r.pki_id.clone())) {
                        self.core
                            .handle_connect_failed(now, &endpoint, "partitioned (test fault)");
                        return;
                    }
                    let c = Connected {
                        pki: PkiId(r.pki_id),
                        org: r.org,
                        identity: r.identity,
                        dialled: Some(endpoint),
                    };
                    self.core.handle_connected(now, c);
                }
                Err(reason) => self.core.handle_connect_failed(now, &endpoint, &reason),
            },
            Command::Membership(reply) => {
                let _ = reply.send(self.core.membership(now));
            }
            Command::ChannelMembers(channel, reply) => {
                let _ = reply.send(self.core.channel_members(&channel));
            }
        }
    }

    /// Dials `endpoint` off the driver task; the result comes back as a command.
    fn dial(&self, endpoint: String, then_send: Option<(PkiId, weft_wire::gossip::Envelope)>) {
        let (comm, commands) = (self.comm.clone(), self.commands.clone());
        tokio::spawn(async move {
            let result = comm.connect(&endpoint).await.map_err(|e| e.to_string());
            // Counted by the comm layer once written, as every message is.
            if let (Ok(r), Some((to, env))) = (&result, then_send)
                && r.pki_id == to.0
            {
                let _ = comm.send(&to.0, env);
            }
            let _ = commands.send(Command::Dialled { endpoint, result }).await;
        });
    }

    fn flush(&mut self) {
        while let Some(t) = self.core.poll_transmit() {
            match t {
                Transmit::Send { to, endpoint, env } => {
                    if self.partitioned.contains(&to) {
                        continue;
                    }
                    // The comm layer counts what it sends; an envelope it could not queue is sent after a dial.
                    if let Err(env) = self.comm.send(&to.0, env)
                        && !endpoint.is_empty()
                        && !self.comm.connected().iter().any(|r| r.pki_id == to.0)
                    {
                        self.dial(endpoint, Some((to, env)));
                    }
                }
                Transmit::Connect { endpoint } => self.dial(endpoint, None),
                Transmit::Close { to } => self.comm.close(&to.0),
            }
        }
        while let Some(e) = self.core.poll_event() {
            match e {
                Event::BlockReceived {
                    channel,
                    seq,
                    data,
                    from,
                    source,
                    trace,
                } => {
                    let d = Delivery::Block {
                        channel: channel.clone(),
                        seq,
                        data,
                        from,
                        source,
                        trace,
                    };
                    if self.deliveries.try_send(d).is_err() {
                        // The intake is saturated: forget the block so that it can be fetched again.
                        self.core.block_rejected(&channel, seq);
                    }
                }
                Event::StateRequest {
                    channel,
                    to,
                    nonce,
                    start,
                    end,
                } => {
                    let _ = self.deliveries.try_send(Delivery::StateRequest {
                        channel,
                        to,
                        nonce,
                        start,
                        end,
                    });
                }
                Event::LeadershipChanged {
                    channel,
                    is_leader,
                    leader,
                } => {
                    metrics::gauge!("gossip_leader_election_leader", "channel" => channel.clone())
                        .set(if is_leader { 1.0 } else { 0.0 });
                    let _ = self.deliveries.try_send(Delivery::Leadership {
                        channel,
                        is_leader,
                        leader,
                    });
                }
                other => log_event(other),
            }
        }
    }
}

fn log_event(e: Event) {
    match e {
        Event::MembershipChanged { online, offline } => {
            let show = |v: &[(PkiId, String)]| {
                v.iter()
                    .map(|(p, e)| format!("{e} ({p:?})"))
                    .collect::<Vec<_>>()
            };
            tracing::info!(target: "gossip", online = ?show(&online), offline = ?show(&offline), "membership changed");
        }
        Event::ChannelViewChanged {
            channel,
            members,
            online,
            offline,
        } => {
            metrics::gauge!("gossip_membership_total_peers_known", "channel" => channel.clone())
                .set((members - 1) as f64);
            tracing::info!(target: "gossip", %channel, "Membership view has changed. peers went online: {online:?}, peers went offline: {offline:?}");
        }
        Event::Rejected { from, reason } => {
            metrics::counter!("gossip_messages_rejected_total", "reason" => reason.as_str())
                .increment(1);
            tracing::warn!(target: "gossip", %from, %reason, "dropped gossip message");
        }
        Event::ConnectFailed {
            endpoint,
            reason,
            attempts,
            giving_up,
        } => {
            tracing::warn!(target: "gossip", %endpoint, attempts, giving_up, "Failed to connect to bootstrap or anchor peer {endpoint}: {reason}");
        }
        Event::BootstrapOfForeignOrg { endpoint, org } => {
            tracing::warn!(target: "gossip", %endpoint, %org, "Bootstrap peer {endpoint} isn't in our organization ({org}), cannot be a bootstrap peer");
        }
        Event::AnchorOrgMismatch {
            endpoint,
            expected,
            actual,
        } => {
            tracing::warn!(target: "gossip", %endpoint, %expected, %actual, "Anchor peer {endpoint} claims to be of {expected} but presented an identity of {actual}; refused");
        }
        Event::BadConfiguration { endpoint } => {
            tracing::warn!(target: "gossip", %endpoint, "Bad configuration detected: Received AliveMessage from a peer with the same PKI-ID as myself: {endpoint}");
        }
        Event::DuplicateBlock {
            channel, source, ..
        } => {
            metrics::counter!("gossip_blocks_duplicate_total", "channel" => channel, "source" => source.as_str()).increment(1);
        }
        Event::StateTransferRequested {
            channel,
            start,
            end,
            peer,
        } => {
            tracing::debug!(target: "gossip", %channel, start, end, %peer, "requesting blocks by state transfer");
        }
        Event::BlockReceived { .. }
        | Event::StateRequest { .. }
        | Event::LeadershipChanged { .. } => {}
        Event::IdentitySwitch { endpoint, old, new } => {
            tracing::info!(target: "gossip", %endpoint, %old, %new, "peer changed identity; purged the old one");
        }
    }
}
