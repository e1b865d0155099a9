//! `_lifecycle`: sequence rules, default policy, name and version checks, queries, `definition`.

use weft_wire::peer::ChaincodeDefinition;

use super::util::{expect_error, invoke, ns, run, v};
use crate::lifecycle::{DEFAULT_ENDORSEMENT_POLICY, Lifecycle, definition_key};
use crate::{LIFECYCLE, MemoryState, StateError, definition};

const COMMIT: &str = "CommitChaincodeDefinition";
const QUERY: &str = "QueryChaincodeDefinition";

#[test]
fn first_commit_is_sequence_one_with_default_policy() {
    let mut state = MemoryState::new();
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "basic", "1.0", "2"],
        "requested sequence is 2, but new definition for basic must be sequence 1",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "basic", "1.0", "0"],
        "must be sequence 1",
    );

    let sim = run(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "basic", "1.0", "1"],
    );
    let set = ns(&sim);
    assert_eq!(set.namespace, LIFECYCLE);
    assert_eq!(set.reads[0].key, "chaincode/basic");
    assert_eq!(set.reads[0].version, None);
    assert_eq!(set.writes[0].key, definition_key("basic"));

    invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        1,
        &[COMMIT, "basic", "1.0", "1"],
    );
    let def = definition(&state, "basic").unwrap().unwrap();
    assert_eq!(
        def,
        ChaincodeDefinition {
            name: "basic".into(),
            version: "1.0".into(),
            sequence: 1,
            endorsement_policy: "/Channel/Application/Endorsement".into(),
        }
    );
    assert_eq!(DEFAULT_ENDORSEMENT_POLICY, def.endorsement_policy);
    // An explicitly empty policy is the default too.
    invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        2,
        &[COMMIT, "kv", "1", "1", ""],
    );
    assert_eq!(
        definition(&state, "kv")
            .unwrap()
            .unwrap()
            .endorsement_policy,
        DEFAULT_ENDORSEMENT_POLICY
    );
}

#[test]
fn upgrades_need_the_next_sequence() {
    let mut state = MemoryState::new();
    invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        1,
        &[COMMIT, "basic", "1.0", "1"],
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "basic", "1.1", "1"],
        "requested sequence is 1, but new definition for basic must be sequence 2",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "basic", "1.1", "3"],
        "requested sequence is 3, but new definition for basic must be sequence 2",
    );
    let policy = "AND('Org1MSP.peer','Org2MSP.peer')";
    invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        2,
        &[COMMIT, "basic", "1.1", "2", policy],
    );
    let def = definition(&state, "basic").unwrap().unwrap();
    assert_eq!(
        (
            def.version.as_str(),
            def.sequence,
            def.endorsement_policy.as_str()
        ),
        ("1.1", 2, policy)
    );
    // The read recorded for the upgrade carries the committed version, for MVCC.
    let sim = run(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "basic", "1.2", "3"],
    );
    assert_eq!(ns(&sim).reads[0].version, Some(v(2, 0)));
}

#[test]
fn rejects_bad_names_versions_and_arguments() {
    let state = MemoryState::new();
    for bad in ["", "_lifecycle", "_x", "has space", "a/b", "é", "a.b"] {
        expect_error(
            &Lifecycle,
            LIFECYCLE,
            &state,
            &[COMMIT, bad, "1.0", "1"],
            "invalid chaincode name",
        );
    }
    for good in ["a", "my-cc_2", "A-"] {
        let sim = run(&Lifecycle, LIFECYCLE, &state, &[COMMIT, good, "1.0", "1"]);
        assert_eq!(sim.response.status, 200, "{good}: {}", sim.response.message);
    }
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "cc", "", "1"],
        "invalid chaincode version",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "cc", "1 0", "1"],
        "invalid chaincode version",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "cc", "1.0", "one"],
        "argument sequence must be a non-negative integer",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "cc", "1.0", "-1"],
        "argument sequence",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "cc", "1.0"],
        "expected 3 or 4 arguments",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[COMMIT, "cc", "1.0", "1", "p", "x"],
        "expected 3 or 4 arguments",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &["Approve"],
        "function Approve not found in chaincode _lifecycle",
    );
}

#[test]
fn query_returns_json_or_not_found() {
    let mut state = MemoryState::new();
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[QUERY, "basic"],
        "chaincode definition for basic not found",
    );
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[QUERY],
        "expected 1 argument (name), got 0",
    );
    invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        1,
        &[COMMIT, "basic", "1.0", "1"],
    );
    invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        2,
        &[COMMIT, "kv", "2.0", "1", "OR('Org1MSP.member')"],
    );
    assert_eq!(
        invoke(&Lifecycle, LIFECYCLE, &mut state, 3, &[QUERY, "basic"]),
        br#"{"name":"basic","version":"1.0","sequence":1,"endorsement_policy":"/Channel/Application/Endorsement"}"#
    );
    let all: serde_json::Value = serde_json::from_slice(&invoke(
        &Lifecycle,
        LIFECYCLE,
        &mut state,
        3,
        &["QueryChaincodeDefinitions"],
    ))
    .unwrap();
    assert_eq!(all[0]["name"], "basic");
    assert_eq!(all[1]["endorsement_policy"], "OR('Org1MSP.member')");
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[test]
fn definition_reads_committed_state_and_reports_corruption() {
    let mut state = MemoryState::new();
    assert!(definition(&state, "basic").unwrap().is_none());
    state.put(
        LIFECYCLE,
        "chaincode/basic",
        vec![0xff, 0xff, 0xff],
        v(1, 0),
    );
    let err: StateError = definition(&state, "basic").unwrap_err();
    assert!(err.to_string().contains("definition of basic"), "{err}");
    expect_error(
        &Lifecycle,
        LIFECYCLE,
        &state,
        &[QUERY, "basic"],
        "malformed chaincode definition",
    );
    // Other namespaces do not count.
    let mut other = MemoryState::new();
    other.put("basic", "chaincode/basic", b"x".to_vec(), v(1, 0));
    assert!(definition(&other, "basic").unwrap().is_none());
}
