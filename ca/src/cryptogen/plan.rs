//! Resolves an [`OrgSpec`] into the concrete list of identities to issue, the way Fabric's
//! `renderOrgSpec` does: explicit `Specs` first, then `Template` nodes, then `Admin@` and
//! `UserN@` users; every node gets the implicit TLS SANs "CN" and "host name" followed by its
//! rendered `SANS`.

use std::collections::HashSet;

use super::config::{NodeSpec, OrgSpec};
use super::error::CryptogenError;
use super::template::{Vars, render};

/// Which tree an organisation goes to, and what its nodes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    /// `peerOrganizations/<domain>/peers/...`
    Peer,
    /// `ordererOrganizations/<domain>/orderers/...`
    Orderer,
}

impl OrgKind {
    /// The `{{.Prefix}}` of templated host names and the node OU: `peer` or `orderer`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Peer => "peer",
            Self::Orderer => "orderer",
        }
    }

    /// The top-level directory: `peerOrganizations` or `ordererOrganizations`.
    pub fn tree(self) -> &'static str {
        match self {
            Self::Peer => "peerOrganizations",
            Self::Orderer => "ordererOrganizations",
        }
    }

    /// The per-org directory holding nodes: `peers` or `orderers`.
    pub fn nodes_dir(self) -> &'static str {
        match self {
            Self::Peer => "peers",
            Self::Orderer => "orderers",
        }
    }
}

/// One identity to issue: a node or a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Certificate CN and directory name (`peer0.org1.example.com`, `Admin@org1.example.com`).
    pub common_name: String,
    /// TLS SANs in order, without duplicates.
    pub sans: Vec<String>,
}

/// Everything needed to write one organisation.
#[derive(Debug, Clone)]
pub(crate) struct OrgPlan {
    pub kind: OrgKind,
    pub domain: String,
    pub node_ous: bool,
    /// CN of the signing CA (`ca.<domain>` by default).
    pub ca_name: String,
    pub nodes: Vec<Identity>,
    /// `Admin@<domain>` first, then `User1@<domain>`...
    pub users: Vec<Identity>,
}

impl OrgPlan {
    pub(crate) fn admin(&self) -> &Identity {
        &self.users[0]
    }
}

/// Builds the plan for one organisation, validating names as it goes.
pub(crate) fn plan_org(org: &OrgSpec, kind: OrgKind) -> Result<OrgPlan, CryptogenError> {
    let domain = org.domain.as_str();
    check_path_component(domain, &format!("Domain of org {:?}", org.name))?;
    let prefix = kind.prefix();

    let ca = org.ca.clone().unwrap_or_default();
    let ca_host = ca.hostname.as_deref().unwrap_or("ca");
    let ca_spec = NodeSpec {
        hostname: ca_host.to_owned(),
        common_name: ca.common_name.clone(),
        sans: Vec::new(),
    };
    let ca_name = render_node(&ca_spec, domain, prefix)?.common_name;
    check_path_component(&ca_name, &format!("CA CommonName of {domain}"))?;

    let mut specs = org.specs.clone();
    if let Some(t) = &org.template {
        for i in 0..t.count {
            let index = t.start.checked_add(i).ok_or_else(|| {
                CryptogenError::Invalid(format!("{domain}: Template Start + Count overflows"))
            })?;
            let vars = Vars {
                prefix: Some(prefix),
                index: Some(index),
                domain: Some(domain),
                ..Vars::default()
            };
            specs.push(NodeSpec {
                hostname: render(&t.hostname, &vars)?,
                common_name: None,
                sans: t.sans.clone(),
            });
        }
    }

    let mut seen = HashSet::new();
    let mut nodes = Vec::with_capacity(specs.len());
    for spec in &specs {
        let node = render_node(spec, domain, prefix)?;
        check_path_component(&node.common_name, &format!("node CommonName in {domain}"))?;
        if !seen.insert(node.common_name.clone()) {
            return Err(CryptogenError::Invalid(format!(
                "{domain}: node {} is defined twice",
                node.common_name
            )));
        }
        nodes.push(node);
    }

    let user_count = org.users.map_or(0, |u| u.count);
    let mut users = vec![user(format!("Admin@{domain}"))];
    if kind == OrgKind::Peer {
        // Fabric's cryptogen issues only the Admin for orderer orgs.
        users.extend((1..=user_count).map(|i| user(format!("User{i}@{domain}"))));
    }

    Ok(OrgPlan {
        kind,
        domain: domain.to_owned(),
        node_ous: org.enable_node_ous,
        ca_name,
        nodes,
        users,
    })
}

