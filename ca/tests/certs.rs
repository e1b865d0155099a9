//! Certificate contents: subjects, SANs, key usages, CA flags, signatures and key pairs.

mod common;

use std::path::Path;

use common::{
    attrs, cert_der, eku, generate_test_network, has_low_s, is_ca, key_matches_cert, parse, sans,
    signed_by, subject,
};
use x509_parser::prelude::X509Certificate;

const BASE: [(&str, &str); 3] = [("C", "US"), ("ST", "California"), ("L", "San Francisco")];

fn with_base(rest: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = BASE.to_vec();
    all.extend_from_slice(rest);
    attrs(&all)
}

struct Org {
    dir: std::path::PathBuf,
    ca: Vec<u8>,
    tlsca: Vec<u8>,
}

impl Org {
    fn load(root: &Path, tree: &str, domain: &str) -> Self {
        let dir = root.join(tree).join(domain);
        Self {
            ca: cert_der(&dir.join(format!("ca/ca.{domain}-cert.pem"))),
            tlsca: cert_der(&dir.join(format!("tlsca/tlsca.{domain}-cert.pem"))),
            dir,
        }
    }
}

fn key_usage(cert: &X509Certificate<'_>) -> (bool, bool, bool, bool) {
    let ku = cert.key_usage().unwrap().expect("keyUsage present").value;
    (
        ku.digital_signature(),
        ku.key_encipherment(),
        ku.key_cert_sign(),
        ku.crl_sign(),
    )
}

#[test]
fn cas_are_self_signed_roots_with_fabric_subjects() {
    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let org = Org::load(out.path(), "peerOrganizations", "org1.example.com");
    for (der, cn) in [
        (&org.ca, "ca.org1.example.com"),
        (&org.tlsca, "tlsca.org1.example.com"),
    ] {
        let cert = parse(der);
        assert_eq!(
            subject(&cert),
            with_base(&[("O", "org1.example.com"), ("CN", cn)])
        );
        assert_eq!(cert.issuer(), cert.subject());
        assert_eq!(is_ca(&cert), Some(true), "{cn}");
        assert_eq!(key_usage(&cert), (true, true, true, true), "{cn}");
        assert_eq!(eku(&cert), Some((true, true)), "{cn}");
        assert!(signed_by(&cert, &cert), "{cn} is self-signed");
        assert!(has_low_s(&cert), "{cn} signature is low-S");
        let ski = cert
            .iter_extensions()
            .find(|e| e.oid.to_id_string() == "2.5.29.14")
            .expect("subject key identifier");
        assert!(!ski.value.is_empty());
        // Ten years from five minutes ago, like cryptogen.
        let validity = cert.validity();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let nb = validity.not_before.timestamp();
        assert!(
            (now - 6 * 60..=now - 4 * 60).contains(&nb),
            "not_before {nb}, now {now}"
        );
        assert_eq!(validity.not_after.timestamp() - nb, 3650 * 24 * 3600);
        assert!(
            (9..=17).contains(&cert.raw_serial().len()),
            "128-bit serial"
        );
    }
    let orderer = Org::load(out.path(), "ordererOrganizations", "example.com");
    assert_eq!(
        subject(&parse(&orderer.ca)),
        with_base(&[("O", "example.com"), ("CN", "ca.example.com")])
    );
}

#[test]
fn enrollment_certs_carry_node_ous_and_verify_against_the_signing_ca() {
    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let org1 = Org::load(out.path(), "peerOrganizations", "org1.example.com");
    let orderer = Org::load(out.path(), "ordererOrganizations", "example.com");
    let org2 = Org::load(out.path(), "peerOrganizations", "org2.example.com");
    let cases: [(&Org, &str, &str, Option<&str>); 6] = [
        (&org1, "peers", "peer0.org1.example.com", Some("peer")),
        (&org1, "peers", "peer1.org1.example.com", Some("peer")),
        (&org1, "users", "Admin@org1.example.com", Some("admin")),
        (&org1, "users", "User1@org1.example.com", Some("client")),
        (&orderer, "orderers", "orderer.example.com", Some("orderer")),
        // NodeOUs disabled: no OU at all.
        (&org2, "peers", "peer0.org2.example.com", None),
    ];
    let mut serials = std::collections::HashSet::new();
    for (org, sub, cn, ou) in cases {
        let dir = org.dir.join(sub).join(cn);
        let der = cert_der(&dir.join(format!("msp/signcerts/{cn}-cert.pem")));
        let cert = parse(&der);
        let mut expected = Vec::new();
        if let Some(ou) = ou {
            expected.push(("OU", ou));
        }
        expected.push(("CN", cn));
        assert_eq!(subject(&cert), with_base(&expected), "{cn}");
        assert_eq!(is_ca(&cert), Some(false), "{cn}");
        assert_eq!(key_usage(&cert), (true, false, false, false), "{cn}");
        assert_eq!(eku(&cert), None, "{cn}");
        assert!(sans(&cert).is_empty(), "{cn}");
        assert_eq!(cert.issuer(), parse(&org.ca).subject(), "{cn}");
        assert!(
            signed_by(&cert, &parse(&org.ca)),
            "{cn} verifies against its CA"
        );
        assert!(
            !signed_by(&cert, &parse(&org.tlsca)),
            "{cn} not from the TLS CA"
        );
        assert!(has_low_s(&cert), "{cn}");
        let aki = cert
            .iter_extensions()
            .find(|e| e.oid.to_id_string() == "2.5.29.35")
            .expect("authority key identifier");
        assert!(!aki.value.is_empty());
        assert!(
            key_matches_cert(&dir.join("msp/keystore/priv_sk"), &cert),
            "{cn}"
        );
        assert!(
            !key_matches_cert(
                &dir.join(if sub == "users" {
                    "tls/client.key"
                } else {
                    "tls/server.key"
                }),
                &cert
            ),
            "{cn}: the TLS key must not match the enrollment cert"
        );
        assert!(
            serials.insert(cert.raw_serial().to_vec()),
            "serials are unique"
        );
    }
    // A cert from another org's CA does not verify.
    let foreign = cert_der(
        &org2
            .dir
            .join("peers/peer0.org2.example.com/msp/signcerts/peer0.org2.example.com-cert.pem"),
    );
    assert!(!signed_by(&parse(&foreign), &parse(&org1.ca)));
}

