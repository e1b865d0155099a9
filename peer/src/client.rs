//! Client side of weft's services: Broadcast and Deliver to the orderer; administrative calls, endorsement and
//! commit events (DeliverFiltered) to a peer. Used by the CLI verbs and by the peer's deliver client.

use std::collections::BTreeMap;
use std::time::SystemTime;

use weft_crypto::{Signer, envelope};
use weft_net::{Connection, Framed};
use weft_wire::Message;
use weft_wire::common::{Block, Envelope, HeaderType, Status};
use weft_wire::orderer::{
    BroadcastResponse, DeliverResponse, DeliverResponseBytes, FilteredBlock, SeekInfo,
    SeekPosition, SeekSpecified, deliver_response, deliver_response_bytes, seek_info,
    seek_position,
};
use weft_wire::service::{PeerAdminRequest, PeerAdminResponse, Request, request};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Transport(String),
    #[error("{service} answered {status:?}: {info}")]
    Status {
        service: &'static str,
        status: Status,
        info: String,
    },
    #[error("the server closed the stream without an answer")]
    NoAnswer,
}

impl From<weft_net::FrameError> for ClientError {
    fn from(e: weft_net::FrameError) -> Self {
        ClientError::Transport(e.to_string())
    }
}

fn status_of(code: i32) -> Status {
    Status::try_from(code).unwrap_or(Status::Unknown)
}

/// Sends one envelope to the orderer's Broadcast on a stream of its own and returns its answer (SUCCESS or an
/// error status).
pub async fn broadcast(conn: &Connection, env: Envelope) -> Result<(), ClientError> {
    let mut s = conn.open().await.map_err(ClientError::Transport)?;
    let answer = broadcast_on(&mut s, env).await;
    s.finish();
    answer
}

/// Sends one envelope on an open Broadcast stream and waits for its answer; the stream can carry the next one,
/// as a Fabric client's Broadcast stream does.
pub async fn broadcast_on(s: &mut Framed, env: Envelope) -> Result<(), ClientError> {
    s.send(&Request {
        kind: Some(request::Kind::Broadcast(env)),
    })
    .await?;
    let resp: BroadcastResponse = s.recv().await?.ok_or(ClientError::NoAnswer)?;
    match status_of(resp.status) {
        Status::Success => Ok(()),
        status => Err(ClientError::Status {
            service: "broadcast",
            status,
            info: resp.info,
        }),
    }
}

/// A seek position at a block number.
pub fn at(number: u64) -> SeekPosition {
    SeekPosition {
        r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
    }
}

/// The next block to be committed.
pub fn next_commit() -> SeekPosition {
    SeekPosition {
        r#type: Some(seek_position::Type::NextCommit(Default::default())),
    }
}

/// The newest block.
pub fn newest() -> SeekPosition {
    SeekPosition {
        r#type: Some(seek_position::Type::Newest(Default::default())),
    }
}

/// The oldest block.
pub fn oldest() -> SeekPosition {
    SeekPosition {
        r#type: Some(seek_position::Type::Oldest(Default::default())),
    }
}

/// A signed Deliver request.
pub fn seek_envelope(
    signer: &Signer,
    channel: &str,
    start: SeekPosition,
    stop: SeekPosition,
    wait: bool,
) -> Envelope {
    let behavior = if wait {
        seek_info::SeekBehavior::BlockUntilReady
    } else {
        seek_info::SeekBehavior::FailIfNotReady
    };
    let seek = SeekInfo {
        start: Some(start),
        stop: Some(stop),
        behavior: behavior as i32,
    };
    envelope::create(
        signer,
        HeaderType::DeliverSeekInfo,
        channel,
        seek.encode_to_vec(),
        SystemTime::now(),
    )
    .0
}

/// Opens a Deliver stream; read it with [`next_block`].
pub async fn deliver(conn: &Connection, seek: Envelope) -> Result<Framed, ClientError> {
    let mut s = conn.open().await.map_err(ClientError::Transport)?;
    s.send(&Request {
        kind: Some(request::Kind::Deliver(seek)),
    })
    .await?;
    Ok(s)
}

/// The next block of a Deliver stream; `Ok(None)` when the stream ended with SUCCESS.
pub async fn next_block(stream: &mut Framed) -> Result<Option<Block>, ClientError> {
    Ok(next_block_traced(stream).await?.map(|d| d.block))
}

/// A block from a Deliver stream: decoded, as sent, and with the orderer's trace context.
pub struct Delivered {
    pub block: Block,
    pub bytes: weft_wire::Bytes,
    pub trace: BTreeMap<String, String>,
}

