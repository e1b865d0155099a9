//! One channel's ordering task: it owns the block cutter, writes signed blocks and applies config updates.
//!
//! Everything that changes a channel goes through this task's queue, so blocks and configs are produced in one
//! order. The queue is bounded: Broadcast waits (back-pressure) when the chain falls behind.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use weft_crypto::{ChannelBundle, Signer, block, envelope};
use weft_ledger::{BlockStore, Commit, LedgerError, SledStore};
use weft_ops::trace::Carrier;
use weft_wire::Message;
use weft_wire::common::{Block, ConfigEnvelope, Envelope, HeaderType};

use crate::config_update::{self, Rejection, Update};
use crate::cutter::{BatchConfig, BlockCutter, Weighed};

/// Envelopes waiting for the chain task before Broadcast blocks.
pub const QUEUE: usize = 4096;

/// Queued requests handled before one flush (group commit).
const GROUP: usize = 256;

/// An authorised transaction as Broadcast hands it over: the encoded envelope, and the id and trace context
/// Broadcast read from its header, so that the chain need not decode it again.
#[derive(Debug)]
pub struct Ordered {
    pub env: Vec<u8>,
    pub tx_id: String,
    pub trace: Carrier,
}

impl Weighed for Ordered {
    fn bytes(&self) -> usize {
        self.env.len()
    }
}

/// A request to the chain task.
pub enum ChainMsg {
    /// An authorised normal transaction.
    Normal(Ordered),
    /// A config update; the reply says whether it was applied.
    Config {
        update: Update,
        envelope: Envelope,
        reply: oneshot::Sender<Result<(), Rejection>>,
    },
}

/// Why the chain task stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("channel {channel}: ledger write failed: {source}")]
    Ledger {
        channel: String,
        source: LedgerError,
    },
}

/// The chain's shared view: its latest config and height, as watches.
#[derive(Clone)]
pub struct ChainView {
    pub bundle: watch::Receiver<Arc<ChannelBundle>>,
    pub height: watch::Receiver<u64>,
}

/// The chain task's state.
pub struct Chain {
    channel: String,
    ledger: Arc<SledStore>,
    signer: Arc<Signer>,
    cutter: BlockCutter<Ordered>,
    last_config: u64,
    bundle: watch::Sender<Arc<ChannelBundle>>,
    height: watch::Sender<u64>,
    on_config: Box<dyn Fn(&ChannelBundle) + Send>,
    cuts: Arc<Cuts>,
}

/// When recent blocks were cut and the trace context of each cut (bounded: the oldest are forgotten), for
/// operators, benchmarks, and Deliver, which continues each block's trace.
#[derive(Debug, Default)]
pub struct Cuts(std::sync::Mutex<std::collections::BTreeMap<u64, Cut>>);

#[derive(Debug, Clone)]
pub struct Cut {
    pub at: SystemTime,
    /// The `cut_block` span's context (empty when tracing export is off).
    pub trace: Carrier,
}

impl Cuts {
    const KEEP: usize = 100_000;

    fn record(&self, number: u64, cut: Cut) {
        let mut m = self.0.lock().expect("cuts lock");
        m.insert(number, cut);
        while m.len() > Self::KEEP {
            m.pop_first();
        }
    }

    pub fn get(&self, number: u64) -> Option<Cut> {
        self.0.lock().expect("cuts lock").get(&number).cloned()
    }
}

/// The batch limits of a channel config.
pub fn batch_config(bundle: &ChannelBundle) -> BatchConfig {
    let o = bundle.config().orderer.clone().unwrap_or_default();
    let b = o.batch_size.unwrap_or_default();
    BatchConfig {
        max_message_count: b.max_message_count.max(1) as usize,
        preferred_max_bytes: b.preferred_max_bytes as usize,
        timeout: std::time::Duration::from_millis(o.batch_timeout_ms.max(1)),
    }
}

impl Chain {
    /// A chain over a ledger that already holds at least its genesis block.
    pub fn new(
        ledger: Arc<SledStore>,
        bundle: Arc<ChannelBundle>,
        signer: Arc<Signer>,
        on_config: Box<dyn Fn(&ChannelBundle) + Send>,
        cuts: Arc<Cuts>,
    ) -> (Self, ChainView) {
        let info = ledger.info();
        let last_config = info
            .height
            .checked_sub(1)
            .and_then(|n| ledger.block(n).ok().flatten())
            .and_then(|b| block::last_config_index(&b))
            .unwrap_or(0);
        let (bundle_tx, bundle_rx) = watch::channel(bundle.clone());
        let (height_tx, height_rx) = watch::channel(info.height);
        let chain = Self {
            channel: bundle.channel_id().to_string(),
            ledger,
            signer,
            cutter: BlockCutter::new(batch_config(&bundle)),
            last_config,
            bundle: bundle_tx,
            height: height_tx,
            on_config,
            cuts,
        };
        (
            chain,
            ChainView {
                bundle: bundle_rx,
                height: height_rx,
            },
        )
    }

