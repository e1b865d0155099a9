//! Fabric's logging specification (`FABRIC_LOGGING_SPEC`) translated to `tracing` `EnvFilter` directives.
//!
//! Grammar, as Fabric's `flogging.ActivateSpec`: terms separated by `:`; a term is either a bare level (the
//! default for all loggers; the last one wins, `info` if none) or `logger[,logger...]=level`. Levels are
//! case-insensitive: `debug`, `info`, `warn`/`warning`, `error`, and `dpanic`/`panic`/`fatal`, which map to
//! `error` (tracing has nothing above it); `trace` is accepted as a weft extension. Logger names are Fabric's
//! (`[A-Za-z0-9_-]` words joined by `.`); each becomes a tracing target prefix with `.` turned into `::`, so
//! `gossip=debug` matches targets `gossip` and `gossip::election`, and `weft_peer.gossip` matches the module
//! `weft_peer::gossip`. A trailing `.` (Fabric's "this exact logger") is dropped; tracing has only prefixes.

/// Why a logging specification was rejected, or logging could not be set up. Rejecting a spec changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogSpecError {
    /// A term is neither a level nor `loggers=level`, or names an unknown level.
    #[error("invalid logging specification '{spec}': bad segment '{segment}'")]
    BadSegment {
        /// The whole specification.
        spec: String,
        /// The offending `:`-separated term.
        segment: String,
    },
    /// A `=level` term with nothing before the `=`.
    #[error("invalid logging specification '{spec}': no logger specified in segment '{segment}'")]
    NoLogger {
        /// The whole specification.
        spec: String,
        /// The offending term.
        segment: String,
    },
    /// A logger name with characters other than letters, digits, `_`, `-` and single dots.
    #[error("invalid logging specification '{spec}': bad logger name '{logger}'")]
    BadLoggerName {
        /// The whole specification.
        spec: String,
        /// The offending logger name.
        logger: String,
    },
    /// The translated directives were refused by `tracing_subscriber` (should not happen for valid specs).
    #[error("invalid logging specification '{spec}': {reason}")]
    Filter {
        /// The whole specification.
        spec: String,
        /// The filter's complaint.
        reason: String,
    },
    /// A global subscriber is already installed (a second `init` in the process); the first stays in place.
    #[error("logging is already initialised in this process")]
    AlreadyInitialized,
    /// The subscriber behind a [`LogHandle`](super::LogHandle) is gone; the level was not changed.
    #[error("the logging subscriber is no longer running")]
    SubscriberGone,
    /// Span export was asked for (`OTEL_EXPORTER_OTLP_ENDPOINT`) but cannot start.
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
}

/// Translates a Fabric spec into `EnvFilter` directives, default level first: `gossip=debug:info` →
/// `info,gossip=debug`.
pub fn parse_spec(spec: &str) -> Result<String, LogSpecError> {
    let spec_trimmed = spec.trim();
    let bad_segment = |segment: &str| LogSpecError::BadSegment {
        spec: spec.to_owned(),
        segment: segment.to_owned(),
    };
    let mut default = "info";
    let mut targets: Vec<String> = Vec::new();
    for segment in spec_trimmed.split(':') {
        let parts: Vec<&str> = segment.split('=').collect();
        match parts.as_slice() {
            [level] => {
                if !level.trim().is_empty() {
                    default = level_directive(level).ok_or_else(|| bad_segment(segment))?;
                }
            }
            [loggers, level] => {
                if loggers.trim().is_empty() {
                    return Err(LogSpecError::NoLogger {
                        spec: spec.to_owned(),
                        segment: segment.to_owned(),
                    });
                }
                let level = level_directive(level).ok_or_else(|| bad_segment(segment))?;
                for logger in loggers.split(',') {
                    let logger = logger.trim();
                    let name = logger.strip_suffix('.').unwrap_or(logger);
                    if !valid_logger_name(name) {
                        return Err(LogSpecError::BadLoggerName {
                            spec: spec.to_owned(),
                            logger: logger.to_owned(),
                        });
                    }
                    targets.push(format!("{}={level}", name.replace('.', "::")));
                }
            }
            _ => return Err(bad_segment(segment)),
        }
    }
    let mut directives = vec![default.to_owned()];
    directives.extend(targets);
    Ok(directives.join(","))
}

/// The tracing level for a Fabric level name.
fn level_directive(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => Some("trace"),
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warn" | "warning" => Some("warn"),
        "error" | "dpanic" | "panic" | "fatal" => Some("error"),
        _ => None,
    }
}

/// Fabric's `^[[:alnum:]_-]+(\.[[:alnum:]_-]+)*$`.
fn valid_logger_name(name: &str) -> bool {
    name.split('.').all(|word| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_fabric_specs() {
        let cases = [
            ("", "info"),
            ("INFO", "info"),
            ("debug", "debug"),
            ("warning", "warn"),
            ("fatal", "error"),
            ("panic", "error"),
            ("gossip=debug:info", "info,gossip=debug"),
            (
                "gossip,ledger=warn:orderer=debug:error",
                "error,gossip=warn,ledger=warn,orderer=debug",
            ),
            ("gossip.election=debug", "info,gossip::election=debug"),
            ("gossip.=debug", "info,gossip=debug"),
            ("info:debug", "debug"),
            ("weft_peer.gossip=trace", "info,weft_peer::gossip=trace"),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_spec(spec).as_deref(), Ok(want), "{spec}");
        }
    }

    #[test]
    fn rejects_bad_specs_with_fabric_messages() {
        assert_eq!(
            parse_spec("gossip=loud").expect_err("level").to_string(),
            "invalid logging specification 'gossip=loud': bad segment 'gossip=loud'"
        );
        assert!(matches!(
            parse_spec("debugg"),
            Err(LogSpecError::BadSegment { .. })
        ));
        assert!(matches!(
            parse_spec("a=b=c"),
            Err(LogSpecError::BadSegment { .. })
        ));
        assert!(matches!(
            parse_spec("=debug"),
            Err(LogSpecError::NoLogger { .. })
        ));
        assert!(matches!(
            parse_spec("go ssip=debug"),
            Err(LogSpecError::BadLoggerName { .. })
        ));
        assert!(matches!(
            parse_spec("a..b=debug"),
            Err(LogSpecError::BadLoggerName { .. })
        ));
        assert!(matches!(
            parse_spec("a,=debug"),
            Err(LogSpecError::BadLoggerName { .. })
        ));
    }

    #[test]
    fn every_translation_is_a_valid_env_filter() {
        for spec in ["info", "gossip=debug:info", "a-b_c.d=warn:error"] {
            let directives = parse_spec(spec).expect("valid spec");
            tracing_subscriber::EnvFilter::builder()
                .parse(&directives)
                .expect("valid directives");
        }
    }
}
