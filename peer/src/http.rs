//! The peer's own admin routes, merged into the operations router: `GET /channels`.

use std::sync::Arc;

use axum::extract::State;
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

/// `GET /channels` → `{"channels":[{"name","height","current_block_hash"}]}`.
pub fn routes(node: Arc<PeerNode>) -> Router {
    Router::new()
        .route("/channels", get(channels))
        .with_state(node)
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
