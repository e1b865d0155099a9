//! Deep merge of a YAML overlay (the config file) onto a base (the serialised defaults).
//!
//! Mappings merge key by key; anything else in the overlay replaces the base. Keys match exactly first and then
//! ASCII-case-insensitively, as viper treats keys case-insensitively (`general:` sets the default's `General`).
//! An empty (null) value in the overlay keeps the default: Fabric's sample files contain keys such as
//! `externalEndpoint:` with no value, which mean "not set".

use serde_yaml_ng::{Mapping, Value};

/// Merges `overlay` onto `base` in place.
pub(crate) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (_, Value::Null) => {}
        (Value::Mapping(base), Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                match matching_key(base, &key) {
                    Some(existing) => {
                        if let Some(slot) = base.get_mut(&existing) {
                            merge(slot, value);
                        }
                    }
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// The key of `map` that `key` refers to: itself if present, else a string key equal ignoring ASCII case.
fn matching_key(map: &Mapping, key: &Value) -> Option<Value> {
    if map.contains_key(key) {
        return Some(key.clone());
    }
    let wanted = key.as_str()?;
    map.keys()
        .find(|k| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(wanted)))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).expect("test yaml")
    }

    #[test]
    fn nested_keys_merge_and_others_stay() {
        let mut base = yaml("peer: {id: p0, gossip: {a: 1, b: 2}}\nother: x");
        merge(&mut base, yaml("peer: {gossip: {b: 3}}"));
        assert_eq!(base, yaml("peer: {id: p0, gossip: {a: 1, b: 3}}\nother: x"));
    }

    #[test]
    fn keys_match_case_insensitively_and_null_keeps_default() {
        let mut base = yaml("General: {ListenPort: 7050, Name: a}");
        merge(
            &mut base,
            yaml("general: {listenport: 8050, Name: }\nextra: 1"),
        );
        assert_eq!(base, yaml("General: {ListenPort: 8050, Name: a}\nextra: 1"));
    }

    #[test]
    fn sequences_are_replaced_not_appended() {
        let mut base = yaml("list: [a, b]");
        merge(&mut base, yaml("list: [c]"));
        assert_eq!(base, yaml("list: [c]"));
    }
}
