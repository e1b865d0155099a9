//! The schema of `configtx.yaml` (the parts weft uses; other keys Fabric defines are accepted and ignored).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::ConfigTxError;

/// A parsed configtx.yaml and the folder its relative paths resolve against.
#[derive(Debug, Clone)]
pub struct ConfigTx {
    pub profiles: BTreeMap<String, Profile>,
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Profile {
    pub consortium: Option<String>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyYaml>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, bool>,
    pub orderer: Option<OrdererYaml>,
    pub application: Option<ApplicationYaml>,
    pub consortiums: Option<BTreeMap<String, ConsortiumYaml>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyYaml {
    #[serde(rename = "Type")]
    pub kind: String,
    pub rule: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrgYaml {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MSPDir")]
    pub msp_dir: PathBuf,
    #[serde(rename = "Policies", default)]
    pub policies: BTreeMap<String, PolicyYaml>,
    #[serde(rename = "AnchorPeers", default)]
    pub anchor_peers: Option<Vec<AnchorPeerYaml>>,
    #[serde(rename = "OrdererEndpoints", default)]
    pub orderer_endpoints: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnchorPeerYaml {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchSizeYaml {
    pub max_message_count: u32,
    #[serde(with = "weft_ops::config::size")]
    pub absolute_max_bytes: u32,
    #[serde(with = "weft_ops::config::size")]
    pub preferred_max_bytes: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrdererYaml {
    #[serde(default = "solo")]
    pub orderer_type: String,
    #[serde(default)]
    pub addresses: Option<Vec<String>>,
    #[serde(with = "weft_ops::config::duration")]
    pub batch_timeout: std::time::Duration,
    pub batch_size: BatchSizeYaml,
    #[serde(default)]
    pub organizations: Option<Vec<OrgYaml>>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyYaml>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, bool>,
}

fn solo() -> String {
    "solo".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplicationYaml {
    #[serde(default)]
    pub organizations: Option<Vec<OrgYaml>>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyYaml>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsortiumYaml {
    #[serde(default)]
    pub organizations: Option<Vec<OrgYaml>>,
}

/// Reads `configtx.yaml` from `path` (a file, or a folder holding one, like `-configPath`).
pub fn load(path: &Path) -> Result<ConfigTx, ConfigTxError> {
    let file = if path.is_dir() {
        path.join("configtx.yaml")
    } else {
        path.to_path_buf()
    };
    let read_err = |reason: String| ConfigTxError::Read {
        path: file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&file).map_err(|e| read_err(e.to_string()))?;
    parse(&text, &file)
}

/// Parses configtx.yaml text; `file` names it in errors and anchors relative MSPDir paths.
pub fn parse(text: &str, file: &Path) -> Result<ConfigTx, ConfigTxError> {
    let parse_err = |key: String, reason: String| ConfigTxError::Parse {
        path: file.to_path_buf(),
        key,
        reason,
    };
    let mut value: Value =
        serde_yaml_ng::from_str(text).map_err(|e| parse_err("(file)".into(), e.to_string()))?;
    value
        .apply_merge()
        .map_err(|e| parse_err("(merge keys)".into(), e.to_string()))?;
    let profiles = value
        .get("Profiles")
        .cloned()
        .ok_or_else(|| parse_err("Profiles".into(), "missing".into()))?;
    let profiles: BTreeMap<String, Profile> = serde_path_to_error::deserialize(profiles)
        .map_err(|e| parse_err(format!("Profiles.{}", e.path()), e.inner().to_string()))?;
    let base_dir = std::path::absolute(file.parent().unwrap_or(Path::new("."))).unwrap_or_default();
    Ok(ConfigTx { profiles, base_dir })
}
