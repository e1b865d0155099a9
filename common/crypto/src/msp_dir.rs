//! Reading an MSP folder as cryptogen writes it: `cacerts`, `intermediatecerts`, `tlscacerts`,
//! `tlsintermediatecerts`, `admincerts` and `config.yaml` (NodeOUs).

use std::path::Path;

use weft_wire::common::OrgConfig;

use crate::signer::{SignerError, certs_in};

#[derive(serde::Deserialize)]
struct MspConfigYaml {
    #[serde(rename = "NodeOUs")]
    node_ous: Option<NodeOus>,
}

#[derive(serde::Deserialize)]
struct NodeOus {
    #[serde(rename = "Enable", default)]
    enable: bool,
}

/// Reads the MSP folder `dir` into the MSP part of an organisation's channel config (`msp_id` set, no
/// policies or anchors).
pub fn read_org_msp(dir: &Path, msp_id: &str) -> Result<OrgConfig, SignerError> {
    let root_certs = certs_in(&dir.join("cacerts"))?;
    if root_certs.is_empty() {
        return Err(SignerError::Invalid {
            path: dir.join("cacerts"),
            reason: "no CA certificate".into(),
        });
    }
    Ok(OrgConfig {
        msp_id: msp_id.to_string(),
        root_certs,
        intermediate_certs: certs_in(&dir.join("intermediatecerts"))?,
        tls_root_certs: certs_in(&dir.join("tlscacerts"))?,
        tls_intermediate_certs: certs_in(&dir.join("tlsintermediatecerts"))?,
        admin_certs: certs_in(&dir.join("admincerts"))?,
        node_ous_enabled: node_ous_enabled(dir)?,
        ..Default::default()
    })
}

/// Whether `config.yaml` in the MSP folder enables NodeOUs (absent file: no).
pub fn node_ous_enabled(dir: &Path) -> Result<bool, SignerError> {
    let path = dir.join("config.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let parsed: MspConfigYaml =
        serde_yaml_ng::from_str(&text).map_err(|e| SignerError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    Ok(parsed.node_ous.is_some_and(|n| n.enable))
}
