//! Validate-and-commit throughput of one peer's committer, in process, with its sled ledger on disk.
//!
//! Set-up (not timed): cryptogen material and channel configs from `deploy/local`, `mychannel` created from
//! the system channel as the orderer does, joined with its genesis block; block 1 defines chaincode `kv` with
//! a real `_lifecycle` transaction endorsed by peer0.org1 and peer0.org2. Then [`BLOCKS`] blocks of
//! [`TXS_PER_BLOCK`] transactions are built in parallel: each reads (absent) and writes two fresh keys of
//! `kv` and carries one endorsement per org, signed as the endorser signs, without running chaincode.
//!
//! Timed: `ChannelState::commit` of those blocks in order (block verification, parallel signature checks,
//! policy and MVCC, ledger append with flush). Every transaction must come out VALID.
//!
//! Then, on a second ledger, the same blocks again with the phases timed apart: stage one of validation
//! (structure and signatures, on all cores), stage two (policy, MVCC), the ledger append (one sled
//! transaction) and its flush to disk.
//!
//! The last lines are `name: value unit`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;
use weft_chaincode::Registry;
use weft_crypto::block::{header_hash, new_block, sign_block};
use weft_crypto::{ChannelBundle, LocalMsp, Signer, envelope};
use weft_ledger::{BlockStore, Commit, SledStore};
use weft_orderer::config_update::{self, Update};
use weft_orderer::configtx;
use weft_peer::committer::ChannelState;
use weft_peer::state::LedgerState;
use weft_peer::validation::{self, check};
use weft_wire::Message;
use weft_wire::common::{
    Block, BlockMetadataIndex, ConfigSignature, ConfigUpdateEnvelope, Envelope, Header, HeaderType,
    SignatureHeader, TxValidationCode,
};
use weft_wire::peer::{
    ChaincodeAction, ChaincodeId, Endorsement, KvRead, KvWrite, NsReadWriteSet, Proposal,
    ProposalResponse, ProposalResponsePayload, Response, TxReadWriteSet,
};

const CHANNEL: &str = "mychannel";
const CHAINCODE: &str = "kv";
const BLOCKS: u64 = 60;
const TXS_PER_BLOCK: usize = 100;
const VALUE_BYTES: usize = 64;

fn now() -> i64 {
    weft_peer::now_unix()
}

fn local_msp(crypto: &Path, rel: &str, mspid: &str) -> Signer {
    LocalMsp::load(&crypto.join(rel).join("msp"), mspid)
        .unwrap_or_else(|e| panic!("loading {rel}: {e}"))
        .signer
}

/// Adds `s`'s config signature and wraps the update in an envelope signed by `s` (`peer channel create`).
fn sign_update(env: &Envelope, s: &Signer) -> Envelope {
    let opened = envelope::open(env).expect("creation tx opens");
    let mut cue: ConfigUpdateEnvelope =
        weft_wire::decode("config update envelope", &opened.data).expect("config update envelope");
    let sh = SignatureHeader {
        creator: s.serialized().to_vec(),
        nonce: s.nonce(),
    }
    .encode_to_vec();
    let signature = s.sign(&[sh.as_slice(), &cue.config_update].concat());
    cue.signatures.push(ConfigSignature {
        signature_header: sh,
        signature,
    });
    envelope::create(
        s,
        HeaderType::ConfigUpdate,
        opened.channel_id(),
        cue.encode_to_vec(),
        SystemTime::now(),
    )
    .0
}

/// Crypto material, configtx.yaml and the genesis block of `mychannel`, in `dir`.
fn channel_genesis(dir: &Path, orderer: &Signer, admin: &Signer) -> Block {
    let tx = configtx::load(dir).expect("configtx.yaml");
    let system = ChannelBundle::new(
        configtx::genesis_config(&tx, "TwoOrgsOrdererGenesis", "system-channel")
            .expect("system channel config"),
    )
    .expect("system channel bundle");
    let create = configtx::channel_create_tx(&tx, "TwoOrgsChannel", CHANNEL, SystemTime::now())
        .expect("channel creation tx");
    let signed = sign_update(&create, admin);
    let update = Update::decode(&envelope::open(&signed).expect("signed creation tx opens"))
        .expect("creation update decodes");
    let config =
        config_update::create_channel(&system, &update, now()).expect("channel creation accepted");
    weft_orderer::chain::channel_genesis(orderer, config, signed)
}

