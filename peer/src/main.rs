//! `peer`: the peer node and Fabric's peer CLI.

use anyhow::{Context, Result};
use clap::Parser;
use weft_peer::cli::{Cli, Command, NodeCmd};

fn main() {
    if let Err(e) = run() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_else(|_| "info".into());
    let json = std::env::var("FABRIC_LOGGING_FORMAT").is_ok_and(|f| f == "json");
    let rt = tokio::runtime::Runtime::new()?;
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
            let log = weft_ops::logging::init(&spec, json).context("FABRIC_LOGGING_SPEC")?;
            rt.block_on(weft_peer::cli::node::start(log))
        }
        Command::Node(NodeCmd::Status) => {
            if rt.block_on(async { weft_peer::cli::node::status() })? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Chaincode(args) => {
            // Like Fabric's CLI: the transaction id and its commit status on stderr.
            let spec = std::env::var("FABRIC_LOGGING_SPEC")
                .unwrap_or_else(|_| "chaincodeCmd=info:warning".into());
            weft_ops::logging::init(&spec, json).context("FABRIC_LOGGING_SPEC")?;
            rt.block_on(weft_peer::cli::chaincode::run(*args))
        }
        Command::Lifecycle(args) => {
            let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_else(|_| "warning".into());
            weft_ops::logging::init(&spec, json).context("FABRIC_LOGGING_SPEC")?;
            rt.block_on(weft_peer::cli::chaincode::run_lifecycle(*args))
        }
        Command::Channel(args) => {
            // Client verbs log warnings only, so their output stays what scripts parse.
            let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_else(|_| "warning".into());
            weft_ops::logging::init(&spec, json).context("FABRIC_LOGGING_SPEC")?;
            rt.block_on(weft_peer::cli::channel::run(*args))
        }
    }
}
