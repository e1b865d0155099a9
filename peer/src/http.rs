//! The peer's own admin routes, merged into the operations router: `GET /channels`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::node::PeerNode;

#[derive(Serialize)]
struct ChannelView {
    name: String,
    height: u64,
    current_block_hash: String,
}

#[derive(Serialize)]
struct Channels {
    channels: Vec<ChannelView>,
}

/// `GET /channels` → `{"channels":[{"name","height","current_block_hash"}]}`;
/// `GET /gossip/membership`; `GET /channels/{channel}/members`.
pub fn routes(node: Arc<PeerNode>) -> Router {
    Router::new()
        .route("/channels", get(channels))
        .route("/gossip/membership", get(membership))
        .route("/channels/{channel}/members", get(members))
        .route("/channels/{channel}/transactions/{txid}", get(transaction))
        .route("/channels/{channel}", get(channel_view))
        .route("/channels/{channel}/blocks/{number}", get(block_view))
        .route("/debug/gossip/partition", axum::routing::put(partition))
        .with_state(node)
}

async fn membership(
    State(node): State<Arc<PeerNode>>,
) -> Result<Json<crate::gossip::views::MembershipJson>, StatusCode> {
    let view = node
        .gossip
        .membership()
        .await
        .ok_or(StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(Json(crate::gossip::views::membership(
        &node.gossip.me,
        &view,
    )))
}

async fn members(
    State(node): State<Arc<PeerNode>>,
    Path(channel): Path<String>,
) -> Result<Json<Vec<crate::gossip::views::ChannelMemberJson>>, (StatusCode, Json<serde_json::Value>)>
{
    match node.gossip.channel_members(&channel).await {
        Some(v) => Ok(Json(crate::gossip::views::channel_members(&v))),
        None => Err((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("peer has not joined channel {channel}") })),
        )),
    }
}

async fn channels(State(node): State<Arc<PeerNode>>) -> Json<Channels> {
    let channels = node
        .channels()
        .iter()
        .map(|c| {
            let info = c.info();
            ChannelView {
                name: c.id.clone(),
                height: info.height,
                current_block_hash: hex::encode(info.current_hash),
            }
        })
        .collect();
    Json(Channels { channels })
}

#[derive(Serialize)]
struct TxView {
    txid: String,
    block: u64,
    validation_code: &'static str,
}

type JsonError = (StatusCode, Json<serde_json::Value>);

fn not_found(message: String) -> JsonError {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": message })),
    )
}

/// `GET /channels/{channel}/transactions/{txid}` → `{"txid","block","validation_code"}`.
async fn transaction(
    State(node): State<Arc<PeerNode>>,
    Path((channel, txid)): Path<(String, String)>,
) -> Result<Json<TxView>, JsonError> {
    let ch = node
        .channel(&channel)
        .ok_or_else(|| not_found(format!("peer has not joined channel {channel}")))?;
    let (block, code) = ch
        .transaction(&txid)
        .map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
        })?
        .ok_or_else(|| not_found(format!("transaction {txid} not found on channel {channel}")))?;
    let code =
        weft_wire::common::TxValidationCode::try_from(code).map_or("UNKNOWN", |c| c.as_str_name());
    Ok(Json(TxView {
        txid,
        block,
        validation_code: code,
    }))
}

#[derive(Serialize)]
struct ChannelDetail {
    name: String,
    height: u64,
    current_block_hash: String,
    leader: bool,
    leader_pki_id: Option<String>,
}

/// `GET /channels/{channel}` → `{"name","height","current_block_hash","leader","leader_pki_id"}`.
async fn channel_view(
    State(node): State<Arc<PeerNode>>,
    Path(channel): Path<String>,
) -> Result<Json<ChannelDetail>, JsonError> {
    let ch = node
        .channel(&channel)
        .ok_or_else(|| not_found(format!("peer has not joined channel {channel}")))?;
    let info = ch.info();
    let (leader, leader_pki_id) = node.leadership(&channel);
    Ok(Json(ChannelDetail {
        name: channel,
        height: info.height,
        current_block_hash: hex::encode(info.current_hash),
        leader,
        leader_pki_id,
    }))
}

#[derive(Serialize)]
struct BlockDetail {
    number: u64,
    hash: String,
    tx_count: usize,
    source: Option<&'static str>,
    from: Option<String>,
    received_at: Option<String>,
    committed_at: Option<String>,
}

fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `GET /channels/{channel}/blocks/{number}` → the block's hash and size, and how it arrived here.
async fn block_view(
    State(node): State<Arc<PeerNode>>,
    Path((channel, number)): Path<(String, u64)>,
) -> Result<Json<BlockDetail>, JsonError> {
    use weft_ledger::BlockStore;
    let ch = node
        .channel(&channel)
        .ok_or_else(|| not_found(format!("peer has not joined channel {channel}")))?;
    let block = ch
        .ledger
        .block(number)
        .map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
        })?
        .ok_or_else(|| not_found(format!("block {number} of {channel} is not committed here")))?;
    let header = block.header.clone().unwrap_or_default();
    let record = node.provenance.get(&channel, number);
    let from = match record.as_ref().and_then(|r| r.from.clone()) {
        Some(pki) => {
            let view = node.gossip.membership().await;
            let endpoint = view.and_then(|v| {
                v.alive
                    .into_iter()
                    .chain(v.dead)
                    .find(|m| m.pki_id == pki)
                    .map(|m| m.endpoint)
            });
            Some(endpoint.unwrap_or_else(|| pki.hex()))
        }
        None => None,
    };
    Ok(Json(BlockDetail {
        number,
        hash: hex::encode(weft_crypto::block::header_hash(&header)),
        tx_count: block.data.as_ref().map_or(0, |d| d.data.len()),
        source: record.as_ref().map(|r| r.source.as_str()),
        from,
        received_at: record.as_ref().map(|r| rfc3339(r.received_at)),
        committed_at: record.as_ref().and_then(|r| r.committed_at).map(rfc3339),
    }))
}

#[derive(serde::Deserialize)]
struct PartitionBody {
    /// PKI-IDs (hex) to cut off; empty heals.
    drop: Vec<String>,
}

/// `PUT /debug/gossip/partition {"drop":["<pki_id>",...]}`: a test fault that silently drops gossip to and from
/// those peers. Only served when the peer was started with `WEFT_FAULT_INJECTION=1`.
async fn partition(
    State(node): State<Arc<PeerNode>>,
    Json(body): Json<PartitionBody>,
) -> Result<StatusCode, JsonError> {
    if std::env::var("WEFT_FAULT_INJECTION").as_deref() != Ok("1") {
        return Err(not_found(
            "fault injection is disabled (start the peer with WEFT_FAULT_INJECTION=1)".into(),
        ));
    }
    let mut peers = std::collections::BTreeSet::new();
    for h in &body.drop {
        let bytes = hex::decode(h).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
        })?;
        peers.insert(weft_gossip::PkiId(bytes));
    }
    node.gossip.set_partition(peers);
    Ok(StatusCode::NO_CONTENT)
}