/// The next block of a Deliver stream; `None` once the orderer ends the stream with SUCCESS.
pub async fn next_block_traced(stream: &mut Framed) -> Result<Option<Delivered>, ClientError> {
    let resp: DeliverResponseBytes = stream.recv().await?.ok_or(ClientError::NoAnswer)?;
    match resp.r#type {
        Some(deliver_response_bytes::Type::Block(bytes)) => {
            let block = Block::decode(bytes.clone())
                .map_err(|e| ClientError::Transport(format!("malformed block: {e}")))?;
            Ok(Some(Delivered {
                block,
                bytes,
                trace: resp.trace_context,
            }))
        }
        Some(deliver_response_bytes::Type::Status(code)) => match status_of(code) {
            Status::Success => Ok(None),
            status => Err(ClientError::Status {
                service: "deliver",
                status,
                info: String::new(),
            }),
        },
        None => Err(ClientError::NoAnswer),
    }
}

/// Opens a peer's DeliverFiltered stream: its commit events, per the SeekInfo in `seek`.
pub async fn deliver_filtered(conn: &Connection, seek: Envelope) -> Result<Framed, ClientError> {
    let mut s = conn.open().await.map_err(ClientError::Transport)?;
    s.send(&Request {
        kind: Some(request::Kind::DeliverFiltered(seek)),
    })
    .await?;
    Ok(s)
}

/// The next block of a DeliverFiltered stream; `None` once the peer ends the stream with SUCCESS.
pub async fn next_filtered(stream: &mut Framed) -> Result<Option<FilteredBlock>, ClientError> {
    let resp: DeliverResponse = stream.recv().await?.ok_or(ClientError::NoAnswer)?;
    match resp.r#type {
        Some(deliver_response::Type::FilteredBlock(b)) => Ok(Some(b)),
        Some(deliver_response::Type::Status(code)) => match status_of(code) {
            Status::Success => Ok(None),
            status => Err(ClientError::Status {
                service: "deliver filtered",
                status,
                info: String::new(),
            }),
        },
        Some(deliver_response::Type::Block(_)) | None => Err(ClientError::NoAnswer),
    }
}

/// Reads a DeliverFiltered stream until a block carries `tx_id`: that block's number and the transaction's
/// validation code.
pub async fn commit_of(stream: &mut Framed, tx_id: &str) -> Result<(u64, i32), ClientError> {
    while let Some(b) = next_filtered(stream).await? {
        if let Some(t) = b.filtered_transactions.iter().find(|t| t.txid == tx_id) {
            return Ok((b.number, t.tx_validation_code));
        }
    }
    Err(ClientError::Transport(format!(
        "the event stream ended before transaction {tx_id} committed"
    )))
}

/// Fetches one block (`FAIL_IF_NOT_READY`).
pub async fn fetch(
    conn: &Connection,
    signer: &Signer,
    channel: &str,
    pos: SeekPosition,
) -> Result<Block, ClientError> {
    let mut s = deliver(conn, seek_envelope(signer, channel, pos, pos, false)).await?;
    next_block(&mut s).await?.ok_or(ClientError::NoAnswer)
}

/// Sends a signed administrative request to a peer.
pub async fn peer_admin(
    conn: &Connection,
    signer: &Signer,
    req: PeerAdminRequest,
) -> Result<PeerAdminResponse, ClientError> {
    let (env, _) = envelope::create(
        signer,
        HeaderType::PeerAdminOperation,
        "",
        req.encode_to_vec(),
        SystemTime::now(),
    );
    let mut s = conn.open().await.map_err(ClientError::Transport)?;
    s.send(&Request {
        kind: Some(request::Kind::PeerAdmin(env)),
    })
    .await?;
    let resp: PeerAdminResponse = s.recv().await?.ok_or(ClientError::NoAnswer)?;
    s.finish();
    match status_of(resp.status) {
        Status::Success => Ok(resp),
        status => Err(ClientError::Status {
            service: "peer",
            status,
            info: resp.message,
        }),
    }
}

/// Sends a signed proposal to a peer's endorser.
pub async fn endorse(
    conn: &Connection,
    sp: weft_wire::peer::SignedProposal,
) -> Result<weft_wire::peer::ProposalResponse, ClientError> {
    let mut s = conn.open().await.map_err(ClientError::Transport)?;
    s.send(&Request {
        kind: Some(request::Kind::Endorse(sp)),
    })
    .await?;
    let resp = s.recv().await?.ok_or(ClientError::NoAnswer)?;
    s.finish();
    Ok(resp)
}
