//! Read/write-set recording, isolation from own writes, and error responses.

use weft_wire::peer::{KvRead, KvWrite};

use super::util::{ns, v};
use crate::{
    Chaincode, ChaincodeError, MemoryState, StateError, StateReader, Stub, TxContext, simulate,
};

/// A chaincode made of a closure.
struct FnCc<F>(F);

impl<F> Chaincode for FnCc<F>
where
    F: Fn(&mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> + Send + Sync,
{
    fn invoke(&self, stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> {
        (self.0)(stub)
    }
}

fn state() -> MemoryState {
    let mut s = MemoryState::new();
    s.put("cc", "a", b"A".to_vec(), v(1, 0));
    s.put("cc", "b", b"B".to_vec(), v(2, 3));
    s.put("cc", "c", b"C".to_vec(), v(3, 1));
    s.put("other", "a", b"OTHER".to_vec(), v(9, 9));
    s
}

fn read(key: &str, version: Option<(u64, u64)>) -> KvRead {
    KvRead {
        key: key.into(),
        version: version.map(|(b, t)| v(b, t)),
    }
}

#[test]
fn records_reads_with_versions_present_and_absent_each_once() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        assert_eq!(stub.get_state("b")?, Some(b"B".to_vec()));
        assert_eq!(stub.get_state("zz")?, None);
        stub.get_state("b")?;
        stub.get_state("a")?;
        Ok(b"ok".to_vec())
    });
    let state = state();
    let sim = simulate(&cc, "cc", &state, &TxContext::with_args("ch", "t", &["f"]));
    assert_eq!(sim.response.status, 200);
    assert_eq!(sim.response.payload, b"ok");
    let set = ns(&sim);
    assert_eq!(set.namespace, "cc");
    assert_eq!(
        set.reads,
        vec![
            read("a", Some((1, 0))),
            read("b", Some((2, 3))),
            read("zz", None)
        ]
    );
    assert!(set.writes.is_empty());
    assert!(set.range_queries_info.is_empty());
}

#[test]
fn records_last_write_per_key_and_deletes_sorted() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        stub.put_state("z", b"1".to_vec())?;
        stub.put_state("m", b"x".to_vec())?;
        stub.put_state("z", b"2".to_vec())?;
        stub.del_state("a")?;
        stub.put_state("d", b"tmp".to_vec())?;
        stub.del_state("d")?;
        stub.put_state("e", Vec::new())?; // empty value deletes, as in Fabric
        Ok(Vec::new())
    });
    let state = state();
    let before = state.clone();
    let sim = simulate(&cc, "cc", &state, &TxContext::default());
    assert_eq!(state, before, "simulation never mutates state");
    let w = |key: &str, del: bool, value: &[u8]| KvWrite {
        key: key.into(),
        is_delete: del,
        value: value.to_vec(),
    };
    assert_eq!(
        ns(&sim).writes,
        vec![
            w("a", true, b""),
            w("d", true, b""),
            w("e", true, b""),
            w("m", false, b"x"),
            w("z", false, b"2"),
        ]
    );
    assert!(ns(&sim).reads.is_empty(), "blind writes record no reads");
}

#[test]
fn reads_do_not_see_own_writes() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        stub.put_state("a", b"new".to_vec())?;
        stub.put_state("fresh", b"new".to_vec())?;
        stub.del_state("b")?;
        assert_eq!(stub.get_state("a")?, Some(b"A".to_vec()));
        assert_eq!(stub.get_state("fresh")?, None);
        assert_eq!(stub.get_state("b")?, Some(b"B".to_vec()));
        let keys: Vec<String> = stub
            .get_state_by_range("", "")?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["a", "b", "c"]);
        Ok(Vec::new())
    });
    let state = state();
    let sim = simulate(&cc, "cc", &state, &TxContext::default());
    assert_eq!(sim.response.status, 200, "{}", sim.response.message);
    assert_eq!(ns(&sim).reads[0], read("a", Some((1, 0))));
}

#[test]
fn records_range_queries_with_their_reads() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        let got = stub.get_state_by_range("b", "c")?;
        assert_eq!(got, vec![("b".to_string(), b"B".to_vec())]);
        let all = stub.get_state_by_range("", "")?;
        assert_eq!(all.len(), 3);
        assert!(stub.get_state_by_range("x", "")?.is_empty());
        assert!(
            stub.get_state_by_range("c", "a")?.is_empty(),
            "inverted range is empty"
        );
        Ok(Vec::new())
    });
    let state = state();
    let sim = simulate(&cc, "cc", &state, &TxContext::default());
    assert_eq!(sim.response.status, 200, "{}", sim.response.message);
    let set = ns(&sim);
    assert!(
        set.reads.is_empty(),
        "range results go to the range query info only"
    );
    let rq = &set.range_queries_info;
    assert_eq!(rq.len(), 4);
    assert_eq!(
        (rq[0].start_key.as_str(), rq[0].end_key.as_str()),
        ("b", "c")
    );
    assert!(rq.iter().all(|q| q.itr_exhausted));
    assert_eq!(rq[0].reads, vec![read("b", Some((2, 3)))]);
    // An empty start is recorded as Fabric's substitute, so re-running it skips composite keys too.
    assert_eq!(
        (rq[1].start_key.as_str(), rq[1].end_key.as_str()),
        ("\u{1}", "")
    );
    assert_eq!(
        rq[1].reads,
        vec![
            read("a", Some((1, 0))),
            read("b", Some((2, 3))),
            read("c", Some((3, 1)))
        ]
    );
    assert!(rq[2].reads.is_empty() && rq[3].reads.is_empty());
}

