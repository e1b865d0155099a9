//! Writing a whole [`CryptoConfig`]: every organisation is planned (and so validated) before
//! anything is written, then each is built in a temporary directory beside its final place
//! and renamed in, so a failure never leaves a half-written organisation behind.

use std::path::{Path, PathBuf};

use super::ca::{Ca, SubjectBase};
use super::config::{CryptoConfig, OrgSpec};
use super::error::CryptogenError;
use super::files::{mkdir, remove_if_exists};
use super::msp::{LocalMsp, Role, write_cas, write_local_msp, write_verifying_msp};
use super::plan::{OrgKind, OrgPlan, plan_org};

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Organisations in the order written: peer orgs first, then orderer orgs (as cryptogen).
    pub orgs: Vec<OrgSummary>,
}

/// One generated organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSummary {
    /// Peer or orderer organisation.
    pub kind: OrgKind,
    /// The org's domain, which cryptogen prints as it goes.
    pub domain: String,
    /// `<output>/peerOrganizations/<domain>` or `<output>/ordererOrganizations/<domain>`.
    pub dir: PathBuf,
    /// CNs of the peers or orderers, in order.
    pub nodes: Vec<String>,
    /// CNs of the users, `Admin@<domain>` first.
    pub users: Vec<String>,
}

/// Generates crypto material for every organisation of `config` under `output`.
///
/// Peer orgs are written before orderer orgs, as cryptogen does. An organisation directory
/// that already exists is replaced as a whole once its new contents are complete.
pub fn generate(config: &CryptoConfig, output: &Path) -> Result<Summary, CryptogenError> {
    let mut plans = Vec::new();
    for (kind, orgs) in [
        (OrgKind::Peer, &config.peer_orgs),
        (OrgKind::Orderer, &config.orderer_orgs),
    ] {
        for org in orgs {
            let plan = plan_org(org, kind)?;
            if plans
                .iter()
                .any(|(p, _): &(OrgPlan, &OrgSpec)| p.kind == kind && p.domain == plan.domain)
            {
                return Err(CryptogenError::Invalid(format!(
                    "{} {} is defined twice",
                    kind.tree(),
                    plan.domain
                )));
            }
            plans.push((plan, org));
        }
    }

    let mut orgs = Vec::with_capacity(plans.len());
    for (plan, spec) in &plans {
        let dir = output.join(plan.kind.tree()).join(&plan.domain);
        write_org_atomically(plan, &SubjectBase::from_spec(spec.ca.as_ref()), &dir)?;
        tracing::info!(org = %plan.domain, dir = %dir.display(), "generated organisation");
        orgs.push(OrgSummary {
            kind: plan.kind,
            domain: plan.domain.clone(),
            dir,
            nodes: plan.nodes.iter().map(|n| n.common_name.clone()).collect(),
            users: plan.users.iter().map(|u| u.common_name.clone()).collect(),
        });
    }
    Ok(Summary { orgs })
}

/// Builds the org in `.<domain>.tmp-<pid>` and swaps it into `dir`.
fn write_org_atomically(
    plan: &OrgPlan,
    subject: &SubjectBase,
    dir: &Path,
) -> Result<(), CryptogenError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    mkdir(parent)?;
    let pid = std::process::id();
    let tmp = parent.join(format!(".{}.tmp-{pid}", plan.domain));
    let old = parent.join(format!(".{}.old-{pid}", plan.domain));
    remove_if_exists(&tmp)?;
    remove_if_exists(&old)?;

    if let Err(e) = write_org(plan, subject, &tmp) {
        // Best effort: the error being reported matters more than a failed clean-up.
        let _ = remove_if_exists(&tmp);
        return Err(e);
    }
    let had_previous = dir.exists();
    if had_previous {
        std::fs::rename(dir, &old).map_err(CryptogenError::write(dir))?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_previous {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = remove_if_exists(&tmp);
        return Err(CryptogenError::Write {
            path: dir.to_path_buf(),
            cause: e,
        });
    }
    remove_if_exists(&old)
}

fn write_org(plan: &OrgPlan, subject: &SubjectBase, dir: &Path) -> Result<(), CryptogenError> {
    let sign_ca = Ca::new(&plan.ca_name, &plan.domain, subject)?;
    let tls_ca = Ca::new(&format!("tlsca.{}", plan.domain), &plan.domain, subject)?;
    write_cas(dir, &sign_ca, &tls_ca)?;

    let users_dir = dir.join("users");
    let mut admin_pem = String::new();
    for (i, user) in plan.users.iter().enumerate() {
        let is_admin = i == 0;
        let pem = write_local_msp(
            &users_dir.join(&user.common_name),
            &sign_ca,
            &tls_ca,
            &LocalMsp {
                name: &user.common_name,
                ou: if is_admin { "admin" } else { "client" },
                sans: &user.sans,
                role: Role::Client,
                node_ous: plan.node_ous,
            },
            None,
        )?;
        if is_admin {
            admin_pem = pem;
        }
    }
    let admin = (plan.admin().common_name.as_str(), admin_pem.as_str());

    let nodes_dir = dir.join(plan.kind.nodes_dir());
    for node in &plan.nodes {
        write_local_msp(
            &nodes_dir.join(&node.common_name),
            &sign_ca,
            &tls_ca,
            &LocalMsp {
                name: &node.common_name,
                ou: plan.kind.prefix(),
                sans: &node.sans,
                role: Role::Server,
                node_ous: plan.node_ous,
            },
            Some(admin),
        )?;
    }
    write_verifying_msp(dir, &sign_ca, &tls_ca, admin, plan.node_ous)
}
