//! `core.yaml` with `CORE_*` environment overrides: Fabric's key names and defaults.

use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CoreConfig {
    pub peer: Peer,
    pub operations: Operations,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Peer {
    pub id: String,
    pub network_id: String,
    pub listen_address: String,
    /// The endpoint other peers of the org (and, in the CLI, the client) use to reach this peer.
    pub address: String,
    pub file_system_path: String,
    pub msp_config_path: String,
    pub local_msp_id: String,
    pub tls: PeerTls,
    pub gossip: Gossip,
    pub deliveryclient: DeliveryClient,
}

impl Default for Peer {
    fn default() -> Self {
        Self {
            id: "jdoe".into(),
            network_id: "dev".into(),
            listen_address: "0.0.0.0:7051".into(),
            address: "0.0.0.0:7051".into(),
            file_system_path: "/var/hyperledger/production".into(),
            msp_config_path: "msp".into(),
            local_msp_id: "SampleOrg".into(),
            tls: PeerTls::default(),
            gossip: Gossip::default(),
            deliveryclient: DeliveryClient::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct File {
    pub file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerTls {
    pub enabled: bool,
    pub client_auth_required: bool,
    pub cert: File,
    pub key: File,
    pub rootcert: File,
    pub client_cert: File,
    pub client_key: File,
    pub serverhostoverride: String,
}

impl Default for PeerTls {
    fn default() -> Self {
        Self {
            enabled: true,
            client_auth_required: true,
            cert: File {
                file: "tls/server.crt".into(),
            },
            key: File {
                file: "tls/server.key".into(),
            },
            rootcert: File {
                file: "tls/ca.crt".into(),
            },
            client_cert: File::default(),
            client_key: File::default(),
            serverhostoverride: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Gossip {
    /// Same-org peers contacted at start (space-separated in `CORE_PEER_GOSSIP_BOOTSTRAP`).
    pub bootstrap: Vec<String>,
    pub use_leader_election: bool,
    pub org_leader: bool,
    /// The endpoint same-org peers use (empty: `peer.address`).
    pub endpoint: String,
    /// The endpoint other orgs see; empty means this peer is invisible to them.
    pub external_endpoint: String,
    pub propagate_peer_num: usize,
    pub pull_peer_num: usize,
    #[serde(with = "weft_ops::config::duration")]
    pub pull_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub request_state_info_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub publish_state_info_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub publish_cert_period: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub membership_tracker_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub dial_timeout: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub conn_timeout: Duration,
    pub recv_buff_size: usize,
    pub send_buff_size: usize,
    #[serde(with = "weft_ops::config::duration")]
    pub alive_time_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub alive_expiration_timeout: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub reconnect_interval: Duration,
    pub max_connection_attempts: u32,
    pub msg_expiration_factor: u32,
    pub propagate_iterations: u32,
    pub max_propagation_burst_size: usize,
    #[serde(with = "weft_ops::config::duration")]
    pub max_propagation_burst_latency: Duration,
    pub max_block_count_to_store: usize,
    #[serde(with = "weft_ops::config::duration")]
    pub digest_wait_time: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub request_wait_time: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub response_wait_time: Duration,
    pub state: GossipState,
    pub election: Election,
}

impl Default for DeliveryClient {
    fn default() -> Self {
        Self {
            block_gossip_enabled: false,
            reconnect_total_time_threshold: Duration::from_secs(3600),
        }
    }
}

/// `peer.gossip.election.*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Election {
    #[serde(with = "weft_ops::config::duration")]
    pub startup_grace_period: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub membership_sample_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub leader_alive_threshold: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub leader_election_duration: Duration,
}

impl Default for Election {
    fn default() -> Self {
        let e = weft_gossip::election::ElectionConfig::default();
        Self {
            startup_grace_period: e.startup_grace_period,
            membership_sample_interval: e.membership_sample_interval,
            leader_alive_threshold: e.leader_alive_threshold,
            leader_election_duration: e.leader_election_duration,
        }
    }
}

impl Election {
    pub fn core_config(&self) -> weft_gossip::election::ElectionConfig {
        weft_gossip::election::ElectionConfig {
            startup_grace_period: self.startup_grace_period,
            membership_sample_interval: self.membership_sample_interval,
            leader_alive_threshold: self.leader_alive_threshold,
            leader_election_duration: self.leader_election_duration,
        }
    }
}

/// `peer.gossip.state.*`: state transfer. Serving requests is always on; weft also requests at once when behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GossipState {
    /// Fetch missing blocks from other peers. Unset: on when the peer depends on gossip for blocks (elected or
    /// follower), off for a static leader (Fabric's default, `false`, assumes every peer is a static leader).
    pub enabled: Option<bool>,
    #[serde(with = "weft_ops::config::duration")]
    pub check_interval: Duration,
    #[serde(with = "weft_ops::config::duration")]
    pub response_timeout: Duration,
    pub batch_size: u64,
    pub block_buffer_size: u64,
    pub max_retries: u32,
}

impl Default for GossipState {
    fn default() -> Self {
        let core = weft_gossip::GossipConfig::default();
        Self {
            enabled: None,
            check_interval: Duration::from_secs(10),
            response_timeout: core.state_response_timeout,
            batch_size: core.state_batch_size,
            block_buffer_size: 20,
            max_retries: core.state_max_retries,
        }
    }
}

/// `peer.deliveryclient.*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeliveryClient {
    /// Leaders push the blocks they receive from the orderer to their org (Fabric's sample core.yaml: false).
    pub block_gossip_enabled: bool,
    /// A dynamic leader that cannot reach the orderer for this long yields its leadership.
    #[serde(with = "weft_ops::config::duration")]
    pub reconnect_total_time_threshold: Duration,
}

impl Default for Gossip {
    fn default() -> Self {
        let core = weft_gossip::GossipConfig::default();
        let pull = weft_gossip::pull::PullConfig::default();
        let comm = weft_net::CommConfig::default();
        // Fabric 2.2+: every peer is a static leader unless told otherwise.
        Self {
            bootstrap: Vec::new(),
            use_leader_election: false,
            org_leader: true,
            endpoint: String::new(),
            external_endpoint: String::new(),
            propagate_peer_num: core.propagate_peer_num,
            pull_peer_num: core.pull_peer_num,
            pull_interval: core.pull_interval,
            request_state_info_interval: core.request_state_info_interval,
            publish_state_info_interval: core.publish_state_info_interval,
            publish_cert_period: core.publish_cert_period,
            membership_tracker_interval: core.membership_tracker_interval,
            dial_timeout: comm.dial_timeout,
            conn_timeout: comm.conn_timeout,
            recv_buff_size: comm.recv_buff_size,
            send_buff_size: comm.send_buff_size,
            alive_time_interval: core.alive_time_interval,
            alive_expiration_timeout: core.alive_expiration_timeout,
            reconnect_interval: core.reconnect_interval,
            max_connection_attempts: core.max_connection_attempts,
            msg_expiration_factor: core.msg_expiration_factor,
            propagate_iterations: core.propagate_iterations,
            max_propagation_burst_size: core.max_propagation_burst_size,
            max_propagation_burst_latency: core.max_propagation_burst_latency,
            max_block_count_to_store: core.max_block_count_to_store,
            digest_wait_time: pull.digest_wait_time,
            request_wait_time: pull.request_wait_time,
            response_wait_time: pull.response_wait_time,
            state: GossipState::default(),
            election: Election::default(),
        }
    }
}

impl Gossip {
    /// The cores' settings.
    pub fn core_config(&self) -> weft_gossip::GossipConfig {
        weft_gossip::GossipConfig {
            alive_time_interval: self.alive_time_interval,
            alive_expiration_timeout: self.alive_expiration_timeout,
            reconnect_interval: self.reconnect_interval,
            msg_expiration_factor: self.msg_expiration_factor,
            pull_interval: self.pull_interval,
            pull_peer_num: self.pull_peer_num,
            propagate_peer_num: self.propagate_peer_num,
            publish_cert_period: self.publish_cert_period,
            request_state_info_interval: self.request_state_info_interval,
            publish_state_info_interval: self.publish_state_info_interval,
            membership_tracker_interval: self.membership_tracker_interval,
            max_connection_attempts: self.max_connection_attempts,
            propagate_iterations: self.propagate_iterations,
            max_propagation_burst_size: self.max_propagation_burst_size,
            max_propagation_burst_latency: self.max_propagation_burst_latency,
            max_block_count_to_store: self.max_block_count_to_store,
            state_batch_size: self.state.batch_size,
            state_response_timeout: self.state.response_timeout,
            state_max_retries: self.state.max_retries,
            state_transfer: self
                .state
                .enabled
                .unwrap_or(self.use_leader_election || !self.org_leader),
            ..weft_gossip::GossipConfig::default()
        }
    }

    /// The pull engine's wait times.
    pub fn pull_config(&self) -> weft_gossip::pull::PullConfig {
        weft_gossip::pull::PullConfig {
            digest_wait_time: self.digest_wait_time,
            request_wait_time: self.request_wait_time,
            response_wait_time: self.response_wait_time,
        }
    }

    /// The transport's settings.
    pub fn comm_config(&self) -> weft_net::CommConfig {
        weft_net::CommConfig {
            dial_timeout: self.dial_timeout,
            conn_timeout: self.conn_timeout,
            send_buff_size: self.send_buff_size,
            recv_buff_size: self.recv_buff_size,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Operations {
    pub listen_address: String,
    pub tls: OperationsTls,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            listen_address: "127.0.0.1:9443".into(),
            tls: OperationsTls::default(),
        }
    }
}

/// `operations.tls`: HTTPS for the operations service; `/logspec` and `/metrics` then need a client
/// certificate from one of `clientRootCAs.files`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OperationsTls {
    pub enabled: bool,
    pub cert: File,
    pub key: File,
    pub client_auth_required: bool,
    #[serde(rename = "clientRootCAs")]
    pub client_root_cas: Files,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Files {
    pub files: Vec<String>,
}

/// The names of `operations.tls`'s settings, for error messages.
pub const OPERATIONS_TLS_KEYS: weft_ops::admin::TlsKeys = weft_ops::admin::TlsKeys {
    cert: "operations.tls.cert.file (CORE_OPERATIONS_TLS_CERT_FILE)",
    key: "operations.tls.key.file (CORE_OPERATIONS_TLS_KEY_FILE)",
    client_root_cas: "operations.tls.clientRootCAs.files (CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES)",
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metrics {
    pub provider: weft_ops::admin::MetricsProvider,
}

/// Why the configuration cannot be used; the message names the key (and its environment variable).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Load(#[from] weft_ops::config::ConfigError),
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// A checked configuration and the folder relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: CoreConfig,
    pub base_dir: PathBuf,
}

impl Resolved {
    pub fn path(&self, p: &str) -> PathBuf {
        self.base_dir.join(p)
    }

    /// The operations service's TLS settings when `operations.tls.enabled`, paths resolved.
    pub fn operations_tls(&self) -> Option<weft_ops::admin::TlsSettings> {
        let t = &self.config.operations.tls;
        t.enabled.then(|| weft_ops::admin::TlsSettings {
            cert: self.path(&t.cert.file),
            key: self.path(&t.key.file),
            client_root_cas: t
                .client_root_cas
                .files
                .iter()
                .map(|f| self.path(f))
                .collect(),
            client_auth_required: t.client_auth_required,
        })
    }
}

/// Loads `core.yaml` from `cfg_dir` (`FABRIC_CFG_PATH`; when given, the file must exist) and applies `CORE_*`
/// overrides from `env`. Without a folder, Fabric's defaults and the environment make the configuration.
pub fn load(
    cfg_dir: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Resolved, ConfigError> {
    let file = cfg_dir.map(|d| d.join("core.yaml"));
    let loaded = weft_ops::config::load::<CoreConfig>(file.as_deref(), "CORE", env)?;
    let config = loaded.value;
    let g = &config.peer.gossip;
    if g.use_leader_election && g.org_leader {
        return Err(ConfigError::Invalid {
            key: "peer.gossip.useLeaderElection and peer.gossip.orgLeader".into(),
            reason:
                "both are true (CORE_PEER_GOSSIP_USELEADERELECTION, CORE_PEER_GOSSIP_ORGLEADER): \
                     a peer is either elected or a static leader; set one of them to false"
                    .into(),
        });
    }
    let zero = [
        ("peer.gossip.aliveTimeInterval", g.alive_time_interval),
        (
            "peer.gossip.aliveExpirationTimeout",
            g.alive_expiration_timeout,
        ),
        ("peer.gossip.pullInterval", g.pull_interval),
        ("peer.gossip.reconnectInterval", g.reconnect_interval),
    ];
    if let Some((key, _)) = zero.iter().find(|(_, d)| d.is_zero()) {
        return Err(ConfigError::Invalid {
            key: key.to_string(),
            reason: "must be greater than 0s".into(),
        });
    }
    if g.pull_interval <= g.digest_wait_time + g.response_wait_time {
        return Err(ConfigError::Invalid {
            key: "peer.gossip.pullInterval (CORE_PEER_GOSSIP_PULLINTERVAL)".into(),
            reason: format!(
                "{:?} must be greater than digestWaitTime ({:?}) plus responseWaitTime ({:?})",
                g.pull_interval, g.digest_wait_time, g.response_wait_time
            ),
        });
    }
    if !config.peer.tls.enabled {
        return Err(ConfigError::Invalid {
            key: "peer.tls.enabled (CORE_PEER_TLS_ENABLED)".into(),
            reason: "weft speaks QUIC, which always uses TLS; set it to true".into(),
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
    fn fabric_env_names_set_nested_keys() {
        let r = load(
            None,
            env(&[
                ("CORE_PEER_ID", "peer0.org1.example.com"),
                ("CORE_PEER_ADDRESS", "peer0.org1.example.com:7051"),
                ("CORE_PEER_LOCALMSPID", "Org1MSP"),
                ("CORE_PEER_TLS_CERT_FILE", "/etc/tls/server.crt"),
                ("CORE_PEER_TLS_ROOTCERT_FILE", "/etc/tls/ca.crt"),
                (
                    "CORE_PEER_GOSSIP_BOOTSTRAP",
                    "peer1.org1.example.com:8051 peer2.org1.example.com:9051",
                ),
                (
                    "CORE_PEER_GOSSIP_EXTERNALENDPOINT",
                    "peer0.org1.example.com:7051",
                ),
                ("CORE_PEER_FILESYSTEMPATH", "/tmp/p"),
                ("CORE_OPERATIONS_LISTENADDRESS", "0.0.0.0:9444"),
            ]),
        )
        .unwrap();
        let p = &r.config.peer;
        assert_eq!(p.id, "peer0.org1.example.com");
        assert_eq!(p.local_msp_id, "Org1MSP");
        assert_eq!(p.tls.cert.file, "/etc/tls/server.crt");
        assert_eq!(p.tls.rootcert.file, "/etc/tls/ca.crt");
        assert_eq!(
            p.gossip.bootstrap,
            vec!["peer1.org1.example.com:8051", "peer2.org1.example.com:9051"]
        );
        assert_eq!(p.gossip.external_endpoint, "peer0.org1.example.com:7051");
        assert_eq!(p.file_system_path, "/tmp/p");
        assert_eq!(r.config.operations.listen_address, "0.0.0.0:9444");
    }

    #[test]
    fn push_burst_keys_have_fabrics_defaults_and_env_names() {
        let d = load(None, env(&[]))
            .unwrap()
            .config
            .peer
            .gossip
            .core_config();
        assert_eq!(d.max_propagation_burst_size, 10);
        assert_eq!(d.max_propagation_burst_latency, Duration::from_millis(10));
        let r = load(
            None,
            env(&[
                ("CORE_PEER_GOSSIP_MAXPROPAGATIONBURSTSIZE", "4"),
                ("CORE_PEER_GOSSIP_MAXPROPAGATIONBURSTLATENCY", "25ms"),
            ]),
        )
        .unwrap();
        let c = r.config.peer.gossip.core_config();
        assert_eq!(c.max_propagation_burst_size, 4);
        assert_eq!(c.max_propagation_burst_latency, Duration::from_millis(25));
    }

    #[test]
    fn operations_tls_from_fabric_keys() {
        let off = load(None, env(&[])).unwrap();
        assert_eq!(off.operations_tls(), None, "off by default, as in Fabric");
        let r = load(
            None,
            env(&[
                ("CORE_OPERATIONS_TLS_ENABLED", "true"),
                ("CORE_OPERATIONS_TLS_CERT_FILE", "/etc/ops/server.crt"),
                ("CORE_OPERATIONS_TLS_KEY_FILE", "/etc/ops/server.key"),
                ("CORE_OPERATIONS_TLS_CLIENTAUTHREQUIRED", "false"),
                (
                    "CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES",
                    "[/etc/ops/ca1.crt, /etc/ops/ca2.crt]",
                ),
            ]),
        )
        .unwrap();
        let t = r.operations_tls().expect("enabled");
        assert_eq!(t.cert, PathBuf::from("/etc/ops/server.crt"));
        assert_eq!(t.key, PathBuf::from("/etc/ops/server.key"));
        assert_eq!(
            t.client_root_cas,
            vec![
                PathBuf::from("/etc/ops/ca1.crt"),
                PathBuf::from("/etc/ops/ca2.crt")
            ]
        );
        assert!(!t.client_auth_required);
    }

    #[test]
    fn both_leader_keys_true_is_refused_naming_both() {
        let err = load(None, env(&[("CORE_PEER_GOSSIP_USELEADERELECTION", "true")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("useLeaderElection") && err.contains("orgLeader"),
            "{err}"
        );
        assert!(
            err.contains("CORE_PEER_GOSSIP_USELEADERELECTION")
                && err.contains("CORE_PEER_GOSSIP_ORGLEADER")
        );
        load(
            None,
            env(&[
                ("CORE_PEER_GOSSIP_USELEADERELECTION", "true"),
                ("CORE_PEER_GOSSIP_ORGLEADER", "false"),
            ]),
        )
        .unwrap();
    }

    #[test]
    fn a_pull_interval_not_above_the_waits_is_refused() {
        let err = load(None, env(&[("CORE_PEER_GOSSIP_PULLINTERVAL", "2s")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("peer.gossip.pullInterval") && err.contains("digestWaitTime"),
            "{err}"
        );
        load(None, env(&[("CORE_PEER_GOSSIP_PULLINTERVAL", "3100ms")])).unwrap();
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load(None, env(&[("CORE_PEER_GOSSIP_ORGLEADER", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("peer.gossip.orgLeader"), "{err}");
        let err = load(None, env(&[("CORE_METRICS_PROVIDER", "statsd")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("metrics.provider") && err.contains("prometheus"),
            "{err}"
        );
        let r = load(None, env(&[("CORE_METRICS_PROVIDER", "disabled")])).unwrap();
        assert_eq!(
            r.config.metrics.provider,
            weft_ops::admin::MetricsProvider::Disabled
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("core.yaml"),
            "peer:\n  tls:\n    enabled: false\n",
        )
        .unwrap();
        let err = load(Some(dir.path()), Vec::new()).unwrap_err().to_string();
        assert!(err.contains("peer.tls.enabled"), "{err}");
    }

    #[test]
    fn missing_core_yaml_names_the_path_and_no_folder_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(Some(&dir.path().join("nope")), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope/core.yaml"), "{err}");
        let r = load(None, Vec::new()).unwrap();
        assert_eq!(r.config.peer.listen_address, "0.0.0.0:7051");
    }
}
