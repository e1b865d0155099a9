//! `peer node start` and `peer node status`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use weft_crypto::LocalMsp;
use weft_ledger::Ledgers;
use weft_net::{Endpoint, NodeTls, TransportConfig, TrustStore};
use weft_ops::admin::{AdminState, DirWritable};

use super::context::load_config;
use crate::gossip::auth::{Msps, PeerAuth};
use crate::node::PeerNode;
use weft_gossip::{PkiId, SelfInfo};

/// The peer's QUIC timers. QUIC gets no reset when the other process dies, so silence is the signal: a
/// connection that hears nothing for 800 ms is closed, and gossip marks that peer dead at once (and, for a
/// leader, its org elects another within the second). QUIC restarts that timer at the first packet we send
/// after the last one we heard, so the ping every 100 ms bounds the wait to 800-900 ms after the dead peer's
/// last packet, whatever else is being sent (with a ping every 200 ms and one StateInfo a second, failover
/// took 980 ms). Eight missed pings in a row are needed, so a briefly busy machine does not raise false
/// alarms; when one happens anyway, the peer's next alive message resurrects it.
pub fn transport() -> TransportConfig {
    TransportConfig {
        keep_alive: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(800),
        ..Default::default()
    }
}

/// `peer node status`: exit 0 when `/healthz` answers 200.
pub fn status() -> Result<bool> {
    let config = load_config()?;
    let addr = &config.config.operations.listen_address;
    let addr = addr.replace("0.0.0.0", "127.0.0.1");
    let tls = config
        .operations_tls()
        .map(|t| status_tls(&config, t))
        .transpose()?;
    let (code, body) = weft_ops::admin::http_get::get_with(
        &addr,
        "/healthz",
        Duration::from_secs(5),
        tls.as_ref(),
    )
    .with_context(|| format!("asking {addr}/healthz (operations.listenAddress)"))?;
    println!("{body}");
    Ok(code == 200)
}

/// With operations TLS on, `peer node status` trusts the client root CAs and the peer's TLS root (operations
/// certificates are usually issued by the org's TLS CA); `/healthz` needs no client certificate.
fn status_tls(
    config: &crate::config::Resolved,
    t: weft_ops::admin::TlsSettings,
) -> Result<weft_ops::admin::http_get::Tls> {
    let rootcert = config.path(&config.config.peer.tls.rootcert.file);
    let mut roots = Vec::new();
    for f in t.client_root_cas.iter().chain(std::iter::once(&rootcert)) {
        if let Ok(data) = std::fs::read(f) {
            roots.extend(
                weft_crypto::pem::blocks(&data, "CERTIFICATE")
                    .map_err(anyhow::Error::msg)?
                    .into_iter()
                    .map(rustls_pki_types::CertificateDer::from),
            );
        }
    }
    Ok(weft_ops::admin::http_get::Tls::new(roots, None)?)
}

