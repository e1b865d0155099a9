//! The sled block store against a real database in a temp dir.

use weft_crypto::block::{header_hash, new_block};
use weft_ledger::{BlockStore, Commit, LedgerError, Ledgers, SledStore};

fn chain(n: u64) -> Vec<weft_wire::common::Block> {
    let mut prev = Vec::new();
    (0..n)
        .map(|i| {
            let b = new_block(i, prev.clone(), vec![format!("tx{i}").into_bytes()]);
            prev = header_hash(b.header.as_ref().unwrap()).to_vec();
            b
        })
        .collect()
}

#[test]
fn appends_in_order_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = chain(5);
    {
        let store = SledStore::open(dir.path()).unwrap();
        for (i, b) in blocks.iter().enumerate() {
            let commit = Commit {
                tx_ids: vec![(format!("id{i}"), 0)],
                config: (i == 0).then(|| b"cfg".to_vec()),
            };
            store.append(b, commit).unwrap();
        }
        let err = store.append(&blocks[2], Commit::default()).unwrap_err();
        assert!(matches!(err, LedgerError::OutOfOrder { height: 5, got: 2 }));
    }
    let store = SledStore::open(dir.path()).unwrap();
    let info = store.info();
    assert_eq!(info.height, 5);
    assert_eq!(
        info.current_hash,
        header_hash(blocks[4].header.as_ref().unwrap()).to_vec()
    );
    assert_eq!(
        info.previous_hash,
        blocks[4].header.as_ref().unwrap().previous_hash
    );
    assert_eq!(store.block(3).unwrap().as_ref(), Some(&blocks[3]));
    assert_eq!(store.block(9).unwrap(), None);
    let loc = store.tx_location("id3").unwrap().unwrap();
    assert_eq!((loc.block, loc.index), (3, 0));
    assert_eq!(store.config().unwrap(), Some(b"cfg".to_vec()));
}

#[test]
fn a_duplicate_tx_id_keeps_its_first_location() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    for b in chain(2) {
        store
            .append(
                &b,
                Commit {
                    tx_ids: vec![("same".into(), 0)],
                    config: None,
                },
            )
            .unwrap();
    }
    assert_eq!(store.tx_location("same").unwrap().unwrap().block, 0);
}

#[test]
fn ledgers_reopen_every_channel() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ledgers = Ledgers::open(dir.path()).unwrap();
        ledgers
            .get_or_create("mychannel")
            .unwrap()
            .append(&chain(1)[0], Commit::default())
            .unwrap();
        ledgers.get_or_create("other").unwrap();
        assert!(ledgers.get_or_create("Bad_Name").is_err());
    }
    let ledgers = Ledgers::open(dir.path()).unwrap();
    assert_eq!(
        ledgers.channels(),
        vec!["mychannel".to_string(), "other".to_string()]
    );
    assert_eq!(ledgers.get("mychannel").unwrap().info().height, 1);
}
