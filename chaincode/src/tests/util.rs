//! Test helpers: invoke a chaincode, commit its writes into a `MemoryState`, inspect rwsets.

use weft_wire::peer::{NsReadWriteSet, Version};

use crate::{Chaincode, MemoryState, Simulation, TxContext, simulate};

pub fn v(block_num: u64, tx_num: u64) -> Version {
    Version { block_num, tx_num }
}

pub fn run(cc: &dyn Chaincode, ns: &str, state: &MemoryState, args: &[&str]) -> Simulation {
    simulate(cc, ns, state, &TxContext::with_args("ch", "tx1", args))
}

pub fn ns(sim: &Simulation) -> &NsReadWriteSet {
    assert_eq!(sim.rwset.ns_rwset.len(), 1, "one namespace per simulation");
    &sim.rwset.ns_rwset[0]
}

/// Commits a successful simulation's writes at `version`, as the committer would.
pub fn commit(state: &mut MemoryState, sim: &Simulation, version: Version) {
    assert_eq!(
        sim.response.status, 200,
        "committing a failed simulation: {:?}",
        sim.response
    );
    let set = ns(sim);
    for w in &set.writes {
        if w.is_delete {
            state.delete(&set.namespace, &w.key);
        } else {
            state.put(&set.namespace, &w.key, w.value.clone(), version);
        }
    }
}

/// Runs and commits at block `block`, tx 0; panics with the message when the chaincode fails.
pub fn invoke(
    cc: &dyn Chaincode,
    ns_name: &str,
    state: &mut MemoryState,
    block: u64,
    args: &[&str],
) -> Vec<u8> {
    let sim = run(cc, ns_name, state, args);
    assert_eq!(
        sim.response.status, 200,
        "{args:?} failed: {}",
        sim.response.message
    );
    commit(state, &sim, v(block, 0));
    sim.response.payload
}

/// Runs and expects a 500 whose message contains `needle`; checks the failure wrote nothing.
pub fn expect_error(
    cc: &dyn Chaincode,
    ns_name: &str,
    state: &MemoryState,
    args: &[&str],
    needle: &str,
) {
    let sim = run(cc, ns_name, state, args);
    assert_eq!(
        sim.response.status, 500,
        "{args:?} should fail, got {:?}",
        sim.response
    );
    assert!(
        sim.response.message.contains(needle),
        "{args:?}: message {:?} lacks {needle:?}",
        sim.response.message
    );
    assert!(sim.response.payload.is_empty());
    assert!(
        ns(&sim).writes.is_empty(),
        "a failed call must write nothing"
    );
}
