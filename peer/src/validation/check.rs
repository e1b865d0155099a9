//! The stateless half of validation: structure and common header ([`header`]), then the creator's signature,
//! the transaction id and the endorsements' signatures ([`signed`]), which a block spreads over the cores.
//! Each signature is verified here and nowhere else, and a peer's own endorsement not even here when it comes
//! back exactly as the peer signed it ([`OwnSignatures`]).

use weft_crypto::policy::{SignedData, VerifiedSigner};
use weft_crypto::{ChannelBundle, OwnSignatures, envelope, hash};
use weft_wire::Message;
use weft_wire::common::{Envelope, HeaderType, TxValidationCode};
use weft_wire::peer::{
    ChaincodeAction, ChaincodeActionPayload, ProposalResponsePayload, Transaction, TxReadWriteSet,
};

/// What the stateless checks found.
#[derive(Debug)]
pub enum Checked {
    Invalid(TxValidationCode),
    Config,
    Endorser(Box<Endorsed>),
}

/// An endorser transaction whose signatures are checked; its policy and reads remain to be checked.
#[derive(Debug)]
pub struct Endorsed {
    pub chaincode: String,
    /// Endorsers whose signatures verified, each once.
    pub endorsers: Vec<VerifiedSigner>,
    /// Why other endorsements were refused (for logs).
    pub rejected: Vec<String>,
    pub rwset: TxReadWriteSet,
}

/// A transaction after the stateless checks: its id (when the header could be read) and the verdict so far.
#[derive(Debug)]
pub struct CheckedTx {
    pub tx_id: Option<String>,
    pub checked: Checked,
}

/// The stateless checks of one transaction of a block; `own` holds the endorsements this peer signed.
pub fn check(
    raw: &[u8],
    bundle: &ChannelBundle,
    own: Option<&OwnSignatures>,
    now: i64,
) -> CheckedTx {
    match header(raw, bundle) {
        Ok(h) => signed(h, bundle, own, now),
        Err(done) => done,
    }
}

/// A transaction whose common header passed: what remains are the checks that verify signatures.
#[derive(Debug)]
pub struct Headed {
    tx_id: Option<String>,
    opened: envelope::Opened,
}

/// The checks before any signature (structure and common header): a transaction that fails them, or needs
/// nothing more (a config transaction), is done here; `Ok` needs [`signed`]. Cheap, so a block can run it on
/// one thread and spread only the signature work over the cores.
pub fn header(raw: &[u8], bundle: &ChannelBundle) -> Result<Headed, CheckedTx> {
    use TxValidationCode as Code;
    let invalid = |tx_id: Option<String>, code| CheckedTx {
        tx_id,
        checked: Checked::Invalid(code),
    };
    let Ok(env) = Envelope::decode(raw) else {
        return Err(invalid(None, Code::NilEnvelope));
    };
    let Ok(opened) = envelope::open(&env) else {
        return Err(invalid(None, Code::BadPayload));
    };
    let tx_id = Some(opened.channel_header.tx_id.clone()).filter(|t| !t.is_empty());
    // As Fabric's ValidateTransaction: the common header first (a type a block may carry, epoch 0, a nonce
    // and a creator), then the creator's signature, then what the type asks.
    match HeaderType::try_from(opened.header_type()) {
        // Config transactions are part of the orderer-signed block, verified with it.
        Ok(HeaderType::Config) => {
            return Err(CheckedTx {
                tx_id,
                checked: Checked::Config,
            });
        }
        Ok(HeaderType::EndorserTransaction | HeaderType::ConfigUpdate) => {}
        _ => return Err(invalid(tx_id, Code::BadCommonHeader)),
    }
    let sh = &opened.signature_header;
    if opened.channel_header.epoch != 0 || sh.nonce.is_empty() || sh.creator.is_empty() {
        return Err(invalid(tx_id, Code::BadCommonHeader));
    }
    if opened.channel_id() != bundle.channel_id() {
        return Err(invalid(tx_id, Code::TargetChainNotFound));
    }
    Ok(Headed { tx_id, opened })
}

