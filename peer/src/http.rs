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
    let status = crate::committer::wait_for_tx(&ch, &txid, std::time::Duration::ZERO)
        .await
        .map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
        })?
        .ok_or_else(|| not_found(format!("transaction {txid} not found on channel {channel}")))?;
    let code = weft_wire::common::TxValidationCode::try_from(status.validation_code)
        .map_or("UNKNOWN", |c| c.as_str_name());
    Ok(Json(TxView {
        txid,
        block: status.block,
        validation_code: code,
    }))
}
