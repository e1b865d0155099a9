//! The `peer` command line, with Fabric's verbs and flags.

pub mod channel;
pub mod context;
pub mod node;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "peer",
    version,
    about = "weft peer node and client (configured like Fabric's: core.yaml, CORE_* env)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Operate a peer node: start | status.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Operate a channel: create | join | update | fetch | getinfo | list.
    Channel(Box<ChannelArgs>),
    /// Print version information.
    Version,
}

#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// Start the peer node.
    Start,
    /// Ask the node's operations endpoint for its health (exit 0 when healthy).
    Status,
}

/// Flags shared by the channel verbs (Fabric's names).
#[derive(Args, Debug, Clone, Default)]
pub struct OrdererFlags {
    /// Ordering service endpoint (host:port).
    #[arg(short = 'o', long = "orderer", global = true)]
    pub orderer: Option<String>,
    /// Use TLS when communicating with the orderer (always on in weft).
    #[arg(long = "tls", global = true)]
    pub tls: bool,
    /// PEM file with the orderer's TLS CA certificate(s).
    #[arg(long = "cafile", global = true)]
    pub cafile: Option<PathBuf>,
    /// The host name to expect in the orderer's TLS certificate.
    #[arg(long = "ordererTLSHostnameOverride", global = true)]
    pub orderer_tls_hostname_override: Option<String>,
    /// Use mutual TLS (always on in weft).
    #[arg(long = "clientauth", global = true)]
    pub clientauth: bool,
    /// Client TLS certificate for mutual TLS.
    #[arg(long = "certfile", global = true)]
    pub certfile: Option<PathBuf>,
    /// Client TLS key for mutual TLS.
    #[arg(long = "keyfile", global = true)]
    pub keyfile: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ChannelArgs {
    #[command(flatten)]
    pub orderer: OrdererFlags,
    #[command(subcommand)]
    pub verb: ChannelCmd,
}

#[derive(Subcommand, Debug)]
pub enum ChannelCmd {
    /// Create a channel from a channel creation transaction and write its genesis block.
    Create {
        #[arg(short = 'c', long = "channelID")]
        channel: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Where to write the genesis block (default: ./<channel>.block).
        #[arg(long = "outputBlock")]
        output_block: Option<PathBuf>,
        /// How long to wait for the channel's genesis block.
        #[arg(short = 't', long = "timeout", default_value = "10s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// Join the peer (CORE_PEER_ADDRESS) to the channel of a genesis block.
    Join {
        #[arg(short = 'b', long = "blockpath")]
        blockpath: PathBuf,
    },
    /// Send a config update transaction (e.g. an anchor peer update).
    Update {
        #[arg(short = 'c', long = "channelID")]
        channel: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Fetch a block: newest, oldest, config, or a number.
    Fetch {
        which: String,
        output: Option<PathBuf>,
        #[arg(short = 'c', long = "channelID")]
        channel: String,
    },
    /// Print the peer's height and current/previous block hashes for a channel.
    Getinfo {
        #[arg(short = 'c', long = "channelID")]
        channel: String,
    },
    /// List the channels the peer has joined.
    List,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    weft_ops::config::duration::parse(s).map_err(|e| e.to_string())
}
