//! Viper-style environment overrides: `PREFIX_A_B_C=value` sets the key path `a.b.c`.
//!
//! Fabric's keys are camelCase or PascalCase and hold no underscores, so a variable name cannot be split on `_`
//! alone: `CORE_PEER_GOSSIP_USELEADERELECTION` is `peer.gossip.useLeaderElection`. At each mapping level the
//! lookup tries to consume one segment, then two, and so on, comparing the keys present (lower-cased) with the
//! segments joined with nothing or with `_`, and backtracks when a choice leads nowhere. Only keys that exist
//! (from the defaults or the file) can be set; other variables with the prefix are reported as ignored.
//!
//! Values are coerced by the type of the value they replace:
//! - a string stays a string (`CORE_PEER_ID=007` is `"007"`);
//! - a sequence takes a bracketed YAML list (`[a, b]`), or else a whitespace-separated list of strings, as viper's
//!   `GetStringSlice` does (`CORE_PEER_GOSSIP_BOOTSTRAP="p0:7051 p1:7051"`);
//! - anything else (bool, number, null) is parsed as a YAML scalar (`true`, `7`).
//!
//! Empty values are treated as unset, as viper does by default.

use serde_yaml_ng::Value;

/// What applying the environment did, beyond changing the value.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    /// Names of prefixed variables that matched no key, sorted.
    pub ignored: Vec<String>,
    /// Keys that had no typed default (null) and were given a non-string scalar, with the raw text. If the
    /// config type wants a string there, `load` retries with the raw text.
    pub untyped: Vec<(Vec<Value>, String)>,
}

/// Applies every variable named `{prefix}_...` to `root`.
pub(crate) fn apply(
    root: &mut Value,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Overrides {
    let wanted = format!("{prefix}_");
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, value)| name.starts_with(&wanted) && !value.is_empty())
        .collect();
    // The environment's order is arbitrary; sort so that results (and any clash) are deterministic.
    vars.sort();

    let mut out = Overrides::default();
    for (name, raw) in vars {
        let segments: Vec<String> = name[wanted.len()..]
            .split('_')
            .map(str::to_ascii_lowercase)
            .collect();
        let Some(path) = find_path(root, &segments) else {
            out.ignored.push(name);
            continue;
        };
        let Some(slot) = get_mut(root, &path) else {
            out.ignored.push(name);
            continue;
        };
        let Some(new) = coerce(slot, &raw) else {
            out.ignored.push(name);
            continue;
        };
        if slot.is_null() && is_typed_scalar(&new) {
            out.untyped.push((path, raw));
        }
        *slot = new;
    }
    out
}

/// Follows `path` (a list of mapping keys) down from `root`.
pub(crate) fn get_mut<'a>(root: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter()
        .try_fold(root, |node, key| node.as_mapping_mut()?.get_mut(key))
}

/// Renders a key path the way `serde_path_to_error` does (`a.b.c`), to compare error locations.
pub(crate) fn dotted(path: &[Value]) -> String {
    path.iter()
        .map(|k| k.as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(".")
}

/// Finds the key path that `segments` (lower-case) spell, consuming one or more segments per level.
fn find_path(node: &Value, segments: &[String]) -> Option<Vec<Value>> {
    if segments.is_empty() {
        return Some(Vec::new());
    }
    let map = node.as_mapping()?;
    for take in 1..=segments.len() {
        let joined = segments[..take].concat();
        let underscored = segments[..take].join("_");
        for (key, child) in map {
            let Some(name) = key.as_str() else { continue };
            let name = name.to_ascii_lowercase();
            if name != joined && name != underscored {
                continue;
            }
            if let Some(mut rest) = find_path(child, &segments[take..]) {
                rest.insert(0, key.clone());
                return Some(rest);
            }
        }
    }
    None
}

/// The value `raw` becomes when it replaces `existing`; `None` if it cannot replace it (a mapping given a
/// non-mapping).
fn coerce(existing: &Value, raw: &str) -> Option<Value> {
    let parsed = || serde_yaml_ng::from_str::<Value>(raw).ok();
    match existing {
        Value::String(_) => Some(Value::String(raw.to_owned())),
        Value::Sequence(_) => {
            if raw.trim_start().starts_with('[')
                && let Some(seq @ Value::Sequence(_)) = parsed()
            {
                return Some(seq);
            }
            let items = raw
                .split_whitespace()
                .map(|s| Value::String(s.to_owned()))
                .collect();
            Some(Value::Sequence(items))
        }
        Value::Mapping(_) => parsed().filter(Value::is_mapping),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Tagged(_) => match parsed() {
            Some(Value::Mapping(_)) | None => Some(Value::String(raw.to_owned())),
            Some(value) => Some(value),
        },
    }
}

fn is_typed_scalar(value: &Value) -> bool {
    matches!(value, Value::Bool(_) | Value::Number(_) | Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).expect("test yaml")
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn backtracks_when_a_short_key_leads_nowhere() {
        let mut root = yaml("tls: {enabled: false}\ntlsCert: {file: a}");
        let out = apply(&mut root, "X", vars(&[("X_TLSCERT_FILE", "b")]));
        assert!(out.ignored.is_empty());
        assert_eq!(root, yaml("tls: {enabled: false}\ntlsCert: {file: b}"));
    }

    #[test]
    fn underscored_keys_match_too() {
        let mut root = yaml("max_size: 1");
        apply(&mut root, "X", vars(&[("X_MAX_SIZE", "2")]));
        assert_eq!(root, yaml("max_size: 2"));
    }

    #[test]
    fn whitespace_list_for_sequences_and_empty_means_unset() {
        let mut root = yaml("bootstrap: []\nid: p0");
        let out = apply(
            &mut root,
            "X",
            vars(&[("X_BOOTSTRAP", "a:1  b:2"), ("X_ID", "")]),
        );
        assert!(out.ignored.is_empty());
        assert_eq!(root, yaml("bootstrap: [a:1, b:2]\nid: p0"));
    }

    #[test]
    fn mapping_is_not_replaced_by_a_scalar() {
        let mut root = yaml("peer: {id: a}");
        let out = apply(&mut root, "X", vars(&[("X_PEER", "true")]));
        assert_eq!(out.ignored, ["X_PEER"]);
        assert_eq!(root, yaml("peer: {id: a}"));
    }

    #[test]
    fn null_defaults_take_yaml_scalars_and_are_remembered() {
        let mut root = yaml("name: ~");
        let out = apply(&mut root, "X", vars(&[("X_NAME", "42")]));
        assert_eq!(root, yaml("name: 42"));
        assert_eq!(out.untyped.len(), 1);
        assert_eq!(dotted(&out.untyped[0].0), "name");
    }
}
