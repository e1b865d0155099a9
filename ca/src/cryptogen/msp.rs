//! The MSP directories cryptogen writes: an organisation's verifying MSP (`<org>/msp`) and
//! each node's or user's local MSP plus TLS material (`<identity>/msp`, `<identity>/tls`).

use std::path::Path;

use super::ca::{Ca, Usage};
use super::error::CryptogenError;
use super::files::{PRIV_KEY_FILE, cert_file_name, mkdir, write_private, write_public};

/// Fabric's MSP `config.yaml` enabling node OUs, each pointing at the signing CA certificate
/// (`cacerts/<ca>-cert.pem`), byte for byte as cryptogen's YAML encoder writes it.
pub fn node_ou_config(ca_cert_file: &str) -> String {
    let cert = format!("cacerts/{ca_cert_file}");
    let mut out = String::from("NodeOUs:\n  Enable: true\n");
    for (key, ou) in [
        ("ClientOUIdentifier", "client"),
        ("PeerOUIdentifier", "peer"),
        ("AdminOUIdentifier", "admin"),
        ("OrdererOUIdentifier", "orderer"),
    ] {
        out.push_str(&format!(
            "  {key}:\n    Certificate: {cert}\n    OrganizationalUnitIdentifier: {ou}\n"
        ));
    }
    out
}

/// Whether the identity is a server (peer, orderer) or a client (user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `tls/server.crt`, `tls/server.key`.
    Server,
    /// `tls/client.crt`, `tls/client.key`.
    Client,
}

/// One identity's material to write.
pub(crate) struct LocalMsp<'a> {
    /// Certificate CN and directory name.
    pub name: &'a str,
    /// Node OU to put in the enrollment certificate when node OUs are on.
    pub ou: &'a str,
    pub sans: &'a [String],
    pub role: Role,
    pub node_ous: bool,
}

/// Writes `<dir>/msp` and `<dir>/tls` for one identity; returns its enrollment certificate PEM.
///
/// When node OUs are off, `admincerts/` receives `admin` (the org Admin's CN and certificate),
/// or the identity's own certificate when `None`, as cryptogen does for users.
pub(crate) fn write_local_msp(
    dir: &Path,
    sign_ca: &Ca,
    tls_ca: &Ca,
    id: &LocalMsp<'_>,
    admin: Option<(&str, &str)>,
) -> Result<String, CryptogenError> {
    let msp = dir.join("msp");
    write_ca_certs(&msp, sign_ca, tls_ca)?;

    let ous: &[&str] = if id.node_ous { &[id.ou] } else { &[] };
    let enrollment = sign_ca.issue(id.name, Usage::Signing { ous })?;
    write_private(
        &msp.join("keystore").join(PRIV_KEY_FILE),
        enrollment.key.pkcs8_pem(),
    )?;
    let cert_name = cert_file_name(id.name);
    write_public(&msp.join("signcerts").join(cert_name), &enrollment.cert_pem)?;
    if id.node_ous {
        write_public(
            &msp.join("config.yaml"),
            &node_ou_config(&cert_file_name(sign_ca.name())),
        )?;
    } else {
        let (name, pem) = admin.unwrap_or((id.name, &enrollment.cert_pem));
        write_public(&msp.join("admincerts").join(cert_file_name(name)), pem)?;
    }

    let tls = dir.join("tls");
    let tls_cert = tls_ca.issue(id.name, Usage::Tls { sans: id.sans })?;
    let stem = match id.role {
        Role::Server => "server",
        Role::Client => "client",
    };
    write_public(&tls.join("ca.crt"), tls_ca.cert_pem())?;
    write_public(&tls.join(format!("{stem}.crt")), &tls_cert.cert_pem)?;
    write_private(&tls.join(format!("{stem}.key")), tls_cert.key.pkcs8_pem())?;
    Ok(enrollment.cert_pem)
}

/// Writes the organisation's verifying MSP `<org>/msp`.
pub(crate) fn write_verifying_msp(
    org_dir: &Path,
    sign_ca: &Ca,
    tls_ca: &Ca,
    admin: (&str, &str),
    node_ous: bool,
) -> Result<(), CryptogenError> {
    let msp = org_dir.join("msp");
    write_ca_certs(&msp, sign_ca, tls_ca)?;
    if node_ous {
        write_public(
            &msp.join("config.yaml"),
            &node_ou_config(&cert_file_name(sign_ca.name())),
        )?;
    } else {
        let (admin_name, admin_pem) = admin;
        write_public(
            &msp.join("admincerts").join(cert_file_name(admin_name)),
            admin_pem,
        )?;
    }
    Ok(())
}

/// Writes the signing CA's root and key and the TLS CA's root and key under `<org>/ca`
/// and `<org>/tlsca`.
pub(crate) fn write_cas(org_dir: &Path, sign_ca: &Ca, tls_ca: &Ca) -> Result<(), CryptogenError> {
    for (sub, ca) in [("ca", sign_ca), ("tlsca", tls_ca)] {
        let dir = org_dir.join(sub);
        mkdir(&dir)?;
        write_public(&dir.join(cert_file_name(ca.name())), ca.cert_pem())?;
        write_private(&dir.join(PRIV_KEY_FILE), ca.key_pem())?;
    }
    Ok(())
}

fn write_ca_certs(msp: &Path, sign_ca: &Ca, tls_ca: &Ca) -> Result<(), CryptogenError> {
    write_public(
        &msp.join("cacerts").join(cert_file_name(sign_ca.name())),
        sign_ca.cert_pem(),
    )?;
    write_public(
        &msp.join("tlscacerts").join(cert_file_name(tls_ca.name())),
        tls_ca.cert_pem(),
    )
}
