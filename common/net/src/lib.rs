//! QUIC transport with mutual TLS and length-delimited protobuf frames.
//!
//! Layout:
//! - [`trust`]: the set of TLS root CAs a process accepts, updatable while it runs (orgs join channels).
//! - [`tls`]: a node's TLS certificate and key, turned into rustls client and server configurations.
//! - [`endpoint`]: one QUIC endpoint per process that both accepts and dials; every connection is mutually
//!   authenticated against the trust store, and failures are logged with their reason.
//! - [`frame`]: a bidirectional stream carrying protobuf messages, each prefixed by its length, with a maximum.
//! - [`seek`]: the range of a Deliver stream (orderer and peer), resolved and followed as the chain grows.
//! - [`comm`]: the gossip comm layer on top: authenticated gossip streams, one per remote PKI-ID.

pub mod comm;
pub mod endpoint;
pub mod frame;
pub mod seek;
pub mod tls;
pub mod trust;

pub use comm::{Comm, CommConfig, CommError, CommEvent, HandshakeAuth, RemotePeer};
pub use endpoint::{Connection, Endpoint, TransportConfig};
pub use frame::{FrameError, Framed};
pub use tls::{NodeTls, TlsError};
pub use trust::TrustStore;

/// The ALPN protocol id weft speaks.
pub const ALPN: &[u8] = b"weft/1";
