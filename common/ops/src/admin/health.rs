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

/// Healthy while a folder (a ledger's) accepts writes: a probe file is written and removed.
#[derive(Debug)]
pub struct DirWritable {
    pub component: String,
    pub dir: std::path::PathBuf,
}

impl HealthCheck for DirWritable {
    fn component(&self) -> &str {
        &self.component
    }

    fn check(&self) -> Result<(), String> {
        let probe = self.dir.join(".healthz");
        std::fs::write(&probe, b"ok")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| format!("{} is not writable: {e}", self.dir.display()))
    }
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    #[test]
    fn dir_writable_fails_for_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let ok = DirWritable {
            component: "ledger".into(),
            dir: dir.path().to_path_buf(),
        };
        assert_eq!(ok.check(), Ok(()));
        let gone = DirWritable {
            component: "ledger".into(),
            dir: dir.path().join("gone"),
        };
        assert!(gone.check().unwrap_err().contains("gone"));
    }
}
