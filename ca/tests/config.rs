//! Loading `crypto-config.yaml`: the schema, defaults, and error messages.

use std::path::Path;

use weft_ca::cryptogen::{
    CryptoConfig, CryptogenError, DEFAULT_TEMPLATE, NodeSpec, NodeTemplate, OrgSpec, UsersSpec,
    generate, load_config, parse_config,
};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn showtemplate_is_the_first_network() {
    let config = parse_config(DEFAULT_TEMPLATE).unwrap();
    let peer_org = |n: u8| OrgSpec {
        name: format!("Org{n}"),
        domain: format!("org{n}.example.com"),
        enable_node_ous: true,
        template: Some(NodeTemplate {
            count: 2,
            ..NodeTemplate::default()
        }),
        users: Some(UsersSpec { count: 1 }),
        ..OrgSpec::default()
    };
    let expected = CryptoConfig {
        orderer_orgs: vec![OrgSpec {
            name: "Orderer".into(),
            domain: "example.com".into(),
            enable_node_ous: true,
            specs: vec![NodeSpec {
                hostname: "orderer".into(),
                ..NodeSpec::default()
            }],
            ..OrgSpec::default()
        }],
        peer_orgs: vec![peer_org(1), peer_org(2)],
    };
    assert_eq!(config, expected);
    assert_eq!(
        config.peer_orgs[0].template.as_ref().unwrap().hostname,
        "{{.Prefix}}{{.Index}}"
    );
}

#[test]
fn load_config_reads_files_and_accepts_empty_sections() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "cc.yaml",
        "OrdererOrgs:\nPeerOrgs:\n  - Name: A\n    Domain: a.example.com\n    Specs:\n",
    );
    let config = load_config(&path).unwrap();
    assert!(config.orderer_orgs.is_empty());
    assert_eq!(config.peer_orgs[0].domain, "a.example.com");
    assert!(
        !config.peer_orgs[0].enable_node_ous,
        "EnableNodeOUs defaults to false"
    );
    assert!(config.peer_orgs[0].specs.is_empty());
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let err = load_config(&path).unwrap_err();
    assert!(matches!(err, CryptogenError::ReadConfig { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn unknown_key_is_rejected_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "cc.yaml",
        "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOU: true\n",
    );
    let err = load_config(&path).unwrap_err();
    match &err {
        CryptogenError::ParseConfig {
            path: p,
            key,
            message,
        } => {
            assert_eq!(p, &path);
            assert_eq!(key, "PeerOrgs[0].EnableNodeOU");
            assert!(
                message.contains("unknown field `EnableNodeOU`"),
                "{message}"
            );
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("EnableNodeOU") && msg.contains("cc.yaml"),
        "{msg}"
    );

    let err = parse_config("PeerOrgs: []\nOrdererOrgz: []\n").unwrap_err();
    assert!(err.to_string().contains("OrdererOrgz"), "{err}");
    let err = parse_config(
        "PeerOrgs:\n  - Name: O\n    Domain: o.com\n    Specs:\n      - Hostname: p\n        SAN: [x]\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("PeerOrgs[0].Specs[0].SAN"),
        "{err}"
    );
}

#[test]
fn template_count_must_be_a_number() {
    for count in ["two", "\"2\"", "-1"] {
        let yaml = format!(
            "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    Template:\n      Count: {count}\n"
        );
        let err = parse_config(&yaml).unwrap_err();
        match &err {
            CryptogenError::ParseConfig { key, .. } => {
                assert_eq!(key, "PeerOrgs[0].Template.Count", "{count}")
            }
            other => panic!("{count}: expected a parse error, got {other:?}"),
        }
    }
}

#[test]
fn bad_templates_and_names_fail_before_writing() {
    let out = tempfile::tempdir().unwrap();
    let cases = [
        (
            "PeerOrgs:\n  - Name: O\n    Domain: o.com\n    Template:\n      Count: 1\n      Hostname: \"{{.Nmae}}\"\n",
            ".Nmae",
        ),
        (
            "PeerOrgs:\n  - Name: O\n    Domain: o.com\n    Specs:\n      - Hostname: p\n      - Hostname: p\n",
            "defined twice",
        ),
        (
            "PeerOrgs:\n  - Name: O\n    Domain: \"\"\n",
            "not usable as a file name",
        ),
        (
            "PeerOrgs:\n  - Name: O\n    Domain: o.com\n  - Name: P\n    Domain: o.com\n",
            "defined twice",
        ),
    ];
    for (yaml, needle) in cases {
        let config = parse_config(yaml).unwrap();
        let err = generate(&config, out.path()).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            0,
            "nothing written for {needle}"
        );
    }
}
