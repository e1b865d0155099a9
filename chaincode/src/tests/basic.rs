//! `basic` (asset-transfer-basic): each function's happy path and errors, and its exact JSON.

use super::util::{expect_error, invoke, ns, run, v};
use crate::MemoryState;
use crate::basic::{Asset, Basic, sample_assets};

const NS: &str = "basic";

fn ledger() -> MemoryState {
    let mut state = MemoryState::new();
    invoke(&Basic, NS, &mut state, 1, &["InitLedger"]);
    state
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn init_ledger_writes_six_assets_with_exact_json() {
    let sim = run(&Basic, NS, &MemoryState::new(), &["InitLedger"]);
    assert_eq!(sim.response.status, 200);
    assert!(sim.response.payload.is_empty());
    let writes = &ns(&sim).writes;
    assert_eq!(writes.len(), 6);
    assert_eq!(writes[0].key, "asset1");
    assert_eq!(
        text(writes[0].value.clone()),
        r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
    );
    assert_eq!(
        text(writes[2].value.clone()),
        r#"{"AppraisedValue":500,"Color":"green","ID":"asset3","Owner":"Jin Soo","Size":10}"#
    );
}

#[test]
fn read_asset_returns_json_or_does_not_exist() {
    let mut state = ledger();
    assert_eq!(
        text(invoke(&Basic, NS, &mut state, 2, &["ReadAsset", "asset1"])),
        r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["ReadAsset", "asset9"],
        "the asset asset9 does not exist",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["ReadAsset"],
        "ReadAsset: expected 1 argument (id), got 0",
    );
}

#[test]
fn get_all_assets_returns_six_in_id_order() {
    let mut state = ledger();
    let all: Vec<Asset> =
        serde_json::from_slice(&invoke(&Basic, NS, &mut state, 2, &["GetAllAssets"])).unwrap();
    assert_eq!(all, sample_assets());
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        ["asset1", "asset2", "asset3", "asset4", "asset5", "asset6"]
    );
    let sim = run(&Basic, NS, &state, &["GetAllAssets"]);
    assert_eq!(ns(&sim).range_queries_info[0].reads.len(), 6);
    let empty = run(&Basic, NS, &MemoryState::new(), &["GetAllAssets"]);
    assert_eq!(empty.response.payload, b"[]");
    expect_error(
        &Basic,
        NS,
        &state,
        &["GetAllAssets", "x"],
        "GetAllAssets: expected 0 arguments",
    );
}

#[test]
fn create_asset_then_read_and_duplicate_fails() {
    let mut state = ledger();
    let args = ["CreateAsset", "asset7", "purple", "20", "Ana", "900"];
    let sim = run(&Basic, NS, &state, &args);
    assert_eq!(ns(&sim).reads[0].key, "asset7");
    assert_eq!(
        ns(&sim).reads[0].version,
        None,
        "existence check records an absent read"
    );
    invoke(&Basic, NS, &mut state, 2, &args);
    assert_eq!(
        text(invoke(&Basic, NS, &mut state, 3, &["ReadAsset", "asset7"])),
        r#"{"AppraisedValue":900,"Color":"purple","ID":"asset7","Owner":"Ana","Size":20}"#
    );
    expect_error(&Basic, NS, &state, &args, "the asset asset7 already exists");
    expect_error(
        &Basic,
        NS,
        &state,
        &["CreateAsset", "asset1", "x", "1", "o", "1"],
        "the asset asset1 already exists",
    );
}

#[test]
fn create_asset_argument_errors_name_function_and_argument() {
    let state = ledger();
    expect_error(
        &Basic,
        NS,
        &state,
        &["CreateAsset", "asset7", "purple", "20"],
        "CreateAsset: expected 5 arguments (id, color, size, owner, appraisedValue), got 3",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["CreateAsset", "asset7", "purple", "big", "Ana", "900"],
        "CreateAsset: argument size must be an integer, got \"big\"",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["CreateAsset", "asset7", "purple", "20", "Ana", "9.5"],
        "CreateAsset: argument appraisedValue must be an integer",
    );
}

