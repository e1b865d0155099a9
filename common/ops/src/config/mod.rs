//! Typed node configuration loaded the way Fabric's viper does it: defaults, then a YAML file, then environment.
//!
//! [`load`] starts from `T::default()` serialised to YAML, deep-merges the file over it (the file may omit
//! keys; keys match case-insensitively and empty values keep the default), applies
//! `PREFIX_A_B_C` environment overrides onto the keys present (see the `env` rules below), and deserialises the
//! result into `T` with errors naming the full key path (`peer.gossip.aliveTimeInterval: invalid duration ...`).
//!
//! Environment rules: only variables named `{prefix}_...` are considered; segments match existing keys
//! ASCII-case-insensitively, several segments may spell one camelCase key (`USELEADERELECTION`); a string default
//! keeps the value as a string, a list default takes `[a, b]` or a whitespace-separated list, other defaults take
//! a YAML scalar (`true`, `7`); empty values count as unset; prefixed variables that match no key are returned
//! in [`Loaded::ignored_env`]. Fields must therefore be serialised even when empty (no
//! `skip_serializing_if`) to be settable from the environment.
//!
//! Config types use [`duration`] and [`size`] for Fabric's `5s` and `99 MB` notations.

pub mod duration;
mod env;
mod error;
mod merge;
pub mod size;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

pub use error::ConfigError;

/// A loaded configuration and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<T> {
    /// The configuration.
    pub value: T,
    /// Absolute directory of the config file (or the current directory without one); relative paths in the
    /// configuration (MSP dirs, TLS files) resolve against it, as Fabric's do.
    pub base_dir: PathBuf,
    /// Prefixed environment variables that matched no key, sorted; binaries log them at debug.
    pub ignored_env: Vec<String>,
}

/// Loads `T` from its defaults, an optional YAML file and the environment variables under `env_prefix`
/// (`CORE`, `ORDERER`; the `_` separator is added here). Pass `std::env::vars()` as `env` in binaries.
pub fn load<T>(
    file: Option<&Path>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded<T>, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let mut tree = serde_yaml_ng::to_value(T::default()).map_err(ConfigError::Defaults)?;
    let base_dir = match file {
        Some(path) => {
            merge::merge(&mut tree, read_file(path)?);
            let dir = path.parent().unwrap_or(Path::new(""));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::path::absolute(dir).map_err(ConfigError::CurrentDir)?
        }
        None => std::env::current_dir().map_err(ConfigError::CurrentDir)?,
    };
    let overrides = env::apply(&mut tree, env_prefix, env);
    let value = deserialize(tree, overrides.untyped)?;
    Ok(Loaded {
        value,
        base_dir,
        ignored_env: overrides.ignored,
    })
}

/// Reads and parses a config file, resolving YAML anchors and `<<` merge keys.
fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    };
    let mut value: Value = serde_yaml_ng::from_str(&text).map_err(parse_error)?;
    value.apply_merge().map_err(parse_error)?;
    match value {
        Value::Null => Ok(Value::Mapping(Default::default())),
        Value::Mapping(_) => Ok(value),
        _ => Err(ConfigError::NotAMapping {
            path: path.to_owned(),
        }),
    }
}

/// Deserialises the merged tree. When it fails at a key that the environment set over a null default to a
/// non-string scalar (`CORE_PEER_ID=7` for an `Option<String>`), the raw text is tried as a string instead.
fn deserialize<T: DeserializeOwned>(
    mut tree: Value,
    mut untyped: Vec<(Vec<Value>, String)>,
) -> Result<T, ConfigError> {
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(&tree) {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let key = err.path().to_string();
        let retry = untyped
            .iter()
            .position(|(path, _)| env::dotted(path) == key);
        match retry {
            Some(i) => {
                let (path, raw) = untyped.swap_remove(i);
                if let Some(slot) = env::get_mut(&mut tree, &path) {
                    *slot = Value::String(raw);
                }
            }
            None => {
                let key = if key == "." { "<root>".to_owned() } else { key };
                return Err(ConfigError::Invalid {
                    key,
                    message: err.into_inner().to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
