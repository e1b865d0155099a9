//! The acceptor's side of the handshake: verify the dialer's `ConnEstablish`, answer with ours, then register
//! the connection (or, for a probe or a connection from ourselves, close the stream once answered).

use std::sync::Arc;

use weft_wire::gossip::Envelope;

use super::Inner;
use super::handshake::{self, hex};
use super::link;
use super::registry::{Ending, code};
use super::types::RemotePeer;
use crate::endpoint::Connection;
use crate::frame::Framed;

pub(crate) async fn run(inner: Arc<Inner>, conn: Connection, first: Envelope, mut stream: Framed) {
    let remote = conn.remote_address().to_string();
    let verified = match handshake::verify(inner.auth.as_ref(), conn.peer_cert().as_deref(), &first)
    {
        Ok(v) => v,
        Err(refusal) => {
            refusal.record(&remote, true);
            conn.inner
                .close(code::REFUSED.into(), b"gossip handshake refused");
            return;
        }
    };
    let ours = handshake::build(inner.auth.as_ref(), &inner.own_tls_hash, false);
    let answered = tokio::time::timeout(inner.config.conn_timeout, stream.send(&ours)).await;
    if let Err(e) = answered
        .map_err(|_| "timed out".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        tracing::warn!(target: "comm", %remote, peer = %hex(&verified.pki_id), error = %e, "cannot answer the gossip handshake");
        conn.inner
            .close(code::CLOSED.into(), b"handshake not answered");
        return;
    }
    if verified.probe || verified.pki_id == inner.self_pki {
        tracing::debug!(target: "comm", %remote, peer = %hex(&verified.pki_id), probe = verified.probe, "handshake answered; not registering");
        let (send, _recv, _) = stream.into_parts();
        let ending = Ending::new(code::CLOSED, "probe answered");
        link::close_gracefully(send, &conn.inner, &ending, inner.config.conn_timeout).await;
        return;
    }
    let peer = RemotePeer {
        pki_id: verified.pki_id.clone(),
        org: verified.org,
        identity: verified.identity,
        endpoint: remote,
        inbound: true,
    };
    inner.establish(conn, stream, peer, verified.pki_id);
}
