//! The gossip comm layer: authenticated gossip streams between peers, at most one per remote PKI-ID
//! (Fabric's `gossip/comm`).
//!
//! A gossip stream is a QUIC bidirectional stream on a QUIC connection the dialer opens for it. The dialer
//! sends `Request{Gossip(handshake)}`; the process's stream dispatcher hands that first envelope to
//! [`Comm::accept_stream`], which verifies it, answers with its own handshake envelope, and from then on both
//! sides exchange gossip `Envelope` frames. The handshake binds the remote's identity to the TLS certificate
//! it presented on this connection ([`handshake`]).
//!
//! Layout:
//! - [`types`]: configuration, [`RemotePeer`], [`CommEvent`], [`CommError`].
//! - [`handshake`]: building and verifying `ConnEstablish`, and the [`HandshakeAuth`] seam to the MSPs.
//! - `registry`: the one-connection-per-PKI-ID rules (duplicates, reconnects, identity switches).
//! - `link`: a registered connection's reader, writer and supervisor tasks.
//! - `events`: ordered delivery of `Connected` / `Disconnected`.
//! - `dial` and `accept`: the two sides of establishing a connection.
//!
//! Bounds: each connection's outbound queue holds `send_buff_size` envelopes (a full queue drops and counts
//! `gossip_comm_overflow_count`); the events channel holds [`EVENTS_CAPACITY`] and back-pressures the readers.

mod accept;
mod dial;
mod events;
pub mod handshake;
mod link;
mod registry;
pub mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};
use weft_wire::gossip::Envelope;

pub use handshake::HandshakeAuth;
pub use types::{CommConfig, CommError, CommEvent, EVENTS_CAPACITY, RemotePeer};

use crate::endpoint::{Connection, Endpoint};
use crate::frame::Framed;
use handshake::hex;
use registry::{Entry, Registry};

/// A cloneable handle to the comm layer of one process.
#[derive(Clone)]
pub struct Comm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comm")
            .field("pki_id", &hex(&self.inner.self_pki))
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    endpoint: Endpoint,
    /// SHA-256 of our TLS certificate, claimed in our handshakes.
    own_tls_hash: Vec<u8>,
    auth: Arc<dyn HandshakeAuth>,
    config: CommConfig,
    self_pki: Vec<u8>,
    registry: Mutex<Registry<quinn::Connection>>,
    /// Messages go straight here; lifecycle events through the ordered control queue.
    events: mpsc::Sender<CommEvent>,
    /// One lock per endpoint being dialled, so concurrent `connect`s to it share one dial.
    dials: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Comm {
    /// A comm layer on `endpoint`, the process's one QUIC endpoint (also used by other services; inbound
    /// gossip streams arrive through [`Comm::accept_stream`]). `own_tls_cert` is the DER of our TLS leaf,
    /// the one the endpoint presents both as server and as client. Must be called inside a tokio runtime.
    pub fn new(
        endpoint: Endpoint,
        own_tls_cert: Vec<u8>,
        auth: Arc<dyn HandshakeAuth>,
        config: CommConfig,
    ) -> (Comm, mpsc::Receiver<CommEvent>) {
        let (events, events_rx) = mpsc::channel(EVENTS_CAPACITY);
        let (control, control_rx) = events::Control::new();
        tokio::spawn(events::forward(control_rx, events.clone()));
        let inner = Inner {
            endpoint,
            own_tls_hash: handshake::sha256(&own_tls_cert),
            self_pki: auth.pki_id(),
            auth,
            config,
            registry: Mutex::new(Registry::new(control)),
            events,
            dials: Mutex::new(HashMap::new()),
        };
        (
            Comm {
                inner: Arc::new(inner),
            },
            events_rx,
        )
    }

    /// Takes over an inbound gossip stream whose first frame carried `first`, the dialer's handshake.
    /// Spawns the handshake and returns at once. The dispatcher should bound its read of that first frame
    /// by [`CommConfig::conn_timeout`] (see [`Comm::config`]).
    pub fn accept_stream(&self, conn: Connection, first: Envelope, stream: Framed) {
        tokio::spawn(accept::run(self.inner.clone(), conn, first, stream));
    }

    /// Queues `env` for the peer `to` without waiting. Gives the envelope back if there is no connection to
    /// it, or if its queue is full (then `gossip_comm_overflow_count` is counted), so that a caller may dial
    /// and send it then without having kept a copy of every envelope it sends.
    pub fn send(&self, to: &[u8], env: Envelope) -> Result<(), Envelope> {
        let Some(tx) = self.inner.registry().sender(to) else {
            return Err(env);
        };
        tx.try_send(env).map_err(|e| match e {
            mpsc::error::TrySendError::Full(env) => {
                tracing::debug!(target: "comm", peer = %hex(to), "send queue full; envelope dropped");
                metrics::counter!("gossip_comm_overflow_count").increment(1);
                env
            }
            mpsc::error::TrySendError::Closed(env) => env,
        })
    }

    /// Closes the connection to `pki_id`, if any; `Disconnected` is reported.
    pub fn close(&self, pki_id: &[u8]) {
        self.inner.registry().close(pki_id, "closed locally");
    }

    /// The peers with a registered connection.
    pub fn connected(&self) -> Vec<RemotePeer> {
        self.inner.registry().peers()
    }

    /// Our PKI-ID.
    pub fn self_pki_id(&self) -> Vec<u8> {
        self.inner.self_pki.clone()
    }

    /// The configuration this comm layer runs with.
    pub fn config(&self) -> &CommConfig {
        &self.inner.config
    }
}

impl Inner {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry<quinn::Connection>> {
        self.registry.lock().expect("registry lock")
    }

    /// Registers the authenticated connection `conn` carrying `stream` to `peer`, dialled by `dialled_by`,
    /// and starts its link. Returns the peer now connected: `peer`, or the one of an existing connection that
    /// was kept instead (then `conn` is closed as a duplicate).
    fn establish(
        self: &Arc<Self>,
        conn: Connection,
        stream: Framed,
        peer: RemotePeer,
        dialled_by: Vec<u8>,
    ) -> RemotePeer {
        let (tx, queue) = mpsc::channel(self.config.send_buff_size.max(1));
        let (end_tx, end) = watch::channel(None);
        let mut registry = self.registry();
        let id = registry.next_id();
        let entry = Entry {
            id,
            peer: peer.clone(),
            dialled_by,
            tx,
            conn: conn.inner.clone(),
            end: end_tx,
        };
        let ready: oneshot::Receiver<()> = match registry.insert(entry) {
            Ok(ready) => ready,
            Err(kept) => {
                drop(registry);
                tracing::debug!(target: "comm", peer = %hex(&peer.pki_id), endpoint = %peer.endpoint, "duplicate connection dropped");
                let closing = link::close_duplicate(
                    stream,
                    conn.inner,
                    peer,
                    self.events.clone(),
                    self.config.conn_timeout,
                );
                tokio::spawn(closing);
                return kept;
            }
        };
        let (send, recv, max_frame) = stream.into_parts();
        drop(registry);
        tracing::info!(
            target: "comm",
            peer = %hex(&peer.pki_id),
            org = %peer.org,
            endpoint = %peer.endpoint,
            inbound = peer.inbound,
            "gossip connection established"
        );
        let link = link::Link {
            id,
            peer: peer.clone(),
            conn: conn.inner,
            send,
            recv,
            max_frame,
            queue,
            end,
            ready,
        };
        link::spawn(link, self.clone());
        peer
    }
}
