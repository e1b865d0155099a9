//! The peer's QUIC service: administrative requests (join, channel info, channel list), endorsement, the
//! Deliver and DeliverFiltered streams, and gossip streams (handed to gossip).

use std::sync::Arc;

use weft_crypto::{Role, envelope};
use weft_net::{Connection, Framed};
use weft_wire::common::{Envelope, HeaderType, Status};
use weft_wire::service::{
    BlockchainInfo, ChannelList, PeerAdminRequest, PeerAdminResponse, Request, peer_admin_request,
    peer_admin_response, request,
};

use crate::deliver_service::{self, Kind};
use crate::node::PeerNode;

/// Accepts connections until the endpoint closes.
pub async fn serve(node: Arc<PeerNode>) {
    while let Some(conn) = node.endpoint.accept().await {
        tokio::spawn(connection(conn, node.clone()));
    }
}

async fn connection(conn: Connection, node: Arc<PeerNode>) {
    while let Some(stream) = conn.accept_stream().await {
        tokio::spawn(handle_stream(conn.clone(), stream, node.clone()));
    }
}

/// How long a new stream may take to say what it is.
const FIRST_FRAME: std::time::Duration = std::time::Duration::from_secs(10);

async fn handle_stream(conn: Connection, mut stream: Framed, node: Arc<PeerNode>) {
    let Ok(first) = tokio::time::timeout(FIRST_FRAME, stream.recv::<Request>()).await else {
        return;
    };
    let resp = match first {
        Ok(Some(Request {
            kind: Some(request::Kind::Gossip(env)),
        })) => {
            node.gossip.accept_stream(conn, env, stream);
            return;
        }
        Ok(Some(Request {
            kind: Some(request::Kind::Endorse(sp)),
        })) => {
            // Simulation and signing are CPU work: off the async workers.
            let n = node.clone();
            let resp = tokio::task::spawn_blocking(move || {
                crate::endorser::endorse(&n, &n.chaincodes, &sp, crate::now_unix())
            })
            .await;
            if let Ok(resp) = resp {
                let _ = stream.send(&resp).await;
            }
            stream.finish();
            return;
        }
        Ok(Some(Request {
            kind: Some(request::Kind::PeerAdmin(env)),
        })) => handle(&node, env).await,
        Ok(Some(Request {
            kind: Some(request::Kind::Deliver(env)),
        })) => return deliver(&node, env, Kind::Blocks, stream).await,
        Ok(Some(Request {
            kind: Some(request::Kind::DeliverFiltered(env)),
        })) => return deliver(&node, env, Kind::Filtered, stream).await,
        Ok(Some(_)) => refuse(
            Status::NotImplemented,
            "a peer serves administrative, endorsement, deliver and gossip requests only",
        ),
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(target: "comm", error = %e, "dropping stream: bad frame");
            refuse(Status::BadRequest, &e.to_string())
        }
    };
    let _ = stream.send(&resp).await;
    stream.finish();
}

async fn deliver(node: &PeerNode, env: Envelope, kind: Kind, mut stream: Framed) {
    if deliver_service::handle(node, env, kind, &mut stream)
        .await
        .is_ok()
    {
        stream.finish();
    }
}

fn refuse(status: Status, message: &str) -> PeerAdminResponse {
    PeerAdminResponse {
        status: status as i32,
        message: message.to_string(),
        result: None,
    }
}

async fn handle(node: &Arc<PeerNode>, env: Envelope) -> PeerAdminResponse {
    let now = crate::now_unix();
    let opened = match envelope::open(&env) {
        Ok(o) if o.header_type() == HeaderType::PeerAdminOperation as i32 => o,
        Ok(_) => {
            return refuse(
                Status::BadRequest,
                "expected a PEER_ADMIN_OPERATION envelope",
            );
        }
        Err(e) => return refuse(Status::BadRequest, &e.to_string()),
    };
    let req: PeerAdminRequest = match weft_wire::decode("peer admin request", &opened.data) {
        Ok(r) => r,
        Err(e) => return refuse(Status::BadRequest, &e.to_string()),
    };
    let ok = |result| PeerAdminResponse {
        status: Status::Success as i32,
        message: String::new(),
        result,
    };
    match req.op {
        Some(peer_admin_request::Op::JoinChannel(block)) => {
            if let Err(e) = opened.authorize_local(&node.local_msp, Role::Admin, now) {
                return refuse(
                    Status::Forbidden,
                    &format!("join needs an admin of {}: {e}", node.local_msp.mspid),
                );
            }
            match node.join(&block) {
                Ok(id) => PeerAdminResponse {
                    message: format!("joined {id}"),
                    ..ok(None)
                },
                Err(e) => refuse(Status::BadRequest, &e.to_string()),
            }
        }
        Some(peer_admin_request::Op::ChannelInfo(id)) => {
            let Some(ch) = node.channel(&id) else {
                return refuse(
                    Status::NotFound,
                    &format!("peer has not joined channel {id}"),
                );
            };
            if let Err(e) = opened.authorize(&ch.bundle(), "/Channel/Readers", now) {
                return refuse(Status::Forbidden, &e.to_string());
            }
            let info = ch.info();
            ok(Some(peer_admin_response::Result::Info(BlockchainInfo {
                height: info.height,
                current_block_hash: info.current_hash,
                previous_block_hash: info.previous_hash,
            })))
        }
        Some(peer_admin_request::Op::ListChannels(_)) => {
            if let Err(e) = opened.authorize_local(&node.local_msp, Role::Member, now) {
                return refuse(Status::Forbidden, &e.to_string());
            }
            let channels = node.channels().iter().map(|c| c.id.clone()).collect();
            ok(Some(peer_admin_response::Result::Channels(ChannelList {
                channels,
            })))
        }
        Some(peer_admin_request::Op::ChannelConfig(id)) => {
            let Some(ch) = node.channel(&id) else {
                return refuse(
                    Status::NotFound,
                    &format!("peer has not joined channel {id}"),
                );
            };
            let bundle = ch.bundle();
            if let Err(e) = opened.authorize(&bundle, "/Channel/Readers", now) {
                return refuse(Status::Forbidden, &e.to_string());
            }
            ok(Some(peer_admin_response::Result::Config(
                bundle.config().clone(),
            )))
        }
        None => refuse(Status::BadRequest, "empty request"),
    }
}
