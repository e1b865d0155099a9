//! The orderer's channels: opened from the ledgers at start, bootstrapped from the genesis block, created by
//! channel creation transactions. Each channel runs its own [`Chain`](crate::chain::Chain) task.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, oneshot};
use weft_crypto::{ChannelBundle, Signer, block};
use weft_ledger::{BlockStore, Commit, Ledgers};
use weft_net::TrustStore;
use weft_wire::Message;
use weft_wire::common::{Block, ChannelConfig, Envelope, Status};

use crate::chain::{
    Chain, ChainError, ChainMsg, ChainView, Ordered, QUEUE, channel_genesis, unix_now,
};
use crate::config_update::{self, Rejection, Update};

/// A running channel: its queue into the chain task and its view of config and height.
pub struct Channel {
    pub id: String,
    /// Open Deliver streams: stream id → the requester's common name.
    pub deliverers: std::sync::Mutex<std::collections::BTreeMap<u64, String>>,
    /// When recent blocks were cut, by number.
    pub cuts: Arc<crate::chain::Cuts>,
    pub ledger: Arc<weft_ledger::SledStore>,
    pub view: ChainView,
    queue: mpsc::Sender<ChainMsg>,
}

impl Channel {
    pub fn bundle(&self) -> Arc<ChannelBundle> {
        self.view.bundle.borrow().clone()
    }

    /// Queues an authorised transaction; waits while the queue is full.
    pub async fn submit(&self, tx: Ordered) -> Result<(), Rejection> {
        self.queue
            .send(ChainMsg::Normal(tx))
            .await
            .map_err(|_| unavailable())
    }

    /// Hands a config update to the chain and waits for its verdict.
    pub async fn config_update(&self, update: Update, envelope: Envelope) -> Result<(), Rejection> {
        let (reply, rx) = oneshot::channel();
        self.queue
            .send(ChainMsg::Config {
                update,
                envelope,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())?
    }
}

fn unavailable() -> Rejection {
    Rejection {
        status: Status::ServiceUnavailable,
        reason: "the channel's chain has stopped".into(),
    }
}

/// Why the registry could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Ledger(#[from] weft_ledger::LedgerError),
    #[error("channel {channel}: {reason}")]
    BadConfig { channel: String, reason: String },
}

/// All channels of this orderer.
pub struct Registry {
    ledgers: Ledgers,
    signer: Arc<Signer>,
    trust: TrustStore,
    channels: RwLock<HashMap<String, Arc<Channel>>>,
    system_channel: RwLock<Option<String>>,
    create_lock: tokio::sync::Mutex<()>,
    failures: mpsc::UnboundedSender<ChainError>,
}

impl Registry {
    /// Opens every channel found in `ledgers` and, if given, bootstraps the system channel from `genesis`.
    /// The receiver yields the error of any chain task that stops: the orderer must then stop too.
    pub fn open(
        ledgers: Ledgers,
        signer: Arc<Signer>,
        trust: TrustStore,
        genesis: Option<Block>,
    ) -> Result<(Arc<Self>, mpsc::UnboundedReceiver<ChainError>), RegistryError> {
        let (failures, failed) = mpsc::unbounded_channel();
        let me = Arc::new(Self {
            ledgers,
            signer,
            trust,
            channels: RwLock::new(HashMap::new()),
            system_channel: RwLock::new(None),
            create_lock: tokio::sync::Mutex::new(()),
            failures,
        });
        if let Some(genesis) = genesis {
            let config = block::config_of(&genesis)
                .map_err(|reason| RegistryError::BadConfig {
                    channel: "(genesis)".into(),
                    reason,
                })?
                .ok_or_else(|| RegistryError::BadConfig {
                    channel: "(genesis)".into(),
                    reason: "the bootstrap block is not a config block".into(),
                })?;
            let ledger = me.ledgers.get_or_create(&config.channel_id)?;
            if ledger.info().height == 0 {
                ledger.append(
                    &genesis,
                    Commit {
                        tx_ids: Vec::new(),
                        config: Some(config.encode_to_vec()),
                        ..Default::default()
                    },
                )?;
                tracing::info!(target: "orderer", channel = %config.channel_id, "bootstrapped from genesis block");
            }
        }
        for id in me.ledgers.channels() {
            let ledger = me.ledgers.get_or_create(&id)?;
            let bad = |reason: String| RegistryError::BadConfig {
                channel: id.clone(),
                reason,
            };
            let Some(raw) = ledger.config()? else {
                tracing::warn!(target: "orderer", channel = %id, "ledger without a config block; ignoring it");
                continue;
            };
            let config: ChannelConfig =
                weft_wire::decode("channel config", &raw).map_err(|e| bad(e.to_string()))?;
            me.start(ledger, config).map_err(bad)?;
        }
        Ok((me, failed))
    }

