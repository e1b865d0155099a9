//! Gossip in the peer: one driver task owns the sans-IO [`GossipCore`](weft_gossip::GossipCore) and wires it to
//! the QUIC comm layer; the rest of the peer holds a [`GossipHandle`].
//!
//! - [`auth`]: identities (signing, MSP validation, PKI-IDs) for the handshake and the cores.
//! - [`driver`]: the task: comm events and commands in, transmits out, timers, logs and metrics.
//! - [`views`]: the JSON the admin endpoints serve.

pub mod auth;
pub mod driver;
pub mod views;

use std::collections::BTreeSet;

use tokio::sync::{mpsc, oneshot};
use weft_crypto::ChannelBundle;
use weft_gossip::PkiId;
use weft_gossip::blocks::{Source, TraceContext};
use weft_gossip::channel::Anchor;
use weft_gossip::types::{ChannelMember, MembershipView};
use weft_net::{Comm, Connection, Framed};

pub use driver::{Setup, start};

/// What the driver hands to the rest of the peer.
#[derive(Debug)]
pub enum Delivery {
    /// A block arrived by gossip; verify it once, then report with `block_verified` or `block_rejected`.
    Block {
        channel: String,
        seq: u64,
        data: weft_wire::Bytes,
        from: PkiId,
        source: Source,
        /// The sender's span for the block.
        trace: TraceContext,
    },
    /// A peer asks for blocks; answer with `answer_state`.
    StateRequest {
        channel: String,
        to: PkiId,
        nonce: u64,
        start: u64,
        end: u64,
    },
    /// We became or stopped being the channel's leader (dynamic election), or learned who leads.
    Leadership {
        channel: String,
        is_leader: bool,
        leader: Option<PkiId>,
    },
}

/// Requests to the driver task.
#[derive(Debug)]
pub enum Command {
    BlockVerified {
        channel: String,
        seq: u64,
        data: weft_wire::Bytes,
        from: Option<PkiId>,
        source: Source,
        trace: TraceContext,
    },
    BlockRejected {
        channel: String,
        seq: u64,
    },
    Yield {
        channel: String,
    },
    /// Test fault: drop all gossip to and from these peers (empty heals).
    Partition(std::collections::BTreeSet<PkiId>),
    AnswerState {
        channel: String,
        to: PkiId,
        nonce: u64,
        blocks: Vec<(u64, weft_wire::Bytes, TraceContext)>,
    },
    Join {
        channel: String,
        orgs: BTreeSet<String>,
        anchors: Vec<Anchor>,
    },
    Height {
        channel: String,
        height: u64,
    },
    Dialled {
        endpoint: String,
        result: Result<weft_net::RemotePeer, String>,
    },
    Membership(oneshot::Sender<MembershipView>),
    ChannelMembers(String, oneshot::Sender<Option<Vec<ChannelMember>>>),
}

/// What the rest of the peer uses to talk to gossip. Cloning shares the driver.
#[derive(Clone, Debug)]
pub struct GossipHandle {
    commands: mpsc::Sender<Command>,
    comm: Comm,
    pub me: views::SelfView,
}

impl GossipHandle {
    /// Joins (or reconfigures) a channel from its config: its orgs and anchor peers.
    pub fn join(&self, bundle: &ChannelBundle) {
        let app = bundle.config().application.clone().unwrap_or_default();
        let orgs = app.orgs.iter().map(|o| o.msp_id.clone()).collect();
        let anchors = app
            .orgs
            .iter()
            .flat_map(|o| {
                o.anchor_peers.iter().map(|a| Anchor {
                    endpoint: format!("{}:{}", a.host, a.port),
                    org: o.msp_id.clone(),
                })
            })
            .collect();
        self.command(Command::Join {
            channel: bundle.channel_id().to_string(),
            orgs,
            anchors,
        });
    }

    /// A block verified by the intake: store it, forward it (push), let it count as held.
    pub fn block_verified(
        &self,
        channel: &str,
        seq: u64,
        data: weft_wire::Bytes,
        from: Option<PkiId>,
        source: Source,
        trace: TraceContext,
    ) {
        self.command(Command::BlockVerified {
            channel: channel.to_string(),
            seq,
            data,
            from,
            source,
            trace,
        });
    }

    /// A block that failed verification: another copy may be tried.
    pub fn block_rejected(&self, channel: &str, seq: u64) {
        self.command(Command::BlockRejected {
            channel: channel.to_string(),
            seq,
        });
    }

    /// Test fault: silently drop gossip to and from `peers` (an empty set heals).
    pub fn set_partition(&self, peers: std::collections::BTreeSet<PkiId>) {
        self.command(Command::Partition(peers));
    }

    /// Gives up leadership of `channel` for a while (the orderer is unreachable).
    pub fn yield_leadership(&self, channel: &str) {
        self.command(Command::Yield {
            channel: channel.to_string(),
        });
    }

    /// Blocks a peer asked for.
    pub fn answer_state(
        &self,
        channel: &str,
        to: PkiId,
        nonce: u64,
        blocks: Vec<(u64, weft_wire::Bytes, TraceContext)>,
    ) {
        self.command(Command::AnswerState {
            channel: channel.to_string(),
            to,
            nonce,
            blocks,
        });
    }

    /// A block from the orderer, committed: push it to the org.
    pub fn from_orderer(
        &self,
        channel: &str,
        seq: u64,
        data: weft_wire::Bytes,
        trace: TraceContext,
    ) {
        self.command(Command::BlockVerified {
            channel: channel.to_string(),
            seq,
            data,
            from: None,
            source: Source::Orderer,
            trace,
        });
    }

    /// Our ledger height on `channel` changed.
    pub fn height(&self, channel: &str, height: u64) {
        self.command(Command::Height {
            channel: channel.to_string(),
            height,
        });
    }

    fn command(&self, c: Command) {
        // The queue is large; if it is ever full the driver is stuck, and dropping a height update is harmless
        // (the next one supersedes it) while blocking a committer is not.
        if self.commands.try_send(c).is_err() {
            tracing::warn!(target: "gossip", "gossip command queue full; update dropped");
        }
    }

    pub async fn membership(&self) -> Option<MembershipView> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Membership(tx)).await.ok()?;
        rx.await.ok()
    }

    pub async fn channel_members(&self, channel: &str) -> Option<Vec<ChannelMember>> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::ChannelMembers(channel.to_string(), tx))
            .await
            .ok()?;
        rx.await.ok().flatten()
    }

    /// Hands an inbound gossip stream (its first frame already read) to the comm layer.
    pub fn accept_stream(
        &self,
        conn: Connection,
        first: weft_wire::gossip::Envelope,
        stream: Framed,
    ) {
        self.comm.accept_stream(conn, first, stream);
    }
}
