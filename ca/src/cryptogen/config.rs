//! The `crypto-config.yaml` schema (Fabric's, key for key) and loading it from disk.
//!
//! Unknown keys are rejected rather than ignored so that a typo such as `EnableNodeOU`
//! fails loudly instead of silently producing an MSP without node OUs.

use std::path::Path;

use serde::Deserialize;

use super::error::CryptogenError;

/// A whole `crypto-config.yaml`: the orderer and peer organisations to generate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoConfig {
    /// Organisations whose nodes are orderers (`ordererOrganizations/`).
    #[serde(rename = "OrdererOrgs", default, deserialize_with = "null_as_empty")]
    pub orderer_orgs: Vec<OrgSpec>,
    /// Organisations whose nodes are peers (`peerOrganizations/`).
    #[serde(rename = "PeerOrgs", default, deserialize_with = "null_as_empty")]
    pub peer_orgs: Vec<OrgSpec>,
}

/// One organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    /// Display name (`Org1`); informational only, as in Fabric.
    #[serde(rename = "Name")]
    pub name: String,
    /// DNS domain of the organisation (`org1.example.com`); names its directory and its CAs.
    #[serde(rename = "Domain")]
    pub domain: String,
    /// Whether identities carry node OUs (`client`, `peer`, `admin`, `orderer`) and the MSPs
    /// get a `config.yaml` instead of `admincerts/`. Default `false`.
    #[serde(rename = "EnableNodeOUs", default)]
    pub enable_node_ous: bool,
    /// Overrides for the CA subject; default `C=US, ST=California, L=San Francisco`.
    #[serde(rename = "CA", default)]
    pub ca: Option<CaSpec>,
    /// Explicitly named nodes; generated before the templated ones.
    #[serde(rename = "Specs", default, deserialize_with = "null_as_empty")]
    pub specs: Vec<NodeSpec>,
    /// `Count` nodes named from a template.
    #[serde(rename = "Template", default)]
    pub template: Option<NodeTemplate>,
    /// Number of ordinary users (`User1@...`) besides `Admin@...`.
    #[serde(rename = "Users", default)]
    pub users: Option<UsersSpec>,
}

/// Subject fields of an organisation's CAs (Fabric's `CA:` block). Empty values fall back to
/// cryptogen's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSpec {
    /// `C`; default `US`.
    #[serde(rename = "Country", default)]
    pub country: Option<String>,
    /// `ST`; default `California`.
    #[serde(rename = "Province", default)]
    pub province: Option<String>,
    /// `L`; default `San Francisco`.
    #[serde(rename = "Locality", default)]
    pub locality: Option<String>,
    /// `OU` of the CA certificates (also inherited by every issued certificate, as in Fabric).
    #[serde(rename = "OrganizationalUnit", default)]
    pub organizational_unit: Option<String>,
    /// `street` attribute.
    #[serde(rename = "StreetAddress", default)]
    pub street_address: Option<String>,
    /// `postalCode` attribute.
    #[serde(rename = "PostalCode", default)]
    pub postal_code: Option<String>,
    /// CN of the signing CA; default `{{.Hostname}}.{{.Domain}}`, i.e. `ca.<domain>`.
    #[serde(rename = "CommonName", default)]
    pub common_name: Option<String>,
    /// Host name of the signing CA; default `ca`.
    #[serde(rename = "Hostname", default)]
    pub hostname: Option<String>,
}

/// An explicitly named node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Host name (`peer0`, `orderer`); may use `{{.Domain}}`.
    #[serde(rename = "Hostname")]
    pub hostname: String,
    /// Certificate CN; default `{{.Hostname}}.{{.Domain}}`.
    #[serde(rename = "CommonName", default)]
    pub common_name: Option<String>,
    /// Extra TLS subject alternative names; IP literals become IP SANs.
    #[serde(rename = "SANS", default, deserialize_with = "null_as_empty")]
    pub sans: Vec<String>,
}

/// Fabric's `Template:` block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTemplate {
    /// Number of nodes.
    #[serde(rename = "Count", default)]
    pub count: usize,
    /// First index; default 0.
    #[serde(rename = "Start", default)]
    pub start: usize,
    /// Host name template; default `{{.Prefix}}{{.Index}}`.
    #[serde(rename = "Hostname", default = "default_hostname_template")]
    pub hostname: String,
    /// Extra TLS SANs for every templated node.
    #[serde(rename = "SANS", default, deserialize_with = "null_as_empty")]
    pub sans: Vec<String>,
}

impl Default for NodeTemplate {
    fn default() -> Self {
        Self {
            count: 0,
            start: 0,
            hostname: default_hostname_template(),
            sans: Vec::new(),
        }
    }
}

