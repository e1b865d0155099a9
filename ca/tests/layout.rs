//! The directory tree `generate` writes, file modes, `config.yaml`, and re-generation.

mod common;

use std::path::{Path, PathBuf};

use common::{cert_der, generate_test_network};
use weft_ca::cryptogen::{OrgKind, node_ou_config};

/// Every file cryptogen writes for one identity (node or user), relative to its directory.
fn identity_files(cn: &str, ca: &str, tlsca: &str, server: bool, node_ous: bool) -> Vec<String> {
    let stem = if server { "server" } else { "client" };
    let mut files = vec![
        format!("msp/cacerts/{ca}-cert.pem"),
        format!("msp/tlscacerts/{tlsca}-cert.pem"),
        "msp/keystore/priv_sk".to_owned(),
        format!("msp/signcerts/{cn}-cert.pem"),
        "tls/ca.crt".to_owned(),
        format!("tls/{stem}.crt"),
        format!("tls/{stem}.key"),
    ];
    if node_ous {
        files.push("msp/config.yaml".to_owned());
    }
    files
}

/// The complete expected file list of one org.
fn org_files(
    kind: OrgKind,
    domain: &str,
    nodes: &[&str],
    users: &[&str],
    node_ous: bool,
) -> Vec<PathBuf> {
    let ca = format!("ca.{domain}");
    let tlsca = format!("tlsca.{domain}");
    let mut files: Vec<String> = vec![
        format!("ca/{ca}-cert.pem"),
        "ca/priv_sk".to_owned(),
        format!("tlsca/{tlsca}-cert.pem"),
        "tlsca/priv_sk".to_owned(),
        format!("msp/cacerts/{ca}-cert.pem"),
        format!("msp/tlscacerts/{tlsca}-cert.pem"),
    ];
    let admin = format!("Admin@{domain}");
    if node_ous {
        files.push("msp/config.yaml".to_owned());
    } else {
        files.push(format!("msp/admincerts/{admin}-cert.pem"));
    }
    let nodes_dir = match kind {
        OrgKind::Peer => "peers",
        OrgKind::Orderer => "orderers",
    };
    for node in nodes {
        for f in identity_files(node, &ca, &tlsca, true, node_ous) {
            files.push(format!("{nodes_dir}/{node}/{f}"));
        }
        if !node_ous {
            files.push(format!(
                "{nodes_dir}/{node}/msp/admincerts/{admin}-cert.pem"
            ));
        }
    }
    for user in users {
        for f in identity_files(user, &ca, &tlsca, false, node_ous) {
            files.push(format!("users/{user}/{f}"));
        }
        if !node_ous {
            // cryptogen leaves each user's own certificate in its admincerts.
            files.push(format!("users/{user}/msp/admincerts/{user}-cert.pem"));
        }
    }
    let tree = match kind {
        OrgKind::Peer => "peerOrganizations",
        OrgKind::Orderer => "ordererOrganizations",
    };
    files
        .into_iter()
        .map(|f| Path::new(tree).join(domain).join(f))
        .collect()
}

fn expected_files() -> Vec<PathBuf> {
    let mut all = org_files(
        OrgKind::Peer,
        "org1.example.com",
        &["peer0.org1.example.com", "peer1.org1.example.com"],
        &["Admin@org1.example.com", "User1@org1.example.com"],
        true,
    );
    all.extend(org_files(
        OrgKind::Peer,
        "org2.example.com",
        &["peer0.org2.example.com", "peer1.org2.example.com"],
        &["Admin@org2.example.com", "User1@org2.example.com"],
        false,
    ));
    all.extend(org_files(
        OrgKind::Orderer,
        "example.com",
        &["orderer.example.com"],
        &["Admin@example.com"],
        true,
    ));
    all.sort();
    all
}

fn list_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn writes_exactly_fabrics_layout() {
    let out = tempfile::tempdir().unwrap();
    let summary = generate_test_network(out.path());

    let domains: Vec<_> = summary.orgs.iter().map(|o| o.domain.as_str()).collect();
    assert_eq!(
        domains,
        ["org1.example.com", "org2.example.com", "example.com"]
    );
    assert_eq!(
        summary.orgs[2].dir,
        out.path().join("ordererOrganizations/example.com")
    );
    assert_eq!(summary.orgs[2].nodes, ["orderer.example.com"]);
    assert_eq!(
        summary.orgs[0].users,
        ["Admin@org1.example.com", "User1@org1.example.com"]
    );

    let actual = list_files(out.path());
    let expected = expected_files();
    let missing: Vec<_> = expected.iter().filter(|f| !actual.contains(f)).collect();
    let extra: Vec<_> = actual.iter().filter(|f| !expected.contains(f)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nunexpected: {extra:#?}"
    );
}

#[cfg(unix)]
#[test]
fn private_keys_are_owner_only_and_pkcs8() {
    use std::os::unix::fs::PermissionsExt;

    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let keys: Vec<_> = list_files(out.path())
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            name == "priv_sk" || name.ends_with(".key")
        })
        .collect();
    // 3 orgs x 2 CAs, 5 nodes x 2 keys, 5 users x 2 keys.
    assert_eq!(keys.len(), 6 + 10 + 10);
    for key in keys {
        let path = out.path().join(&key);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
        let (label, _) = common::read_pem(&path);
        assert_eq!(label, "PRIVATE KEY", "{}", key.display());
    }
}