#[test]
fn error_gives_500_with_message_and_no_writes() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        stub.get_state("a")?;
        stub.put_state("a", b"x".to_vec())?;
        stub.get_state_by_range("a", "b")?;
        Err(ChaincodeError::msg("boom: bad input"))
    });
    let state = state();
    let sim = simulate(&cc, "cc", &state, &TxContext::default());
    assert_eq!(sim.response.status, 500);
    assert_eq!(sim.response.message, "boom: bad input");
    assert!(sim.response.payload.is_empty());
    assert!(!sim.is_ok());
    let set = ns(&sim);
    assert_eq!(set.namespace, "cc");
    assert!(set.writes.is_empty());
    assert_eq!(set.reads, vec![read("a", Some((1, 0)))]);
    assert_eq!(set.range_queries_info.len(), 1);
}

#[test]
fn empty_key_writes_are_rejected() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        let put = stub.put_state("", b"x".to_vec()).unwrap_err().to_string();
        let del = stub.del_state("").unwrap_err().to_string();
        assert!(
            put.contains("empty") && del.contains("empty"),
            "{put} / {del}"
        );
        Ok(Vec::new())
    });
    let sim = simulate(&cc, "cc", &state(), &TxContext::default());
    assert_eq!(sim.response.status, 200, "{}", sim.response.message);
    assert!(ns(&sim).writes.is_empty());
}

#[test]
fn exposes_context() {
    let mut ctx = TxContext::with_args("mychannel", "tx42", &["fn", "x", "y"]);
    ctx.args.push(vec![0xff, b'z']);
    ctx.creator = b"creator".to_vec();
    ctx.mspid = "Org1MSP".into();
    ctx.timestamp_seconds = 1_700_000_000;
    ctx.timestamp_nanos = 5;
    ctx.transient.insert("secret".into(), b"s".to_vec());
    let cc = FnCc(|stub: &mut dyn Stub| {
        assert_eq!(stub.function(), "fn");
        assert_eq!(stub.args(), ["x", "y", "\u{fffd}z"]);
        assert_eq!(stub.raw_args().len(), 4);
        assert_eq!(stub.raw_args()[3], [0xff, b'z']);
        assert_eq!(stub.tx_id(), "tx42");
        assert_eq!(stub.channel(), "mychannel");
        assert_eq!(stub.creator(), b"creator");
        assert_eq!(stub.creator_mspid(), "Org1MSP");
        assert_eq!(stub.timestamp(), (1_700_000_000, 5));
        assert_eq!(stub.transient()["secret"], b"s");
        Ok(Vec::new())
    });
    let sim = simulate(&cc, "cc", &state(), &ctx);
    assert_eq!(sim.response.status, 200, "{}", sim.response.message);

    let no_args = FnCc(|stub: &mut dyn Stub| {
        assert_eq!(stub.function(), "");
        assert!(stub.args().is_empty());
        Ok(Vec::new())
    });
    assert!(simulate(&no_args, "cc", &state(), &TxContext::default()).is_ok());
}

/// A state whose every read fails.
struct Broken;

impl StateReader for Broken {
    fn get(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<(Vec<u8>, weft_wire::peer::Version)>, StateError> {
        Err(StateError::Storage("disk on fire".into()))
    }
    fn range(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Vec<(String, Vec<u8>, weft_wire::peer::Version)>, StateError> {
        Err(StateError::Storage("disk on fire".into()))
    }
}

#[test]
fn state_errors_become_500() {
    let cc = FnCc(|stub: &mut dyn Stub| {
        stub.put_state("k", b"v".to_vec())?;
        stub.get_state("k")?;
        Ok(Vec::new())
    });
    let sim = simulate(&cc, "cc", &Broken, &TxContext::default());
    assert_eq!(sim.response.status, 500);
    assert_eq!(sim.response.message, "disk on fire");
    assert!(ns(&sim).writes.is_empty() && ns(&sim).reads.is_empty());
}

#[test]
fn memory_state_ranges_stay_in_namespace() {
    let s = state();
    let keys = |ns: &str, a: &str, b: &str| -> Vec<String> {
        s.range(ns, a, b)
            .unwrap()
            .into_iter()
            .map(|(k, _, _)| k)
            .collect()
    };
    assert_eq!(keys("cc", "", ""), ["a", "b", "c"]);
    assert_eq!(keys("cc", "a", "c"), ["a", "b"]);
    assert_eq!(keys("other", "", ""), ["a"]);
    assert!(keys("nope", "", "").is_empty());
    let mut s2 = s.clone();
    s2.delete("cc", "b");
    assert_eq!(s2.get("cc", "b").unwrap(), None);
    assert_eq!(s2.get("cc", "c").unwrap(), Some((b"C".to_vec(), v(3, 1))));
    assert_eq!(s2.len(), 3);
}
