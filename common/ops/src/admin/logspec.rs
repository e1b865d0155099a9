//! `GET /logspec` and `PUT /logspec`: read and change the active Fabric logging spec.
//!
//! The PUT body is parsed from raw bytes rather than with axum's `Json` extractor: Fabric users send it with
//! `curl -X PUT -d '{"spec":"..."}'`, which sets no JSON content type, and malformed bodies must get the
//! service's JSON error, not axum's plain-text rejection.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{AdminError, AdminState};
use crate::logging::LogSpecError;

/// Fabric's `LogSpec` document.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LogSpec {
    /// Accepts `Spec` too, as Go's case-insensitive JSON decoding does.
    #[serde(alias = "Spec")]
    spec: String,
}

pub(crate) async fn get_spec(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<LogSpec>, AdminError> {
    let log = state.log.as_ref().ok_or(AdminError::LoggingUnmanaged)?;
    Ok(Json(LogSpec { spec: log.spec() }))
}

pub(crate) async fn put_spec(
    State(state): State<Arc<AdminState>>,
    body: Bytes,
) -> Result<StatusCode, AdminError> {
    let log = state.log.as_ref().ok_or(AdminError::LoggingUnmanaged)?;
    let request: LogSpec = serde_json::from_slice(&body)
        .map_err(|e| AdminError::BadRequest(format!("invalid request body: {e}")))?;
    log.set_spec(&request.spec).map_err(|e| match e {
        LogSpecError::SubscriberGone | LogSpecError::AlreadyInitialized => {
            tracing::error!(target: "ops", error = %e, "cannot change the log spec");
            AdminError::Internal
        }
        bad => AdminError::BadRequest(bad.to_string()),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
