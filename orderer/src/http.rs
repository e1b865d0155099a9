//! The orderer's own admin routes: `GET /channels/{channel}/deliverers` lists who holds a Deliver stream.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use crate::registry::Registry;

pub fn routes(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/channels/{channel}/deliverers", get(deliverers))
        .route("/channels/{channel}/blocks/{number}", get(block))
        .with_state(registry)
}

/// The common names of the clients streaming blocks from `channel` now (one entry per open stream).
async fn deliverers(
    State(registry): State<Arc<Registry>>,
    Path(channel): Path<String>,
) -> Result<Json<Vec<String>>, (StatusCode, Json<serde_json::Value>)> {
    let ch = registry.get(&channel).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("channel {channel} does not exist") })),
        )
    })?;
    let mut names: Vec<String> = ch
        .deliverers
        .lock()
        .expect("deliverers lock")
        .values()
        .cloned()
        .collect();
    names.sort();
    Ok(Json(names))
}

/// `GET /channels/{channel}/blocks/{number}` → `{"number","hash","tx_count","cut_at"}`.
async fn block(
    State(registry): State<Arc<Registry>>,
    Path((channel, number)): Path<(String, u64)>,
) -> Result<Json<serde_json::Value>, (StatusCode, Json<serde_json::Value>)> {
    use weft_ledger::BlockStore;
    let missing = |m: String| {
        (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": m })),
        )
    };
    let ch = registry
        .get(&channel)
        .ok_or_else(|| missing(format!("channel {channel} does not exist")))?;
    let block = ch
        .ledger
        .block(number)
        .ok()
        .flatten()
        .ok_or_else(|| missing(format!("block {number} not found")))?;
    let header = block.header.clone().unwrap_or_default();
    let cut_at = ch.cuts.get(number).map(|c| {
        time::OffsetDateTime::from(c.at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    });
    Ok(Json(serde_json::json!({
        "number": number,
        "hash": hex::encode(weft_crypto::block::header_hash(&header)),
        "tx_count": block.data.as_ref().map_or(0, |d| d.data.len()),
        "cut_at": cut_at,
    })))
}
