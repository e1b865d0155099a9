//! The dialer's side: dial within `dial_timeout`, open the gossip stream, send our handshake inside the
//! service `Request`, read and verify the answer within `conn_timeout`, then register (connect) or close
//! (probe).

use std::sync::Arc;

use weft_wire::gossip::Envelope;
use weft_wire::service::Request;
use weft_wire::service::request::Kind;

use super::handshake::{self, Refusal, Verified, hex};
use super::link::remote_close_code;
use super::registry::code;
use super::types::{CommError, RemotePeer};
use super::{Comm, Inner};
use crate::endpoint::Connection;
use crate::frame::{FrameError, Framed};

impl Comm {
    /// Connects to `endpoint` (`host:port`), authenticates it and registers the connection. Reuses a live
    /// connection to the same endpoint, or to the PKI-ID it answered with before; concurrent calls for one
    /// endpoint wait for the first one's result. If another connection to the same PKI-ID appeared
    /// meanwhile (the remote dialled us too), the one kept (dialled by the lower PKI-ID) is returned.
    pub async fn connect(&self, endpoint: &str) -> Result<RemotePeer, CommError> {
        let slot = DialSlot::take(&self.inner, endpoint);
        let _serialised = slot.lock.lock().await;
        if let Some(peer) = self.inner.registry().by_endpoint(endpoint) {
            return Ok(peer);
        }
        let (conn, stream, verified) = self.inner.dial(endpoint, false).await?;
        if verified.pki_id == self.inner.self_pki {
            conn.close("connected to self");
            return Err(CommError::SelfConnection);
        }
        let switched = self
            .inner
            .registry()
            .dialled(endpoint, &verified.pki_id, &verified.org);
        if let Err(e) = switched {
            Refusal::new("identity_switch_other_org", e.clone()).record(endpoint, false);
            conn.inner
                .close(code::REFUSED.into(), b"gossip handshake refused");
            return Err(CommError::Handshake(e));
        }
        let peer = RemotePeer {
            pki_id: verified.pki_id,
            org: verified.org,
            identity: verified.identity,
            endpoint: endpoint.to_string(),
            inbound: false,
        };
        let dialled_by = self.inner.self_pki.clone();
        Ok(self.inner.establish(conn, stream, peer, dialled_by))
    }

    /// Learns who answers at `endpoint` with a probe handshake; nothing is registered and the connection is
    /// closed afterwards. Used for bootstrap and anchor peers.
    pub async fn probe(&self, endpoint: &str) -> Result<RemotePeer, CommError> {
        let (conn, _stream, verified) = self.inner.dial(endpoint, true).await?;
        conn.close("probe done");
        if verified.pki_id == self.inner.self_pki {
            return Err(CommError::SelfConnection);
        }
        Ok(RemotePeer {
            pki_id: verified.pki_id,
            org: verified.org,
            identity: verified.identity,
            endpoint: endpoint.to_string(),
            inbound: false,
        })
    }
}

impl Inner {
    /// Dials `endpoint` and runs the handshake. On error the connection is closed.
    async fn dial(
        &self,
        endpoint: &str,
        probe: bool,
    ) -> Result<(Connection, Framed, Verified), CommError> {
        let dialling = self.endpoint.connect_host(endpoint, None);
        let conn = match tokio::time::timeout(self.config.dial_timeout, dialling).await {
            Err(_) => return Err(CommError::Timeout),
            Ok(Err(e)) => return Err(CommError::Dial(e)),
            Ok(Ok(conn)) => conn,
        };
        let handshake = self.handshake(&conn, endpoint, probe);
        match tokio::time::timeout(self.config.conn_timeout, handshake).await {
            Ok(Ok((stream, verified))) => Ok((conn, stream, verified)),
            Ok(Err(e)) => {
                conn.inner
                    .close(code::REFUSED.into(), b"gossip handshake refused");
                Err(e)
            }
            Err(_) => {
                Refusal::new("timeout", "no handshake answer within conn_timeout")
                    .record(endpoint, false);
                conn.close("handshake timed out");
                Err(CommError::Timeout)
            }
        }
    }

    async fn handshake(
        &self,
        conn: &Connection,
        endpoint: &str,
        probe: bool,
    ) -> Result<(Framed, Verified), CommError> {
        let mut stream = conn.open().await.map_err(CommError::Dial)?;
        let ours = handshake::build(self.auth.as_ref(), &self.own_tls_hash, probe);
        let request = Request {
            kind: Some(Kind::Gossip(ours)),
        };
        stream
            .send(&request)
            .await
            .map_err(|e| remote_failure(conn, e))?;
        let answer = match stream.recv::<Envelope>().await {
            Ok(Some(env)) => env,
            Ok(None) => return Err(remote_failure(conn, FrameError::Truncated)),
            Err(e) => return Err(remote_failure(conn, e)),
        };
        let verified = handshake::verify(self.auth.as_ref(), conn.peer_cert().as_deref(), &answer)
            .map_err(|refusal| {
                refusal.record(endpoint, false);
                CommError::Handshake(refusal.to_string())
            })?;
        tracing::debug!(target: "comm", endpoint, peer = %hex(&verified.pki_id), probe, "handshake done");
        Ok((stream, verified))
    }
}

/// Why the stream broke during our handshake: the remote refused it, closed, or the transport failed.
fn remote_failure(conn: &Connection, e: FrameError) -> CommError {
    match (remote_close_code(&conn.inner), conn.close_reason()) {
        (Some(code::REFUSED), _) => CommError::Handshake("refused by the remote".into()),
        (Some(_), _) | (None, None) => CommError::Closed,
        (None, Some(reason)) => CommError::Dial(format!("{e}: {reason}")),
    }
}

/// The per-endpoint dial lock, removed from the map when its last user is done (even if cancelled).
struct DialSlot<'a> {
    inner: &'a Inner,
    endpoint: &'a str,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> DialSlot<'a> {
    fn take(inner: &'a Inner, endpoint: &'a str) -> Self {
        let mut dials = inner.dials.lock().expect("dials lock");
        let lock = dials.entry(endpoint.to_string()).or_default().clone();
        Self {
            inner,
            endpoint,
            lock,
        }
    }
}

impl Drop for DialSlot<'_> {
    fn drop(&mut self) {
        let mut dials = self.inner.dials.lock().expect("dials lock");
        // Ours plus the map's: nobody else waits for this endpoint.
        if Arc::strong_count(&self.lock) == 2 {
            dials.remove(self.endpoint);
        }
    }
}