fn write_material(dir: &Path) {
    let local = weft_integration_tests::repo_root().join("deploy/local");
    let crypto = weft_ca::cryptogen::load_config(&local.join("crypto-config.yaml"))
        .expect("crypto-config.yaml");
    weft_ca::cryptogen::generate(&crypto, &dir.join("crypto-config")).expect("cryptogen");
    let tmpl =
        std::fs::read_to_string(local.join("configtx.yaml.tmpl")).expect("configtx template");
    let yaml = tmpl
        .replace("@ORDERER_ADDRESS@", "127.0.0.1:7050")
        .replace("@ORG1_ANCHOR_HOST@", "127.0.0.1")
        .replace("@ORG1_ANCHOR_PORT@", "7051")
        .replace("@ORG2_ANCHOR_HOST@", "127.0.0.1")
        .replace("@ORG2_ANCHOR_PORT@", "9051")
        .replace("@BATCH_TIMEOUT@", "2s");
    std::fs::write(dir.join("configtx.yaml"), yaml).expect("write configtx.yaml");
}

/// An orderer-signed block `number` after `prev` holding `txs`.
fn block_after(number: u64, prev: &[u8], txs: Vec<Vec<u8>>, orderer: &Signer) -> Block {
    let mut b = new_block(number, prev.to_vec(), txs);
    sign_block(&mut b, orderer, 0);
    b
}

fn filter(block: &Block) -> Vec<u8> {
    weft_crypto::block::validation_codes(block).to_vec()
}

