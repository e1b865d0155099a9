//! `kv`: put, get, del, range, and their errors.

use super::util::{expect_error, invoke, ns, run};
use crate::MemoryState;
use crate::kv::Kv;

const NS: &str = "kv";

#[test]
fn put_get_del() {
    let mut state = MemoryState::new();
    assert!(invoke(&Kv, NS, &mut state, 1, &["put", "k", "v1"]).is_empty());
    assert_eq!(invoke(&Kv, NS, &mut state, 2, &["get", "k"]), b"v1");
    invoke(&Kv, NS, &mut state, 3, &["put", "k", "v2"]);
    assert_eq!(invoke(&Kv, NS, &mut state, 4, &["get", "k"]), b"v2");

    let sim = run(&Kv, NS, &state, &["del", "k"]);
    assert!(ns(&sim).writes[0].is_delete);
    invoke(&Kv, NS, &mut state, 5, &["del", "k"]);
    expect_error(&Kv, NS, &state, &["get", "k"], "get: key \"k\" not found");
    assert!(state.is_empty());
}

#[test]
fn range_returns_key_value_json() {
    let mut state = MemoryState::new();
    for (k, val) in [("a", "1"), ("b", "2"), ("c", "3")] {
        invoke(&Kv, NS, &mut state, 1, &["put", k, val]);
    }
    let out = invoke(&Kv, NS, &mut state, 2, &["range", "a", "c"]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"[{"key":"a","value":"1"},{"key":"b","value":"2"}]"#
    );
    assert_eq!(
        invoke(&Kv, NS, &mut state, 2, &["range", "b", ""]),
        br#"[{"key":"b","value":"2"},{"key":"c","value":"3"}]"#
    );
    assert_eq!(invoke(&Kv, NS, &mut state, 2, &["range", "x", ""]), b"[]");
}

#[test]
fn errors() {
    let state = MemoryState::new();
    expect_error(
        &Kv,
        NS,
        &state,
        &["put", "k"],
        "put: expected 2 arguments (key, value), got 1",
    );
    expect_error(&Kv, NS, &state, &["put", "", "v"], "empty");
    expect_error(
        &Kv,
        NS,
        &state,
        &["get"],
        "get: expected 1 argument (key), got 0",
    );
    expect_error(
        &Kv,
        NS,
        &state,
        &["del", "a", "b"],
        "del: expected 1 argument",
    );
    expect_error(
        &Kv,
        NS,
        &state,
        &["range", "a"],
        "range: expected 2 arguments (start, end)",
    );
    expect_error(
        &Kv,
        NS,
        &state,
        &["scan"],
        "function scan not found in chaincode kv",
    );
}
