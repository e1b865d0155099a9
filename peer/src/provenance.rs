//! How each block reached this peer: by the orderer, push, pull or state transfer; from which peer; when it
//! was received and when it was committed, and the trace context it continues. Bounded: the oldest records are
//! dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use weft_gossip::PkiId;
use weft_gossip::blocks::{Source, TraceContext};

/// Records kept per channel.
const KEEP: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Record {
    pub source: Source,
    /// The sending peer (none for the orderer).
    pub from: Option<PkiId>,
    pub received_at: SystemTime,
    pub committed_at: Option<SystemTime>,
    /// The context of this peer's `receive_block` span: its commit, and the copies it serves by state
    /// transfer, continue the block's trace from there.
    pub trace: TraceContext,
}

/// Provenance records by channel and block number.
#[derive(Default)]
pub struct Provenance(Mutex<HashMap<String, BTreeMap<u64, Record>>>);

impl Provenance {
    /// The first arrival of block `seq` (later copies do not change the record).
    pub fn record(
        &self,
        channel: &str,
        seq: u64,
        source: Source,
        from: Option<&PkiId>,
        trace: TraceContext,
    ) {
        let mut all = self.0.lock().expect("provenance lock");
        let ch = all.entry(channel.to_string()).or_default();
        ch.entry(seq).or_insert_with(|| Record {
            source,
            from: from.cloned(),
            received_at: SystemTime::now(),
            committed_at: None,
            trace,
        });
        while ch.len() > KEEP {
            ch.pop_first();
        }
    }

    pub fn committed(&self, channel: &str, seq: u64) {
        let mut all = self.0.lock().expect("provenance lock");
        if let Some(r) = all.get_mut(channel).and_then(|c| c.get_mut(&seq)) {
            r.committed_at.get_or_insert_with(SystemTime::now);
        }
    }

    pub fn get(&self, channel: &str, seq: u64) -> Option<Record> {
        self.0
            .lock()
            .expect("provenance lock")
            .get(channel)?
            .get(&seq)
            .cloned()
    }
}
