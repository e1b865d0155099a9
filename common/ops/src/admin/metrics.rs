//! The process-wide Prometheus recorder and `GET /metrics`.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

use super::{AdminError, AdminState};

/// Content type of Prometheus' text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The recorder could not be installed (another crate installed a different global `metrics` recorder).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the Prometheus metrics recorder: {0}")]
pub struct MetricsError(#[from] BuildError);

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Fabric's `metrics.provider` (peer) / `Metrics.Provider` (orderer). `statsd` is not supported; any value
/// other than these is rejected when the configuration is loaded, naming the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsProvider {
    /// Serve `/metrics` in Prometheus' text format.
    #[default]
    Prometheus,
    /// No metrics: `/metrics` answers 404.
    Disabled,
}

impl MetricsProvider {
    /// The handle `/metrics` serves from, installing the recorder when the provider is Prometheus.
    pub fn install(self) -> Result<Option<PrometheusHandle>, MetricsError> {
        match self {
            Self::Prometheus => install_metrics().map(Some),
            Self::Disabled => Ok(None),
        }
    }
}

/// Installs the global `metrics` recorder (Prometheus) and returns its handle for `/metrics`. Idempotent: later
/// calls return the same handle. Also sets Fabric's `fabric_version{version}` gauge to 1.
pub fn install_metrics() -> Result<PrometheusHandle, MetricsError> {
    let mut slot = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = slot.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new().install_recorder()?;
    metrics::describe_gauge!("fabric_version", "The active version of Fabric.");
    metrics::gauge!("fabric_version", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    *slot = Some(handle.clone());
    Ok(handle)
}

pub(crate) async fn render(
    State(state): State<Arc<AdminState>>,
) -> Result<impl IntoResponse, AdminError> {
    let handle = state.metrics.as_ref().ok_or(AdminError::MetricsDisabled)?;
    // Without the exporter's own HTTP listener nothing else runs upkeep (histogram draining); do it per scrape.
    handle.run_upkeep();
    Ok(([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], handle.render()))
}
