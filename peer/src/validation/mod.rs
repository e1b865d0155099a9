//! Validation of a block's transactions, as Fabric's committer does it.
//!
//! Stage one ([`check`]): structure and common header on one thread, then the creator signature, transaction
//! id and endorsement signatures on all cores. Stage two runs in block order: duplicate ids, the chaincode's
//! endorsement policy (from its `_lifecycle` definition), and MVCC — every read version must equal the
//! committed version, counting writes of earlier valid transactions of the same block, and every range query
//! must see the same keys ([`mvcc`]). Valid transactions' writes get version (block, tx index). Nothing here
//! writes to disk.

pub mod check;
pub mod mvcc;

use std::collections::HashMap;

use rayon::prelude::*;
use weft_chaincode::StateReader;
use weft_chaincode::lifecycle::{self, LIFECYCLE};
use weft_crypto::{ChannelBundle, OwnSignatures};
use weft_ledger::{StateVersion, StateWrite};
use weft_wire::common::TxValidationCode;
use weft_wire::peer::Version;

use check::{Checked, CheckedTx, Endorsed};
use mvcc::{Conflict, Overlay};

/// The policy that `_lifecycle` transactions (chaincode definitions) must satisfy.
pub const LIFECYCLE_POLICY: &str = "/Channel/Application/LifecycleEndorsement";

/// The verdict on one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    pub code: TxValidationCode,
    pub tx_id: Option<String>,
    /// The state writes to commit (valid transactions only).
    pub writes: Vec<StateWrite>,
    /// Why it is invalid, for the log.
    pub reason: Option<String>,
}

/// Validates the transactions of block `number` against `state`; `committed(tx_id)` tells whether an id is
/// already on the ledger; `own` holds the endorsements this peer signed.
pub fn validate_block(
    number: u64,
    txs: &[impl AsRef<[u8]>],
    bundle: &ChannelBundle,
    own: Option<&OwnSignatures>,
    state: &dyn StateReader,
    committed: &dyn Fn(&str) -> bool,
    now: i64,
) -> Vec<TxResult> {
    // The checks before any signature on this thread; the signature checks spread over the cores only when
    // there are several to make: waking the pool for a block of transactions that fail their header (or for
    // one transaction) cost more than the checks, while other processes wanted the cores.
    let headed: Vec<Result<check::Headed, CheckedTx>> = txs
        .iter()
        .map(|raw| check::header(raw.as_ref(), bundle))
        .collect();
    let signed = |h: Result<check::Headed, CheckedTx>| match h {
        Ok(h) => check::signed(h, bundle, own, now),
        Err(done) => done,
    };
    let checked: Vec<CheckedTx> = if headed.iter().filter(|h| h.is_ok()).count() > 1 {
        headed.into_par_iter().map(signed).collect()
    } else {
        headed.into_iter().map(signed).collect()
    };
    let mut overlay = Overlay::default();
    // Endorsement policies by chaincode, read once per block (until a definition changes in it).
    let mut policies: HashMap<String, String> = HashMap::new();
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(checked.len());
    for (index, CheckedTx { tx_id, checked }) in checked.into_iter().enumerate() {
        // As Fabric: only endorser transactions that passed stage one are checked for, and count as, a
        // duplicate id.
        let endorser = matches!(checked, Checked::Endorser(_));
        let duplicate = endorser
            && tx_id
                .as_ref()
                .is_some_and(|id| seen.contains(id) || committed(id));
        if let Some(id) = tx_id.as_ref().filter(|_| endorser) {
            seen.push(id.clone());
        }
        let result = match checked {
            _ if duplicate => Err((TxValidationCode::DuplicateTxid, None)),
            Checked::Invalid(code) => Err((code, None)),
            Checked::Config => Ok(Vec::new()),
            Checked::Endorser(e) => stateful(
                &e,
                bundle,
                state,
                &overlay,
                &mut policies,
                Version {
                    block_num: number,
                    tx_num: index as u64,
                },
            ),
        };
        out.push(match result {
            Ok(writes) => {
                if writes.iter().any(|w| w.namespace == LIFECYCLE) {
                    policies.clear();
                }
                for w in &writes {
                    let v = Version {
                        block_num: w.version.block,
                        tx_num: w.version.tx,
                    };
                    overlay.put(&w.namespace, &w.key, w.value.clone(), v);
                }
                TxResult {
                    code: TxValidationCode::Valid,
                    tx_id,
                    writes,
                    reason: None,
                }
            }
            Err((code, reason)) => TxResult {
                code,
                tx_id,
                writes: Vec::new(),
                reason,
            },
        });
    }
    out
}

type Verdict = Result<Vec<StateWrite>, (TxValidationCode, Option<String>)>;

fn stateful(
    e: &Endorsed,
    bundle: &ChannelBundle,
    state: &dyn StateReader,
    overlay: &Overlay,
    policies: &mut HashMap<String, String>,
    at: Version,
) -> Verdict {
    use TxValidationCode as Code;
    let policy = if let Some(p) = policies.get(&e.chaincode) {
        p.clone()
    } else if e.chaincode == LIFECYCLE {
        LIFECYCLE_POLICY.to_string()
    } else {
        let key = lifecycle::definition_key(&e.chaincode);
        let raw = overlay
            .value(state, LIFECYCLE, &key)
            .map_err(|r| (Code::InvalidOtherReason, Some(r)))?;
        let def = raw.and_then(|b| {
            <weft_wire::peer::ChaincodeDefinition as prost::Message>::decode(b.as_slice()).ok()
        });
        let Some(def) = def else {
            return Err((
                Code::InvalidChaincode,
                Some(format!("chaincode {} is not defined", e.chaincode)),
            ));
        };
        def.endorsement_policy
    };
    policies.insert(e.chaincode.clone(), policy.clone());
    if let Err(err) = bundle.evaluate_signers(&policy, &e.endorsers, &e.rejected) {
        return Err((Code::EndorsementPolicyFailure, Some(err.to_string())));
    }
    let mut writes = Vec::new();
    for ns in &e.rwset.ns_rwset {
        match mvcc::check(ns, state, overlay).map_err(|r| (Code::InvalidOtherReason, Some(r)))? {
            Ok(()) => {}
            Err(Conflict::Read(key)) => {
                return Err((Code::MvccReadConflict, Some(format!("key {key:?} changed"))));
            }
            Err(Conflict::Phantom(range)) => {
                return Err((
                    Code::PhantomReadConflict,
                    Some(format!("range {range} changed")),
                ));
            }
        }
        for w in &ns.writes {
            writes.push(StateWrite {
                namespace: ns.namespace.clone(),
                key: w.key.clone(),
                value: (!w.is_delete).then(|| w.value.clone()),
                version: StateVersion {
                    block: at.block_num,
                    tx: at.tx_num,
                },
            });
        }
    }
    Ok(writes)
}

#[cfg(test)]
mod tests;
