//! MVCC rules and early rejection codes, against in-memory state.

use weft_chaincode::MemoryState;
use weft_crypto::ChannelBundle;
use weft_wire::Message;
use weft_wire::common::{
    ChannelConfig, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
    TxValidationCode,
};
use weft_wire::peer::{KvRead, NsReadWriteSet, RangeQueryInfo, Version};

use super::check::{Checked, check};
use super::mvcc::{self, Conflict, Overlay};

fn v(block: u64, tx: u64) -> Version {
    Version {
        block_num: block,
        tx_num: tx,
    }
}

fn reads(keys: &[(&str, Option<Version>)]) -> NsReadWriteSet {
    NsReadWriteSet {
        namespace: "basic".into(),
        reads: keys
            .iter()
            .map(|(k, ver)| KvRead {
                key: k.to_string(),
                version: *ver,
            })
            .collect(),
        ..Default::default()
    }
}

/// mychannel with no orgs: every signature check fails.
fn bundle() -> ChannelBundle {
    ChannelBundle::new(ChannelConfig {
        channel_id: "mychannel".into(),
        ..Default::default()
    })
    .unwrap()
}

fn state() -> MemoryState {
    let mut s = MemoryState::new();
    s.put("basic", "a", b"1".to_vec(), v(1, 0));
    s.put("basic", "b", b"2".to_vec(), v(1, 1));
    s
}

#[test]
fn reads_must_match_committed_versions() {
    let s = state();
    let o = Overlay::default();
    assert_eq!(
        mvcc::check(&reads(&[("a", Some(v(1, 0))), ("zz", None)]), &s, &o).unwrap(),
        Ok(())
    );
    assert_eq!(
        mvcc::check(&reads(&[("a", Some(v(0, 9)))]), &s, &o).unwrap(),
        Err(Conflict::Read("a".into()))
    );
    assert_eq!(
        mvcc::check(&reads(&[("zz", Some(v(1, 0)))]), &s, &o).unwrap(),
        Err(Conflict::Read("zz".into()))
    );
    assert_eq!(
        mvcc::check(&reads(&[("a", None)]), &s, &o).unwrap(),
        Err(Conflict::Read("a".into()))
    );
}

#[test]
fn writes_of_earlier_transactions_in_the_block_count() {
    let s = state();
    let mut o = Overlay::default();
    o.put("basic", "a", Some(b"3".to_vec()), v(2, 0));
    o.put("basic", "b", None, v(2, 0));
    o.put("basic", "c", Some(b"new".to_vec()), v(2, 0));
    // Read at the committed version, but tx 0 of this block rewrote it.
    assert_eq!(
        mvcc::check(&reads(&[("a", Some(v(1, 0)))]), &s, &o).unwrap(),
        Err(Conflict::Read("a".into()))
    );
    // Deleted earlier in the block: it must be read as absent.
    assert_eq!(
        mvcc::check(&reads(&[("b", Some(v(1, 1)))]), &s, &o).unwrap(),
        Err(Conflict::Read("b".into()))
    );
    assert_eq!(mvcc::check(&reads(&[("b", None)]), &s, &o).unwrap(), Ok(()));
    // Created earlier in the block.
    assert_eq!(
        mvcc::check(&reads(&[("c", None)]), &s, &o).unwrap(),
        Err(Conflict::Read("c".into()))
    );
    // Other namespaces are untouched by it.
    let other = NsReadWriteSet {
        namespace: "kv".into(),
        ..reads(&[("a", None)])
    };
    assert_eq!(mvcc::check(&other, &s, &o).unwrap(), Ok(()));
}

