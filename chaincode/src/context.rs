//! The invocation context: who called, on which channel, when, and with which arguments.

use std::collections::BTreeMap;

/// The invocation context. Time enters here; simulation never reads a clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TxContext {
    /// The channel the proposal targets.
    pub channel: String,
    /// The transaction id of the proposal.
    pub tx_id: String,
    /// The creator's `SerializedIdentity` bytes.
    pub creator: Vec<u8>,
    /// The creator's MSP id.
    pub mspid: String,
    /// Seconds of the proposal's channel-header timestamp.
    pub timestamp_seconds: i64,
    /// Nanoseconds of the proposal's channel-header timestamp.
    pub timestamp_nanos: i32,
    /// `args[0]` is the function name, the rest its arguments.
    pub args: Vec<Vec<u8>>,
    /// Transient data: passed to the chaincode, never recorded on the ledger.
    pub transient: BTreeMap<String, Vec<u8>>,
}

impl TxContext {
    /// A context on `channel` for `tx_id` with string `args` (function first); other fields empty.
    pub fn with_args(channel: &str, tx_id: &str, args: &[&str]) -> Self {
        Self {
            channel: channel.to_owned(),
            tx_id: tx_id.to_owned(),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            ..Self::default()
        }
    }
}
