//! `orderer`: the solo ordering service process.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use weft_crypto::LocalMsp;
use weft_ledger::Ledgers;
use weft_net::{Endpoint, NodeTls, TransportConfig, TrustStore};
use weft_ops::admin::{AdminState, DirWritable};
use weft_orderer::registry::Registry;

#[derive(Parser)]
#[command(
    name = "orderer",
    version,
    about = "weft solo ordering service (reads orderer.yaml from FABRIC_CFG_PATH)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Start the orderer (the default).
    Start,
    /// Print version information.
    Version,
}

fn main() -> Result<()> {
    weft_ops::malloc::keep_freed_memory();
    let cli = Cli::parse();
    if let Some(Command::Version) = cli.command {
        println!(
            "orderer:\n Version: {}\n Go version: n/a (Rust)\n OS/Arch: {}/{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        return Ok(());
    }
    let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_else(|_| "info".into());
    let json = std::env::var("FABRIC_LOGGING_FORMAT").is_ok_and(|f| f == "json");
    let rt = tokio::runtime::Runtime::new()?;
    // Span export (when OTEL_EXPORTER_OTLP_ENDPOINT is set) runs on this runtime.
    let _rt = rt.enter();
    let log = weft_ops::logging::init(&spec, json, "orderer")
        .context("setting up logging (FABRIC_LOGGING_SPEC) and tracing (OTEL_*)")?;
    let result = rt.block_on(run(log.clone()));
    log.shutdown();
    result
}

async fn run(log: weft_ops::logging::LogHandle) -> Result<()> {
    let cfg_dir = std::env::var_os("FABRIC_CFG_PATH").map(PathBuf::from);
    let resolved = weft_orderer::config::load(cfg_dir.as_deref(), std::env::vars())?;
    let g = &resolved.config.general;
    let msp_dir = resolved.path(&g.local_msp_dir);
    let local = LocalMsp::load(&msp_dir, &g.local_msp_id).with_context(|| {
        format!(
            "loading the local MSP (General.LocalMSPDir = {})",
            msp_dir.display()
        )
    })?;
    let tls = NodeTls::load(
        &resolved.path(&g.tls.certificate),
        &resolved.path(&g.tls.private_key),
    )
    .context("loading General.TLS.Certificate / PrivateKey")?;
    let mut roots = local.tls_ca_certs.clone();
    for f in g.tls.root_cas.iter().chain(&g.tls.client_root_cas) {
        let path = resolved.path(f);
        let data = std::fs::read(&path)
            .with_context(|| format!("General.TLS.RootCAs: {}", path.display()))?;
        roots.extend(weft_crypto::pem::blocks(&data, "CERTIFICATE").map_err(anyhow::Error::msg)?);
    }
    let trust = TrustStore::new(roots);

    let genesis = match resolved.bootstrap_file() {
        Some(path) if g.bootstrap_method == "file" => {
            let raw = std::fs::read(&path)
                .with_context(|| format!("General.BootstrapFile: {}", path.display()))?;
            Some(
                weft_wire::decode("genesis block", &raw)
                    .with_context(|| path.display().to_string())?,
            )
        }
        _ => None,
    };
    let ledger_dir = resolved.path(&resolved.config.file_ledger.location);
    let ledgers = Ledgers::open(&ledger_dir)
        .with_context(|| format!("FileLedger.Location {}", ledger_dir.display()))?;
    let (registry, mut failed) =
        Registry::open(ledgers, Arc::new(local.signer), trust.clone(), genesis)?;

    let addr = format!("{}:{}", g.listen_address, g.listen_port);
    let addr: std::net::SocketAddr = tokio::net::lookup_host(&addr)
        .await
        .with_context(|| format!("General.ListenAddress {addr}"))?
        .next()
        .with_context(|| format!("General.ListenAddress {addr} resolves to nothing"))?;
    let endpoint = Endpoint::bind(addr, &tls, &trust, TransportConfig::default())?;

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
    let ops_addr = &resolved.config.operations.listen_address;
    let listener = tokio::net::TcpListener::bind(ops_addr)
        .await
        .with_context(|| format!("Operations.ListenAddress {ops_addr}"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ops_tls = resolved
        .operations_tls()
        .map(|t| t.server_config(weft_orderer::config::OPERATIONS_TLS_KEYS))
        .transpose()?;
    let router = weft_ops::admin::router(admin).merge(weft_orderer::http::routes(registry.clone()));
    let stopped = async {
        let _ = stop_rx.await;
    };
    let ops = tokio::spawn(async move {
        match ops_tls {
            Some(tls) => weft_ops::admin::serve_tls(listener, router, tls, stopped).await,
            None => weft_ops::admin::serve(listener, router, stopped).await,
        }
    });
    tracing::info!(target: "orderer", listen = %endpoint.local_addr()?, operations = %ops_addr,
        channels = ?registry.channel_ids(), "Beginning to serve requests");
    let server = tokio::spawn(weft_orderer::server::serve(
        endpoint.clone(),
        registry.clone(),
    ));

    let outcome = tokio::select! {
        _ = weft_ops::signals::shutdown() => Ok(()),
        Some(e) = failed.recv() => Err(anyhow::Error::new(e).context("a channel stopped")),
    };
    tracing::info!(target: "orderer", "stopping");
    endpoint.close();
    let _ = stop_tx.send(());
    let _ = ops.await;
    server.abort();
    outcome
}