#[test]
fn a_range_that_would_now_return_other_keys_is_a_phantom() {
    let s = state();
    let seen = |keys: &[(&str, Version)]| NsReadWriteSet {
        namespace: "basic".into(),
        range_queries_info: vec![RangeQueryInfo {
            start_key: "\u{1}".into(),
            end_key: String::new(),
            itr_exhausted: true,
            reads: keys
                .iter()
                .map(|(k, ver)| KvRead {
                    key: k.to_string(),
                    version: Some(*ver),
                })
                .collect(),
        }],
        ..Default::default()
    };
    let then = seen(&[("a", v(1, 0)), ("b", v(1, 1))]);
    assert_eq!(mvcc::check(&then, &s, &Overlay::default()).unwrap(), Ok(()));
    let mut o = Overlay::default();
    o.put("basic", "ab", Some(b"x".to_vec()), v(2, 0));
    assert!(
        matches!(
            mvcc::check(&then, &s, &o).unwrap(),
            Err(Conflict::Phantom(_))
        ),
        "an insert inside the range"
    );
    let mut o = Overlay::default();
    o.put("basic", "b", Some(b"x".to_vec()), v(2, 0));
    assert!(
        matches!(
            mvcc::check(&then, &s, &o).unwrap(),
            Err(Conflict::Phantom(_))
        ),
        "an update inside the range"
    );
}

#[test]
fn malformed_transactions_get_fabric_codes() {
    let bundle = bundle();
    let code = |raw: &[u8]| match check(raw, &bundle, None, 0).checked {
        Checked::Invalid(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(code(&[0xff, 0xff, 0xff]), TxValidationCode::NilEnvelope);
    let env = Envelope {
        payload: vec![0xff, 0x01],
        signature: vec![],
    }
    .encode_to_vec();
    assert_eq!(code(&env), TxValidationCode::BadPayload);
}

/// An envelope of type `kind` on mychannel whose creator and nonce are `creator` and `nonce`, signed by nobody.
fn envelope(kind: HeaderType, epoch: u64, creator: &[u8], nonce: &[u8]) -> Vec<u8> {
    let header = Header {
        channel_header: ChannelHeader {
            r#type: kind as i32,
            channel_id: "mychannel".into(),
            tx_id: "t1".into(),
            epoch,
            ..Default::default()
        }
        .encode_to_vec(),
        signature_header: SignatureHeader {
            creator: creator.to_vec(),
            nonce: nonce.to_vec(),
        }
        .encode_to_vec(),
    };
    Envelope {
        payload: Payload {
            header: Some(header),
            data: vec![],
        }
        .encode_to_vec(),
        signature: b"not a signature".to_vec(),
    }
    .encode_to_vec()
}

#[test]
fn the_common_header_is_checked_before_the_signature_and_the_type_after_it() {
    let bundle = bundle();
    let code = |raw: Vec<u8>| match check(&raw, &bundle, None, 0).checked {
        Checked::Invalid(c) => c,
        other => panic!("{other:?}"),
    };
    use HeaderType::*;
    // A type no block may carry, a non-zero epoch, no nonce, no creator: Fabric's BAD_COMMON_HEADER, before
    // (and without) any signature check.
    let bad_headers: [(HeaderType, u64, &[u8], &[u8]); 4] = [
        (Message, 0, b"someone", b"n"),
        (EndorserTransaction, 1, b"someone", b"n"),
        (EndorserTransaction, 0, b"someone", b""),
        (EndorserTransaction, 0, b"", b"n"),
    ];
    for (kind, epoch, creator, nonce) in bad_headers {
        assert_eq!(
            code(envelope(kind, epoch, creator, nonce)),
            TxValidationCode::BadCommonHeader,
            "{kind:?}, epoch {epoch}, creator {creator:?}, nonce {nonce:?}"
        );
    }
    // A config update is a type a block may carry: its creator's signature is checked first.
    assert_eq!(
        code(envelope(ConfigUpdate, 0, b"someone", b"n")),
        TxValidationCode::BadCreatorSignature
    );
}

#[test]
fn only_endorser_transactions_that_pass_stage_one_are_checked_for_duplicate_ids() {
    let bundle = bundle();
    // Two transactions with one id, which the ledger also holds: neither passes stage one, so neither is a
    // duplicate, and the ledger is not even asked.
    let tx = envelope(HeaderType::Message, 0, b"someone", b"n");
    let asked = std::cell::Cell::new(0);
    let committed = |_: &str| {
        asked.set(asked.get() + 1);
        true
    };
    let results =
        super::validate_block(1, &[tx.clone(), tx], &bundle, None, &state(), &committed, 0);
    let codes: Vec<_> = results.iter().map(|r| r.code).collect();
    assert_eq!(codes, [TxValidationCode::BadCommonHeader; 2]);
    assert_eq!(asked.get(), 0);
}
