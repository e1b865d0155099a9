//! Distributed tracing: OTLP export of the process's `tracing` spans, and W3C trace context carried inside
//! messages so that one block is one trace across processes.
//!
//! Export is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (gRPC, e.g. `http://jaeger:4317`); the service
//! name is `OTEL_SERVICE_NAME` or the node's id. With export off the helpers below cost a lookup: a span has no
//! OpenTelemetry context, [`inject`] returns an empty carrier and nothing extra goes on the wire.
//!
//! Messages carry a [`Carrier`] (`traceparent`, `tracestate`): proposals and envelopes in their channel header,
//! deliver responses and gossip block payloads in a `trace_context` map. The receiver makes its span a child
//! of the sender's with [`set_parent`]; where one span stands for many messages (a block cut from several
//! transactions) the others become links ([`add_link`]).

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// W3C trace context as it travels in a message (`map<string,string>` in the schema, a `BTreeMap` so that
/// signed messages encode deterministically).
pub type Carrier = BTreeMap<String, String>;

// The propagator's views of a [`Carrier`] (it implements its traits for `HashMap` only).
struct Inject<'a>(&'a mut Carrier);

impl Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct Extract<'a>(&'a Carrier);

impl Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The environment variable that turns export on (the OpenTelemetry SDK's own name).
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Why export could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: {reason} (write it as http://host:4317)")]
    Exporter { endpoint: String, reason: String },
}

/// The OTLP/gRPC exporter's provider when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and not empty, else `None`.
/// Must run inside a tokio runtime (the gRPC channel's worker is spawned on it), which must outlive
/// [`shutdown`].
pub(crate) fn provider(default_service: &str) -> Result<Option<SdkTracerProvider>, TraceError> {
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap_or_default();
    if endpoint.trim().is_empty() {
        return Ok(None);
    }
    // `with_service_name` would override OTEL_SERVICE_NAME, which the resource detector reads itself.
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default_service.to_owned());
    exporting_to(endpoint.trim(), &service).map(Some)
}

fn exporting_to(endpoint: &str, service: &str) -> Result<SdkTracerProvider, TraceError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| TraceError::Exporter {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(exporter)
        .build())
}

/// Flushes and stops export. Blocks until the last batch is sent (at most 5 s); call it from a thread that is
/// not the only worker of the runtime the exporter runs on.
pub(crate) fn shutdown(provider: &SdkTracerProvider) {
    if let Err(e) = provider.shutdown() {
        tracing::warn!(target: "tracing", error = %e, "could not flush the last spans to the OTLP endpoint");
    }
}

/// The context of `span`, to put in an outgoing message. Empty when export is off or the span is disabled.
pub fn inject(span: &tracing::Span) -> Carrier {
    let mut carrier = Carrier::new();
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut Inject(&mut carrier));
    }
    carrier
}

fn extract(carrier: &Carrier) -> Option<opentelemetry::Context> {
    if carrier.is_empty() {
        return None;
    }
    // From an empty context: `extract` would fall back to the current span when there is no traceparent.
    let cx = TraceContextPropagator::new()
        .extract_with_context(&opentelemetry::Context::new(), &Extract(carrier));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` a child of the span that `carrier` came from. Call it before the span is entered or
/// injected; an empty or malformed carrier leaves the span where it is.
pub fn set_parent(span: &tracing::Span, carrier: &Carrier) {
    if let Some(cx) = extract(carrier) {
        // Fails only when export is off or the span is filtered out: then there is nothing to link.
        let _ = span.set_parent(cx);
    }
}

/// Links `span` to the span that `carrier` came from (a cut block to each of its transactions but the first).
pub fn add_link(span: &tracing::Span, carrier: &Carrier) {
    if let Some(cx) = extract(carrier) {
        span.add_link(cx.span().span_context().clone());
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Runs `f` with spans going to an OpenTelemetry layer (no exporter: contexts are real, nothing is sent).
    fn traced(f: impl FnOnce()) {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f);
    }

    /// (trace id, span id) of a `traceparent`: `00-<trace>-<span>-<flags>`.
    fn ids(c: &Carrier) -> (String, String) {
        let parts: Vec<&str> = c["traceparent"].split('-').collect();
        (parts[1].to_owned(), parts[2].to_owned())
    }

    #[test]
    fn a_receiver_continues_the_senders_trace() {
        traced(|| {
            let sender = tracing::info_span!("sender");
            let carrier = inject(&sender);
            let receiver = tracing::info_span!("receiver");
            set_parent(&receiver, &carrier);
            let (trace, span) = ids(&carrier);
            let (child_trace, child_span) = ids(&inject(&receiver));
            assert_eq!(child_trace, trace);
            assert_ne!(child_span, span);
        });
    }

    #[test]
    fn an_empty_or_malformed_carrier_starts_a_new_trace() {
        traced(|| {
            let sender = inject(&tracing::info_span!("sender"));
            for carrier in [
                Carrier::new(),
                Carrier::from([("traceparent".to_owned(), "00-nonsense".to_owned())]),
            ] {
                let span = tracing::info_span!("receiver");
                set_parent(&span, &carrier);
                add_link(&span, &carrier);
                assert_ne!(ids(&inject(&span)).0, ids(&sender).0);
            }
        });
    }

    #[test]
    fn with_export_off_nothing_travels() {
        let span = tracing::info_span!("untraced");
        assert!(inject(&span).is_empty());
        set_parent(&span, &Carrier::new());
    }

    #[test]
    fn an_endpoint_without_a_scheme_is_refused_with_the_fix() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _rt = rt.enter();
        let e = exporting_to("jaeger:4317", "test").unwrap_err().to_string();
        assert!(
            e.contains("jaeger:4317") && e.contains("http://host:4317"),
            "{e}"
        );
        // The gRPC channel connects lazily: no collector needs to be listening.
        let p = exporting_to("http://127.0.0.1:4317", "test").unwrap();
        drop(p);
    }
}
