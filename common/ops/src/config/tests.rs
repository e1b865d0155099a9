//! `load` end to end: defaults, file, environment, and the errors a user sees.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, load};

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Core {
    peer: Peer,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Peer {
    id: String,
    file_system_path: String,
    name: Option<String>,
    gossip: Gossip,
}

impl Default for Peer {
    fn default() -> Self {
        Self {
            id: "jdoe".into(),
            file_system_path: "/var/hyperledger/production".into(),
            name: None,
            gossip: Gossip::default(),
        }
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Gossip {
    use_leader_election: bool,
    org_leader: bool,
    max_block_count_to_store: u32,
    #[serde(with = "super::duration")]
    alive_time_interval: Duration,
    #[serde(with = "super::size")]
    max_message_size: u32,
    bootstrap: Vec<String>,
    state: State,
}

impl Default for Gossip {
    fn default() -> Self {
        Self {
            use_leader_election: false,
            org_leader: true,
            max_block_count_to_store: 10,
            alive_time_interval: Duration::from_secs(5),
            max_message_size: 100 * 1024 * 1024,
            bootstrap: vec!["127.0.0.1:7051".into()],
            state: State { enabled: true },
        }
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct State {
    enabled: bool,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Orderer {
    general: General,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct General {
    listen_port: u16,
    #[serde(rename = "TLS")]
    tls: Tls,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tls {
    enabled: bool,
    private_key: String,
    #[serde(rename = "RootCAs")]
    root_cas: Vec<String>,
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config file");
    path
}

#[test]
fn defaults_alone() {
    let loaded = load::<Core>(None, "CORE", env(&[])).expect("load");
    assert_eq!(loaded.value, Core::default());
    assert_eq!(loaded.base_dir, std::env::current_dir().expect("cwd"));
    assert!(loaded.ignored_env.is_empty());
}

#[test]
fn env_overrides_nested_camel_case_keys_with_coercion() {
    let vars = env(&[
        ("CORE_PEER_GOSSIP_USELEADERELECTION", "true"),
        ("CORE_PEER_GOSSIP_ORGLEADER", "false"),
        ("CORE_PEER_GOSSIP_MAXBLOCKCOUNTTOSTORE", "7"),
        ("CORE_PEER_GOSSIP_ALIVETIMEINTERVAL", "1m30s"),
        ("CORE_PEER_GOSSIP_MAXMESSAGESIZE", "10 MB"),
        ("CORE_PEER_GOSSIP_BOOTSTRAP", "peer0:7051 peer1:8051"),
        ("CORE_PEER_GOSSIP_STATE_ENABLED", "false"),
        ("CORE_PEER_ID", "007"),
        ("CORE_PEER_FILESYSTEMPATH", "/data"),
    ]);
    let peer = load::<Core>(None, "CORE", vars).expect("load").value.peer;
    assert_eq!(
        peer.id, "007",
        "a string default keeps the value as a string"
    );
    assert_eq!(peer.file_system_path, "/data");
    let g = peer.gossip;
    assert!(g.use_leader_election);
    assert!(!g.org_leader);
    assert_eq!(g.max_block_count_to_store, 7);
    assert_eq!(g.alive_time_interval, Duration::from_secs(90));
    assert_eq!(g.max_message_size, 10 * 1024 * 1024);
    assert_eq!(g.bootstrap, ["peer0:7051", "peer1:8051"]);
    assert!(!g.state.enabled);
}

#[test]
fn env_overrides_pascal_case_keys_and_bracketed_lists() {
    let vars = env(&[
        ("ORDERER_GENERAL_LISTENPORT", "7050"),
        ("ORDERER_GENERAL_TLS_ENABLED", "true"),
        ("ORDERER_GENERAL_TLS_PRIVATEKEY", "/tls/server.key"),
        (
            "ORDERER_GENERAL_TLS_ROOTCAS",
            "[/tls/ca.crt, /tls/other.crt]",
        ),
    ]);
    let general = load::<Orderer>(None, "ORDERER", vars)
        .expect("load")
        .value
        .general;
    assert_eq!(general.listen_port, 7050);
    assert!(general.tls.enabled);
    assert_eq!(general.tls.private_key, "/tls/server.key");
    assert_eq!(general.tls.root_cas, ["/tls/ca.crt", "/tls/other.crt"]);
}

#[test]
fn unknown_and_foreign_env_vars_are_ignored() {
    let vars = env(&[
        ("CORE_PEER_NOSUCHKEY", "1"),
        ("CORE_CHAINCODE_BUILDER", "x"),
        ("ORDERER_GENERAL_TLS_ENABLED", "true"),
        ("CORELATION", "x"),
        ("PATH", "/bin"),
    ]);
    let loaded = load::<Core>(None, "CORE", vars).expect("load");
    assert_eq!(loaded.value, Core::default());
    assert_eq!(
        loaded.ignored_env,
        ["CORE_CHAINCODE_BUILDER", "CORE_PEER_NOSUCHKEY"]
    );
}

#[test]
fn untyped_default_takes_env_number_as_string_when_the_field_is_a_string() {
    let vars = env(&[("CORE_PEER_NAME", "42")]);
    let peer = load::<Core>(None, "CORE", vars).expect("load").value.peer;
    assert_eq!(peer.name.as_deref(), Some("42"));
}

#[test]
fn partial_file_keeps_defaults_and_env_beats_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "core.yaml",
        "peer:\n  id: peer0.org1.example.com\n  gossip:\n    orgLeader: false\n    aliveTimeInterval: 2s\n    maxMessageSize: 99 MB\n",
    );
    let vars = env(&[("CORE_PEER_GOSSIP_ALIVETIMEINTERVAL", "3s")]);
    let loaded = load::<Core>(Some(&file), "CORE", vars).expect("load");
    let peer = loaded.value.peer;
    assert_eq!(peer.id, "peer0.org1.example.com");
    assert_eq!(peer.file_system_path, "/var/hyperledger/production");
    assert!(!peer.gossip.org_leader);
    assert_eq!(peer.gossip.max_block_count_to_store, 10);
    assert_eq!(peer.gossip.alive_time_interval, Duration::from_secs(3));
    assert_eq!(peer.gossip.max_message_size, 99 * 1024 * 1024);
    assert_eq!(loaded.base_dir, dir.path());
}

#[test]
fn file_keys_match_case_insensitively_and_anchors_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "orderer.yaml",
        "tlsdefaults: &tls\n  Enabled: true\n  RootCAs: [ca.pem]\ngeneral:\n  listenPort: 7050\n  TLS:\n    <<: *tls\n    PrivateKey: key.pem\n",
    );
    let general = load::<Orderer>(Some(&file), "ORDERER", env(&[]))
        .expect("load")
        .value
        .general;
    assert_eq!(general.listen_port, 7050);
    assert_eq!(
        general.tls,
        Tls {
            enabled: true,
            private_key: "key.pem".into(),
            root_cas: vec!["ca.pem".into()],
        }
    );
}

#[test]
fn missing_file_is_named() {
    let err = load::<Core>(Some(Path::new("/nonexistent/core.yaml")), "CORE", env(&[]))
        .expect_err("missing file");
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/core.yaml"), "{err}");
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "core.yaml",
        "peer:\n  id: a\n  gossip: [unclosed\n",
    );
    let err = load::<Core>(Some(&file), "CORE", env(&[])).expect_err("bad yaml");
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    assert!(msg.contains("core.yaml") && msg.contains("line"), "{msg}");
}

#[test]
fn non_mapping_file_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "core.yaml", "- a\n- b\n");
    let err = load::<Core>(Some(&file), "CORE", env(&[])).expect_err("not a mapping");
    assert!(matches!(err, ConfigError::NotAMapping { .. }), "{err:?}");
}

#[test]
fn bad_file_value_names_the_full_key_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "core.yaml",
        "peer:\n  gossip:\n    aliveTimeInterval: 5x\n",
    );
    let err = load::<Core>(Some(&file), "CORE", env(&[])).expect_err("bad duration");
    assert_eq!(
        err.to_string(),
        "peer.gossip.aliveTimeInterval: invalid duration \"5x\": unknown unit \"x\" (expected ns, us, µs, ms, s, m or h)"
    );
}

#[test]
fn bad_env_value_names_the_full_key_path() {
    let vars = env(&[("CORE_PEER_GOSSIP_USELEADERELECTION", "maybe")]);
    let err = load::<Core>(None, "CORE", vars).expect_err("bad bool");
    match err {
        ConfigError::Invalid { key, message } => {
            assert_eq!(key, "peer.gossip.useLeaderElection");
            assert!(
                message.contains("maybe") || message.contains("bool"),
                "{message}"
            );
        }
        other => panic!("unexpected error: {other:?}"),
    }
    let vars = env(&[("CORE_PEER_GOSSIP_MAXMESSAGESIZE", "lots")]);
    let err = load::<Core>(None, "CORE", vars).expect_err("bad size");
    assert!(
        err.to_string()
            .starts_with("peer.gossip.maxMessageSize: invalid byte size \"lots\""),
        "{err}"
    );
}
