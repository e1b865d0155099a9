//! Process logging: `tracing` events to stderr, filtered by a Fabric logging spec that can change at run time.
//!
//! [`init`] installs the global subscriber once per process: a human-readable or JSON formatter writing to
//! stderr, behind a reloadable `EnvFilter` built from the spec (see [`parse_spec`] for the grammar), and the
//! OpenTelemetry layer when export is on. The spec is the formatter's own filter, and only it is inside `reload`
//! (the OpenTelemetry layer must not be). The returned [`LogHandle`] backs the admin service's `/logspec`.

mod spec;

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt, reload};

pub use spec::{LogSpecError, parse_spec};

/// The spec used when none is given (`FABRIC_LOGGING_SPEC` unset), as in Fabric.
pub const DEFAULT_SPEC: &str = "info";

/// Changes and reports the active logging spec. Cheap to clone; all clones control the same filter.
#[derive(Clone)]
pub struct LogHandle {
    inner: Arc<Inner>,
}

struct Inner {
    reload: reload::Handle<EnvFilter, Registry>,
    /// The active spec as given. Locked while reloading so that it always describes the active filter.
    spec: Mutex<String>,
    /// For [`LogHandle::detached`]: owns the filter layer, which no subscriber holds.
    _detached: Option<reload::Layer<EnvFilter, Registry>>,
    /// The OTLP exporter, when export is on; taken by [`LogHandle::shutdown`].
    provider: Mutex<Option<SdkTracerProvider>>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle")
            .field("spec", &self.spec())
            .finish()
    }
}

impl LogHandle {
    /// A handle whose filter is not installed anywhere: for tests and for embedding the admin router without
    /// owning the process's logging. `set_spec` validates and records specs as usual.
    pub fn detached(spec: &str) -> Result<Self, LogSpecError> {
        let (layer, reload) = reload::Layer::new(build_filter(spec)?);
        Ok(Self::new(reload, spec, Some(layer), None))
    }

    fn new(
        reload: reload::Handle<EnvFilter, Registry>,
        spec: &str,
        detached: Option<reload::Layer<EnvFilter, Registry>>,
        provider: Option<SdkTracerProvider>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                reload,
                spec: Mutex::new(normalise(spec)),
                _detached: detached,
                provider: Mutex::new(provider),
            }),
        }
    }

    /// Sends the spans not yet exported and stops export (nothing when export is off). Call it once the
    /// process's work is done, from outside the runtime's workers; it blocks for at most 5 s.
    pub fn shutdown(&self) {
        let provider = self
            .inner
            .provider
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(p) = provider {
            crate::trace::shutdown(&p);
        }
    }

    /// The active spec, as last given (`info` for an empty one).
    pub fn spec(&self) -> String {
        self.inner
            .spec
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the active filter. On error the previous spec stays active.
    pub fn set_spec(&self, spec: &str) -> Result<(), LogSpecError> {
        let filter = build_filter(spec)?;
        let mut current = self
            .inner
            .spec
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner
            .reload
            .reload(filter)
            .map_err(|_| LogSpecError::SubscriberGone)?;
        *current = normalise(spec);
        tracing::info!(target: "logging", spec = %*current, "logging spec changed");
        Ok(())
    }
}

/// Installs the process's subscriber: events filtered by `spec` (Fabric grammar), written to stderr as text, or
/// as one JSON object per line when `json` is true; and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported
/// over OTLP as service `OTEL_SERVICE_NAME` or `service` (see [`crate::trace`]). The spec filters only what is
/// written: spans are exported whatever the log level, so `/logspec` never breaks a trace. Fails, without side
/// effects, on a bad spec, a bad endpoint, or when a global subscriber is already installed. With export on it
/// must run inside the tokio runtime that will carry the export, and [`LogHandle::shutdown`] flushes it.
pub fn init(spec: &str, json: bool, service: &str) -> Result<LogHandle, LogSpecError> {
    let ansi = std::io::stderr().is_terminal();
    install(spec, json, ansi, service, std::io::stderr)
}

fn install<W>(
    spec: &str,
    json: bool,
    ansi: bool,
    service: &str,
    writer: W,
) -> Result<LogHandle, LogSpecError>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, reload) = reload::Layer::new(build_filter(spec)?);
    let output: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(fmt::layer().json().with_writer(writer))
    } else {
        Box::new(fmt::layer().with_writer(writer).with_ansi(ansi))
    };
    let provider = crate::trace::provider(service)?;
    let export = provider.as_ref().map(|p| {
        // The exporter's own gRPC stack must not trace itself into the export.
        let quiet = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("h2", LevelFilter::OFF)
            .with_target("hyper", LevelFilter::OFF)
            .with_target("hyper_util", LevelFilter::OFF)
            .with_target("tonic", LevelFilter::OFF)
            .with_target("tower", LevelFilter::OFF)
            .with_target("opentelemetry_sdk", LevelFilter::OFF)
            .with_target("opentelemetry-otlp", LevelFilter::OFF);
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("weft"))
            .with_filter(quiet)
    });
    tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(export)
        .try_init()
        .map_err(|_| LogSpecError::AlreadyInitialized)?;
    Ok(LogHandle::new(reload, spec, None, provider))
}

fn build_filter(spec: &str) -> Result<EnvFilter, LogSpecError> {
    let directives = parse_spec(spec)?;
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| LogSpecError::Filter {
            spec: spec.to_owned(),
            reason: e.to_string(),
        })
}

fn normalise(spec: &str) -> String {
    let spec = spec.trim();
    if spec.is_empty() { DEFAULT_SPEC } else { spec }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    /// The only test in this binary that touches the global subscriber.
    #[test]
    fn init_once_then_change_levels_at_run_time() {
        let out = Captured::default();
        let writer = out.clone();
        let install = |spec: &str, json: bool| {
            let w = writer.clone();
            install(spec, json, false, "test", move || w.clone())
        };
        assert!(matches!(
            install("loud", false),
            Err(LogSpecError::BadSegment { .. })
        ));
        let handle = install("info", false).expect("first init");
        assert!(matches!(
            install("info", true),
            Err(LogSpecError::AlreadyInitialized)
        ));
        assert_eq!(handle.spec(), "info");
        tracing::debug!(target: "gossip", "gossip debug 1");
        tracing::info!(target: "ledger", "ledger info 1");
        let text = out.take();
        assert!(
            !text.contains("gossip debug 1") && text.contains("ledger info 1"),
            "{text}"
        );

        handle.set_spec("gossip=debug:warn").expect("set spec");
        assert_eq!(handle.spec(), "gossip=debug:warn");
        tracing::debug!(target: "gossip::election", "gossip debug 2");
        tracing::info!(target: "ledger", "ledger info 2");
        tracing::warn!(target: "ledger", "ledger warn 2");
        let text = out.take();
        assert!(text.contains("gossip debug 2"), "{text}");
        assert!(!text.contains("ledger info 2"), "{text}");
        assert!(text.contains("ledger warn 2"), "{text}");

        assert!(handle.set_spec("gossip=nope").is_err());
        assert_eq!(
            handle.spec(),
            "gossip=debug:warn",
            "a rejected spec changes nothing"
        );
    }

    #[test]
    fn detached_handle_tracks_spec() {
        let handle = LogHandle::detached("").expect("detached");
        assert_eq!(handle.spec(), "info");
        handle.set_spec("ledger=debug:error").expect("set");
        assert_eq!(handle.clone().spec(), "ledger=debug:error");
    }
}
