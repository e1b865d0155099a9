//! The comm layer's configuration, the peers it reports, its events and its errors.

use std::time::Duration;

/// Timers and queue sizes of the comm layer. The defaults are Fabric's `peer.gossip` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommConfig {
    /// How long dialling (QUIC + TLS handshake) may take (`peer.gossip.dialTimeout`, 3 s).
    pub dial_timeout: Duration,
    /// How long the gossip handshake may take once the transport is up: opening the stream, sending ours
    /// and reading theirs (`peer.gossip.connTimeout`, 2 s). Also the grace period during which a connection
    /// the remote closed as a duplicate waits for its replacement before `Disconnected` is reported.
    pub conn_timeout: Duration,
    /// Envelopes queued for one connection's writer (`peer.gossip.sendBuffSize`, 200). When the queue is
    /// full, [`Comm::send`](super::Comm::send) drops the envelope and counts `gossip_comm_overflow_count`.
    /// 0 is treated as 1.
    pub send_buff_size: usize,
    /// Fabric's per-connection receive buffer (`peer.gossip.recvBuffSize`, 20). Here every reader forwards
    /// into the one events channel of [`EVENTS_CAPACITY`], so back-pressure reaches the readers through it.
    pub recv_buff_size: usize,
}

impl Default for CommConfig {
    fn default() -> Self {
        Self {
            dial_timeout: Duration::from_secs(3),
            conn_timeout: Duration::from_secs(2),
            send_buff_size: 200,
            recv_buff_size: 20,
        }
    }
}

/// Capacity of the events channel returned by [`Comm::new`](super::Comm::new). A reader waits while it is
/// full, so a slow consumer slows the remote senders down instead of losing messages.
pub const EVENTS_CAPACITY: usize = 1024;

/// An authenticated remote peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePeer {
    pub pki_id: Vec<u8>,
    /// The MSP ID its identity belongs to.
    pub org: String,
    /// Its serialized identity, as sent in its handshake.
    pub identity: Vec<u8>,
    /// The endpoint we dialled, or the remote socket address for inbound connections.
    pub endpoint: String,
    /// True if the remote dialled us.
    pub inbound: bool,
}

/// What the comm layer reports, in order: a connection's `Connected` comes before its messages, and its
/// `Disconnected` after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommEvent {
    /// A new authenticated, registered connection. Not repeated when a connection to the same PKI-ID
    /// replaces another without a gap.
    Connected(RemotePeer),
    /// An envelope read from a registered connection.
    Message {
        from: RemotePeer,
        env: weft_wire::gossip::Envelope,
    },
    /// A registered connection ended (closed by either side, idle timeout, read or write error, or replaced
    /// by the remote with no successor within `conn_timeout`). Reported once per connection, and never for
    /// a PKI-ID that still has a connection.
    Disconnected { pki_id: Vec<u8>, reason: String },
}

/// Why [`Comm::connect`](super::Comm::connect) or [`Comm::probe`](super::Comm::probe) failed. In every case
/// the connection that was attempted is closed and nothing is registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommError {
    /// The endpoint could not be resolved or the QUIC/TLS connection failed.
    #[error("cannot dial: {0}")]
    Dial(String),
    /// The remote's handshake was refused here, or ours was refused there.
    #[error("gossip handshake failed: {0}")]
    Handshake(String),
    /// Dialling took longer than `dial_timeout`, or the handshake longer than `conn_timeout`.
    #[error("timed out")]
    Timeout,
    /// The endpoint is ourselves (same PKI-ID), e.g. a bootstrap list that names this peer.
    #[error("the endpoint is this peer itself")]
    SelfConnection,
    /// The remote ended the stream or connection before answering.
    #[error("connection closed during the handshake")]
    Closed,
}
