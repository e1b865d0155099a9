//! Blocks: header and data hashes, the orderer's signature in the metadata, and verification.

use weft_wire::Message;
use weft_wire::common::{
    Block, BlockData, BlockHeader, BlockMetadata, BlockMetadataIndex, LastConfig, Metadata,
    MetadataSignature, SignatureHeader,
};

use crate::bundle::ChannelBundle;
use crate::hash::{sha256, sha256_concat};
use crate::policy::SignedData;
use crate::signer::Signer;

/// The policy that orderer signatures on blocks must satisfy.
pub const BLOCK_VALIDATION: &str = "/Channel/Orderer/BlockValidation";

/// Why a block was refused. The ledger is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block has no header or no data")]
    Incomplete,
    #[error("expected block {expected}, got {got}")]
    WrongNumber { expected: u64, got: u64 },
    #[error("block {number}: previous hash does not match the hash of block {}", number.wrapping_sub(1))]
    BrokenChain { number: u64 },
    #[error("block {number}: data hash does not match its data")]
    BadDataHash { number: u64 },
    #[error("block {number}: missing or malformed signature metadata")]
    NoSignature { number: u64 },
    #[error("block {number}: orderer signature refused: {reason}")]
    BadSignature { number: u64, reason: String },
}

/// The bytes that a block's hash and its signatures cover: number ‖ previous hash ‖ data hash.
pub fn header_bytes(h: &BlockHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + h.previous_hash.len() + h.data_hash.len());
    out.extend_from_slice(&h.number.to_be_bytes());
    out.extend_from_slice(&h.previous_hash);
    out.extend_from_slice(&h.data_hash);
    out
}

/// The hash of a block header, which the next block names as its previous hash.
pub fn header_hash(h: &BlockHeader) -> [u8; 32] {
    sha256(&header_bytes(h))
}

/// The hash over a block's data entries.
pub fn data_hash(d: &BlockData) -> [u8; 32] {
    sha256_concat(d.data.iter().map(|e| &e[..]))
}

/// A new unsigned block holding `data`, chained after `previous_hash`.
pub fn new_block(number: u64, previous_hash: Vec<u8>, data: Vec<Vec<u8>>) -> Block {
    let data = BlockData {
        data: data.into_iter().map(Into::into).collect(),
    };
    let header = BlockHeader {
        number,
        previous_hash,
        data_hash: data_hash(&data).to_vec(),
    };
    Block {
        header: Some(header),
        data: Some(data),
        metadata: Some(BlockMetadata {
            metadata: vec![vec![]; 3],
        }),
    }
}

/// Signs a block as the orderer: metadata[SIGNATURES] carries the last config index and the signature over
/// value ‖ signature header ‖ header bytes; metadata[LAST_CONFIG] repeats the index.
pub fn sign_block(block: &mut Block, signer: &Signer, last_config: u64) {
    let header = block
        .header
        .as_ref()
        .expect("blocks built by new_block have a header");
    let value = LastConfig { index: last_config }.encode_to_vec();
    let sig_header = SignatureHeader {
        creator: signer.serialized().to_vec(),
        nonce: signer.nonce(),
    }
    .encode_to_vec();
    let signature = signer.sign(&[value.as_slice(), &sig_header, &header_bytes(header)].concat());
    let md = Metadata {
        value: value.clone(),
        signatures: vec![MetadataSignature {
            signature_header: sig_header,
            signature,
        }],
    };
    let metadata = &mut block.metadata.get_or_insert_with(Default::default).metadata;
    metadata.resize(3, Vec::new());
    metadata[BlockMetadataIndex::Signatures as usize] = md.encode_to_vec();
    metadata[BlockMetadataIndex::LastConfig as usize] = Metadata {
        value,
        signatures: vec![],
    }
    .encode_to_vec();
}

/// A committed block's validation codes, one byte per transaction (its TRANSACTIONS_FILTER metadata); empty
/// for a block no peer has validated.
pub fn validation_codes(block: &Block) -> &[u8] {
    block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .map_or(&[], Vec::as_slice)
}

/// The last config index a signed block names.
pub fn last_config_index(block: &Block) -> Option<u64> {
    let md = block
        .metadata
        .as_ref()?
        .metadata
        .get(BlockMetadataIndex::Signatures as usize)?;
    let md: Metadata = weft_wire::decode("block signature metadata", md).ok()?;
    weft_wire::decode::<LastConfig>("last config", &md.value)
        .ok()
        .map(|l| l.index)
}