/// Fabric's `Users:` block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersSpec {
    /// Number of `UserN@<domain>` identities besides `Admin@<domain>`.
    #[serde(rename = "Count", default)]
    pub count: usize,
}

fn default_hostname_template() -> String {
    "{{.Prefix}}{{.Index}}".to_owned()
}

/// Accepts `Key:` with no value (YAML null) as an empty list, as Go's YAML decoder does.
fn null_as_empty<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

/// Reads and parses a `crypto-config.yaml`.
///
/// A missing or unreadable file yields [`CryptogenError::ReadConfig`] naming the path; bad
/// YAML, unknown keys and mistyped values yield [`CryptogenError::ParseConfig`] naming the key.
pub fn load_config(path: &Path) -> Result<CryptoConfig, CryptogenError> {
    let text = std::fs::read_to_string(path).map_err(|cause| CryptogenError::ReadConfig {
        path: path.to_path_buf(),
        cause,
    })?;
    parse(&text, path)
}

/// Parses `crypto-config.yaml` text (errors name the file as `<string>`).
pub fn parse_config(yaml: &str) -> Result<CryptoConfig, CryptogenError> {
    parse(yaml, Path::new("<string>"))
}

fn parse(yaml: &str, path: &Path) -> Result<CryptoConfig, CryptogenError> {
    let de = serde_yaml_ng::Deserializer::from_str(yaml);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let message = strip_path_prefix(&e.into_inner().to_string(), &key).to_owned();
        CryptogenError::ParseConfig {
            path: path.to_path_buf(),
            key,
            message,
        }
    })
}

/// serde_yaml_ng prefixes its messages with the (parent) key path; the key is reported
/// separately, so drop it rather than print it twice.
fn strip_path_prefix<'a>(message: &'a str, key: &str) -> &'a str {
    match message.split_once(": ") {
        Some((prefix, rest)) if !prefix.contains(' ') && key.starts_with(prefix) => rest,
        _ => message,
    }
}

/// The configuration printed by `cryptogen showtemplate`: Fabric's first-network layout with
/// one orderer org and two peer orgs of two peers and one user each.
pub const DEFAULT_TEMPLATE: &str = r#"# ---------------------------------------------------------------------------
# "OrdererOrgs" - Definition of organizations managing orderer nodes
# ---------------------------------------------------------------------------
OrdererOrgs:
  # ---------------------------------------------------------------------------
  # Orderer
  # ---------------------------------------------------------------------------
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    # ---------------------------------------------------------------------------
    # "Specs" - See PeerOrgs below for complete description
    # ---------------------------------------------------------------------------
    Specs:
      - Hostname: orderer
# ---------------------------------------------------------------------------
# "PeerOrgs" - Definition of organizations managing peer nodes
# ---------------------------------------------------------------------------
PeerOrgs:
  # ---------------------------------------------------------------------------
  # Org1
  # ---------------------------------------------------------------------------
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    # ---------------------------------------------------------------------------
    # "CA"
    # ---------------------------------------------------------------------------
    # Uncomment this section to enable the explicit definition of the CA for this
    # organization.  This entry is a Spec.  See "Specs" section below for details.
    # ---------------------------------------------------------------------------
    # CA:
    #    Hostname: ca # implicitly ca.org1.example.com
    #    Country: US
    #    Province: California
    #    Locality: San Francisco
    #    OrganizationalUnit: Hyperledger Fabric
    #    StreetAddress: address for org # default nil
    #    PostalCode: postalCode for org # default nil
    # ---------------------------------------------------------------------------
    # "Specs" - Explicit host names, e.g.
    #   Specs:
    #     - Hostname: foo # implicitly "foo.org1.example.com"
    #       CommonName: foo27.org5.example.com # overrides Hostname-based FQDN set above
    #       SANS:
    #         - "bar.{{.Domain}}"
    #         - "altfoo.{{.Domain}}"
    #         - "{{.Hostname}}.org6.net"
    #         - 172.16.10.31
    # ---------------------------------------------------------------------------
    # "Template" - Count host names of the form {{.Prefix}}{{.Index}}, where
    # Prefix is "peer" and Index runs from Start (default 0) to Count-1. Specs
    # and Template may be combined.
    # ---------------------------------------------------------------------------
    Template:
      Count: 2
      # Start: 5
      # Hostname: {{.Prefix}}{{.Index}} # default
      # SANS:
      #   - "{{.Hostname}}.alt.{{.Domain}}"
    # ---------------------------------------------------------------------------
    # "Users" - Count of user accounts _in addition_ to Admin
    # ---------------------------------------------------------------------------
    Users:
      Count: 1
  # ---------------------------------------------------------------------------
  # Org2: See "Org1" for full specification
  # ---------------------------------------------------------------------------
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 2
    Users:
      Count: 1
"#;
