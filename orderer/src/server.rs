//! The orderer's QUIC service: each stream starts with a Request naming Broadcast or Deliver.

use std::sync::Arc;

use weft_net::{Connection, Endpoint, Framed};
use weft_wire::common::Status;
use weft_wire::orderer::BroadcastResponse;
use weft_wire::service::{Request, request};

use crate::registry::Registry;

/// Accepts connections until the endpoint closes.
pub async fn serve(endpoint: Endpoint, registry: Arc<Registry>) {
    while let Some(conn) = endpoint.accept().await {
        let registry = registry.clone();
        tokio::spawn(connection(conn, registry));
    }
}

async fn connection(conn: Connection, registry: Arc<Registry>) {
    let remote = conn.remote_address();
    tracing::debug!(target: "comm", %remote, "client connected");
    while let Some(stream) = conn.accept_stream().await {
        tokio::spawn(handle_stream(stream, registry.clone()));
    }
    tracing::debug!(target: "comm", %remote, reason = ?conn.close_reason(), "client disconnected");
}

async fn handle_stream(mut stream: Framed, registry: Arc<Registry>) {
    loop {
        let req = match stream.recv::<Request>().await {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(target: "comm", error = %e, "dropping stream: bad frame");
                let reply = BroadcastResponse {
                    status: Status::BadRequest as i32,
                    info: e.to_string(),
                };
                let _ = stream.send(&reply).await;
                break;
            }
        };
        let result = match req.kind {
            Some(request::Kind::Broadcast(env)) => {
                let resp = crate::broadcast::handle(&registry, env).await;
                stream.send(&resp).await
            }
            Some(request::Kind::Deliver(env)) => {
                // One Deliver per stream; an error means the client went away.
                if let Err(e) = crate::deliver::handle(&registry, env, &mut stream).await {
                    tracing::debug!(target: "orderer", error = %e, "deliver stream ended");
                }
                break;
            }
            Some(
                request::Kind::PeerAdmin(_)
                | request::Kind::Gossip(_)
                | request::Kind::Endorse(_)
                | request::Kind::DeliverFiltered(_),
            )
            | None => {
                let reply = BroadcastResponse {
                    status: Status::NotImplemented as i32,
                    info: "the orderer serves Broadcast and Deliver only".into(),
                };
                stream.send(&reply).await
            }
        };
        if result.is_err() {
            break;
        }
    }
    stream.finish();
}
