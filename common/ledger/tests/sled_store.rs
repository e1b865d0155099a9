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
                ..Default::default()
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
    let same = || Commit {
        tx_ids: vec![("same".into(), 0)],
        config: None,
        ..Default::default()
    };
    let blocks = chain(3);
    store.append(&blocks[0], same()).unwrap();
    store.append(&blocks[1], same()).unwrap();
    assert_eq!(store.tx_location("same").unwrap().unwrap().block, 0);
    // Also while a later block with the id waits to reach sled, and among blocks that both wait.
    store.append_unsynced(&blocks[2], same()).unwrap();
    assert_eq!(store.tx_location("same").unwrap().unwrap().block, 0);
    let other = || Commit {
        tx_ids: vec![("other".into(), 0)],
        config: None,
        ..Default::default()
    };
    let dir2 = tempfile::tempdir().unwrap();
    let fresh = SledStore::open(dir2.path()).unwrap();
    fresh.append_unsynced(&blocks[0], other()).unwrap();
    fresh.append_unsynced(&blocks[1], other()).unwrap();
    assert_eq!(fresh.tx_location("other").unwrap().unwrap().block, 0);
    store.sync().unwrap();
    fresh.sync().unwrap();
    assert_eq!(store.tx_location("same").unwrap().unwrap().block, 0);
    assert_eq!(fresh.tx_location("other").unwrap().unwrap().block, 0);
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