    /// Runs until the queue closes. A ledger failure stops the chain: an orderer that cannot persist must not
    /// acknowledge more.
    pub async fn run(mut self, mut rx: mpsc::Receiver<ChainMsg>) -> Result<(), ChainError> {
        loop {
            let deadline = self.cutter.poll_timeout();
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { return Ok(()) };
                    self.handle(msg)?;
                    // Group commit: take what is already queued, then flush once for all of it.
                    let mut more = 0;
                    while more < GROUP {
                        let Ok(msg) = rx.try_recv() else { break };
                        self.handle(msg)?;
                        more += 1;
                    }
                    self.publish()?;
                }
                () = timer => {
                    if let Some(batch) = self.cutter.handle_timeout(Instant::now()) {
                        self.write(batch, None)?;
                        self.publish()?;
                    }
                }
            }
        }
    }

    fn handle(&mut self, msg: ChainMsg) -> Result<(), ChainError> {
        match msg {
            ChainMsg::Normal(tx) => {
                tracing::debug!(target: "orderer", channel = %self.channel, tx_id = %tx.tx_id, "ordered");
                for batch in self.cutter.ordered(tx, Instant::now()) {
                    self.write(batch, None)?;
                }
            }
            ChainMsg::Config {
                update,
                envelope,
                reply,
            } => {
                let result = self.config(update, envelope)?;
                // The config block must be durable before the submitter hears it was applied.
                self.publish()?;
                let _ = reply.send(result);
            }
        }
        Ok(())
    }

    /// Flushes what was appended and only then lets Deliver streams see the new height.
    fn publish(&mut self) -> Result<(), ChainError> {
        let ledger_err = |source| ChainError::Ledger {
            channel: self.channel.clone(),
            source,
        };
        self.ledger.sync().map_err(ledger_err)?;
        let height = self.ledger.info().height;
        if height != *self.height.borrow() {
            metrics::gauge!("ledger_blockchain_height", "channel" => self.channel.clone())
                .set(height as f64);
            self.height.send_replace(height);
        }
        Ok(())
    }

    fn config(
        &mut self,
        update: Update,
        envelope: Envelope,
    ) -> Result<Result<(), Rejection>, ChainError> {
        let bundle = self.bundle.borrow().clone();
        let next = match config_update::apply(&bundle, &update, unix_now()) {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        let next_bundle = match ChannelBundle::new(next.clone()) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                return Ok(Err(Rejection {
                    status: weft_wire::common::Status::BadRequest,
                    reason: e.to_string(),
                }));
            }
        };
        if let Some(batch) = self.cutter.cut() {
            self.write(batch, None)?;
        }
        let data = ConfigEnvelope {
            config: Some(next),
            last_update: Some(envelope),
        }
        .encode_to_vec();
        let (env, tx_id) = envelope::create(
            &self.signer,
            HeaderType::Config,
            &self.channel,
            data,
            SystemTime::now(),
        );
        let config_tx = Ordered {
            env: env.encode_to_vec(),
            tx_id: tx_id.clone(),
            trace: Carrier::new(),
        };
        self.write(vec![config_tx], Some(next_bundle.clone()))?;
        tracing::info!(target: "orderer", channel = %self.channel, %tx_id, sequence = next_bundle.config().sequence,
            "config update applied");
        self.cutter.reconfigure(batch_config(&next_bundle));
        (self.on_config)(&next_bundle);
        self.bundle.send_replace(next_bundle);
        Ok(Ok(()))
    }

    fn write(
        &mut self,
        batch: Vec<Ordered>,
        config: Option<Arc<ChannelBundle>>,
    ) -> Result<(), ChainError> {
        let info = self.ledger.info();
        let number = info.height;
        let count = batch.len();
        // The block continues the trace of its first traced transaction and links to the others'.
        let span = tracing::info_span!("cut_block", channel = %self.channel, block = number as i64, txs = count as i64);
        let mut traced = batch.iter().map(|tx| &tx.trace).filter(|t| !t.is_empty());
        if let Some(first) = traced.next() {
            weft_ops::trace::set_parent(&span, first);
        }
        traced.for_each(|t| weft_ops::trace::add_link(&span, t));
        let _cut = span.enter();
        let envelopes = batch.into_iter().map(|tx| tx.env).collect();
        let mut b = block::new_block(number, info.current_hash, envelopes);
        if config.is_some() {
            self.last_config = number;
        }
        block::sign_block(&mut b, &self.signer, self.last_config);
        // As Fabric's orderer ledger, indexed by block number only: nothing here looks a transaction up by id,
        // and ten index entries per block were most of the orderer's ledger work.
        let commit = Commit {
            config: config.map(|c| c.config().encode_to_vec()),
            ..Default::default()
        };
        let at = SystemTime::now();
        self.ledger
            .append_unsynced(&b, commit)
            .map_err(|source| ChainError::Ledger {
                channel: self.channel.clone(),
                source,
            })?;
        tracing::info!(target: "orderer", channel = %self.channel, block = number, txs = count,
            "created block");
        let trace = weft_ops::trace::inject(&span);
        self.cuts.record(number, Cut { at, trace });
        Ok(())
    }
}

/// The genesis block of a new channel: its config, signed by the orderer, with the creation tx as last update.
pub fn channel_genesis(
    signer: &Signer,
    config: weft_wire::common::ChannelConfig,
    creation: Envelope,
) -> Block {
    let channel = config.channel_id.clone();
    let data = ConfigEnvelope {
        config: Some(config),
        last_update: Some(creation),
    }
    .encode_to_vec();
    let (env, _) = envelope::create(
        signer,
        HeaderType::Config,
        &channel,
        data,
        SystemTime::now(),
    );
    let mut b = block::new_block(0, Vec::new(), vec![env.encode_to_vec()]);
    block::sign_block(&mut b, signer, 0);
    b
}

/// Seconds since the Unix epoch, for certificate validity checks.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
