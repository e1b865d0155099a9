//! `_lifecycle`: chaincode definitions, agreed on the channel by ordering a transaction like any other.
//!
//! A definition lives in the `_lifecycle` namespace under `chaincode/<name>` as a prost-encoded
//! [`ChaincodeDefinition`]. Each commit must carry the next sequence number, so two concurrent
//! upgrades cannot both commit: the later one fails simulation or MVCC validation on the read of
//! the definition key. Who may commit is the validator's concern (an endorsement policy on this
//! namespace), not this chaincode's.
//!
//! Functions: `CommitChaincodeDefinition(name, version, sequence[, policy])`,
//! `QueryChaincodeDefinition(name)` → `{"name","version","sequence","endorsement_policy"}`, and
//! `QueryChaincodeDefinitions()` → a JSON array of those, by name.

use serde::Serialize;
use weft_wire::peer::ChaincodeDefinition;

use crate::args;
use crate::error::ChaincodeError;
use crate::state::{StateError, StateReader};
use crate::stub::{Chaincode, Stub};

/// The namespace (and chaincode name) of the lifecycle system chaincode.
pub const LIFECYCLE: &str = "_lifecycle";

/// The endorsement policy of a definition committed without one: Fabric's default, the channel's
/// application `Endorsement` policy (a majority of the orgs' Endorsement policies).
pub const DEFAULT_ENDORSEMENT_POLICY: &str = "/Channel/Application/Endorsement";

/// Prefix of every definition key.
const KEY_PREFIX: &str = "chaincode/";
/// The exclusive upper bound of all definition keys (`'0'` follows `'/'`).
const KEY_END: &str = "chaincode0";

/// The state key holding the definition of chaincode `name`.
pub fn definition_key(name: &str) -> String {
    format!("{KEY_PREFIX}{name}")
}

/// The committed definition of chaincode `name`, for the validator and the endorser.
pub fn definition(
    state: &dyn StateReader,
    name: &str,
) -> Result<Option<ChaincodeDefinition>, StateError> {
    state
        .get(LIFECYCLE, &definition_key(name))?
        .map(|(bytes, _)| decode(name, &bytes).map_err(StateError::Storage))
        .transpose()
}

/// Checks a chaincode name: non-empty `[A-Za-z0-9_-]+`, not starting with `_` (reserved for
/// system chaincodes).
pub fn validate_name(name: &str) -> Result<(), ChaincodeError> {
    let charset_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !charset_ok || name.starts_with('_') {
        return Err(ChaincodeError::msg(format!(
            "invalid chaincode name {name:?}: must match [A-Za-z0-9_-]+ and not start with '_'"
        )));
    }
    Ok(())
}

/// The lifecycle system chaincode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lifecycle;

/// The JSON form of a definition.
#[derive(Debug, Serialize)]
struct DefinitionJson<'a> {
    name: &'a str,
    version: &'a str,
    sequence: u64,
    endorsement_policy: &'a str,
}

impl Chaincode for Lifecycle {
    fn invoke(&self, stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function();
        let f = function.as_str();
        let mut a = stub.args();
        match f {
            "CommitChaincodeDefinition" => {
                if !(3..=4).contains(&a.len()) {
                    return Err(ChaincodeError::msg(format!(
                        "{f}: expected 3 or 4 arguments (name, version, sequence[, policy]), got {}",
                        a.len()
                    )));
                }
                // The policy is optional; absent and empty mean the default.
                if a.len() == 3 {
                    a.push(String::new());
                }
                let [name, version, sequence, policy] =
                    args::expect(f, a, ["name", "version", "sequence", "policy"])?;
                commit(stub, name, version, &sequence, policy)
            }
            "QueryChaincodeDefinition" => {
                let [name] = args::expect(f, a, ["name"])?;
                let bytes = stub.get_state(&definition_key(&name))?.ok_or_else(|| {
                    ChaincodeError::msg(format!("chaincode definition for {name} not found"))
                })?;
                let def = decode(&name, &bytes).map_err(ChaincodeError::Message)?;
                to_json(&view(&def))
            }
            "QueryChaincodeDefinitions" => {
                args::expect(f, a, [])?;
                let defs = stub
                    .get_state_by_range(KEY_PREFIX, KEY_END)?
                    .into_iter()
                    .map(|(key, bytes)| decode(&key[KEY_PREFIX.len()..], &bytes))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(ChaincodeError::Message)?;
                to_json(&defs.iter().map(view).collect::<Vec<_>>())
            }
            _ => Err(args::unknown_function(f, LIFECYCLE)),
        }
    }
}

fn commit(
    stub: &mut dyn Stub,
    name: String,
    version: String,
    sequence: &str,
    policy: String,
) -> Result<Vec<u8>, ChaincodeError> {
    const F: &str = "CommitChaincodeDefinition";
    validate_name(&name)?;
    validate_version(&version)?;
    let sequence: u64 = sequence.parse().map_err(|_| {
        ChaincodeError::msg(format!(
            "{F}: argument sequence must be a non-negative integer, got {sequence:?}"
        ))
    })?;
    let key = definition_key(&name);
    let committed = match stub.get_state(&key)? {
        Some(bytes) => {
            decode(&name, &bytes)
                .map_err(ChaincodeError::Message)?
                .sequence
        }
        None => 0,
    };
    let expected = committed
        .checked_add(1)
        .ok_or_else(|| ChaincodeError::msg(format!("{F}: sequence of {name} is exhausted")))?;
    if sequence != expected {
        return Err(ChaincodeError::msg(format!(
            "requested sequence is {sequence}, but new definition for {name} must be sequence {expected}"
        )));
    }
    let def = ChaincodeDefinition {
        name,
        version,
        sequence,
        endorsement_policy: if policy.is_empty() {
            DEFAULT_ENDORSEMENT_POLICY.to_owned()
        } else {
            policy
        },
    };
    stub.put_state(&key, prost::Message::encode_to_vec(&def))?;
    to_json(&view(&def))
}

/// Fabric's version rule: non-empty `[A-Za-z0-9_.+-]+`.
fn validate_version(version: &str) -> Result<(), ChaincodeError> {
    let ok = !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
    if !ok {
        return Err(ChaincodeError::msg(format!(
            "invalid chaincode version {version:?}: must match [A-Za-z0-9_.+-]+"
        )));
    }
    Ok(())
}

fn decode(name: &str, bytes: &[u8]) -> Result<ChaincodeDefinition, String> {
    weft_wire::decode::<ChaincodeDefinition>("chaincode definition", bytes)
        .map_err(|e| format!("definition of {name}: {e}"))
}

fn view(def: &ChaincodeDefinition) -> DefinitionJson<'_> {
    DefinitionJson {
        name: &def.name,
        version: &def.version,
        sequence: def.sequence,
        endorsement_policy: &def.endorsement_policy,
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ChaincodeError> {
    serde_json::to_vec(value)
        .map_err(|e| ChaincodeError::msg(format!("failed to encode JSON: {e}")))
}
