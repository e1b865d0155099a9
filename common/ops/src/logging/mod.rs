//! Process logging: `tracing` events to stderr, filtered by a Fabric logging spec that can change at run time.
//!
//! [`init`] installs the global subscriber once per process: a reloadable `EnvFilter` built from the spec (see
//! [`parse_spec`] for the grammar), then a human-readable or JSON formatter writing to stderr. Only the filter is
//! inside `reload` (other layers, e.g. OpenTelemetry, must not be). The returned [`LogHandle`] backs the admin
//! service's `/logspec`.

mod spec;

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, fmt, reload};

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
        Ok(Self::new(reload, spec, Some(layer)))
    }

    fn new(
        reload: reload::Handle<EnvFilter, Registry>,
        spec: &str,
        detached: Option<reload::Layer<EnvFilter, Registry>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                reload,
                spec: Mutex::new(normalise(spec)),
                _detached: detached,
            }),
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
/// as one JSON object per line when `json` is true. Fails, without side effects, on a bad spec or when a global
/// subscriber is already installed.
pub fn init(spec: &str, json: bool) -> Result<LogHandle, LogSpecError> {
    let (filter, reload) = reload::Layer::new(build_filter(spec)?);
    let ansi = std::io::stderr().is_terminal();
    let text = (!json).then(|| fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    let json = json.then(|| fmt::layer().json().with_writer(std::io::stderr));
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .map_err(|_| LogSpecError::AlreadyInitialized)?;
    Ok(LogHandle::new(reload, spec, None))
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

    /// The only test in this binary that touches the global subscriber.
    #[test]
    fn init_once_then_change_levels_at_run_time() {
        assert!(matches!(
            init("loud", false),
            Err(LogSpecError::BadSegment { .. })
        ));
        let handle = init("info", false).expect("first init");
        assert!(matches!(
            init("info", true),
            Err(LogSpecError::AlreadyInitialized)
        ));
        assert_eq!(handle.spec(), "info");
        assert!(!tracing::enabled!(target: "gossip", tracing::Level::DEBUG));

        handle.set_spec("gossip=debug:warn").expect("set spec");
        assert_eq!(handle.spec(), "gossip=debug:warn");
        assert!(tracing::enabled!(target: "gossip::election", tracing::Level::DEBUG));
        assert!(!tracing::enabled!(target: "ledger", tracing::Level::INFO));
        assert!(tracing::enabled!(target: "ledger", tracing::Level::WARN));

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
