//! The registry: built-ins present, registration, lookup.

use std::sync::Arc;

use super::util::run;
use crate::kv::Kv;
use crate::{MemoryState, Registry};

#[test]
fn builtin_has_the_three_and_new_is_empty() {
    assert!(Registry::new().names().is_empty());
    let registry = Registry::builtin();
    assert_eq!(registry.names(), ["_lifecycle", "basic", "kv"]);
    let basic = registry.get("basic").expect("basic registered");
    let sim = run(
        basic.as_ref(),
        "basic",
        &MemoryState::new(),
        &["AssetExists", "a"],
    );
    assert_eq!(sim.response.payload, b"false");
    assert!(registry.get("nope").is_none());
    assert!(format!("{registry:?}").contains("basic"));
}

#[test]
fn register_adds_and_replaces() {
    let mut registry = Registry::new();
    registry.register("mine", Arc::new(Kv));
    registry.register("mine", Arc::new(Kv));
    assert_eq!(registry.names(), ["mine"]);
    assert!(registry.get("mine").is_some());
}
