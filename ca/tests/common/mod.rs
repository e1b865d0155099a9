//! Helpers shared by the integration tests: a test configuration and certificate inspection.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use weft_ca::cryptogen::{self, CryptoConfig, Summary};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Fabric's first network, with extra SANs on org1's peers and the orderer, and org2 without
/// node OUs so that both MSP flavours are covered.
pub const TEST_CONFIG: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS:
          - localhost
          - 127.0.0.1
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 2
      SANS:
        - localhost
        - "127.0.0.1"
        - "{{.Hostname}}.alt.{{.Domain}}"
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: false
    Template:
      Count: 2
    Users:
      Count: 1
"#;

pub fn test_config() -> CryptoConfig {
    cryptogen::parse_config(TEST_CONFIG).expect("test config parses")
}

/// Generates [`TEST_CONFIG`] into `out`.
pub fn generate_test_network(out: &Path) -> Summary {
    cryptogen::generate(&test_config(), out).expect("generation succeeds")
}

/// Reads the first PEM block of a file and returns its label and DER contents.
pub fn read_pem(path: &Path) -> (String, Vec<u8>) {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, pem) = x509_parser::pem::parse_x509_pem(&text)
        .unwrap_or_else(|e| panic!("{} is not PEM: {e}", path.display()));
    (pem.label, pem.contents)
}

/// Reads a PEM certificate file into DER.
pub fn cert_der(path: &Path) -> Vec<u8> {
    let (label, der) = read_pem(path);
    assert_eq!(label, "CERTIFICATE", "{}", path.display());
    der
}

pub fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).expect("valid X.509");
    assert!(rest.is_empty(), "trailing bytes after certificate");
    cert
}

/// Subject attributes in order, as `("C", "US")` pairs.
pub fn subject(cert: &X509Certificate<'_>) -> Vec<(String, String)> {
    cert.subject()
        .iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .map(|atv| {
            let short = match atv.attr_type().to_id_string().as_str() {
                "2.5.4.6" => "C",
                "2.5.4.8" => "ST",
                "2.5.4.7" => "L",
                "2.5.4.9" => "STREET",
                "2.5.4.17" => "postalCode",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.3" => "CN",
                other => panic!("unexpected attribute {other}"),
            };
            (
                short.to_owned(),
                atv.as_str().expect("string value").to_owned(),
            )
        })
        .collect()
}

/// `[("C","US"), ...]` from `&[("C","US"), ...]`.
pub fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// SANs as strings: DNS names verbatim, IP addresses as `ip:<addr>`.
pub fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Some(ext) = cert
        .subject_alternative_name()
        .expect("valid SAN extension")
    else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => (*dns).to_owned(),
            GeneralName::IPAddress(bytes) => {
                let ip: std::net::IpAddr = match bytes.len() {
                    4 => <[u8; 4]>::try_from(*bytes).unwrap().into(),
                    16 => <[u8; 16]>::try_from(*bytes).unwrap().into(),
                    n => panic!("IP SAN of {n} bytes"),
                };
                format!("ip:{ip}")
            }
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

/// `(serverAuth, clientAuth)`, or `None` without an EKU extension.
pub fn eku(cert: &X509Certificate<'_>) -> Option<(bool, bool)> {
    cert.extended_key_usage()
        .expect("valid EKU extension")
        .map(|e| (e.value.server_auth, e.value.client_auth))
}

/// The basicConstraints CA flag (`None` when the extension is absent).
pub fn is_ca(cert: &X509Certificate<'_>) -> Option<bool> {
    cert.basic_constraints()
        .expect("valid basicConstraints")
        .map(|b| b.value.ca)
}

/// Whether `cert`'s signature verifies with `issuer`'s public key.
pub fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether the certificate's ECDSA signature has `s <= n/2`.
pub fn has_low_s(cert: &X509Certificate<'_>) -> bool {
    weft_crypto::identity::is_low_s(&cert.signature_value.data)
}

/// Signs a message with the PKCS#8 key in `key_file` and verifies it with `cert`'s public key.
pub fn key_matches_cert(key_file: &Path, cert: &X509Certificate<'_>) -> bool {
    let (label, pkcs8) = read_pem(key_file);
    assert_eq!(label, "PRIVATE KEY", "{}", key_file.display());
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
        .expect("PKCS#8 P-256 key");
    let msg = b"weft cryptogen key check";
    let sig = key.sign(&rng, msg).expect("signing works");
    UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_ASN1,
        cert.public_key().subject_public_key.data.as_ref(),
    )
    .verify(msg, sig.as_ref())
    .is_ok()
}
