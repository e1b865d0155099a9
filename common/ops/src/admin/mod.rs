//! Fabric's operations service on axum: `/healthz`, `/version`, `/metrics`, `/logspec`.
//!
//! [`router`] builds the service from an [`AdminState`]; binaries `.merge()` their own routes into it and run it
//! with [`serve`]. Every error is JSON `{"error": "..."}` ([`AdminError`]), including 405 for a known path with
//! the wrong method. The router sets no catch-all fallback, so merging a router that has one stays possible.
//!
//! | route | answer |
//! |---|---|
//! | `GET /healthz` | 200 `{"status":"OK","time":...}` or 503 with `failed_checks` |
//! | `GET /version` | `{"Version":...,"CommitSHA":...}` |
//! | `GET /metrics` | Prometheus text; 404 when metrics are disabled |
//! | `GET /logspec` | `{"spec":"info"}` |
//! | `PUT /logspec` | body `{"spec":"gossip=debug:info"}`, 204; 400 on a bad spec or body |
//!
//! Over TLS ([`serve_tls`]) `/metrics` and `/logspec` answer 401 to a client without a verified certificate.

mod error;
mod health;
pub mod http_get;
mod logspec;
mod metrics;
mod serve;
mod tls;

use std::sync::Arc;

use axum::extract::State;
use axum::middleware::from_fn;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;

use crate::logging::LogHandle;

pub use error::AdminError;
pub use health::{DirWritable, HealthCheck};
pub use metrics::{MetricsError, MetricsProvider, PROMETHEUS_CONTENT_TYPE, install_metrics};
pub use serve::{DRAIN_TIMEOUT, serve};
pub use tls::{ClientCert, TlsError, TlsKeys, TlsSettings, require_client_cert, serve_tls};

/// What the operations service reports and controls.
#[derive(Clone)]
pub struct AdminState {
    /// Reported by `/version` as `Version`.
    pub version: String,
    /// Reported by `/version` as `CommitSHA`.
    pub commit: String,
    /// Run on every `/healthz`.
    pub checks: Vec<Arc<dyn HealthCheck>>,
    /// `None` when the metrics provider is not `prometheus`: `/metrics` answers 404.
    pub metrics: Option<PrometheusHandle>,
    /// `None` when logging is not managed here: `/logspec` answers 404.
    pub log: Option<LogHandle>,
}

impl AdminState {
    /// State with no health checks, no metrics and no log control; fill the public fields as needed.
    pub fn new(version: impl Into<String>, commit: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            commit: commit.into(),
            checks: Vec::new(),
            metrics: None,
            log: None,
        }
    }
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.checks.iter().map(|c| c.component()).collect();
        f.debug_struct("AdminState")
            .field("version", &self.version)
            .field("commit", &self.commit)
            .field("checks", &checks)
            .field("metrics", &self.metrics.is_some())
            .field("log", &self.log)
            .finish()
    }
}

/// The operations service's routes, with `state` applied.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/version", get(version))
        .route(
            "/metrics",
            get(metrics::render).route_layer(from_fn(require_client_cert)),
        )
        .route(
            "/logspec",
            get(logspec::get_spec)
                .put(logspec::put_spec)
                .route_layer(from_fn(require_client_cert)),
        )
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::new(state))
}

/// Fabric's `/version` document.
#[derive(Debug, Serialize)]
struct VersionInfo {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "CommitSHA")]
    commit_sha: String,
}

async fn version(State(state): State<Arc<AdminState>>) -> Json<VersionInfo> {
    Json(VersionInfo {
        version: state.version.clone(),
        commit_sha: state.commit.clone(),
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
