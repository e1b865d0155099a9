//! Router tests without a socket (`oneshot`), plus one end-to-end run of `serve` probed with `http_get`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{
    AdminState, HealthCheck, PROMETHEUS_CONTENT_TYPE, http_get, install_metrics, router, serve,
};
use crate::logging::LogHandle;

struct Check {
    name: &'static str,
    result: Result<(), String>,
}

impl HealthCheck for Check {
    fn component(&self) -> &str {
        self.name
    }
    fn check(&self) -> Result<(), String> {
        self.result.clone()
    }
}

fn state() -> AdminState {
    let mut state = AdminState::new("0.1.0", "abc123");
    state.log = Some(LogHandle::detached("info").expect("detached log handle"));
    state
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn call(app: &Router, method: Method, uri: &str, body: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_owned()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = String::from_utf8(bytes.to_vec()).expect("utf8 body");
    Reply {
        status,
        content_type,
        body,
    }
}

#[tokio::test]
async fn healthz_ok_without_failed_checks() {
    let mut s = state();
    s.checks.push(Arc::new(Check {
        name: "ledger",
        result: Ok(()),
    }));
    let reply = call(&router(s), Method::GET, "/healthz", "").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["status"], "OK");
    let time = body["time"].as_str().expect("time");
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    assert!(body.get("failed_checks").is_none(), "{body}");
}

#[tokio::test]
async fn healthz_reports_failed_checks_with_503() {
    let mut s = state();
    s.checks.push(Arc::new(Check {
        name: "ledger",
        result: Ok(()),
    }));
    s.checks.push(Arc::new(Check {
        name: "gossip",
        result: Err("no peers".into()),
    }));
    let reply = call(&router(s), Method::GET, "/healthz", "").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["status"], "Service Unavailable");
    assert_eq!(
        body["failed_checks"],
        json!([{"component": "gossip", "reason": "no peers"}])
    );
}

#[tokio::test]
async fn version_uses_fabric_field_names() {
    let reply = call(&router(state()), Method::GET, "/version", "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"Version": "0.1.0", "CommitSHA": "abc123"})
    );
}

#[tokio::test]
async fn metrics_disabled_is_a_json_404() {
    let reply = call(&router(state()), Method::GET, "/metrics", "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply.json()["error"]
            .as_str()
            .expect("error")
            .contains("disabled")
    );
}

#[tokio::test]
async fn metrics_render_prometheus_text() {
    let handle = install_metrics().expect("install");
    install_metrics().expect("second install is a no-op");
    metrics::counter!("weft_ops_test_requests_total").increment(3);
    let mut s = state();
    s.metrics = Some(handle);
    let reply = call(&router(s), Method::GET, "/metrics", "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, PROMETHEUS_CONTENT_TYPE);
    assert!(
        reply.body.contains("weft_ops_test_requests_total 3"),
        "{}",
        reply.body
    );
    let version_line = format!(
        "fabric_version{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(reply.body.contains(&version_line), "{}", reply.body);
    assert!(
        reply
            .body
            .contains("# HELP fabric_version The active version of Fabric."),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn logspec_get_and_put() {
    let app = router(state());
    let reply = call(&app, Method::GET, "/logspec", "").await;
    assert_eq!(reply.json(), json!({"spec": "info"}));

    let reply = call(
        &app,
        Method::PUT,
        "/logspec",
        r#"{"spec":"gossip=debug:info"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());

    let reply = call(&app, Method::GET, "/logspec", "").await;
    assert_eq!(reply.json(), json!({"spec": "gossip=debug:info"}));
}

#[tokio::test]
async fn logspec_rejects_bad_spec_and_bad_json_with_400() {
    let app = router(state());
    let reply = call(&app, Method::PUT, "/logspec", r#"{"spec":"gossip=loud"}"#).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"error": "invalid logging specification 'gossip=loud': bad segment 'gossip=loud'"})
    );

    for body in ["{not json", r#"{"level":"debug"}"#, ""] {
        let reply = call(&app, Method::PUT, "/logspec", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let error = reply.json()["error"].as_str().expect("error").to_owned();
        assert!(error.starts_with("invalid request body"), "{error}");
    }

    let reply = call(&app, Method::GET, "/logspec", "").await;
    assert_eq!(
        reply.json(),
        json!({"spec": "info"}),
        "rejected requests change nothing"
    );
}

#[tokio::test]
async fn logspec_unmanaged_is_a_json_404() {
    let app = router(AdminState::new("v", "c"));
    let reply = call(&app, Method::GET, "/logspec", "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = call(&app, Method::PUT, "/logspec", r#"{"spec":"info"}"#).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.json()["error"].is_string());
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let app = router(state());
    for (method, uri) in [
        (Method::POST, "/healthz"),
        (Method::DELETE, "/logspec"),
        (Method::PUT, "/version"),
        (Method::POST, "/metrics"),
    ] {
        let reply = call(&app, method.clone(), uri, "").await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert_eq!(reply.json(), json!({"error": "method not allowed"}));
    }
}

#[tokio::test]
async fn binaries_can_merge_their_own_routes() {
    let app = router(state())
        .merge(Router::new().route("/extra", axum::routing::get(|| async { "extra" })));
    assert_eq!(call(&app, Method::GET, "/extra", "").await.body, "extra");
    assert_eq!(
        call(&app, Method::GET, "/version", "").await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_http_get_and_stops_on_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let mut s = state();
    s.checks.push(Arc::new(Check {
        name: "orderer",
        result: Err("unreachable".into()),
    }));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router(s), async move {
        let _ = stop_rx.await;
    }));

    let probe_addr = addr.clone();
    let (version, health, missing) = tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(10);
        (
            http_get::get(&probe_addr, "/version", timeout),
            http_get::get(&probe_addr, "/healthz", timeout),
            http_get::get(&probe_addr, "/nope", timeout),
        )
    })
    .await
    .expect("probe thread");
    let (status, body) = version.expect("GET /version");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["CommitSHA"],
        "abc123"
    );
    let (status, body) = health.expect("GET /healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unreachable"), "{body}");
    assert_eq!(missing.expect("GET /nope").0, 404);

    stop_tx.send(()).expect("server still running");
    server.await.expect("server task").expect("serve result");
    let after = tokio::task::spawn_blocking(move || {
        http_get::get(&addr, "/version", Duration::from_secs(5))
    })
    .await
    .expect("probe thread");
    assert!(after.is_err(), "listener closed after shutdown: {after:?}");
}