/// The rest of the stateless checks, from the creator's signature on.
pub fn signed(
    headed: Headed,
    bundle: &ChannelBundle,
    own: Option<&OwnSignatures>,
    now: i64,
) -> CheckedTx {
    use TxValidationCode as Code;
    let invalid = |tx_id: Option<String>, code| CheckedTx {
        tx_id,
        checked: Checked::Invalid(code),
    };
    let Headed { tx_id, opened } = headed;
    let kind = HeaderType::try_from(opened.header_type());
    let sh = &opened.signature_header;
    if bundle
        .verify_signers(&[opened.signed_data()], now, None)
        .0
        .is_empty()
    {
        return invalid(tx_id, Code::BadCreatorSignature);
    }
    if kind != Ok(HeaderType::EndorserTransaction) {
        return invalid(tx_id, Code::UnsupportedTxPayload);
    }
    if tx_id.as_deref() != Some(hash::tx_id(&sh.nonce, &sh.creator).as_str()) {
        return invalid(tx_id, Code::BadProposalTxid);
    }
    match endorsed(&opened, bundle, own, now) {
        Ok(e) => CheckedTx {
            tx_id,
            checked: Checked::Endorser(Box::new(e)),
        },
        Err(code) => invalid(tx_id, code),
    }
}

fn endorsed(
    opened: &envelope::Opened,
    bundle: &ChannelBundle,
    own: Option<&OwnSignatures>,
    now: i64,
) -> Result<Endorsed, TxValidationCode> {
    use TxValidationCode as Code;
    let tx = Transaction::decode(opened.data.as_slice()).map_err(|_| Code::BadPayload)?;
    let [action] = tx.actions.as_slice() else {
        return Err(Code::InvalidEndorserTransaction);
    };
    let cap =
        ChaincodeActionPayload::decode(action.payload.as_slice()).map_err(|_| Code::BadPayload)?;
    let endorsed = cap.action.ok_or(Code::InvalidEndorserTransaction)?;
    let prp_bytes = &endorsed.proposal_response_payload;
    let prp = ProposalResponsePayload::decode(prp_bytes.as_slice())
        .map_err(|_| Code::BadResponsePayload)?;
    // The endorsed result must be for this very proposal: same headers, same call.
    let expected = proposal_hash(opened.header_bytes(), &cap.chaincode_proposal_payload);
    if prp.proposal_hash != expected {
        return Err(Code::InvalidEndorserTransaction);
    }
    let cca =
        ChaincodeAction::decode(prp.extension.as_slice()).map_err(|_| Code::BadResponsePayload)?;
    if cca.response.as_ref().is_none_or(|r| r.status >= 400) {
        return Err(Code::InvalidEndorserTransaction);
    }
    let chaincode = cca
        .chaincode_id
        .map(|c| c.name)
        .filter(|n| !n.is_empty())
        .ok_or(Code::InvalidChaincode)?;
    let rwset = cca.results.unwrap_or_default();
    if rwset.ns_rwset.iter().any(|ns| ns.namespace != chaincode) {
        return Err(Code::IllegalWriteset);
    }
    let data: Vec<Vec<u8>> = endorsed
        .endorsements
        .iter()
        .map(|e| [prp_bytes.as_slice(), &e.endorser].concat())
        .collect();
    let signed: Vec<SignedData<'_>> = endorsed
        .endorsements
        .iter()
        .zip(&data)
        .map(|(e, d)| SignedData {
            identity: &e.endorser,
            data: d,
            signature: &e.signature,
        })
        .collect();
    let (endorsers, rejected) = bundle.verify_signers(&signed, now, own);
    Ok(Endorsed {
        chaincode,
        endorsers,
        rejected,
        rwset,
    })
}

/// What a proposal response names as its proposal: SHA-256(channel header ‖ signature header ‖ payload).
pub fn proposal_hash(header: (&[u8], &[u8]), payload: &[u8]) -> Vec<u8> {
    hash::sha256_concat([header.0, header.1, payload]).to_vec()
}
