//! What every client verb needs: the configuration, the signing identity, and a QUIC endpoint trusting
//! the right TLS roots.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use weft_crypto::{LocalMsp, Signer};
use weft_net::{Connection, Endpoint, NodeTls, TransportConfig, TrustStore};

use super::OrdererFlags;
use crate::config::Resolved;

pub struct ClientContext {
    pub config: Resolved,
    pub signer: Signer,
    pub endpoint: Endpoint,
    /// The roots the endpoint trusts; channel configs add theirs.
    pub trust: TrustStore,
    flags: OrdererFlags,
}

/// Loads `core.yaml` (from FABRIC_CFG_PATH when set) and `CORE_*` overrides.
pub fn load_config() -> Result<Resolved> {
    let cfg_dir = std::env::var_os("FABRIC_CFG_PATH").map(PathBuf::from);
    Ok(crate::config::load(cfg_dir.as_deref(), std::env::vars())?)
}

fn exists(p: &Path) -> Option<PathBuf> {
    p.exists().then(|| p.to_path_buf())
}

impl ClientContext {
    pub fn new(flags: &OrdererFlags) -> Result<Self> {
        let config = load_config()?;
        let p = &config.config.peer;
        let msp_dir = config.path(&p.msp_config_path);
        let local = LocalMsp::load(&msp_dir, &p.local_msp_id).with_context(|| {
            format!(
                "loading the client identity (CORE_PEER_MSPCONFIGPATH = {})",
                msp_dir.display()
            )
        })?;
        // The client TLS certificate: flags, then peer.tls.clientCert/clientKey, then the user's tls/ folder
        // next to its MSP (cryptogen's layout), then the peer's own TLS pair.
        let set = |s: &str| (!s.is_empty()).then(|| config.path(s));
        let user_tls = msp_dir.parent().map(|d| d.join("tls"));
        let cert = flags
            .certfile
            .clone()
            .or_else(|| set(&p.tls.client_cert.file))
            .or_else(|| {
                user_tls
                    .as_ref()
                    .and_then(|d| exists(&d.join("client.crt")))
            })
            .unwrap_or_else(|| config.path(&p.tls.cert.file));
        let key = flags
            .keyfile
            .clone()
            .or_else(|| set(&p.tls.client_key.file))
            .or_else(|| {
                user_tls
                    .as_ref()
                    .and_then(|d| exists(&d.join("client.key")))
            })
            .unwrap_or_else(|| config.path(&p.tls.key.file));
        let tls =
            NodeTls::load(&cert, &key).context("loading the client TLS certificate and key")?;
        let mut roots = local.tls_ca_certs.clone();
        for f in [
            Some(config.path(&p.tls.rootcert.file)),
            flags.cafile.clone(),
        ]
        .into_iter()
        .flatten()
        {
            if let Ok(data) = std::fs::read(&f) {
                roots.extend(
                    weft_crypto::pem::blocks(&data, "CERTIFICATE").map_err(anyhow::Error::msg)?,
                );
            } else if flags.cafile.as_deref() == Some(f.as_path()) {
                anyhow::bail!("cannot read --cafile {}", f.display());
            }
        }
        let trust = TrustStore::new(roots);
        let endpoint = Endpoint::client(&tls, &trust, TransportConfig::default())?;
        Ok(Self {
            config,
            signer: local.signer,
            endpoint,
            trust,
            flags: flags.clone(),
        })
    }

    /// Connects to the peer named by `peer.address` (CORE_PEER_ADDRESS).
    pub async fn peer(&self) -> Result<Connection> {
        let p = &self.config.config.peer;
        let name =
            (!p.tls.serverhostoverride.is_empty()).then_some(p.tls.serverhostoverride.as_str());
        self.endpoint
            .connect_host(&p.address, name)
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("connecting to peer {} (CORE_PEER_ADDRESS)", p.address))
    }

    /// Connects to a peer at `address` (from `--peerAddresses`).
    pub async fn peer_at(&self, address: &str) -> Result<Connection> {
        self.endpoint
            .connect_host(address, None)
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("connecting to peer {address}"))
    }

    /// Whether `-o` was given.
    pub fn has_orderer(&self) -> bool {
        self.flags.orderer.is_some()
    }

    /// Connects to the orderer given with `-o`.
    pub async fn orderer(&self) -> Result<Connection> {
        let addr = self
            .flags
            .orderer
            .as_deref()
            .context("this verb needs the ordering service endpoint: -o host:port")?;
        self.endpoint
            .connect_host(addr, self.flags.orderer_tls_hostname_override.as_deref())
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("connecting to orderer {addr}"))
    }
}
