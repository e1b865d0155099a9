//! `peer`: the peer node and Fabric's peer CLI.

use anyhow::{Context, Result};
use clap::Parser;
use weft_peer::cli::{Cli, Command, NodeCmd};

fn main() {
    weft_ops::malloc::keep_freed_memory();
    if let Err(e) = run() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let spec = std::env::var("FABRIC_LOGGING_SPEC").ok();
    let json = std::env::var("FABRIC_LOGGING_FORMAT").is_ok_and(|f| f == "json");
    let rt = tokio::runtime::Runtime::new()?;
    // Span export (when OTEL_EXPORTER_OTLP_ENDPOINT is set) runs on this runtime.
    let _rt = rt.enter();
    // Client verbs log warnings only by default, so their output stays what scripts parse; invoke and query
    // print the transaction id and its commit status on stderr, like Fabric's CLI.
    let logging = |default: &str, service: &str| {
        weft_ops::logging::init(spec.as_deref().unwrap_or(default), json, service)
            .context("setting up logging (FABRIC_LOGGING_SPEC) and tracing (OTEL_*)")
    };
    // The CLI's spans (an invoke is the root of its transaction's trace) are flushed before it exits.
    let client = |log: weft_ops::logging::LogHandle, result: Result<()>| {
        log.shutdown();
        result
    };
    match cli.command {
        Command::Version => {
            println!(
                "peer:\n Version: {}\n OS/Arch: {}/{}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            Ok(())
        }
        Command::Node(NodeCmd::Start) => {
            // The node's id names its spans; a config error is reported by `start` itself.
            let id = weft_peer::cli::context::load_config()
                .map(|c| c.config.peer.id.clone())
                .unwrap_or_else(|_| "peer".into());
            let log = logging("info", &id)?;
            let result = rt.block_on(weft_peer::cli::node::start(log.clone()));
            client(log, result)
        }
        Command::Node(NodeCmd::Status) => {
            if rt.block_on(async { weft_peer::cli::node::status() })? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Chaincode(args) => {
            let log = logging("chaincodeCmd=info:warning", "peer-cli")?;
            client(log, rt.block_on(weft_peer::cli::chaincode::run(*args)))
        }
        Command::Lifecycle(args) => {
            let log = logging("warning", "peer-cli")?;
            client(
                log,
                rt.block_on(weft_peer::cli::chaincode::run_lifecycle(*args)),
            )
        }
        Command::Channel(args) => {
            let log = logging("warning", "peer-cli")?;
            client(log, rt.block_on(weft_peer::cli::channel::run(*args)))
        }
    }
}
