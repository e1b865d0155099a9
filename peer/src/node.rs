//! The peer process's shared state: local identity, transport, and the joined channels.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;
use weft_crypto::Signer;
use weft_ledger::Ledgers;
use weft_net::{Endpoint, TrustStore};
use weft_wire::common::Block;

use crate::committer::{ChannelState, CommitError};
use crate::gossip::GossipHandle;
use crate::gossip::auth::Msps;

/// Why joining a channel failed. Nothing was joined.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("already joined channel {0}")]
    AlreadyJoined(String),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Ledger(#[from] weft_ledger::LedgerError),
}

/// This peer's part in block delivery.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// Run a deliver client to the orderer for every channel (a static leader).
    pub leader: bool,
    /// Push blocks from the orderer to the org.
    pub block_gossip: bool,
    /// Elect leaders per channel instead.
    pub dynamic: bool,
    /// An elected leader that cannot reach the orderer for this long yields.
    pub reconnect_total: std::time::Duration,
}

/// Everything a peer's tasks share.
pub struct PeerNode {
    pub id: String,
    pub signer: Arc<Signer>,
    /// The endorsements `signer` made, so that validation need not verify them again.
    pub own_signatures: Arc<weft_crypto::OwnSignatures>,
    pub local_msp: weft_crypto::Msp,
    pub gossip: GossipHandle,
    /// The chaincodes this peer can run.
    pub chaincodes: weft_chaincode::Registry,
    /// Blocks already verified, by header hash.
    pub verified: crate::intake::Verified,
    /// How each block arrived.
    pub provenance: crate::provenance::Provenance,
    /// Static leadership (`peer.gossip.orgLeader`): run a deliver client for every channel.
    pub leader: bool,
    /// Push blocks received from the orderer to the org (`peer.deliveryclient.blockGossipEnabled`).
    pub block_gossip: bool,
    /// Leaders are elected per channel (`peer.gossip.useLeaderElection`).
    pub dynamic: bool,
    /// `peer.deliveryclient.reconnectTotalTimeThreshold`.
    pub reconnect_total: std::time::Duration,
    /// Deliver clients failing to reach the ordering service (the `orderer` health check).
    pub deliver_health: Arc<crate::deliver_client::Health>,
    /// Running deliver clients by channel.
    deliverers: std::sync::Mutex<std::collections::HashMap<String, tokio::task::AbortHandle>>,
    /// Per channel: whether we lead, and who does (as last learned).
    leaders:
        std::sync::Mutex<std::collections::HashMap<String, (bool, Option<weft_gossip::PkiId>)>>,
    msps: Msps,
    pub endpoint: Endpoint,
    pub trust: TrustStore,
    ledgers: Ledgers,
    channels: RwLock<BTreeMap<String, Arc<ChannelState>>>,
    shutdown: watch::Receiver<bool>,
}

impl PeerNode {
    /// Builds the node and reopens every channel already in `ledgers`, starting their deliver clients.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        id: String,
        signer: Arc<Signer>,
        local_msp: weft_crypto::Msp,
        gossip: GossipHandle,
        msps: Msps,
        roles: Roles,
        endpoint: Endpoint,
        trust: TrustStore,
        ledgers: Ledgers,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, String> {
        let node = Arc::new(Self {
            id,
            own_signatures: Arc::new(weft_crypto::OwnSignatures::new(&signer)),
            signer,
            local_msp,
            gossip,
            chaincodes: weft_chaincode::Registry::builtin(),
            verified: Default::default(),
            provenance: Default::default(),
            leader: roles.leader,
            block_gossip: roles.block_gossip,
            dynamic: roles.dynamic,
            reconnect_total: roles.reconnect_total,
            deliver_health: Default::default(),
            deliverers: Default::default(),
            leaders: Default::default(),
            msps,
            endpoint,
            trust,
            ledgers,
            channels: RwLock::new(BTreeMap::new()),
            shutdown,
        });
        for name in node.ledgers.channels() {
            let ledger = node
                .ledgers
                .get_or_create(&name)
                .map_err(|e| e.to_string())?;
            match ChannelState::open(&name, ledger, Some(node.own_signatures.clone())) {
                Ok(state) => {
                    tracing::info!(target: "peer", channel = %name, height = state.info().height, "reopened channel");
                    node.run_channel(Arc::new(state));
                }
                Err(e) => {
                    tracing::warn!(target: "peer", channel = %name, error = %e, "ignoring unusable ledger")
                }
            }
        }
        Ok(node)
    }

    /// Joins the channel whose genesis block this is.
    pub fn join(self: &Arc<Self>, genesis: &Block) -> Result<String, JoinError> {
        let config = weft_crypto::block::config_of(genesis)
            .map_err(|reason| CommitError::BadConfig { number: 0, reason })?
            .ok_or(CommitError::BadConfig {
                number: 0,
                reason: "not a config block".into(),
            })?;
        let id = config.channel_id.clone();
        if self.channel(&id).is_some() {
            return Err(JoinError::AlreadyJoined(id));
        }
        let ledger = self.ledgers.get_or_create(&id)?;
        let state = Arc::new(ChannelState::join(
            ledger,
            genesis,
            Some(self.own_signatures.clone()),
            crate::now_unix(),
        )?);
        tracing::info!(target: "peer", channel = %id, "joined channel");
        self.run_channel(state);
        Ok(id)
    }

