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

/// Everything a peer's tasks share.
pub struct PeerNode {
    pub id: String,
    pub signer: Arc<Signer>,
    pub local_msp: weft_crypto::Msp,
    pub gossip: GossipHandle,
    /// The chaincodes this peer can run.
    pub chaincodes: weft_chaincode::Registry,
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
        endpoint: Endpoint,
        trust: TrustStore,
        ledgers: Ledgers,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, String> {
        let node = Arc::new(Self {
            id,
            signer,
            local_msp,
            gossip,
            chaincodes: weft_chaincode::Registry::builtin(),
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
            match ChannelState::open(&name, ledger) {
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
        let state = Arc::new(ChannelState::join(ledger, genesis, crate::now_unix())?);
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
        tokio::spawn(crate::deliver_client::run(
            self.clone(),
            state,
            self.shutdown.clone(),
        ));
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
