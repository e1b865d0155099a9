//! Signed envelopes: building them as a client, opening and checking them as a server.

use std::time::SystemTime;

use weft_wire::Message;
use weft_wire::common::{ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader};
use weft_wire::orderer::SeekInfo;

use crate::bundle::ChannelBundle;
use crate::hash::tx_id;
use crate::identity::{Identity, IdentityError};
use crate::msp::{Msp, Role};
use crate::policy::{PolicyError, SignedData};
use crate::signer::Signer;

/// Why an envelope could not be opened. Nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("envelope has no header")]
    NoHeader,
    #[error("deliver needs a DELIVER_SEEK_INFO envelope")]
    NotSeekInfo,
}

/// An envelope decoded down to its headers; the signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct Opened {
    pub channel_header: ChannelHeader,
    pub signature_header: SignatureHeader,
    pub data: Vec<u8>,
    channel_header_bytes: Vec<u8>,
    signature_header_bytes: Vec<u8>,
    payload_bytes: Vec<u8>,
    signature: Vec<u8>,
}

impl Opened {
    pub fn header_type(&self) -> i32 {
        self.channel_header.r#type
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_header.channel_id
    }

    /// The encoded channel and signature headers, as signed.
    pub fn header_bytes(&self) -> (&[u8], &[u8]) {
        (&self.channel_header_bytes, &self.signature_header_bytes)
    }

    pub fn creator(&self) -> &[u8] {
        &self.signature_header.creator
    }

    /// The creator's signature over the payload, for policy evaluation.
    pub fn signed_data(&self) -> SignedData<'_> {
        SignedData {
            identity: &self.signature_header.creator,
            data: &self.payload_bytes,
            signature: &self.signature,
        }
    }

    /// Checks that the creator is an identity of the local `msp` holding `role`, and that it signed the payload.
    pub fn authorize_local(&self, msp: &Msp, role: Role, now: i64) -> Result<(), IdentityError> {
        let ident = Identity::from_serialized(self.creator())?;
        msp.validate(&ident, now)?;
        ident.verify(&self.payload_bytes, &self.signature)?;
        if !msp.has_role(&ident, role) {
            return Err(IdentityError::MissingRole {
                subject: ident.subject,
                role: format!("{role:?}").to_lowercase(),
            });
        }
        Ok(())
    }

    /// Checks the creator's signature and that the creator satisfies the policy at `path`.
    pub fn authorize(
        &self,
        bundle: &ChannelBundle,
        path: &str,
        now: i64,
    ) -> Result<(), PolicyError> {
        bundle.evaluate(path, &[self.signed_data()], now)
    }
}

/// Decodes an envelope's payload and headers.
pub fn open(env: &Envelope) -> Result<Opened, EnvelopeError> {
    let malformed = |e: weft_wire::DecodeError| EnvelopeError::Malformed(e.to_string());
    let payload: Payload = weft_wire::decode("payload", &env.payload).map_err(malformed)?;
    let header = payload.header.ok_or(EnvelopeError::NoHeader)?;
    let channel_header =
        weft_wire::decode("channel header", &header.channel_header).map_err(malformed)?;
    let signature_header =
        weft_wire::decode("signature header", &header.signature_header).map_err(malformed)?;
    Ok(Opened {
        channel_header,
        signature_header,
        channel_header_bytes: header.channel_header,
        signature_header_bytes: header.signature_header,
        data: payload.data,
        payload_bytes: env.payload.clone(),
        signature: env.signature.clone(),
    })
}

/// Opens a Deliver request: a DELIVER_SEEK_INFO envelope and the SeekInfo it carries. Its signature has not
/// been checked yet.
pub fn open_seek(env: &Envelope) -> Result<(Opened, SeekInfo), EnvelopeError> {
    let opened = open(env)?;
    if opened.header_type() != HeaderType::DeliverSeekInfo as i32 {
        return Err(EnvelopeError::NotSeekInfo);
    }
    let seek = weft_wire::decode("seek info", &opened.data)
        .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    Ok((opened, seek))
}

/// The payload bytes of an envelope: headers for `kind`, `channel_id`, `tx_id` and time `now`, then `data`.
fn payload(
    kind: HeaderType,
    channel_id: &str,
    tx_id: String,
    signature_header: SignatureHeader,
    data: Vec<u8>,
    now: SystemTime,
) -> Vec<u8> {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let channel_header = ChannelHeader {
        r#type: kind as i32,
        channel_id: channel_id.to_string(),
        tx_id,
        timestamp_seconds: since.as_secs() as i64,
        timestamp_nanos: since.subsec_nanos() as i32,
        ..Default::default()
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: signature_header.encode_to_vec(),
    };
    Payload {
        header: Some(header),
        data,
    }
    .encode_to_vec()
}

/// Builds and signs an envelope of `kind` for `channel_id` carrying `data`. Returns it with its tx id.
pub fn create(
    signer: &Signer,
    kind: HeaderType,
    channel_id: &str,
    data: Vec<u8>,
    now: SystemTime,
) -> (Envelope, String) {
    let nonce = signer.nonce();
    let txid = tx_id(&nonce, signer.serialized());
    let signature_header = SignatureHeader {
        creator: signer.serialized().to_vec(),
        nonce,
    };
    let payload = payload(kind, channel_id, txid.clone(), signature_header, data, now);
    let signature = signer.sign(&payload);
    (Envelope { payload, signature }, txid)
}

/// An envelope with no creator and no signature, as configtxgen writes them (the submitter signs later).
pub fn unsigned(kind: HeaderType, channel_id: &str, data: Vec<u8>, now: SystemTime) -> Envelope {
    let payload = payload(
        kind,
        channel_id,
        String::new(),
        SignatureHeader::default(),
        data,
        now,
    );
    Envelope {
        payload,
        signature: Vec::new(),
    }
}
