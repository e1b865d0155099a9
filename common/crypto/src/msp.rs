//! An organisation's MSP: which certificates belong to it and which roles they hold.

use weft_wire::common::OrgConfig;

use crate::identity::{Identity, IdentityError};

/// A principal's role, as policies name it (`'Org1MSP.peer'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Any valid identity of the MSP.
    Member,
    Admin,
    Client,
    Peer,
    Orderer,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "client" => Ok(Role::Client),
            "peer" => Ok(Role::Peer),
            "orderer" => Ok(Role::Orderer),
            other => Err(format!(
                "unknown role {other:?} (expected member, admin, client, peer or orderer)"
            )),
        }
    }
}

/// Why an MSP could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum MspError {
    #[error("MSP {mspid} has no root certificate")]
    NoRoots { mspid: String },
    #[error("MSP {mspid}: {reason}")]
    BadCert { mspid: String, reason: String },
}

/// One organisation's membership rules, from its channel configuration.
#[derive(Debug, Clone)]
pub struct Msp {
    pub mspid: String,
    roots: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
    admin_certs: Vec<Vec<u8>>,
    node_ous: bool,
}

impl Msp {
    /// Builds the MSP of an organisation in a channel configuration.
    pub fn from_config(org: &OrgConfig) -> Result<Self, MspError> {
        if org.root_certs.is_empty() {
            return Err(MspError::NoRoots {
                mspid: org.msp_id.clone(),
            });
        }
        for der in org.root_certs.iter().chain(&org.intermediate_certs) {
            Identity::from_der(&org.msp_id, der).map_err(|e| MspError::BadCert {
                mspid: org.msp_id.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(Self {
            mspid: org.msp_id.clone(),
            roots: org.root_certs.clone(),
            intermediates: org.intermediate_certs.clone(),
            admin_certs: org.admin_certs.clone(),
            node_ous: org.node_ous_enabled,
        })
    }

    /// Checks that `ident` is issued by this MSP's CAs, valid at `now` (Unix seconds) and, with NodeOUs,
    /// carries a role OU.
    pub fn validate(&self, ident: &Identity, now: i64) -> Result<(), IdentityError> {
        if ident.mspid != self.mspid {
            return Err(IdentityError::UnknownMsp(ident.mspid.clone()));
        }
        if now < ident.not_before || now > ident.not_after {
            return Err(IdentityError::Expired {
                subject: ident.subject.clone(),
            });
        }
        let by_root = self.roots.iter().any(|r| ident.issued_by(r));
        let by_intermediate = || {
            self.intermediates.iter().any(|i| {
                ident.issued_by(i)
                    && Identity::from_der(&self.mspid, i)
                        .is_ok_and(|i| self.roots.iter().any(|r| i.issued_by(r)))
            })
        };
        if !by_root && !by_intermediate() {
            return Err(IdentityError::UntrustedIssuer {
                subject: ident.subject.clone(),
                mspid: self.mspid.clone(),
            });
        }
        if self.node_ous && node_ou(ident).is_none() {
            return Err(IdentityError::NoNodeOu {
                subject: ident.subject.clone(),
                mspid: self.mspid.clone(),
            });
        }
        Ok(())
    }

    /// Whether a validated identity of this MSP holds `role`.
    pub fn has_role(&self, ident: &Identity, role: Role) -> bool {
        if ident.mspid != self.mspid {
            return false;
        }
        match role {
            Role::Member => true,
            Role::Admin if !self.node_ous => self.admin_certs.contains(&ident.cert_der),
            _ if !self.node_ous => false,
            role => node_ou(ident) == Some(role),
        }
    }
}

/// The NodeOU role an identity's certificate carries.
fn node_ou(ident: &Identity) -> Option<Role> {
    ident
        .organizational_units
        .iter()
        .find_map(|ou| match ou.as_str() {
            "admin" => Some(Role::Admin),
            "client" => Some(Role::Client),
            "peer" => Some(Role::Peer),
            "orderer" => Some(Role::Orderer),
            _ => None,
        })
}