#[test]
fn update_asset_requires_existence() {
    let mut state = ledger();
    invoke(
        &Basic,
        NS,
        &mut state,
        2,
        &["UpdateAsset", "asset1", "pink", "6", "Zoe", "310"],
    );
    let asset: Asset =
        serde_json::from_slice(&invoke(&Basic, NS, &mut state, 3, &["ReadAsset", "asset1"]))
            .unwrap();
    assert_eq!(
        (
            asset.color.as_str(),
            asset.size,
            asset.owner.as_str(),
            asset.appraised_value
        ),
        ("pink", 6, "Zoe", 310)
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["UpdateAsset", "nope", "pink", "6", "Zoe", "310"],
        "the asset nope does not exist",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["UpdateAsset", "asset1", "pink", "x", "Zoe", "310"],
        "UpdateAsset: argument size",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["UpdateAsset", "asset1"],
        "UpdateAsset: expected 5 arguments",
    );
}

#[test]
fn delete_asset_requires_existence() {
    let mut state = ledger();
    let sim = run(&Basic, NS, &state, &["DeleteAsset", "asset2"]);
    assert!(ns(&sim).writes[0].is_delete);
    assert_eq!(ns(&sim).reads[0].version, Some(v(1, 0)));
    invoke(&Basic, NS, &mut state, 2, &["DeleteAsset", "asset2"]);
    assert_eq!(
        invoke(&Basic, NS, &mut state, 3, &["AssetExists", "asset2"]),
        b"false"
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["DeleteAsset", "asset2"],
        "the asset asset2 does not exist",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["DeleteAsset", "a", "b"],
        "DeleteAsset: expected 1 argument (id), got 2",
    );
}

#[test]
fn asset_exists_answers_true_or_false() {
    let mut state = ledger();
    assert_eq!(
        invoke(&Basic, NS, &mut state, 2, &["AssetExists", "asset6"]),
        b"true"
    );
    assert_eq!(
        invoke(&Basic, NS, &mut state, 2, &["AssetExists", "asset60"]),
        b"false"
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["AssetExists"],
        "AssetExists: expected 1 argument",
    );
}

#[test]
fn transfer_asset_returns_old_owner() {
    let mut state = ledger();
    assert_eq!(
        invoke(
            &Basic,
            NS,
            &mut state,
            2,
            &["TransferAsset", "asset3", "Christopher"]
        ),
        b"Jin Soo"
    );
    assert_eq!(
        text(invoke(&Basic, NS, &mut state, 3, &["ReadAsset", "asset3"])),
        r#"{"AppraisedValue":500,"Color":"green","ID":"asset3","Owner":"Christopher","Size":10}"#
    );
    assert_eq!(
        invoke(
            &Basic,
            NS,
            &mut state,
            4,
            &["TransferAsset", "asset3", "Dana"]
        ),
        b"Christopher"
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["TransferAsset", "nope", "Dana"],
        "the asset nope does not exist",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["TransferAsset", "asset3"],
        "TransferAsset: expected 2 arguments (id, newOwner), got 1",
    );
}

#[test]
fn unknown_function_and_corrupt_asset_fail() {
    let mut state = ledger();
    expect_error(
        &Basic,
        NS,
        &state,
        &["Burn", "asset1"],
        "function Burn not found in chaincode basic",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &[],
        "function  not found in chaincode basic",
    );
    state.put(NS, "asset1", b"not json".to_vec(), v(5, 0));
    expect_error(
        &Basic,
        NS,
        &state,
        &["ReadAsset", "asset1"],
        "the asset asset1 is not valid asset JSON",
    );
    expect_error(
        &Basic,
        NS,
        &state,
        &["GetAllAssets"],
        "not valid asset JSON",
    );
}
