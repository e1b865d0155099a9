//! The peer's Deliver and DeliverFiltered services: a client streams the blocks this peer has committed, whole
//! or reduced to each transaction's id, type and validation code. A filtered stream is what `peer chaincode
//! invoke --waitForEvent` and an application's commit listener wait on: one signed request per stream instead
//! of one per transaction.
//!
//! Access is the channel's `/Channel/Application/Readers` policy (Fabric's default ACL for `event/Block` and
//! `event/FilteredBlock`). As in Fabric, a stream is checked again when the channel's config changes, and ends
//! when the client's certificate expires. A block is sent once it is on disk: the stream follows the height
//! that the committer announces after its flush.

use std::sync::Arc;

use weft_crypto::envelope;
use weft_ledger::BlockStore;
use weft_net::seek::{self, Refusal, Seek};
use weft_net::{FrameError, Framed};
use weft_wire::common::{Block, Envelope, Status, TxValidationCode};
use weft_wire::orderer::{DeliverResponse, FilteredBlock, FilteredTransaction, deliver_response};

use crate::node::PeerNode;

/// Who may read a channel's blocks and events.
pub const READERS: &str = "/Channel/Application/Readers";

/// Whole blocks (Deliver) or their transactions' outcomes (DeliverFiltered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Blocks,
    Filtered,
}

/// Serves one stream, ending it with a status unless the client goes away first.
pub async fn handle(
    node: &PeerNode,
    env: Envelope,
    kind: Kind,
    stream: &mut Framed,
) -> Result<(), FrameError> {
    let status = match serve(node, env, kind, stream).await? {
        Ok(()) => Status::Success,
        Err((status, reason)) => {
            tracing::warn!(target: "deliver", ?kind, ?status, %reason, "deliver request refused");
            status
        }
    };
    stream
        .send(&DeliverResponse {
            r#type: Some(deliver_response::Type::Status(status as i32)),
            trace_context: Default::default(),
        })
        .await
}

async fn serve(
    node: &PeerNode,
    env: Envelope,
    kind: Kind,
    stream: &mut Framed,
) -> Result<Result<(), Refusal>, FrameError> {
    let (opened, seek) = match envelope::open_seek(&env) {
        Ok(o) => o,
        Err(e) => return Ok(Err((Status::BadRequest, e.to_string()))),
    };
    let Some(ch) = node.channel(opened.channel_id()) else {
        return Ok(Err((
            Status::NotFound,
            format!("peer has not joined channel {}", opened.channel_id()),
        )));
    };
    let mut bundle = ch.bundle();
    let expires = match authorized(&opened, &bundle) {
        Ok(at) => at,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let mut height = ch.height();
    let mut seek = match Seek::resolve(&seek, *height.borrow()) {
        Ok(s) => s,
        Err(refusal) => return Ok(Err(refusal)),
    };
    tracing::debug!(target: "deliver", channel = %ch.id, ?kind, ?seek, "deliver started");
    loop {
        let number = match seek.next(&mut height, stream).await? {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(Ok(())),
            Err(refusal) => return Ok(Err(refusal)),
        };
        if crate::now_unix() > expires {
            return Ok(Err((Status::Forbidden, "client identity expired".into())));
        }
        let current = ch.bundle();
        if !Arc::ptr_eq(&current, &bundle) {
            // The config changed: the client must still be a reader under the new one.
            if let Err(refusal) = authorized(&opened, &current) {
                return Ok(Err(refusal));
            }
            bundle = current;
        }
        let bytes = match ch.ledger.block_bytes(number) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Ok(Err((
                    Status::InternalServerError,
                    format!("block {number} missing from ledger"),
                )));
            }
            Err(e) => return Ok(Err((Status::InternalServerError, e.to_string()))),
        };
        match kind {
            Kind::Blocks => seek::send_block(stream, bytes, Default::default()).await?,
            Kind::Filtered => {
                let block = match weft_wire::decode::<Block>("block", &bytes) {
                    Ok(b) => b,
                    Err(e) => return Ok(Err((Status::InternalServerError, e.to_string()))),
                };
                stream
                    .send(&DeliverResponse {
                        r#type: Some(deliver_response::Type::FilteredBlock(filtered(
                            &ch.id, number, &block,
                        ))),
                        trace_context: Default::default(),
                    })
                    .await?
            }
        }
    }
}