#[test]
fn world_state_commits_with_its_block_and_keeps_namespaces_apart() {
    use weft_ledger::{StateVersion, StateWrite};
    let dir = tempfile::tempdir().unwrap();
    let blocks = chain(3);
    let w = |ns: &str, key: &str, value: Option<&str>, block: u64, tx: u64| StateWrite {
        namespace: ns.into(),
        key: key.into(),
        value: value.map(|v| v.as_bytes().to_vec()),
        version: StateVersion { block, tx },
    };
    {
        let store = SledStore::open(dir.path()).unwrap();
        store.append(&blocks[0], Commit::default()).unwrap();
        let writes = vec![
            w("basic", "a1", Some("x"), 1, 0),
            w("basic", "a2", Some("y"), 1, 1),
            w("kv", "a1", Some("z"), 1, 2),
        ];
        store
            .append(
                &blocks[1],
                Commit {
                    writes,
                    ..Default::default()
                },
            )
            .unwrap();
        // A refused block writes nothing.
        let late = vec![w("basic", "a3", Some("nope"), 9, 0)];
        assert!(
            store
                .append(
                    &blocks[1],
                    Commit {
                        writes: late,
                        ..Default::default()
                    }
                )
                .is_err()
        );
        assert_eq!(store.get_state("basic", "a3").unwrap(), None);
        let writes = vec![
            w("basic", "a1", None, 2, 0),
            w("basic", "a2", Some("y2"), 2, 1),
        ];
        store
            .append(
                &blocks[2],
                Commit {
                    writes,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.get_state("basic", "a1").unwrap(), None, "deleted");
    assert_eq!(
        store.get_state("basic", "a2").unwrap(),
        Some((b"y2".to_vec(), StateVersion { block: 2, tx: 1 }))
    );
    assert_eq!(
        store.get_state("kv", "a1").unwrap(),
        Some((b"z".to_vec(), StateVersion { block: 1, tx: 2 }))
    );
    let all: Vec<String> = store
        .state_range("basic", "", "")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(all, vec!["a2"]);
    assert_eq!(store.state_range("kv", "a0", "a2").unwrap().len(), 1);
    assert!(store.state_range("kv", "b", "").unwrap().is_empty());
}

/// A copy of the store's files.
fn copy_of(dir: &std::path::Path) -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let image = tempfile::tempdir().unwrap();
    copy(dir, image.path());
    image
}

#[test]
fn blocks_synced_after_sled_s_last_flush_are_indexed_again_from_the_block_file() {
    use weft_ledger::{StateVersion, StateWrite};
    let dir = tempfile::tempdir().unwrap();
    let blocks = chain(6);
    let store = SledStore::open(dir.path())
        .unwrap()
        .with_index_flush_every(std::time::Duration::ZERO);
    // Blocks 0 to 2: synced, sled flushed with them. What a power failure leaves of sled from here on is this.
    for b in &blocks[..3] {
        store.append(b, Commit::default()).unwrap();
    }
    let image = copy_of(dir.path());
    let store = store.with_index_flush_every(std::time::Duration::MAX);
    // Blocks 3 to 5: synced to the block file only.
    for (i, b) in blocks.iter().enumerate().skip(3) {
        let commit = Commit {
            tx_ids: vec![(format!("id{i}"), 0)],
            config: (i == 4).then(|| b"config 4".to_vec()),
            writes: vec![StateWrite {
                namespace: "basic".into(),
                key: format!("k{i}"),
                value: Some(format!("v{i}").into_bytes()),
                version: StateVersion {
                    block: i as u64,
                    tx: 0,
                },
            }],
        };
        store.append(b, commit).unwrap();
    }
    // The block file was synced at each append: the crash leaves all of it.
    let name = weft_ledger::block_file::NAME;
    std::fs::copy(dir.path().join(name), image.path().join(name)).unwrap();
    drop(store);

    let reopened = SledStore::open(image.path()).unwrap();
    let info = reopened.info();
    assert_eq!(info.height, 6);
    assert_eq!(
        info.current_hash,
        header_hash(blocks[5].header.as_ref().unwrap()).to_vec()
    );
    assert_eq!(reopened.block(4).unwrap().as_ref(), Some(&blocks[4]));
    let loc = reopened.tx_location("id5").unwrap().unwrap();
    assert_eq!((loc.block, loc.index), (5, 0));
    assert_eq!(
        reopened.get_state("basic", "k3").unwrap(),
        Some((b"v3".to_vec(), StateVersion { block: 3, tx: 0 }))
    );
    assert_eq!(reopened.config().unwrap(), Some(b"config 4".to_vec()));
    // And the chain goes on from there.
    let next = new_block(6, info.current_hash.clone(), vec![b"tx6".to_vec()]);
    reopened.append(&next, Commit::default()).unwrap();
    assert_eq!(reopened.info().height, 7);
}

#[test]
fn a_record_that_does_not_follow_the_chain_is_cut_off() {
    use weft_wire::Message;
    let dir = tempfile::tempdir().unwrap();
    let blocks = chain(3);
    let store = SledStore::open(dir.path())
        .unwrap()
        .with_index_flush_every(std::time::Duration::ZERO);
    store.append(&blocks[0], Commit::default()).unwrap();
    drop(store);
    // A record of block 2 right after block 0: not a block that follows this chain.
    let file = weft_ledger::block_file::BlockFile::open(dir.path(), 0, |_, _, _| Ok(true)).unwrap();
    file.append(b"", &blocks[2].encode_to_vec()).unwrap();
    drop(file);
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.info().height, 1);
    assert_eq!(store.block(2).unwrap(), None);
    store.append(&blocks[1], Commit::default()).unwrap();
    assert_eq!(store.block(1).unwrap().as_ref(), Some(&blocks[1]));
}

#[test]
fn an_indexed_block_missing_from_the_block_file_is_refused() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let blocks = chain(3);
    {
        let store = SledStore::open(dir.path()).unwrap();
        for b in &blocks {
            store.append(b, Commit::default()).unwrap();
        }
    }
    // What a crash that lost the file's last writes but kept sled's leaves: zeros where block 2 was.
    use weft_wire::Message;
    let path = dir.path().join(weft_ledger::block_file::NAME);
    let bytes = std::fs::read(&path).unwrap();
    let two = blocks[2].encode_to_vec();
    let at = bytes
        .windows(two.len())
        .position(|w| w == two.as_slice())
        .expect("block 2 in the file");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&vec![0; two.len()], at as u64).unwrap();
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt(m) if m.contains("block 2")),
        "{err}"
    );
}