fn user(common_name: String) -> Identity {
    Identity {
        sans: vec![common_name.clone()],
        common_name,
    }
}

/// Fabric's `renderNodeSpec`: CN from `{{.Hostname}}.{{.Domain}}` unless given, then the
/// SANs `[CN, Hostname, rendered SANS...]`.
fn render_node(spec: &NodeSpec, domain: &str, prefix: &str) -> Result<Identity, CryptogenError> {
    let base = Vars {
        prefix: Some(prefix),
        domain: Some(domain),
        ..Vars::default()
    };
    let hostname = render(&spec.hostname, &base)?;
    if hostname.is_empty() {
        return Err(CryptogenError::Invalid(format!(
            "{domain}: a node has an empty Hostname"
        )));
    }
    let mut vars = Vars {
        hostname: Some(&hostname),
        ..base
    };
    let cn_template = spec
        .common_name
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("{{.Hostname}}.{{.Domain}}");
    let common_name = render(cn_template, &vars)?;
    vars.common_name = Some(&common_name);
    let mut sans = vec![common_name.clone(), hostname.clone()];
    for san in &spec.sans {
        sans.push(render(san, &vars)?);
    }
    let mut seen = HashSet::new();
    sans.retain(|s| seen.insert(s.clone()));
    Ok(Identity { common_name, sans })
}

/// Names become directory and file names, so they must be a single, non-special component.
fn check_path_component(name: &str, what: &str) -> Result<(), CryptogenError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.')
    {
        return Err(CryptogenError::Invalid(format!(
            "{what} {name:?} is not usable as a file name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cryptogen::config::{NodeTemplate, UsersSpec};

    #[test]
    fn specs_then_template_then_users() {
        let org = OrgSpec {
            name: "Org1".into(),
            domain: "org1.example.com".into(),
            specs: vec![NodeSpec {
                hostname: "foo".into(),
                common_name: None,
                sans: vec!["{{.Hostname}}.alt.{{.Domain}}".into(), "10.0.0.1".into()],
            }],
            template: Some(NodeTemplate {
                count: 2,
                start: 5,
                ..NodeTemplate::default()
            }),
            users: Some(UsersSpec { count: 2 }),
            ..OrgSpec::default()
        };
        let plan = plan_org(&org, OrgKind::Peer).unwrap();
        assert_eq!(plan.ca_name, "ca.org1.example.com");
        let cns: Vec<_> = plan.nodes.iter().map(|n| n.common_name.as_str()).collect();
        assert_eq!(
            cns,
            [
                "foo.org1.example.com",
                "peer5.org1.example.com",
                "peer6.org1.example.com"
            ]
        );
        assert_eq!(
            plan.nodes[0].sans,
            [
                "foo.org1.example.com",
                "foo",
                "foo.alt.org1.example.com",
                "10.0.0.1"
            ]
        );
        let users: Vec<_> = plan.users.iter().map(|n| n.common_name.as_str()).collect();
        assert_eq!(
            users,
            [
                "Admin@org1.example.com",
                "User1@org1.example.com",
                "User2@org1.example.com"
            ]
        );
    }

    #[test]
    fn rejects_duplicates_and_bad_domains() {
        let dup = OrgSpec {
            domain: "example.com".into(),
            specs: vec![
                NodeSpec {
                    hostname: "orderer".into(),
                    ..NodeSpec::default()
                },
                NodeSpec {
                    hostname: "orderer".into(),
                    ..NodeSpec::default()
                },
            ],
            ..OrgSpec::default()
        };
        let err = plan_org(&dup, OrgKind::Orderer).unwrap_err().to_string();
        assert!(
            err.contains("orderer.example.com is defined twice"),
            "{err}"
        );
        for domain in ["", "..", "a/b"] {
            let org = OrgSpec {
                domain: domain.into(),
                ..OrgSpec::default()
            };
            assert!(plan_org(&org, OrgKind::Peer).is_err(), "{domain:?}");
        }
    }
}