/// Block 1: the `_lifecycle` definition of `kv`, endorsed by both orgs' peer0 as the endorser does it
/// (simulated against `state`, a channel at height 1).
fn lifecycle_block(
    state: &Arc<ChannelState>,
    client: &Signer,
    endorsers: &[&Signer],
    orderer: &Signer,
) -> Block {
    let args = [
        "CommitChaincodeDefinition",
        CHAINCODE,
        "1.0",
        "1",
        "AND('Org1MSP.peer','Org2MSP.peer')",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let built = weft_peer::proposal::build(
        client,
        CHANNEL,
        weft_chaincode::LIFECYCLE,
        args,
        SystemTime::now(),
        Default::default(),
    );
    let registry = Registry::builtin();
    let lookup = |id: &str| (id == CHANNEL).then(|| state.clone());
    let responses: Vec<ProposalResponse> = endorsers
        .iter()
        .map(|e| {
            let r = weft_peer::endorser::endorse_with(
                e,
                None,
                &lookup,
                &registry,
                &built.signed,
                now(),
            );
            let status = r.response.as_ref().map_or(0, |r| r.status);
            assert!(
                status == 200 && r.endorsement.is_some(),
                "lifecycle endorsement by {} refused: {:?}",
                e.mspid(),
                r.response
            );
            r
        })
        .collect();
    let env = weft_peer::proposal::assemble(client, &built, &responses).expect("assemble");
    let info = state.info();
    block_after(
        info.height,
        &info.current_hash,
        vec![env.encode_to_vec()],
        orderer,
    )
}

/// Commits block 1 and checks that the definition is VALID.
fn define_chaincode(state: &ChannelState, block1: &Block) {
    let info = state.info();
    state
        .commit(block1.clone(), now())
        .expect("block 1 commits");
    let committed = state
        .ledger
        .block(info.height)
        .expect("read block 1")
        .expect("block 1 stored");
    assert_eq!(
        filter(&committed),
        vec![TxValidationCode::Valid as u8],
        "the chaincode definition must be VALID"
    );
}

/// One transaction reading (absent) and writing two fresh keys of `kv`, endorsed by `endorsers`.
fn kv_tx(client: &Signer, endorsers: &[&Signer], block: u64, tx: usize) -> Vec<u8> {
    let keys = [
        format!("k{block:04}-{tx:03}-a"),
        format!("k{block:04}-{tx:03}-b"),
    ];
    let args = ["put", &keys[0], "v"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let built = weft_peer::proposal::build(
        client,
        CHANNEL,
        CHAINCODE,
        args,
        SystemTime::now(),
        Default::default(),
    );
    let proposal =
        Proposal::decode(built.signed.proposal_bytes.as_slice()).expect("own proposal decodes");
    let header = Header::decode(proposal.header.as_slice()).expect("own header decodes");
    let action = ChaincodeAction {
        results: Some(TxReadWriteSet {
            ns_rwset: vec![NsReadWriteSet {
                namespace: CHAINCODE.to_string(),
                reads: keys
                    .iter()
                    .map(|k| KvRead {
                        key: k.clone(),
                        version: None,
                    })
                    .collect(),
                range_queries_info: Vec::new(),
                writes: keys
                    .iter()
                    .map(|k| KvWrite {
                        key: k.clone(),
                        is_delete: false,
                        value: vec![b'x'; VALUE_BYTES],
                    })
                    .collect(),
            }],
        }),
        response: Some(Response {
            status: 200,
            message: String::new(),
            payload: Vec::new(),
        }),
        chaincode_id: Some(ChaincodeId {
            name: CHAINCODE.to_string(),
            version: "1.0".to_string(),
        }),
    };
    // The transient map is empty, so the public payload is the proposal's payload as sent.
    let prp = ProposalResponsePayload {
        proposal_hash: check::proposal_hash(
            (&header.channel_header, &header.signature_header),
            &proposal.payload,
        ),
        extension: action.encode_to_vec(),
    }
    .encode_to_vec();
    let responses: Vec<ProposalResponse> = endorsers
        .iter()
        .map(|s| {
            let endorser = s.serialized().to_vec();
            let signature = s.sign(&[prp.as_slice(), &endorser].concat());
            ProposalResponse {
                response: action.response.clone(),
                payload: prp.clone(),
                endorsement: Some(Endorsement {
                    endorser,
                    signature,
                }),
            }
        })
        .collect();
    weft_peer::proposal::assemble(client, &built, &responses)
        .expect("assemble")
        .encode_to_vec()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// A fresh ledger on disk joined to the channel.
struct Peer {
    _dir: tempfile::TempDir,
    state: Arc<ChannelState>,
}

fn fresh_peer(genesis: &Block) -> Peer {
    let dir = tempfile::Builder::new()
        .prefix("weft-commit-bench-")
        .tempdir()
        .expect("tempdir");
    let ledger = Arc::new(SledStore::open(&dir.path().join("ledger")).expect("open ledger"));
    let state = Arc::new(ChannelState::join(ledger, genesis, None, now()).expect("join"));
    Peer { _dir: dir, state }
}

fn main() {
    let threads = rayon::current_num_threads();
    println!(
        "commit_bench: {BLOCKS} blocks x {TXS_PER_BLOCK} txs, 2 reads + 2 writes + 2 endorsements each; \
         {threads} rayon threads"
    );
    let material = tempfile::Builder::new()
        .prefix("weft-commit-bench-crypto-")
        .tempdir()
        .expect("tempdir");
    write_material(material.path());
    let crypto = material.path().join("crypto-config");
    let orderer = local_msp(
        &crypto,
        "ordererOrganizations/example.com/orderers/orderer.example.com",
        "OrdererMSP",
    );
    let admin = local_msp(
        &crypto,
        "peerOrganizations/org1.example.com/users/Admin@org1.example.com",
        "Org1MSP",
    );
    let user = local_msp(
        &crypto,
        "peerOrganizations/org1.example.com/users/User1@org1.example.com",
        "Org1MSP",
    );
    let peer1 = local_msp(
        &crypto,
        "peerOrganizations/org1.example.com/peers/peer0.org1.example.com",
        "Org1MSP",
    );
    let peer2 = local_msp(
        &crypto,
        "peerOrganizations/org2.example.com/peers/peer0.org2.example.com",
        "Org2MSP",
    );
    let endorsers = [&peer1, &peer2];
    let genesis = channel_genesis(material.path(), &orderer, &admin);

    let peer = fresh_peer(&genesis);
    let state = &peer.state;
    let block1 = lifecycle_block(state, &admin, &endorsers, &orderer);
    define_chaincode(state, &block1);
    println!("joined {CHANNEL}, chaincode {CHAINCODE} defined (block 1 VALID)");

    let t = Instant::now();
    let txs: Vec<Vec<Vec<u8>>> = (0..BLOCKS)
        .into_par_iter()
        .map(|b| {
            (0..TXS_PER_BLOCK)
                .into_par_iter()
                .map(|i| kv_tx(&user, &endorsers, b, i))
                .collect()
        })
        .collect();
    let info = state.info();
    let mut prev = info.current_hash.clone();
    let mut blocks = Vec::with_capacity(BLOCKS as usize);
    for (i, data) in txs.into_iter().enumerate() {
        let b = block_after(info.height + i as u64, &prev, data, &orderer);
        prev = header_hash(b.header.as_ref().expect("header")).to_vec();
        blocks.push(b);
    }
    let bytes: usize = blocks.iter().map(|b| b.encoded_len()).sum();
    println!(
        "built {} blocks ({:.1} MB) in {:.1} s",
        blocks.len(),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Timed: the committer as the deliver client drives it.
    let first = info.height;
    let mut per_block = Vec::with_capacity(blocks.len());
    let t = Instant::now();
    for b in blocks.iter().cloned() {
        let t0 = Instant::now();
        state.commit(b, now()).expect("block commits");
        per_block.push(ms(t0.elapsed()));
    }
    let total = t.elapsed();
    let mut valid = 0usize;
    let mut invalid = 0usize;
    for n in first..first + BLOCKS {
        let b = state.ledger.block(n).expect("read").expect("stored");
        for code in filter(&b) {
            if code == TxValidationCode::Valid as u8 {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
    }
    let n_tx = BLOCKS as usize * TXS_PER_BLOCK;
    println!(
        "committed {BLOCKS} blocks in {:.1} ms: {valid} VALID, {invalid} invalid (of {n_tx})",
        ms(total)
    );
    assert_eq!(valid, n_tx, "every transaction must be VALID");
    let per_block = sorted(per_block);

    // The split, on a second ledger: the committer's phases timed apart.
    println!("phase split on a fresh ledger:");
    let peer2 = fresh_peer(&genesis);
    let st = &peer2.state;
    define_chaincode(st, &block1);
    let bundle = st.bundle();
    let (mut verify, mut stage1, mut validate, mut append, mut flush) =
        (vec![], vec![], vec![], vec![], vec![]);
    for b in blocks.iter().cloned() {
        let info = st.info();
        let t0 = Instant::now();
        weft_crypto::block::verify_next(&b, info.height, &info.current_hash, &bundle, now())
            .expect("block verifies");
        verify.push(ms(t0.elapsed()));
        let number = b.header.as_ref().expect("header").number;
        let raw = &b.data.as_ref().expect("data").data;
        let ledger = &st.ledger;
        let committed = |id: &str| ledger.tx_location(id).ok().flatten().is_some();
        let t0 = Instant::now();
        let results = validation::validate_block(
            number,
            raw,
            &bundle,
            None,
            &LedgerState(ledger),
            &committed,
            now(),
        );
        validate.push(ms(t0.elapsed()));
        // Stage one again on its own, right after (same warm threads and caches).
        let t0 = Instant::now();
        let checked: Vec<check::CheckedTx> = raw
            .par_iter()
            .map(|tx| check::check(tx, &bundle, None, now()))
            .collect();
        stage1.push(ms(t0.elapsed()));
        drop(checked);
        let mut b = b;
        let mut commit = Commit::default();
        let mut codes = Vec::with_capacity(results.len());
        for (i, r) in results.into_iter().enumerate() {
            codes.push(r.code as u8);
            assert_eq!(r.code, TxValidationCode::Valid, "{:?}", r.reason);
            commit.tx_ids.extend(r.tx_id.map(|id| (id, i as u32)));
            commit.writes.extend(r.writes);
        }
        let md = &mut b.metadata.get_or_insert_with(Default::default).metadata;
        md.resize(3, Vec::new());
        md[BlockMetadataIndex::TransactionsFilter as usize] = codes;
        let t0 = Instant::now();
        ledger.append_unsynced(&b, commit).expect("append");
        append.push(ms(t0.elapsed()));
        let t0 = Instant::now();
        ledger.sync().expect("flush");
        flush.push(ms(t0.elapsed()));
    }
    let (verify, stage1, validate, append) = (
        sorted(verify),
        sorted(stage1),
        sorted(validate),
        sorted(append),
    );
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let flush = sorted(flush);
    let split_total = sum(&verify) + sum(&validate) + sum(&append) + sum(&flush);
    let line = |name: &str, v: &[f64]| {
        println!(
            "  {name:<34} p50 {:>7.2} ms  p90 {:>7.2} ms  total {:>8.1} ms ({:>4.1}%)",
            percentile(v, 0.5),
            percentile(v, 0.9),
            sum(v),
            100.0 * sum(v) / split_total
        );
    };
    line("verify block (orderer signature)", &verify);
    line("validate_block (stage 1 + 2)", &validate);
    // Stage one timed on its own (a second run of the same checks); stage two is what remains, and is within
    // the noise of the two measurements when it is small (it may then come out slightly negative).
    println!(
        "  {:<34} p50 {:>7.2} ms                  total {:>8.1} ms",
        "  stage 1 alone (par. checks)",
        percentile(&stage1, 0.5),
        sum(&stage1),
    );
    println!(
        "  {:<34} ~ {:.1} ms in all",
        "  stage 2 (policy, MVCC) = rest",
        sum(&validate) - sum(&stage1)
    );
    line("ledger append (sled transaction)", &append);
    line("ledger flush (sync to disk)", &flush);
    println!(
        "  per tx: validate {:.1} us, append + flush {:.1} us",
        1000.0 * sum(&validate) / n_tx as f64,
        1000.0 * (sum(&append) + sum(&flush)) / n_tx as f64
    );

    println!("commit_block_p90_ms: {:.2} ms", percentile(&per_block, 0.9));
    println!(
        "commit_validate_block_ms: {:.2} ms",
        percentile(&validate, 0.5)
    );
    println!("commit_append_block_ms: {:.2} ms", percentile(&append, 0.5));
    println!("commit_flush_block_ms: {:.2} ms", percentile(&flush, 0.5));
    println!(
        "commit_tx_per_s: {:.0} tx/s",
        n_tx as f64 / total.as_secs_f64()
    );
    println!("commit_block_ms: {:.2} ms", percentile(&per_block, 0.5));
}
