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