    fn run_channel(self: &Arc<Self>, state: Arc<ChannelState>) {
        self.apply_config(&state.bundle());
        self.gossip.height(&state.id, state.info().height);
        self.channels
            .write()
            .expect("channels lock")
            .insert(state.id.clone(), state.clone());
        if self.leader {
            self.start_deliverer(state);
        }
    }

    fn start_deliverer(self: &Arc<Self>, state: Arc<ChannelState>) {
        let id = state.id.clone();
        let task = tokio::spawn(crate::deliver_client::run(
            self.clone(),
            state,
            self.shutdown.clone(),
        ));
        if let Some(old) = self
            .deliverers
            .lock()
            .expect("deliverers lock")
            .insert(id, task.abort_handle())
        {
            old.abort();
        }
    }

    /// Dynamic election changed who leads `channel`: run or stop our deliver client.
    pub fn leadership_changed(
        self: &Arc<Self>,
        channel: &str,
        is_leader: bool,
        leader: Option<weft_gossip::PkiId>,
    ) {
        let was = self
            .leaders
            .lock()
            .expect("leaders lock")
            .insert(channel.to_string(), (is_leader, leader.clone()));
        let was_leader = was.is_some_and(|w| w.0);
        if is_leader && !was_leader {
            tracing::info!(target: "gossip", %channel, "Becoming a leader: starting to pull blocks from the ordering service");
            if let Some(state) = self.channel(channel) {
                self.start_deliverer(state);
            }
        } else if !is_leader && was_leader {
            tracing::info!(target: "gossip", %channel, leader = ?leader, "Stepping down as leader: stopping the deliver client");
            if let Some(task) = self
                .deliverers
                .lock()
                .expect("deliverers lock")
                .remove(channel)
            {
                task.abort();
            }
        }
    }

    /// Whether we lead `channel` and who does, as `GET /channels/{channel}` shows it.
    pub fn leadership(&self, channel: &str) -> (bool, Option<String>) {
        if !self.dynamic {
            return (
                self.leader,
                self.leader.then(|| self.gossip.me.pki_id.clone()),
            );
        }
        let l = self
            .leaders
            .lock()
            .expect("leaders lock")
            .get(channel)
            .cloned()
            .unwrap_or((false, None));
        (l.0, l.1.map(|p| p.hex()))
    }

    /// A channel's config took effect: trust its orgs' TLS CAs, know their MSPs, tell gossip its orgs and anchors.
    pub fn apply_config(&self, bundle: &weft_crypto::ChannelBundle) {
        self.trust.extend(bundle.tls_roots());
        for org in weft_crypto::bundle::all_orgs(bundle.config()) {
            if let Ok(msp) = weft_crypto::Msp::from_config(org) {
                self.msps.insert(msp);
            }
        }
        self.gossip.join(bundle);
    }

    /// Verifies a block once, whatever path it came by: data hash and the orderer's signature against `ch`'s
    /// config; a block whose header hash was verified before is not verified again.
    pub fn verify_once(
        &self,
        ch: &ChannelState,
        block: &Block,
    ) -> Result<(), weft_crypto::block::BlockError> {
        let header = block
            .header
            .as_ref()
            .ok_or(weft_crypto::block::BlockError::Incomplete)?;
        let hash = weft_crypto::block::header_hash(header);
        if !self.verified.seen(&hash) {
            weft_crypto::block::verify(block, &ch.bundle(), crate::now_unix())?;
            self.verified.add(hash);
        }
        Ok(())
    }

    /// Commits a block verified by [`PeerNode::verify_once`] through the channel's in-order buffer, and tells
    /// gossip and the provenance records what committed.
    pub fn commit(&self, ch: &ChannelState, block: Block) -> Result<(), CommitError> {
        // Validation and the ledger write, continuing the block's trace from this peer's receipt of it.
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let span = tracing::info_span!("commit_block", channel = %ch.id, block = number as i64);
        if let Some(r) = self.provenance.get(&ch.id, number) {
            weft_ops::trace::set_parent(&span, &r.trace);
        }
        let _commit = span.enter();
        let accepted = ch.accept(block, crate::now_unix()).inspect_err(|_| {
            self.gossip.block_rejected(&ch.id, number);
        })?;
        // Gossip counts these as held; let it fetch them again.
        for &n in &accepted.dropped {
            self.gossip.block_rejected(&ch.id, n);
        }
        for (info, config) in accepted.committed {
            let number = info.height - 1;
            tracing::info!(target: "committer", channel = %ch.id, block = number, height = info.height, "committed block");
            self.provenance.committed(&ch.id, number);
            self.gossip.height(&ch.id, info.height);
            metrics::gauge!("gossip_state_height", "channel" => ch.id.clone())
                .set(info.height as f64);
            if let Some(bundle) = config {
                self.apply_config(&bundle);
                tracing::info!(target: "peer", channel = %ch.id, sequence = bundle.config().sequence, "applied new channel config");
            }
        }
        // Only after recording what the run committed, which it did whether or not our own block was refused.
        accepted.refused.map_or(Ok(()), Err)
    }

    pub fn channel(&self, id: &str) -> Option<Arc<ChannelState>> {
        self.channels
            .read()
            .expect("channels lock")
            .get(id)
            .cloned()
    }

    pub fn channels(&self) -> Vec<Arc<ChannelState>> {
        self.channels
            .read()
            .expect("channels lock")
            .values()
            .cloned()
            .collect()
    }
}
