//! The `peer` command line, with Fabric's verbs and flags.

pub mod chaincode;
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
    /// Invoke or query a chaincode.
    Chaincode(Box<ChaincodeArgs>),
    /// Chaincode lifecycle: commit | querycommitted a chaincode definition.
    Lifecycle(Box<LifecycleArgs>),
    /// Print version information.
    Version,
}

/// Flags naming the peers to endorse on (Fabric's names; repeat them per peer).
#[derive(Args, Debug, Clone, Default)]
pub struct PeerFlags {
    /// Peers to send the proposal to (default: CORE_PEER_ADDRESS).
    #[arg(long = "peerAddresses")]
    pub peer_addresses: Vec<String>,
    /// TLS root certificates of those peers (added to the trusted roots).
    #[arg(long = "tlsRootCertFiles")]
    pub tls_root_cert_files: Vec<PathBuf>,
    /// Wait until the transaction is committed and report its validation code.
    #[arg(long = "waitForEvent")]
    pub wait_for_event: bool,
    /// How long to wait for the commit event.
    #[arg(long = "waitForEventTimeout", default_value = "30s", value_parser = parse_duration)]
    pub wait_for_event_timeout: std::time::Duration,
}

#[derive(Args, Debug)]
pub struct ChaincodeArgs {
    #[command(flatten)]
    pub orderer: OrdererFlags,
    #[command(subcommand)]
    pub verb: ChaincodeCmd,
}

#[derive(Subcommand, Debug)]
pub enum ChaincodeCmd {
    /// Endorse, order and commit a chaincode call.
    Invoke {
        #[arg(short = 'C', long = "channelID")]
        channel: String,
        #[arg(short = 'n', long = "name")]
        name: String,
        /// The call as JSON: '{"Args":["Function","arg1",...]}' or '{"function":"F","Args":[...]}'.
        #[arg(short = 'c', long = "ctor")]
        ctor: String,
        #[command(flatten)]
        peers: PeerFlags,
    },
    /// Run a chaincode call on one peer and print its result; nothing is ordered.
    Query {
        #[arg(short = 'C', long = "channelID")]
        channel: String,
        #[arg(short = 'n', long = "name")]
        name: String,
        #[arg(short = 'c', long = "ctor")]
        ctor: String,
        #[command(flatten)]
        peers: PeerFlags,
    },
}

#[derive(Args, Debug)]
pub struct LifecycleArgs {
    #[command(flatten)]
    pub orderer: OrdererFlags,
    #[command(subcommand)]
    pub verb: LifecycleCmd,
}

#[derive(Subcommand, Debug)]
pub enum LifecycleCmd {
    /// Chaincode definitions.
    #[command(subcommand)]
    Chaincode(LifecycleChaincodeCmd),
}

#[derive(Subcommand, Debug)]
pub enum LifecycleChaincodeCmd {
    /// Commit a chaincode definition on a channel (endorsed per the channel's LifecycleEndorsement policy).
    Commit {
        #[arg(short = 'C', long = "channelID")]
        channel: String,
        #[arg(short = 'n', long = "name")]
        name: String,
        #[arg(short = 'v', long = "version")]
        version: String,
        #[arg(long = "sequence")]
        sequence: u64,
        /// The endorsement policy, e.g. "AND('Org1MSP.peer','Org2MSP.peer')".
        #[arg(long = "signature-policy")]
        signature_policy: Option<String>,
        /// A channel policy as endorsement policy, e.g. /Channel/Application/Endorsement (the default).
        #[arg(long = "channel-config-policy")]
        channel_config_policy: Option<String>,
        #[command(flatten)]
        peers: PeerFlags,
    },
    /// Show the committed definition of a chaincode.
    Querycommitted {
        #[arg(short = 'C', long = "channelID")]
        channel: String,
        #[arg(short = 'n', long = "name")]
        name: String,
        #[command(flatten)]
        peers: PeerFlags,
    },
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
