//! Errors raised while loading a node's configuration. None of them leave partial state behind: `load` either
//! returns a complete value or nothing.

use std::path::PathBuf;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read (missing, unreadable).
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid YAML (the message carries line and column).
    #[error("cannot parse config file {}: {source}", path.display())]
    Parse {
        /// The file being parsed.
        path: PathBuf,
        /// The YAML error, with its location.
        source: serde_yaml_ng::Error,
    },
    /// The config file parsed, but its top level is not a mapping of keys.
    #[error("config file {}: top level must be a mapping of keys", path.display())]
    NotAMapping {
        /// The file being parsed.
        path: PathBuf,
    },
    /// The type's `Default` could not be turned into a YAML value (a bug in the config type).
    #[error("cannot serialise the default configuration: {0}")]
    Defaults(#[source] serde_yaml_ng::Error),
    /// The working directory is needed as the base for relative paths but cannot be determined.
    #[error("cannot determine the current directory: {0}")]
    CurrentDir(#[source] std::io::Error),
    /// The merged configuration does not fit the config type; `key` is the full dotted key path.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted key path, e.g. `peer.gossip.aliveTimeInterval`.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
}
