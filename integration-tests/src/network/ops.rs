//! Watching nodes through their operations endpoints (plain or TLS): JSON views, metrics, heights.

use std::path::PathBuf;
use std::time::Duration;

use super::{CHANNEL, Network};
use crate::wait_for;

impl Network {
    /// Org1's TLS CA: the client root CA of every operations endpoint when `ops_tls` is on.
    pub fn org1_tls_ca(&self) -> PathBuf {
        self.path("crypto-config/peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem")
    }

    /// A peer's `CORE_OPERATIONS_TLS_*` settings (its TLS pair, Org1's TLS CA for clients); `dir` is the
    /// peer's crypto folder.
    pub fn ops_tls_env(&self, dir: &std::path::Path) -> Vec<(String, String)> {
        [
            ("CORE_OPERATIONS_TLS_ENABLED", "true".to_string()),
            (
                "CORE_OPERATIONS_TLS_CERT_FILE",
                dir.join("tls/server.crt").display().to_string(),
            ),
            (
                "CORE_OPERATIONS_TLS_KEY_FILE",
                dir.join("tls/server.key").display().to_string(),
            ),
            (
                "CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES",
                format!("[{}]", self.org1_tls_ca().display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A TLS client for the operations endpoints trusting every org's TLS CA, as Org1's admin or anonymous.
    pub fn ops_client(&self, as_admin: bool) -> weft_ops::admin::http_get::Tls {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let cas = [
            "ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem",
            "peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem",
            "peerOrganizations/org2.example.com/tlsca/tlsca.org2.example.com-cert.pem",
        ];
        let roots = cas
            .iter()
            .map(|c| {
                CertificateDer::from_pem_file(self.path(&format!("crypto-config/{c}"))).unwrap()
            })
            .collect();
        let admin = self.path(
            "crypto-config/peerOrganizations/org1.example.com/users/Admin@org1.example.com/tls",
        );
        let identity = as_admin.then(|| {
            (
                vec![CertificateDer::from_pem_file(admin.join("client.crt")).unwrap()],
                PrivateKeyDer::from_pem_file(admin.join("client.key")).unwrap(),
            )
        });
        weft_ops::admin::http_get::Tls::new(roots, identity).unwrap()
    }

    /// `GET path` on an operations endpoint; over TLS as Org1's admin when `ops_tls` is on.
    pub(super) fn ops_get(&self, addr: &str, path: &str) -> std::io::Result<(u16, String)> {
        let tls = self.options.ops_tls.then(|| self.ops_client(true));
        weft_ops::admin::http_get::get_with(addr, path, Duration::from_secs(5), tls.as_ref())
    }

    /// The names of the peers `name` sees alive (`GET /gossip/membership`), or its dead ones.
    pub fn gossip_view(
        &self,
        name: &str,
        dead: bool,
    ) -> Result<std::collections::BTreeSet<String>, String> {
        let v = self.ops_json(name, "/gossip/membership")?;
        let list = v[if dead { "dead" } else { "alive" }]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(list
            .iter()
            .filter_map(|m| self.name_of(m["endpoint"].as_str()?))
            .collect())
    }

    /// The names in `name`'s view of mychannel (`GET /channels/mychannel/members`), itself included.
    pub fn channel_view(&self, name: &str) -> Result<std::collections::BTreeSet<String>, String> {
        let v = self.ops_json(name, &format!("/channels/{CHANNEL}/members"))?;
        let list = v.as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .filter_map(|m| self.name_of(m["endpoint"].as_str()?))
            .collect())
    }

    fn name_of(&self, endpoint: &str) -> Option<String> {
        self.peers
            .iter()
            .find(|p| p.address() == endpoint)
            .map(|p| p.name.clone())
    }

    /// `GET path` on a node's operations endpoint, parsed as JSON.
    pub fn ops_json(&self, name: &str, path: &str) -> Result<serde_json::Value, String> {
        let (code, body) = self
            .ops_get(&self.node(name).ops_address(), path)
            .map_err(|e| e.to_string())?;
        if code != 200 {
            return Err(format!("{code}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
    }

    /// `GET /metrics` on a node.
    pub fn metrics(&self, name: &str) -> String {
        self.ops_get(&self.node(name).ops_address(), "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// A peer's (height, current block hash) on mychannel, from `GET /channels`.
    pub fn chain(&self, name: &str) -> Result<(u64, String), String> {
        let v = self.ops_json(name, "/channels")?;
        let ch = v["channels"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == CHANNEL))
            .ok_or_else(|| format!("{name} has not joined {CHANNEL}: {v}"))?;
        Ok((
            ch["height"].as_u64().unwrap_or(0),
            ch["current_block_hash"].as_str().unwrap_or("").to_string(),
        ))
    }

    /// Waits until every running peer is at `height` with the same current block hash; returns the hash.
    pub fn wait_all_at(&self, height: u64) -> String {
        let names: Vec<String> = self
            .peers
            .iter()
            .filter(|p| self.children.contains_key(&p.name))
            .map(|p| p.name.clone())
            .collect();
        wait_for(
            &format!("all peers at height {height} with one hash"),
            Duration::from_secs(60),
            || {
                let chains: Vec<(u64, String)> = names
                    .iter()
                    .map(|n| self.chain(n))
                    .collect::<Result<_, _>>()?;
                if chains.iter().all(|c| c.0 == height && c.1 == chains[0].1) {
                    Ok(chains[0].1.clone())
                } else {
                    Err(format!("{names:?} → {chains:?}"))
                }
            },
        )
    }
}