/// `peer node start`: runs until SIGINT or SIGTERM.
pub async fn start(log: weft_ops::logging::LogHandle) -> Result<()> {
    let resolved = load_config()?;
    let p = &resolved.config.peer;
    let msp_dir = resolved.path(&p.msp_config_path);
    let local = LocalMsp::load(&msp_dir, &p.local_msp_id).with_context(|| {
        format!(
            "loading the local MSP (peer.mspConfigPath = {})",
            msp_dir.display()
        )
    })?;
    let tls = NodeTls::load(
        &resolved.path(&p.tls.cert.file),
        &resolved.path(&p.tls.key.file),
    )
    .context("loading peer.tls.cert.file / peer.tls.key.file")?;
    let mut roots = local.tls_ca_certs.clone();
    let rootcert = resolved.path(&p.tls.rootcert.file);
    if let Ok(data) = std::fs::read(&rootcert) {
        roots.extend(weft_crypto::pem::blocks(&data, "CERTIFICATE").map_err(anyhow::Error::msg)?);
    }
    let trust = TrustStore::new(roots);
    let listen: std::net::SocketAddr = tokio::net::lookup_host(&p.listen_address)
        .await
        .with_context(|| format!("peer.listenAddress {}", p.listen_address))?
        .next()
        .with_context(|| {
            format!(
                "peer.listenAddress {} resolves to nothing",
                p.listen_address
            )
        })?;
    let endpoint = Endpoint::bind(listen, &tls, &trust, transport())?;
    let ledger_dir = resolved.path(&p.file_system_path).join("ledgers");
    let ledgers = Ledgers::open(&ledger_dir)
        .with_context(|| format!("peer.fileSystemPath {}", ledger_dir.display()))?;

    let mut admin = AdminState::new(
        env!("CARGO_PKG_VERSION"),
        option_env!("WEFT_COMMIT").unwrap_or("unknown"),
    );
    admin.log = Some(log);
    admin.checks.push(Arc::new(DirWritable {
        component: "ledger".into(),
        dir: ledger_dir,
    }));
    admin.metrics = resolved.config.metrics.provider.install()?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let signer = Arc::new(local.signer);
    let msps = Msps::default();
    msps.insert(local.msp.clone());
    let auth = PeerAuth::new(signer.clone(), msps.clone());
    let g = &p.gossip;
    let me = SelfInfo {
        pki_id: PkiId(auth.pki_id.clone()),
        identity: signer.serialized().to_vec(),
        org: p.local_msp_id.clone(),
        internal_endpoint: if g.endpoint.is_empty() {
            p.address.clone()
        } else {
            g.endpoint.clone()
        },
        external_endpoint: g.external_endpoint.clone(),
        incarnation: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    let setup = crate::gossip::Setup {
        me,
        bootstrap: g.bootstrap.clone(),
        config: g.core_config(),
        comm_config: g.comm_config(),
        auth,
        endpoint: endpoint.clone(),
        own_tls_cert: tls.leaf().to_vec(),
        election: g.use_leader_election.then(|| g.election.core_config()),
        pull: g.pull_config(),
    };
    let (gossip, deliveries) = crate::gossip::start(setup, shutdown_rx.clone());
    let roles = crate::node::Roles {
        leader: g.org_leader,
        // Elected leaders always push: their followers have no other timely source of blocks.
        block_gossip: p.deliveryclient.block_gossip_enabled || g.use_leader_election,
        dynamic: g.use_leader_election,
        reconnect_total: p.deliveryclient.reconnect_total_time_threshold,
    };
    let node = PeerNode::start(
        p.id.clone(),
        signer,
        local.msp,
        gossip,
        msps,
        roles,
        endpoint.clone(),
        trust,
        ledgers,
        shutdown_rx.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    let ops_addr = &resolved.config.operations.listen_address;
    let listener = tokio::net::TcpListener::bind(ops_addr)
        .await
        .with_context(|| format!("operations.listenAddress {ops_addr}"))?;
    let ops_tls = resolved
        .operations_tls()
        .map(|t| t.server_config(crate::config::OPERATIONS_TLS_KEYS))
        .transpose()?;
    admin.checks.push(node.deliver_health.clone());
    let router = weft_ops::admin::router(admin).merge(crate::http::routes(node.clone()));
    let mut ops_shutdown = shutdown_rx.clone();
    let stopped = async move {
        let _ = ops_shutdown.changed().await;
    };
    let ops = tokio::spawn(async move {
        match ops_tls {
            Some(tls) => weft_ops::admin::serve_tls(listener, router, tls, stopped).await,
            None => weft_ops::admin::serve(listener, router, stopped).await,
        }
    });
    tracing::info!(target: "peer", peer = %p.id, listen = %endpoint.local_addr()?, operations = %ops_addr,
        msp = %p.local_msp_id,
        leader = roles.leader,
        block_gossip = roles.block_gossip, "Started peer");
    tokio::spawn(crate::intake::run(node.clone(), deliveries));
    let server = tokio::spawn(crate::admin_service::serve(node));
    weft_ops::signals::shutdown().await;
    tracing::info!(target: "peer", "stopping");
    let _ = shutdown_tx.send(true);
    endpoint.close();
    let _ = ops.await;
    server.abort();
    Ok(())
}
