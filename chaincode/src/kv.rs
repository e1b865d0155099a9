//! `kv`: a minimal key/value chaincode, handy for exercising endorsement, ordering and MVCC.
//!
//! Functions: `put(key, value)`, `get(key)` → value, `del(key)`, `range(start, end)` → JSON array of
//! `{"key", "value"}` (values as UTF-8, lossy).

use serde::Serialize;

use crate::args;
use crate::error::ChaincodeError;
use crate::stub::{Chaincode, Stub};

/// The name `kv` is registered under.
pub const NAME: &str = "kv";

/// The key/value chaincode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

/// One entry of a `range` answer.
#[derive(Debug, Serialize)]
struct Entry {
    key: String,
    value: String,
}

impl Chaincode for Kv {
    fn invoke(&self, stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function();
        let f = function.as_str();
        let a = stub.args();
        match f {
            "put" => {
                let [key, _] = args::expect(f, a, ["key", "value"])?;
                // The value is taken as raw bytes so binary values survive.
                let value = stub.raw_args()[2].clone();
                stub.put_state(&key, value)?;
                Ok(Vec::new())
            }
            "get" => {
                let [key] = args::expect(f, a, ["key"])?;
                stub.get_state(&key)?
                    .ok_or_else(|| ChaincodeError::msg(format!("get: key {key:?} not found")))
            }
            "del" => {
                let [key] = args::expect(f, a, ["key"])?;
                stub.del_state(&key)?;
                Ok(Vec::new())
            }
            "range" => {
                let [start, end] = args::expect(f, a, ["start", "end"])?;
                let entries: Vec<Entry> = stub
                    .get_state_by_range(&start, &end)?
                    .into_iter()
                    .map(|(key, value)| Entry {
                        key,
                        value: String::from_utf8_lossy(&value).into_owned(),
                    })
                    .collect();
                serde_json::to_vec(&entries)
                    .map_err(|e| ChaincodeError::msg(format!("range: failed to encode JSON: {e}")))
            }
            _ => Err(args::unknown_function(f, NAME)),
        }
    }
}