/// Checks the requester against the Readers policy of `bundle`; returns when its certificate expires.
fn authorized(
    opened: &envelope::Opened,
    bundle: &weft_crypto::ChannelBundle,
) -> Result<i64, Refusal> {
    let now = crate::now_unix();
    opened
        .authorize(bundle, READERS, now)
        .map_err(|e| (Status::Forbidden, e.to_string()))?;
    bundle
        .validate(opened.creator(), now)
        .map(|i| i.not_after)
        .map_err(|e| (Status::Forbidden, e.to_string()))
}

/// A committed block reduced to each transaction's id, type and validation code.
pub fn filtered(channel: &str, number: u64, block: &Block) -> FilteredBlock {
    let codes = weft_crypto::block::validation_codes(block);
    let txs = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    let filtered_transactions = txs
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let header = weft_wire::decode::<Envelope>("envelope", raw)
                .ok()
                .and_then(|env| envelope::open(&env).ok())
                .map(|o| o.channel_header)
                .unwrap_or_default();
            FilteredTransaction {
                txid: header.tx_id,
                r#type: header.r#type,
                tx_validation_code: codes
                    .get(i)
                    .map_or(TxValidationCode::NotValidated as i32, |c| i32::from(*c)),
            }
        })
        .collect();
    FilteredBlock {
        channel_id: channel.to_string(),
        number,
        filtered_transactions,
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use weft_wire::Message;
    use weft_wire::common::{BlockMetadata, HeaderType};

    use super::*;

    #[test]
    fn a_filtered_block_has_each_transaction_s_id_type_and_code() {
        let signer_less = |kind, tx_id: &str| {
            let mut env = envelope::unsigned(kind, "mychannel", Vec::new(), SystemTime::now());
            let mut payload: weft_wire::common::Payload =
                weft_wire::decode("payload", &env.payload).unwrap();
            let header = payload.header.as_mut().unwrap();
            let mut ch: weft_wire::common::ChannelHeader =
                weft_wire::decode("channel header", &header.channel_header).unwrap();
            ch.tx_id = tx_id.to_string();
            header.channel_header = ch.encode_to_vec();
            env.payload = payload.encode_to_vec();
            env.encode_to_vec()
        };
        let mut block = weft_crypto::block::new_block(
            7,
            vec![0; 32],
            vec![
                signer_less(HeaderType::EndorserTransaction, "t1"),
                signer_less(HeaderType::EndorserTransaction, "t2"),
                b"not an envelope".to_vec(),
            ],
        );
        block.metadata = Some(BlockMetadata {
            metadata: vec![
                Vec::new(),
                Vec::new(),
                vec![
                    TxValidationCode::Valid as u8,
                    TxValidationCode::MvccReadConflict as u8,
                    TxValidationCode::NilEnvelope as u8,
                ],
            ],
        });
        let f = filtered("mychannel", 7, &block);
        assert_eq!((f.channel_id.as_str(), f.number), ("mychannel", 7));
        let seen: Vec<(&str, i32, i32)> = f
            .filtered_transactions
            .iter()
            .map(|t| (t.txid.as_str(), t.r#type, t.tx_validation_code))
            .collect();
        let endorser = HeaderType::EndorserTransaction as i32;
        assert_eq!(
            seen,
            [
                ("t1", endorser, TxValidationCode::Valid as i32),
                ("t2", endorser, TxValidationCode::MvccReadConflict as i32),
                ("", 0, TxValidationCode::NilEnvelope as i32),
            ]
        );
    }
}
