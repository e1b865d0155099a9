//! What a chaincode sees and can do: Fabric's `shim.ChaincodeStubInterface`, the parts weft supports,
//! and the [`Chaincode`] trait itself.

use std::collections::BTreeMap;

use crate::composite;
use crate::error::ChaincodeError;

/// What a chaincode can do during one invocation.
///
/// Reads see committed state only, never this invocation's own pending writes (Fabric semantics).
pub trait Stub {
    /// `args[0]` as UTF-8 (lossy); empty when there are no arguments.
    fn function(&self) -> String;
    /// `args[1..]` as UTF-8 (lossy).
    fn args(&self) -> Vec<String>;
    /// All arguments as bytes, function first.
    fn raw_args(&self) -> &[Vec<u8>];
    /// The transaction id.
    fn tx_id(&self) -> &str;
    /// The channel id.
    fn channel(&self) -> &str;
    /// The creator's `SerializedIdentity` bytes.
    fn creator(&self) -> &[u8];
    /// The creator's MSP id.
    fn creator_mspid(&self) -> &str;
    /// The proposal timestamp as (seconds, nanos).
    fn timestamp(&self) -> (i64, i32);
    /// The proposal's transient data.
    fn transient(&self) -> &BTreeMap<String, Vec<u8>>;

    /// The committed value of `key`, recording the read.
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError>;
    /// Writes `key`; an empty key is rejected, and an empty value deletes (as in Fabric).
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), ChaincodeError>;
    /// Deletes `key`; an empty key is rejected.
    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError>;
    /// Committed simple keys in `[start, end)` (empty `end`: unbounded), excluding composite keys.
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, ChaincodeError>;

    /// `"\u{0}" + object_type + "\u{0}" + (attr + "\u{0}")*`; parts may not hold `\u{0}` or `\u{10FFFF}`.
    fn create_composite_key(
        &self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<String, ChaincodeError> {
        composite::create_composite_key(object_type, attributes)
    }

    /// The object type and attributes of a key built by [`Stub::create_composite_key`].
    fn split_composite_key(&self, key: &str) -> Result<(String, Vec<String>), ChaincodeError> {
        composite::split_composite_key(key)
    }

    /// Committed composite keys starting with the given object type and leading attributes.
    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, ChaincodeError>;
}

/// A chaincode: one entry point, dispatching on [`Stub::function`].
pub trait Chaincode: Send + Sync {
    /// Runs one invocation; `Ok` is the response payload.
    fn invoke(&self, stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError>;
}
