//! Transaction simulation: run a chaincode against committed state and record its read/write set.
//!
//! The recorded set is what the validator later checks with MVCC: every key read with the version
//! seen (none when absent), every range query with the keys it returned (to detect phantoms), and
//! the final write per key. Simulation never changes state.

use std::collections::BTreeMap;

use weft_wire::peer::{KvRead, KvWrite, NsReadWriteSet, RangeQueryInfo, Response, TxReadWriteSet};

use crate::composite;
use crate::context::TxContext;
use crate::error::ChaincodeError;
use crate::state::StateReader;
use crate::stub::{Chaincode, Stub};

/// Status of a successful invocation.
pub const STATUS_OK: i32 = 200;
/// Status of an invocation whose chaincode returned an error.
pub const STATUS_ERROR: i32 = 500;

/// Fabric substitutes this for an empty range start, so simple range queries skip composite keys
/// (which start with `\u{0}`). It is also what the range query records, so that re-running the
/// recorded range at validation sees the same keys.
const EMPTY_START_SUBSTITUTE: &str = "\u{1}";

/// The outcome of [`simulate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// 200 and the payload, or 500 and the chaincode's error message.
    pub response: Response,
    /// One [`NsReadWriteSet`] for the namespace; reads and writes sorted by key. After an error it
    /// holds the reads made but no writes.
    pub rwset: TxReadWriteSet,
}

impl Simulation {
    /// Whether the chaincode succeeded.
    pub fn is_ok(&self) -> bool {
        self.response.status == STATUS_OK
    }
}

/// Runs `cc` in `namespace` against `state` and records what it read and wrote.
pub fn simulate(
    cc: &dyn Chaincode,
    namespace: &str,
    state: &dyn StateReader,
    ctx: &TxContext,
) -> Simulation {
    let mut stub = SimStub {
        namespace,
        state,
        ctx,
        reads: BTreeMap::new(),
        writes: BTreeMap::new(),
        range_queries: Vec::new(),
    };
    let response = match cc.invoke(&mut stub) {
        Ok(payload) => Response {
            status: STATUS_OK,
            message: String::new(),
            payload,
        },
        Err(err) => {
            // A failed invocation must never be committable with partial effects.
            stub.writes.clear();
            Response {
                status: STATUS_ERROR,
                message: err.to_string(),
                payload: Vec::new(),
            }
        }
    };
    Simulation {
        response,
        rwset: TxReadWriteSet {
            ns_rwset: vec![NsReadWriteSet {
                namespace: namespace.to_owned(),
                reads: stub.reads.into_values().collect(),
                range_queries_info: stub.range_queries,
                writes: stub.writes.into_values().collect(),
            }],
        },
    }
}

/// The [`Stub`] that records reads, writes and range queries for one simulation.
struct SimStub<'a> {
    namespace: &'a str,
    state: &'a dyn StateReader,
    ctx: &'a TxContext,
    /// First read per key wins (state does not change during simulation anyway).
    reads: BTreeMap<String, KvRead>,
    /// Last write per key wins.
    writes: BTreeMap<String, KvWrite>,
    /// In the order the chaincode made them.
    range_queries: Vec<RangeQueryInfo>,
}

impl SimStub<'_> {
    fn write(&mut self, key: &str, value: Vec<u8>) -> Result<(), ChaincodeError> {
        if key.is_empty() {
            return Err(ChaincodeError::msg("key must not be an empty string"));
        }
        let write = KvWrite {
            key: key.to_owned(),
            is_delete: value.is_empty(),
            value,
        };
        self.writes.insert(key.to_owned(), write);
        Ok(())
    }

    /// Reads `[start, end)` and records the query with every key returned.
    fn recorded_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, ChaincodeError> {
        let rows = self.state.range(self.namespace, start, end)?;
        let mut reads = Vec::with_capacity(rows.len());
        let mut out = Vec::with_capacity(rows.len());
        for (key, value, version) in rows {
            reads.push(KvRead {
                key: key.clone(),
                version: Some(version),
            });
            out.push((key, value));
        }
        self.range_queries.push(RangeQueryInfo {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            itr_exhausted: true,
            reads,
        });
        Ok(out)
    }
}

impl Stub for SimStub<'_> {
    fn function(&self) -> String {
        self.ctx
            .args
            .first()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default()
    }

    fn args(&self) -> Vec<String> {
        self.ctx
            .args
            .iter()
            .skip(1)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    fn raw_args(&self) -> &[Vec<u8>] {
        &self.ctx.args
    }

    fn tx_id(&self) -> &str {
        &self.ctx.tx_id
    }

    fn channel(&self) -> &str {
        &self.ctx.channel
    }

    fn creator(&self) -> &[u8] {
        &self.ctx.creator
    }

    fn creator_mspid(&self) -> &str {
        &self.ctx.mspid
    }

    fn timestamp(&self) -> (i64, i32) {
        (self.ctx.timestamp_seconds, self.ctx.timestamp_nanos)
    }

    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.ctx.transient
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        let found = self.state.get(self.namespace, key)?;
        self.reads.entry(key.to_owned()).or_insert_with(|| KvRead {
            key: key.to_owned(),
            version: found.as_ref().map(|(_, version)| *version),
        });
        Ok(found.map(|(value, _)| value))
    }

    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), ChaincodeError> {
        self.write(key, value)
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        self.write(key, Vec::new())
    }

    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, ChaincodeError> {
        for bound in [start, end] {
            if composite::is_composite(bound) {
                return Err(ChaincodeError::msg(format!(
                    "range key {bound:?} starts with a null character, which is reserved for composite keys"
                )));
            }
        }
        let start = if start.is_empty() {
            EMPTY_START_SUBSTITUTE
        } else {
            start
        };
        self.recorded_range(start, end)
    }

    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, ChaincodeError> {
        let (start, end) = composite::partial_key_range(object_type, attributes)?;
        self.recorded_range(&start, &end)
    }
}
