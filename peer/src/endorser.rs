//! The endorser: checks a signed proposal, simulates the chaincode call against committed state, and signs the
//! result. Simulation never changes state; a chaincode error is answered without an endorsement.

use weft_chaincode::{LIFECYCLE, Registry, TxContext, simulate};
use weft_crypto::policy::SignedData;
use weft_crypto::{OwnSignatures, Signer, hash};
use weft_wire::Message;
use weft_wire::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use weft_wire::peer::{
    ChaincodeAction, ChaincodeId, ChaincodeProposalPayload, Endorsement, Proposal,
    ProposalResponse, ProposalResponsePayload, Response, SignedProposal,
};

use crate::committer::ChannelState;
use crate::node::PeerNode;
use crate::state::LedgerState;
use crate::validation::check::proposal_hash;

/// The policy a proposal's creator must satisfy (Fabric's `peer/Propose` ACL).
pub const PROPOSE_POLICY: &str = "/Channel/Application/Writers";

fn error(status: i32, message: impl Into<String>) -> ProposalResponse {
    ProposalResponse {
        response: Some(Response {
            status,
            message: message.into(),
            payload: Vec::new(),
        }),
        ..Default::default()
    }
}

/// Endorses `sp` on this peer, or says why not.
pub fn endorse(
    node: &PeerNode,
    registry: &Registry,
    sp: &SignedProposal,
    now: i64,
) -> ProposalResponse {
    endorse_with(
        &node.signer,
        Some(&node.own_signatures),
        &|id| node.channel(id),
        registry,
        sp,
        now,
    )
}

/// Finds a joined channel by name.
pub type ChannelLookup<'a> = &'a dyn Fn(&str) -> Option<std::sync::Arc<ChannelState>>;

/// Endorses `sp` as `signer`, finding the proposal's channel with `channel`; `own` remembers the endorsement,
/// so that this peer's validation recognises it.
pub fn endorse_with(
    signer: &Signer,
    own: Option<&OwnSignatures>,
    channel: ChannelLookup<'_>,
    registry: &Registry,
    sp: &SignedProposal,
    now: i64,
) -> ProposalResponse {
    match try_endorse(signer, own, channel, registry, sp, now) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(target: "endorser", error = %e, "proposal refused");
            error(500, e)
        }
    }
}

fn try_endorse(
    signer: &Signer,
    own: Option<&OwnSignatures>,
    channel: ChannelLookup<'_>,
    registry: &Registry,
    sp: &SignedProposal,
    now: i64,
) -> Result<ProposalResponse, String> {
    let proposal = Proposal::decode(sp.proposal_bytes.as_slice())
        .map_err(|e| format!("malformed proposal: {e}"))?;
    let header = Header::decode(proposal.header.as_slice())
        .map_err(|e| format!("malformed proposal header: {e}"))?;
    let ch = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| format!("malformed channel header: {e}"))?;
    let sh = SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(|e| format!("malformed signature header: {e}"))?;
    if ch.r#type != HeaderType::EndorserTransaction as i32 {
        return Err("a proposal must be an ENDORSER_TRANSACTION".into());
    }
    // Checks, simulation and signing, in the client's trace.
    let span = tracing::info_span!("endorse", channel = %ch.channel_id, tx_id = %ch.tx_id);
    weft_ops::trace::set_parent(&span, &ch.trace_context);
    let _endorse = span.enter();
    if ch.tx_id != hash::tx_id(&sh.nonce, &sh.creator) {
        return Err(format!(
            "invalid transaction id {:?}: it must be the hash of the nonce and the creator",
            ch.tx_id
        ));
    }
    let channel =
        channel(&ch.channel_id).ok_or_else(|| format!("channel '{}' not found", ch.channel_id))?;
    let bundle = channel.bundle();
    let signed = SignedData {
        identity: &sh.creator,
        data: &sp.proposal_bytes,
        signature: &sp.signature,
    };
    bundle
        .evaluate(PROPOSE_POLICY, &[signed], now)
        .map_err(|e| format!("access denied: {e}"))?;
    let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice())
        .map_err(|e| format!("malformed proposal payload: {e}"))?;
    let spec = payload.spec.ok_or("the proposal names no chaincode")?;
    let input = spec.input.unwrap_or_default();
    let cc = registry
        .get(&spec.name)
        .ok_or_else(|| format!("chaincode {} not found", spec.name))?;
    let state = LedgerState(&channel.ledger);
    let version = if spec.name == LIFECYCLE {
        String::new()
    } else {
        let def = weft_chaincode::definition(&state, &spec.name).map_err(|e| e.to_string())?;
        let def = def.ok_or_else(|| {
            format!(
                "make sure the chaincode {} has been successfully defined on channel {}",
                spec.name, ch.channel_id
            )
        })?;
        def.version
    };
    // The creator passed the Writers policy above, so its identity is valid: its MSP ID is read from the
    // serialized identity, without parsing the certificate again.
    let mspid = weft_wire::decode::<weft_wire::common::SerializedIdentity>("creator", &sh.creator)
        .map(|i| i.mspid)
        .unwrap_or_default();
    let ctx = TxContext {
        channel: ch.channel_id.clone(),
        tx_id: ch.tx_id.clone(),
        creator: sh.creator.clone(),
        mspid,
        timestamp_seconds: ch.timestamp_seconds,
        timestamp_nanos: ch.timestamp_nanos,
        args: input.args,
        transient: payload.transient_map.into_iter().collect(),
    };
    let sim = simulate(cc.as_ref(), &spec.name, &state, &ctx);
    let response = sim.response.clone();
    tracing::debug!(target: "endorser", channel = %ch.channel_id, tx_id = %ch.tx_id, chaincode = %spec.name,
        status = response.status, "simulated");
    if response.status >= 400 {
        return Ok(ProposalResponse {
            response: Some(response),
            ..Default::default()
        });
    }
    let action = ChaincodeAction {
        results: Some(sim.rwset),
        response: Some(response.clone()),
        chaincode_id: Some(ChaincodeId {
            name: spec.name.clone(),
            version,
        }),
    };
    // The hash covers the proposal without the transient map, as in Fabric: it is not part of the transaction.
    let public = ChaincodeProposalPayload {
        transient_map: Default::default(),
        ..ChaincodeProposalPayload::decode(proposal.payload.as_slice()).expect("decoded above")
    };
    let prp = ProposalResponsePayload {
        proposal_hash: proposal_hash(
            (&header.channel_header, &header.signature_header),
            &public.encode_to_vec(),
        ),
        extension: action.encode_to_vec(),
    }
    .encode_to_vec();
    Ok(ProposalResponse {
        response: Some(response),
        endorsement: Some(sign(signer, own, &prp)),
        payload: prp,
    })
}

fn sign(signer: &Signer, own: Option<&OwnSignatures>, prp: &[u8]) -> Endorsement {
    let endorser = signer.serialized().to_vec();
    let msg = [prp, endorser.as_slice()].concat();
    let signature = match own {
        Some(own) => own.sign(signer, &msg),
        None => signer.sign(&msg),
    };
    Endorsement {
        endorser,
        signature,
    }
}
