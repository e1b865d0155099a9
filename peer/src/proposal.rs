//! Client side of a transaction: building and signing a proposal, and assembling endorsed responses into a
//! transaction envelope, as Fabric's CLI and SDKs do.

use std::time::SystemTime;
use weft_ops::trace::Carrier;

use weft_crypto::{Signer, hash};
use weft_wire::Message;
use weft_wire::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};
use weft_wire::peer::{
    ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeInput, ChaincodeProposalPayload,
    ChaincodeSpec, Proposal, ProposalResponse, SignedProposal, Transaction, TransactionAction,
};

/// A signed proposal and what is needed to turn its responses into a transaction.
#[derive(Debug, Clone)]
pub struct Built {
    pub tx_id: String,
    pub signed: SignedProposal,
    header: Header,
    payload: Vec<u8>,
}

/// Builds and signs a proposal to call `chaincode` with `args` (function first) on `channel`. `trace` (the
/// client's span, possibly empty) rides in the channel header, so endorsers, the orderer and every peer that
/// commits the transaction's block continue its trace.
pub fn build(
    signer: &Signer,
    channel: &str,
    chaincode: &str,
    args: Vec<Vec<u8>>,
    now: SystemTime,
    trace: Carrier,
) -> Built {
    let nonce = signer.nonce();
    let tx_id = hash::tx_id(&nonce, signer.serialized());
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let ch = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        channel_id: channel.to_string(),
        tx_id: tx_id.clone(),
        timestamp_seconds: since.as_secs() as i64,
        timestamp_nanos: since.subsec_nanos() as i32,
        trace_context: trace,
        ..Default::default()
    };
    let sh = SignatureHeader {
        creator: signer.serialized().to_vec(),
        nonce,
    };
    let header = Header {
        channel_header: ch.encode_to_vec(),
        signature_header: sh.encode_to_vec(),
    };
    let spec = ChaincodeSpec {
        name: chaincode.to_string(),
        input: Some(ChaincodeInput { args }),
    };
    let payload = ChaincodeProposalPayload {
        spec: Some(spec),
        transient_map: Default::default(),
    }
    .encode_to_vec();
    let proposal_bytes = Proposal {
        header: header.encode_to_vec(),
        payload: payload.clone(),
    }
    .encode_to_vec();
    let signature = signer.sign(&proposal_bytes);
    Built {
        tx_id,
        signed: SignedProposal {
            proposal_bytes,
            signature,
        },
        header,
        payload,
    }
}

/// Why endorsements could not become a transaction.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("endorsement failure during invoke. response: status:{status} message:\"{message}\"")]
    Failed { status: i32, message: String },
    #[error("ProposalResponsePayloads do not match: the endorsers computed different results")]
    Mismatch,
    #[error("no endorsement was returned")]
    NoEndorsement,
}

/// Checks that every response succeeded with the same result, and builds the signed transaction envelope.
pub fn assemble(
    signer: &Signer,
    built: &Built,
    responses: &[ProposalResponse],
) -> Result<Envelope, AssembleError> {
    for r in responses {
        let resp = r.response.clone().unwrap_or_default();
        if resp.status >= 400 || r.endorsement.is_none() {
            return Err(AssembleError::Failed {
                status: resp.status,
                message: resp.message,
            });
        }
    }
    let first = responses.first().ok_or(AssembleError::NoEndorsement)?;
    if responses.iter().any(|r| r.payload != first.payload) {
        return Err(AssembleError::Mismatch);
    }
    let action = ChaincodeEndorsedAction {
        proposal_response_payload: first.payload.clone(),
        endorsements: responses
            .iter()
            .filter_map(|r| r.endorsement.clone())
            .collect(),
    };
    let cap = ChaincodeActionPayload {
        chaincode_proposal_payload: built.payload.clone(),
        action: Some(action),
    };
    let tx = Transaction {
        actions: vec![TransactionAction {
            header: built.header.signature_header.clone(),
            payload: cap.encode_to_vec(),
        }],
    };
    let payload = Payload {
        header: Some(built.header.clone()),
        data: tx.encode_to_vec(),
    }
    .encode_to_vec();
    let signature = signer.sign(&payload);
    Ok(Envelope { payload, signature })
}

/// The payload of the first successful response (what `peer chaincode query` prints).
pub fn payload_of(r: &ProposalResponse) -> Result<Vec<u8>, AssembleError> {
    let resp = r.response.clone().unwrap_or_default();
    if resp.status >= 400 {
        return Err(AssembleError::Failed {
            status: resp.status,
            message: resp.message,
        });
    }
    Ok(resp.payload)
}