    fn start(
        self: &Arc<Self>,
        ledger: Arc<weft_ledger::SledStore>,
        config: ChannelConfig,
    ) -> Result<(), String> {
        let id = config.channel_id.clone();
        if !config.consortiums.is_empty() {
            *self.system_channel.write().expect("lock") = Some(id.clone());
        }
        let bundle = Arc::new(ChannelBundle::new(config).map_err(|e| e.to_string())?);
        self.trust.extend(bundle.tls_roots());
        let trust = self.trust.clone();
        let on_config = Box::new(move |b: &ChannelBundle| {
            trust.extend(b.tls_roots());
        });
        let cuts = Arc::new(crate::chain::Cuts::default());
        let (chain, view) = Chain::new(
            ledger.clone(),
            bundle,
            self.signer.clone(),
            on_config,
            cuts.clone(),
        );
        let (queue, rx) = mpsc::channel(QUEUE);
        metrics::gauge!("ledger_blockchain_height", "channel" => id.clone())
            .set(*view.height.borrow() as f64);
        let failures = self.failures.clone();
        tokio::spawn(async move {
            if let Err(e) = chain.run(rx).await {
                let _ = failures.send(e);
            }
        });
        let channel = Arc::new(Channel {
            id: id.clone(),
            deliverers: Default::default(),
            cuts,
            ledger,
            view,
            queue,
        });
        self.channels.write().expect("lock").insert(id, channel);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Channel>> {
        self.channels.read().expect("lock").get(id).cloned()
    }

    /// The system channel, from which application channels are created.
    pub fn get_system(&self) -> Option<Arc<Channel>> {
        let id = self.system_channel.read().expect("lock").clone()?;
        self.get(&id)
    }

    pub fn channel_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .channels
            .read()
            .expect("lock")
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Creates an application channel from a creation transaction.
    pub async fn create(
        self: &Arc<Self>,
        update: Update,
        envelope: Envelope,
    ) -> Result<(), Rejection> {
        let _guard = self.create_lock.lock().await;
        let id = update.update.channel_id.clone();
        if self.get(&id).is_some() {
            return Err(Rejection {
                status: Status::BadRequest,
                reason: format!("channel {id} already exists"),
            });
        }
        let system = self.get_system().ok_or(Rejection {
            status: Status::NotFound,
            reason: format!(
                "channel {id} does not exist and there is no system channel to create it from"
            ),
        })?;
        let config = config_update::create_channel(&system.bundle(), &update, unix_now())?;
        let internal = |e: String| Rejection {
            status: Status::InternalServerError,
            reason: e,
        };
        ChannelBundle::new(config.clone()).map_err(|e| internal(e.to_string()))?;
        let genesis = channel_genesis(&self.signer, config.clone(), envelope);
        let ledger = self
            .ledgers
            .get_or_create(&id)
            .map_err(|e| internal(e.to_string()))?;
        ledger
            .append(
                &genesis,
                Commit {
                    tx_ids: Vec::new(),
                    config: Some(config.encode_to_vec()),
                    ..Default::default()
                },
            )
            .map_err(|e| internal(e.to_string()))?;
        self.start(ledger, config).map_err(internal)?;
        tracing::info!(target: "orderer", channel = %id, "created channel");
        Ok(())
    }
}
