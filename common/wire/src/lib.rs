//! weft's wire schema: protobuf messages generated from `proto/*.proto`.
//!
//! These types are what crosses a process boundary (QUIC frames, files such as `channel.tx` and
//! `mychannel.block`). Code that acts on them converts to checked domain values at the edge.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Envelopes, headers, blocks and channel configuration (Fabric's `common` package).
pub mod common {
    include!(concat!(env!("OUT_DIR"), "/weft.common.rs"));
}

/// Broadcast and Deliver messages (Fabric's `orderer` package).
pub mod orderer {
    include!(concat!(env!("OUT_DIR"), "/weft.orderer.rs"));

    /// The field number of `DeliverResponseBytes.block`, for writing a block apart from the rest of the
    /// response (a frame of parts, so that the block is not copied).
    pub const DELIVER_RESPONSE_BLOCK_FIELD: u32 = 2;
}

/// Gossip messages (Fabric's `gossip` package).
pub mod gossip {
    include!(concat!(env!("OUT_DIR"), "/weft.gossip.rs"));

    /// The field number of `Envelope.payload`, for writing the payload apart from the rest of the envelope.
    pub const ENVELOPE_PAYLOAD_FIELD: u32 = 1;
}

/// Proposals, read/write sets, endorsements and transactions (Fabric's `peer` and `rwset` packages).
pub mod peer {
    include!(concat!(env!("OUT_DIR"), "/weft.peer.rs"));
}

/// What a ledger keeps beside each block in its block file.
pub mod ledger {
    include!(concat!(env!("OUT_DIR"), "/weft.ledger.rs"));
}

/// Per-stream request framing and the peer's administrative operations.
pub mod service {
    include!(concat!(env!("OUT_DIR"), "/weft.service.rs"));
}

pub use bytes::Bytes;
pub use prost::Message;

/// Decodes a message, naming what was being decoded when the bytes are malformed.
pub fn decode<M: prost::Message + Default>(
    what: &'static str,
    bytes: &[u8],
) -> Result<M, DecodeError> {
    M::decode(bytes).map_err(|source| DecodeError { what, source })
}

/// Malformed protobuf bytes.
#[derive(Debug)]
pub struct DecodeError {
    /// What the bytes were expected to hold.
    pub what: &'static str,
    /// The protobuf decoder's reason.
    pub source: prost::DecodeError,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed {}: {}", self.what, self.source)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{Block, BlockData, BlockHeader, Envelope};

    fn block(number: u64, txs: &[&[u8]]) -> Block {
        Block {
            header: Some(BlockHeader {
                number,
                previous_hash: vec![1; 32],
                data_hash: vec![2; 32],
            }),
            data: Some(BlockData {
                data: txs.iter().map(|t| Bytes::copy_from_slice(t)).collect(),
            }),
            metadata: None,
        }
    }

    #[test]
    fn block_round_trips() {
        let block = block(7, &[b"tx"]);
        let bytes = block.encode_to_vec();
        let back: Block = decode("block", &bytes).unwrap();
        assert_eq!(back, block);
    }

    #[test]
    fn a_deliver_response_reads_as_one_with_its_block_serialized_and_back() {
        use orderer::{
            DeliverResponse, DeliverResponseBytes, deliver_response, deliver_response_bytes,
        };
        let block = block(3, &[b"a", b"b"]);
        let trace_context: std::collections::BTreeMap<String, String> =
            [("traceparent".to_string(), "00-ab-cd-01".to_string())].into();
        let full = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block.clone())),
            trace_context: trace_context.clone(),
        };
        let raw: DeliverResponseBytes = decode("deliver response", &full.encode_to_vec()).unwrap();
        assert_eq!(
            raw.r#type,
            Some(deliver_response_bytes::Type::Block(
                block.encode_to_vec().into()
            ))
        );
        assert_eq!(raw.trace_context, trace_context);
        let back: DeliverResponse = decode("deliver response", &raw.encode_to_vec()).unwrap();
        assert_eq!(back, full);
    }

    #[test]
    fn the_field_numbers_named_here_are_the_schemas() {
        // A length-delimited field's key byte is (number << 3) | 2.
        let key = |n: u32| (n << 3 | 2) as u8;
        let env = gossip::Envelope {
            payload: Bytes::from_static(b"p"),
            ..Default::default()
        };
        assert_eq!(env.encode_to_vec()[0], key(gossip::ENVELOPE_PAYLOAD_FIELD));
        let resp = orderer::DeliverResponseBytes {
            r#type: Some(orderer::deliver_response_bytes::Type::Block(
                Bytes::from_static(b"b"),
            )),
            trace_context: Default::default(),
        };
        assert_eq!(
            resp.encode_to_vec()[0],
            key(orderer::DELIVER_RESPONSE_BLOCK_FIELD)
        );
    }

    #[test]
    fn malformed_bytes_name_what_was_decoded() {
        let err = decode::<Envelope>("envelope", &[0x0a, 0xff, 0xff]).unwrap_err();
        assert!(err.to_string().starts_with("malformed envelope"), "{err}");
    }
}