/// Checks a block's own integrity: header present and data hash correct. Returns its number.
pub fn check_data_hash(block: &Block) -> Result<u64, BlockError> {
    let (Some(h), Some(d)) = (&block.header, &block.data) else {
        return Err(BlockError::Incomplete);
    };
    if h.data_hash != data_hash(d) {
        return Err(BlockError::BadDataHash { number: h.number });
    }
    Ok(h.number)
}

/// Checks the orderer signatures of a block against `bundle`'s BlockValidation policy at `now`.
pub fn check_signature(block: &Block, bundle: &ChannelBundle, now: i64) -> Result<(), BlockError> {
    let h = block.header.as_ref().ok_or(BlockError::Incomplete)?;
    let number = h.number;
    let raw = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(BlockMetadataIndex::Signatures as usize))
        .ok_or(BlockError::NoSignature { number })?;
    let md: Metadata = weft_wire::decode("signature metadata", raw)
        .map_err(|_| BlockError::NoSignature { number })?;
    if md.signatures.is_empty() {
        return Err(BlockError::NoSignature { number });
    }
    let hb = header_bytes(h);
    let mut parts = Vec::with_capacity(md.signatures.len());
    for s in &md.signatures {
        let sh: SignatureHeader = weft_wire::decode("signature header", &s.signature_header)
            .map_err(|_| BlockError::NoSignature { number })?;
        parts.push((
            sh.creator,
            [md.value.as_slice(), &s.signature_header, &hb].concat(),
            &s.signature,
        ));
    }
    let signed: Vec<SignedData<'_>> = parts
        .iter()
        .map(|(c, d, s)| SignedData {
            identity: c,
            data: d,
            signature: s,
        })
        .collect();
    bundle
        .evaluate(BLOCK_VALIDATION, &signed, now)
        .map_err(|e| BlockError::BadSignature {
            number,
            reason: e.to_string(),
        })
}

/// A block's own integrity and its orderer's signature: data hash, then the signature against `bundle`'s
/// BlockValidation policy at `now`. Returns its number.
pub fn verify(block: &Block, bundle: &ChannelBundle, now: i64) -> Result<u64, BlockError> {
    let number = check_data_hash(block)?;
    check_signature(block, bundle, now)?;
    Ok(number)
}

/// That a block is number `expected_number` and names `previous_hash` as its predecessor.
pub fn check_link(
    block: &Block,
    expected_number: u64,
    previous_hash: &[u8],
) -> Result<(), BlockError> {
    let h = block.header.as_ref().ok_or(BlockError::Incomplete)?;
    if h.number != expected_number {
        return Err(BlockError::WrongNumber {
            expected: expected_number,
            got: h.number,
        });
    }
    if h.previous_hash != previous_hash {
        return Err(BlockError::BrokenChain { number: h.number });
    }
    Ok(())
}

/// Full verification of the next block of a chain: number and previous hash, then [`verify`].
pub fn verify_next(
    block: &Block,
    expected_number: u64,
    previous_hash: &[u8],
    bundle: &ChannelBundle,
    now: i64,
) -> Result<(), BlockError> {
    check_link(block, expected_number, previous_hash)?;
    verify(block, bundle, now).map(|_| ())
}

/// The channel config a config block carries: `Some` when the block's only transaction is a CONFIG envelope.
pub fn config_of(block: &Block) -> Result<Option<weft_wire::common::ChannelConfig>, String> {
    let Some(data) = &block.data else {
        return Ok(None);
    };
    let [only] = data.data.as_slice() else {
        return Ok(None);
    };
    let env: weft_wire::common::Envelope =
        weft_wire::decode("envelope", only).map_err(|e| e.to_string())?;
    let opened = crate::envelope::open(&env).map_err(|e| e.to_string())?;
    if opened.header_type() != weft_wire::common::HeaderType::Config as i32 {
        return Ok(None);
    }
    let ce: weft_wire::common::ConfigEnvelope =
        weft_wire::decode("config envelope", &opened.data).map_err(|e| e.to_string())?;
    ce.config
        .map(Some)
        .ok_or_else(|| "config envelope without a config".to_string())
}
