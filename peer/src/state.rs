//! The committed world state of a channel ledger, as chaincode simulation and validation read it.

use weft_chaincode::{StateError, StateReader};
use weft_ledger::{BlockStore, SledStore, StateVersion};
use weft_wire::peer::Version;

/// A ledger's world state behind the chaincode crate's [`StateReader`].
pub struct LedgerState<'a>(pub &'a SledStore);

pub fn to_wire(v: StateVersion) -> Version {
    Version {
        block_num: v.block,
        tx_num: v.tx,
    }
}

impl StateReader for LedgerState<'_> {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<(Vec<u8>, Version)>, StateError> {
        let v = self
            .0
            .get_state(namespace, key)
            .map_err(|e| StateError::Storage(e.to_string()))?;
        Ok(v.map(|(value, version)| (value, to_wire(version))))
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>, Version)>, StateError> {
        let v = self
            .0
            .state_range(namespace, start, end)
            .map_err(|e| StateError::Storage(e.to_string()))?;
        Ok(v.into_iter()
            .map(|(k, (value, version))| (k, value, to_wire(version)))
            .collect())
    }
}
