//! `GET /healthz`: runs every registered [`HealthCheck`] and reports Fabric's health status document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::AdminState;

/// A component whose health `/healthz` reports (the ledger, the gossip service, the orderer connection...).
pub trait HealthCheck: Send + Sync {
    /// Name shown in `failed_checks`, e.g. `ledger`.
    fn component(&self) -> &str;
    /// `Err(reason)` when unhealthy. Called on every `/healthz` request, so it must be quick and not block.
    fn check(&self) -> Result<(), String>;
}

/// Fabric's `HealthStatus` JSON.
#[derive(Debug, Serialize)]
pub(crate) struct HealthStatus {
    status: &'static str,
    time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed_checks: Vec<FailedCheck>,
}

#[derive(Debug, Serialize)]
struct FailedCheck {
    component: String,
    reason: String,
}

pub(crate) async fn healthz(
    State(state): State<Arc<AdminState>>,
) -> (StatusCode, Json<HealthStatus>) {
    let failed_checks: Vec<FailedCheck> = state
        .checks
        .iter()
        .filter_map(|c| {
            c.check().err().map(|reason| FailedCheck {
                component: c.component().to_owned(),
                reason,
            })
        })
        .collect();
    let (code, status) = if failed_checks.is_empty() {
        (StatusCode::OK, "OK")
    } else {
        tracing::warn!(target: "ops", failed = failed_checks.len(), "health check failed");
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    };
    let body = HealthStatus {
        status,
        time: now_rfc3339(),
        failed_checks,
    };
    (code, Json(body))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
