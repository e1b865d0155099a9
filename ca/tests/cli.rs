//! The `weft-ca cryptogen` command line.

use std::process::{Command, Output};

fn weft_ca(args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft-ca"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("weft-ca runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn showtemplate_then_generate_prints_each_org() {
    let dir = tempfile::tempdir().unwrap();
    let shown = weft_ca(&["cryptogen", "showtemplate"], dir.path());
    assert!(shown.status.success());
    assert_eq!(text(&shown.stdout), weft_ca::cryptogen::DEFAULT_TEMPLATE);
    std::fs::write(dir.path().join("x.yaml"), &shown.stdout).unwrap();

    let out = weft_ca(
        &[
            "cryptogen",
            "generate",
            "--config=./x.yaml",
            "--output=material",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "org1.example.com\norg2.example.com\nexample.com\n"
    );
    assert!(dir
        .path()
        .join("material/peerOrganizations/org2.example.com/peers/peer1.org2.example.com/tls/server.crt")
        .is_file());
}

#[test]
fn generate_defaults_to_crypto_config_yaml_and_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crypto-config.yaml"),
        "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    Template:\n      Count: 1\n",
    )
    .unwrap();
    let out = weft_ca(&["cryptogen", "generate"], dir.path());
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(dir
        .path()
        .join("crypto-config/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/msp/keystore/priv_sk")
        .is_file());
}

#[test]
fn bad_input_exits_non_zero_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = weft_ca(
        &["cryptogen", "generate", "--config", "missing.yaml"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("missing.yaml") && err.contains("No such file"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("bad.yaml"),
        "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    Template:\n      Count: lots\n",
    )
    .unwrap();
    let out = weft_ca(
        &["cryptogen", "generate", "--config", "bad.yaml"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("PeerOrgs[0].Template.Count"), "{err}");
    assert!(
        !dir.path().join("crypto-config").exists(),
        "nothing written"
    );
}
