//! Composite keys: format, round trip, rejection, partial-key queries, exclusion from simple ranges.

use super::util::{ns, v};
use crate::composite::{create_composite_key, split_composite_key};
use crate::{Chaincode, ChaincodeError, MemoryState, Stub, TxContext, simulate};

#[test]
fn format_matches_fabric_and_round_trips() {
    let key = create_composite_key("color~name", &["blue", "asset1"]).unwrap();
    assert_eq!(key, "\u{0}color~name\u{0}blue\u{0}asset1\u{0}");
    let (object_type, attrs) = split_composite_key(&key).unwrap();
    assert_eq!(object_type, "color~name");
    assert_eq!(attrs, ["blue", "asset1"]);

    let bare = create_composite_key("type", &[]).unwrap();
    assert_eq!(bare, "\u{0}type\u{0}");
    assert_eq!(
        split_composite_key(&bare).unwrap(),
        ("type".to_string(), vec![])
    );

    let with_empty = create_composite_key("t", &["", "x"]).unwrap();
    assert_eq!(
        split_composite_key(&with_empty).unwrap(),
        ("t".to_string(), vec![String::new(), "x".to_string()])
    );
}

#[test]
fn rejects_bad_parts_and_non_composite_keys() {
    assert!(create_composite_key("a\u{0}b", &[]).is_err());
    assert!(create_composite_key("t", &["ok", "x\u{0}"]).is_err());
    assert!(create_composite_key("t", &["\u{10FFFF}"]).is_err());
    for bad in ["plain", "", "\u{0}", "\u{0}no-end", "no-start\u{0}"] {
        assert!(split_composite_key(bad).is_err(), "{bad:?}");
    }
}

struct Query;

impl Chaincode for Query {
    fn invoke(&self, stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> {
        let args = stub.args();
        let attrs: Vec<&str> = args.iter().map(String::as_str).collect();
        let rows = if stub.function() == "partial" {
            stub.get_state_by_partial_composite_key(attrs[0], &attrs[1..])?
        } else {
            stub.get_state_by_range(attrs[0], attrs[1])?
        };
        let mut out = Vec::new();
        for (key, _) in rows {
            let shown = match stub.split_composite_key(&key) {
                Ok((t, a)) => format!("{t}:{}", a.join(",")),
                Err(_) => key,
            };
            out.push(shown);
        }
        Ok(out.join(" ").into_bytes())
    }
}

fn state() -> MemoryState {
    let mut s = MemoryState::new();
    for (t, attrs) in [
        ("color~name", ["blue", "asset1"]),
        ("color~name", ["blue", "asset2"]),
        ("color~name", ["bluegreen", "asset3"]),
        ("color~name", ["red", "asset4"]),
        ("owner~name", ["blue", "asset9"]),
    ] {
        s.put(
            "cc",
            &create_composite_key(t, &attrs).unwrap(),
            b"\0".to_vec(),
            v(1, 0),
        );
    }
    s.put("cc", "asset1", b"{}".to_vec(), v(1, 1));
    s.put("cc", "zed", b"{}".to_vec(), v(1, 2));
    s
}

fn query(args: &[&str]) -> (String, crate::Simulation) {
    let sim = simulate(
        &Query,
        "cc",
        &state(),
        &TxContext::with_args("ch", "t", args),
    );
    assert_eq!(sim.response.status, 200, "{}", sim.response.message);
    (
        String::from_utf8(sim.response.payload.clone()).unwrap(),
        sim,
    )
}

#[test]
fn partial_key_query_returns_only_matching_keys() {
    let (out, sim) = query(&["partial", "color~name", "blue"]);
    assert_eq!(out, "color~name:blue,asset1 color~name:blue,asset2");
    let rq = &ns(&sim).range_queries_info[0];
    assert_eq!(rq.start_key, "\u{0}color~name\u{0}blue\u{0}");
    assert_eq!(rq.end_key, "\u{0}color~name\u{0}blue\u{0}\u{10FFFF}");
    assert_eq!(rq.reads.len(), 2);

    let (all, _) = query(&["partial", "color~name"]);
    assert_eq!(all.split(' ').count(), 4);
    let (none, _) = query(&["partial", "size~name"]);
    assert_eq!(none, "");
}

#[test]
fn simple_range_excludes_composite_keys() {
    assert_eq!(query(&["range", "", ""]).0, "asset1 zed");
    assert_eq!(query(&["range", "", "b"]).0, "asset1");
    let sim = simulate(
        &Query,
        "cc",
        &state(),
        &TxContext::with_args("ch", "t", &["range", "\u{0}color~name", ""]),
    );
    assert_eq!(sim.response.status, 500);
    assert!(
        sim.response.message.contains("null character"),
        "{}",
        sim.response.message
    );
}
