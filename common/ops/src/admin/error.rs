//! Errors the operations service returns to HTTP clients, always as `{"error": "..."}`.
//!
//! Messages describe the client's mistake or the service's configuration; internal failures are logged and
//! answered with a fixed text so nothing about the process leaks.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A failed admin request. None of them changes state.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// `/metrics` was asked for but the metrics provider is not `prometheus`.
    #[error("metrics are disabled (metrics provider is not prometheus)")]
    MetricsDisabled,
    /// `/logspec` was asked for but this process does not manage its logging through the admin service.
    #[error("log spec is not managed by this process")]
    LoggingUnmanaged,
    /// The request was malformed (bad JSON, bad log spec); the message says what is wrong with it.
    #[error("{0}")]
    BadRequest(String),
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Over TLS, the route needs a verified client certificate and the client presented none.
    #[error("client certificate required")]
    ClientCertRequired,
    /// Something failed inside the service; the detail went to the log.
    #[error("internal error")]
    Internal,
}

impl AdminError {
    fn status(&self) -> StatusCode {
        match self {
            Self::MetricsDisabled | Self::LoggingUnmanaged => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::ClientCertRequired => StatusCode::UNAUTHORIZED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), Json(body)).into_response()
    }
}

/// Fallback for a known path called with the wrong method.
pub(crate) async fn method_not_allowed() -> AdminError {
    AdminError::MethodNotAllowed
}