#[test]
fn tls_certs_have_sans_and_verify_only_against_the_tls_ca() {
    let out = tempfile::tempdir().unwrap();
    generate_test_network(out.path());
    let org1 = Org::load(out.path(), "peerOrganizations", "org1.example.com");
    let orderer = Org::load(out.path(), "ordererOrganizations", "example.com");
    let org2 = Org::load(out.path(), "peerOrganizations", "org2.example.com");
    let cases: [(&Org, &str, &str, &str, Vec<&str>); 5] = [
        (
            &org1,
            "peers",
            "peer1.org1.example.com",
            "server",
            vec![
                "peer1.org1.example.com",
                "peer1",
                "localhost",
                "ip:127.0.0.1",
                "peer1.alt.org1.example.com",
            ],
        ),
        (
            &orderer,
            "orderers",
            "orderer.example.com",
            "server",
            vec![
                "orderer.example.com",
                "orderer",
                "localhost",
                "ip:127.0.0.1",
            ],
        ),
        (
            &org2,
            "peers",
            "peer0.org2.example.com",
            "server",
            vec!["peer0.org2.example.com", "peer0"],
        ),
        (
            &org1,
            "users",
            "User1@org1.example.com",
            "client",
            vec!["User1@org1.example.com"],
        ),
        (
            &orderer,
            "users",
            "Admin@example.com",
            "client",
            vec!["Admin@example.com"],
        ),
    ];
    for (org, sub, cn, stem, expected_sans) in cases {
        let dir = org.dir.join(sub).join(cn);
        let der = cert_der(&dir.join(format!("tls/{stem}.crt")));
        let cert = parse(&der);
        assert_eq!(
            subject(&cert),
            with_base(&[("CN", cn)]),
            "{cn}: no OU on TLS certs"
        );
        assert_eq!(sans(&cert), expected_sans, "{cn}");
        assert_eq!(eku(&cert), Some((true, true)), "{cn}");
        assert_eq!(key_usage(&cert), (true, true, false, false), "{cn}");
        assert_eq!(is_ca(&cert), Some(false), "{cn}");
        assert!(
            signed_by(&cert, &parse(&org.tlsca)),
            "{cn} verifies against the TLS CA"
        );
        assert!(
            !signed_by(&cert, &parse(&org.ca)),
            "{cn} must not verify against the signing CA"
        );
        assert_eq!(
            cert_der(&dir.join("tls/ca.crt")),
            org.tlsca,
            "{cn}: tls/ca.crt"
        );
        assert!(has_low_s(&cert), "{cn}");
        assert!(
            key_matches_cert(&dir.join(format!("tls/{stem}.key")), &cert),
            "{cn}"
        );
    }
}

#[test]
fn ca_block_overrides_subjects() {
    let yaml = r#"
PeerOrgs:
  - Name: Org3
    Domain: org3.example.net
    EnableNodeOUs: true
    CA:
      Hostname: myca
      Country: FR
      Province: Ile-de-France
      Locality: Paris
      OrganizationalUnit: Blockchain
    Specs:
      - Hostname: p0
        CommonName: "{{.Hostname}}-x.{{.Domain}}"
        SANS:
          - 10.1.2.3
          - "::1"
"#;
    let config = weft_ca::cryptogen::parse_config(yaml).unwrap();
    let out = tempfile::tempdir().unwrap();
    weft_ca::cryptogen::generate(&config, out.path()).unwrap();
    let org = out.path().join("peerOrganizations/org3.example.net");
    let ca = cert_der(&org.join("ca/myca.org3.example.net-cert.pem"));
    let base = [("C", "FR"), ("ST", "Ile-de-France"), ("L", "Paris")];
    let mut expected = base.to_vec();
    expected.extend([
        ("O", "org3.example.net"),
        ("OU", "Blockchain"),
        ("CN", "myca.org3.example.net"),
    ]);
    assert_eq!(subject(&parse(&ca)), attrs(&expected));
    let node = org.join("peers/p0-x.org3.example.net");
    let enrollment = cert_der(&node.join("msp/signcerts/p0-x.org3.example.net-cert.pem"));
    let mut expected = base.to_vec();
    expected.extend([
        ("OU", "Blockchain"),
        ("OU", "peer"),
        ("CN", "p0-x.org3.example.net"),
    ]);
    assert_eq!(subject(&parse(&enrollment)), attrs(&expected));
    let tls = cert_der(&node.join("tls/server.crt"));
    assert_eq!(
        sans(&parse(&tls)),
        ["p0-x.org3.example.net", "p0", "ip:10.1.2.3", "ip:::1"]
    );
    let cfg = std::fs::read_to_string(org.join("msp/config.yaml")).unwrap();
    assert!(
        cfg.contains("Certificate: cacerts/myca.org3.example.net-cert.pem"),
        "{cfg}"
    );
}
