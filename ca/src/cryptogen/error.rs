//! Errors raised while loading a `crypto-config.yaml` or generating material from it.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in [`load_config`](super::load_config) and
/// [`generate`](super::generate).
///
/// Loading never touches the output tree. Generation writes each organisation into a
/// temporary directory beside its final place and renames it in only once complete, so an
/// error leaves organisations finished earlier in place, and the failing one untouched (its
/// previous contents, if any, are kept).
#[derive(Debug, thiserror::Error)]
pub enum CryptogenError {
    /// The configuration file could not be read. Nothing was changed.
    #[error("cannot read crypto config {}: {cause}", path.display())]
    ReadConfig {
        /// The file that was asked for.
        path: PathBuf,
        /// The underlying I/O error (for example "No such file or directory"); part of the
        /// message rather than a `source()`, so it is printed once.
        cause: io::Error,
    },

    /// The configuration is not valid YAML for the `crypto-config.yaml` schema (a syntax
    /// error, an unknown key, or a value of the wrong type). Nothing was changed.
    #[error("invalid crypto config {}: at `{key}`: {message}", path.display())]
    ParseConfig {
        /// The file being parsed (`<string>` when parsed from memory).
        path: PathBuf,
        /// Dotted path of the offending key, e.g. `PeerOrgs[0].Template.Count` (`.` for the root).
        key: String,
        /// What was wrong, as reported by the YAML parser.
        message: String,
    },

    /// The configuration parsed but makes no sense (empty domain, bad template, duplicate
    /// node names...). Nothing was changed when raised while validating; see the enum docs
    /// for what a failing generation leaves behind.
    #[error("invalid crypto config: {0}")]
    Invalid(String),

    /// A `{{...}}` template in `Hostname`, `CommonName` or `SANS` could not be rendered.
    #[error("cannot render template {template:?}: {reason}")]
    Template {
        /// The template text.
        template: String,
        /// Why it failed (unknown variable, unterminated action...).
        reason: String,
    },

    /// Key generation or certificate signing failed. The organisation being generated is
    /// discarded.
    #[error("cannot create {what}: {reason}")]
    Crypto {
        /// What was being created, e.g. `certificate peer0.org1.example.com`.
        what: String,
        /// The underlying cryptographic error.
        reason: String,
    },

    /// Writing the output tree failed. The organisation being generated is discarded.
    #[error("cannot write {}: {cause}", path.display())]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error (part of the message, not a `source()`).
        cause: io::Error,
    },
}

impl CryptogenError {
    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |cause| Self::Write { path, cause }
    }

    pub(crate) fn crypto(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> Self {
        let what = what.into();
        move |e| Self::Crypto {
            what,
            reason: e.to_string(),
        }
    }
}