#[test]
fn node_ou_config_points_at_the_signing_ca() {
    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let expected = "NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: orderer
";
    assert_eq!(node_ou_config("ca.org1.example.com-cert.pem"), expected);
    let org = out.path().join("peerOrganizations/org1.example.com");
    for dir in [
        "msp",
        "peers/peer0.org1.example.com/msp",
        "users/User1@org1.example.com/msp",
    ] {
        let text = std::fs::read_to_string(org.join(dir).join("config.yaml")).unwrap();
        assert_eq!(text, expected, "{dir}");
        // And the file it names exists relative to the MSP directory.
        assert!(
            org.join(dir)
                .join("cacerts/ca.org1.example.com-cert.pem")
                .is_file()
        );
    }
    let orderer_cfg = std::fs::read_to_string(
        out.path()
            .join("ordererOrganizations/example.com/orderers/orderer.example.com/msp/config.yaml"),
    )
    .unwrap();
    assert_eq!(orderer_cfg, node_ou_config("ca.example.com-cert.pem"));
}

#[test]
fn copies_share_the_same_certificates() {
    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let org = out.path().join("peerOrganizations/org2.example.com");
    let ca = cert_der(&org.join("ca/ca.org2.example.com-cert.pem"));
    let tlsca = cert_der(&org.join("tlsca/tlsca.org2.example.com-cert.pem"));
    let admin = cert_der(
        &org.join("users/Admin@org2.example.com/msp/signcerts/Admin@org2.example.com-cert.pem"),
    );
    assert_ne!(ca, tlsca, "signing and TLS CAs are distinct");
    assert_eq!(
        ca,
        cert_der(&org.join("msp/cacerts/ca.org2.example.com-cert.pem"))
    );
    assert_eq!(
        tlsca,
        cert_der(&org.join("msp/tlscacerts/tlsca.org2.example.com-cert.pem"))
    );
    assert_eq!(
        admin,
        cert_der(&org.join("msp/admincerts/Admin@org2.example.com-cert.pem"))
    );
    let peer = org.join("peers/peer1.org2.example.com");
    assert_eq!(
        ca,
        cert_der(&peer.join("msp/cacerts/ca.org2.example.com-cert.pem"))
    );
    assert_eq!(tlsca, cert_der(&peer.join("tls/ca.crt")));
    assert_eq!(
        admin,
        cert_der(&peer.join("msp/admincerts/Admin@org2.example.com-cert.pem"))
    );
}

#[test]
fn regenerating_replaces_orgs_whole_and_leaves_no_temporaries() {
    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let ca = out
        .path()
        .join("peerOrganizations/org1.example.com/ca/ca.org1.example.com-cert.pem");
    let stale = out
        .path()
        .join("peerOrganizations/org1.example.com/peers/peer9.org1.example.com");
    std::fs::create_dir_all(&stale).unwrap();
    let first = std::fs::read(&ca).unwrap();

    generate_test_network(out.path());
    assert_ne!(first, std::fs::read(&ca).unwrap(), "a new CA was generated");
    assert!(
        !stale.exists(),
        "the old org directory was replaced, not merged"
    );
    for tree in ["peerOrganizations", "ordererOrganizations"] {
        for entry in std::fs::read_dir(out.path().join(tree)).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().starts_with('.'),
                "temporary {name:?} left behind"
            );
        }
    }
    assert_eq!(list_files(out.path()), expected_files());
}

#[test]
fn a_failing_org_is_not_left_half_written() {
    let out = tempfile::tempdir().unwrap();
    let good = "PeerOrgs:\n  - Name: O\n    Domain: o.example.com\n    Template:\n      Count: 2\n";
    let config = weft_ca::cryptogen::parse_config(good).unwrap();
    weft_ca::cryptogen::generate(&config, out.path()).unwrap();
    let org = out.path().join("peerOrganizations/o.example.com");
    let before = list_files(&org);
    let ca_before = std::fs::read(org.join("ca/ca.o.example.com-cert.pem")).unwrap();

    // The peers' extra SAN is not ASCII, so issuing peer0's TLS certificate fails after the
    // CAs and the users were already written to the temporary directory.
    let bad = format!("{good}      SANS:\n        - \"{{{{.Hostname}}}}-é\"\n");
    let config = weft_ca::cryptogen::parse_config(&bad).unwrap();
    let err = weft_ca::cryptogen::generate(&config, out.path()).unwrap_err();
    assert!(err.to_string().contains("peer0.o.example.com"), "{err}");

    assert_eq!(list_files(&org), before, "the previous org is intact");
    assert_eq!(
        std::fs::read(org.join("ca/ca.o.example.com-cert.pem")).unwrap(),
        ca_before
    );
    let entries: Vec<_> = std::fs::read_dir(out.path().join("peerOrganizations"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["o.example.com"], "no temporary directory left");
}
