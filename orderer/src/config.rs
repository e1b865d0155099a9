//! `orderer.yaml` with `ORDERER_*` environment overrides (Fabric's keys and defaults).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct OrdererNodeConfig {
    pub general: General,
    pub file_ledger: FileLedger,
    pub operations: Operations,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct General {
    pub listen_address: String,
    pub listen_port: u16,
    #[serde(rename = "TLS")]
    pub tls: Tls,
    pub bootstrap_method: String,
    pub bootstrap_file: String,
    /// Fabric 1.4's name for `BootstrapFile`.
    pub genesis_file: String,
    #[serde(rename = "LocalMSPDir")]
    pub local_msp_dir: String,
    #[serde(rename = "LocalMSPID")]
    pub local_msp_id: String,
}

impl Default for General {
    fn default() -> Self {
        Self {
            listen_address: "127.0.0.1".into(),
            listen_port: 7050,
            tls: Tls::default(),
            bootstrap_method: "file".into(),
            bootstrap_file: String::new(),
            genesis_file: String::new(),
            local_msp_dir: "msp".into(),
            local_msp_id: "SampleOrg".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tls {
    pub enabled: bool,
    pub private_key: String,
    pub certificate: String,
    #[serde(rename = "RootCAs")]
    pub root_cas: Vec<String>,
    pub client_auth_required: bool,
    #[serde(rename = "ClientRootCAs")]
    pub client_root_cas: Vec<String>,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            enabled: true,
            private_key: "tls/server.key".into(),
            certificate: "tls/server.crt".into(),
            root_cas: vec!["tls/ca.crt".into()],
            client_auth_required: true,
            client_root_cas: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FileLedger {
    pub location: String,
}

impl Default for FileLedger {
    fn default() -> Self {
        Self {
            location: "/var/hyperledger/production/orderer".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Operations {
    pub listen_address: String,
    #[serde(rename = "TLS")]
    pub tls: OperationsTls,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            listen_address: "127.0.0.1:8443".into(),
            tls: OperationsTls::default(),
        }
    }
}

/// `Operations.TLS`: HTTPS for the operations service; `/logspec` and `/metrics` then need a client
/// certificate from one of `ClientRootCAs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct OperationsTls {
    pub enabled: bool,
    pub certificate: String,
    pub private_key: String,
    pub client_auth_required: bool,
    #[serde(rename = "ClientRootCAs")]
    pub client_root_cas: Vec<String>,
}

/// The names of `Operations.TLS`'s settings, for error messages.
pub const OPERATIONS_TLS_KEYS: weft_ops::admin::TlsKeys = weft_ops::admin::TlsKeys {
    cert: "Operations.TLS.Certificate (ORDERER_OPERATIONS_TLS_CERTIFICATE)",
    key: "Operations.TLS.PrivateKey (ORDERER_OPERATIONS_TLS_PRIVATEKEY)",
    client_root_cas: "Operations.TLS.ClientRootCAs (ORDERER_OPERATIONS_TLS_CLIENTROOTCAS)",
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Metrics {
    pub provider: weft_ops::admin::MetricsProvider,
}

/// Why the configuration cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Load(#[from] weft_ops::config::ConfigError),
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// A checked configuration with paths made absolute.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: OrdererNodeConfig,
    pub base_dir: PathBuf,
}

impl Resolved {
    /// Resolves a path from the config against the config file's folder.
    pub fn path(&self, p: &str) -> PathBuf {
        self.base_dir.join(p)
    }

    /// The operations service's TLS settings when `Operations.TLS.Enabled`, paths resolved.
    pub fn operations_tls(&self) -> Option<weft_ops::admin::TlsSettings> {
        let t = &self.config.operations.tls;
        t.enabled.then(|| weft_ops::admin::TlsSettings {
            cert: self.path(&t.certificate),
            key: self.path(&t.private_key),
            client_root_cas: t.client_root_cas.iter().map(|f| self.path(f)).collect(),
            client_auth_required: t.client_auth_required,
        })
    }

    /// The genesis block file, from `BootstrapFile` or Fabric 1.4's `GenesisFile`.
    pub fn bootstrap_file(&self) -> Option<PathBuf> {
        let g = &self.config.general;
        let f = if g.bootstrap_file.is_empty() {
            &g.genesis_file
        } else {
            &g.bootstrap_file
        };
        (!f.is_empty()).then(|| self.path(f))
    }
}

/// Loads `orderer.yaml` from `cfg_dir` (`FABRIC_CFG_PATH`; when given, the file must exist) and applies
/// `ORDERER_*` overrides from `env`.
pub fn load(
    cfg_dir: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Resolved, ConfigError> {
    let file = cfg_dir.map(|d| d.join("orderer.yaml"));
    let loaded = weft_ops::config::load::<OrdererNodeConfig>(file.as_deref(), "ORDERER", env)?;
    let config = loaded.value;
    let g = &config.general;
    if !g.tls.enabled {
        return Err(ConfigError::Invalid {
            key: "General.TLS.Enabled",
            reason: "weft speaks QUIC, which always uses TLS; set it to true".into(),
        });
    }
    if g.bootstrap_method != "file" && g.bootstrap_method != "none" {
        return Err(ConfigError::Invalid {
            key: "General.BootstrapMethod",
            reason: format!(
                "{:?} is not supported (expected file or none)",
                g.bootstrap_method
            ),
        });
    }

    Ok(Resolved {
        config,
        base_dir: loaded.base_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_fabric_keys() {
        let r = load(
            None,
            env(&[
                ("ORDERER_GENERAL_LISTENPORT", "7099"),
                ("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP"),
                ("ORDERER_GENERAL_TLS_ROOTCAS", "[/a/ca.crt, /b/ca.crt]"),
                ("ORDERER_OPERATIONS_LISTENADDRESS", "127.0.0.1:9443"),
            ]),
        )
        .unwrap();
        assert_eq!(r.config.general.listen_port, 7099);
        assert_eq!(r.config.general.local_msp_id, "OrdererMSP");
        assert_eq!(
            r.config.general.tls.root_cas,
            vec!["/a/ca.crt", "/b/ca.crt"]
        );
        assert_eq!(r.config.operations.listen_address, "127.0.0.1:9443");
    }

    #[test]
    fn operations_tls_from_fabric_keys() {
        assert_eq!(load(None, env(&[])).unwrap().operations_tls(), None);
        let r = load(
            None,
            env(&[
                ("ORDERER_OPERATIONS_TLS_ENABLED", "true"),
                ("ORDERER_OPERATIONS_TLS_CERTIFICATE", "/ops/server.crt"),
                ("ORDERER_OPERATIONS_TLS_PRIVATEKEY", "/ops/server.key"),
                ("ORDERER_OPERATIONS_TLS_CLIENTAUTHREQUIRED", "true"),
                ("ORDERER_OPERATIONS_TLS_CLIENTROOTCAS", "[/ops/ca.crt]"),
            ]),
        )
        .unwrap();
        let t = r.operations_tls().expect("enabled");
        assert_eq!(t.cert, PathBuf::from("/ops/server.crt"));
        assert_eq!(t.key, PathBuf::from("/ops/server.key"));
        assert_eq!(t.client_root_cas, vec![PathBuf::from("/ops/ca.crt")]);
        assert!(t.client_auth_required);
    }

    #[test]
    fn contradictions_name_the_key() {
        let err = load(None, env(&[("ORDERER_GENERAL_TLS_ENABLED", "false")])).unwrap_err();
        assert!(err.to_string().starts_with("General.TLS.Enabled"), "{err}");
        let err = load(None, env(&[("ORDERER_GENERAL_LISTENPORT", "seventy")])).unwrap_err();
        assert!(err.to_string().contains("General.ListenPort"), "{err}");
        let err = load(None, env(&[("ORDERER_GENERAL_BOOTSTRAPMETHOD", "raft")])).unwrap_err();
        assert!(err.to_string().contains("General.BootstrapMethod"), "{err}");
    }

    #[test]
    fn file_values_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("orderer.yaml"),
            "General:\n  BootstrapFile: genesis.block\n  LocalMSPDir: crypto/msp\nFileLedger:\n  Location: data\n",
        )
        .unwrap();
        let r = load(Some(dir.path()), Vec::new()).unwrap();
        assert_eq!(
            r.bootstrap_file().unwrap(),
            std::path::absolute(dir.path())
                .unwrap()
                .join("genesis.block")
        );
        assert_eq!(r.config.general.listen_port, 7050, "defaults kept");
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(Some(dir.path()), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("orderer.yaml"), "{err}");
    }

    #[test]
    fn malformed_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("orderer.yaml"), "General: [unclosed\n").unwrap();
        let err = load(Some(dir.path()), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("orderer.yaml"), "{err}");
    }
}
