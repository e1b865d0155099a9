//! Sans-IO gossip cores, as Fabric's gossip behaves: membership (signed alive messages, dead-peer
//! detection, bootstrap and anchor peers, the cross-org disclosure rules) and per-channel state (StateInfo
//! with channel MACs and eligibility).
//!
//! Nothing here does I/O, reads a clock or draws from a global RNG: time is an input (`now`), randomness
//! comes from a seed, and outputs are queued data. The driver calls
//! [`GossipCore::handle_connected`], [`handle_message`](GossipCore::handle_message),
//! [`handle_timeout`](GossipCore::handle_timeout) and friends, then drains
//! [`poll_transmit`](GossipCore::poll_transmit) and [`poll_event`](GossipCore::poll_event), and sleeps until
//! [`poll_timeout`](GossipCore::poll_timeout). The same core runs in a peer and in an in-memory simulator.
//!
//! Layout:
//! - [`types`]: ids, timestamps and views.
//! - [`config`]: `peer.gossip.*` with Fabric's defaults.
//! - [`crypto`]: the signing and identity-validation seam.
//! - [`message`]: building and opening signed gossip envelopes.
//! - [`disclosure`]: who may learn what (Fabric's disclosure policy).
//! - [`election`]: dynamic leader election per channel.
//! - [`membership`]: alive/dead members, bootstrap and anchors.
//! - [`pull`]: the four-phase block pull.
//! - [`blocks`]: block push with a deduplicating window, and state transfer.
//! - [`channel`]: one channel's StateInfo view.
//! - [`core`]: the two tied together behind one input/output surface.

pub mod blocks;
pub mod channel;
pub mod config;
pub mod core;
pub mod crypto;
pub mod disclosure;
pub mod election;
pub mod membership;
pub mod message;
pub mod pull;
pub mod types;

pub use crate::core::{Event, GossipCore, Transmit};
pub use config::GossipConfig;
pub use crypto::GossipCrypto;
pub use types::{PeerTime, PkiId, SelfInfo};
