//! Gossip envelopes: building signed ones, opening received ones, the secret internal endpoint, the channel MAC.

use prost::Message;
use weft_wire::gossip::{
    AliveMessage, Envelope, GossipMessage, Member, Secret, SecretEnvelope, gossip_message, secret,
};

use crate::crypto::GossipCrypto;
use crate::types::{PeerTime, PkiId};

/// Why a received message was dropped. Nothing was applied. `as_str` labels the rejection counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("message type {0} is not accepted here")]
    Unexpected(&'static str),
    #[error("unknown identity for PKI-ID {0:?}")]
    UnknownIdentity(PkiId),
    #[error("invalid identity: {0}")]
    InvalidIdentity(String),
    #[error("PKI-ID {claimed:?} does not match its identity {actual:?}")]
    PkiIdMismatch { claimed: PkiId, actual: PkiId },
    #[error("bad signature from {0:?}: {1}")]
    BadSignature(PkiId, String),
    #[error("stale message from {0:?}")]
    Stale(PkiId),
    #[error("message from {0:?} about another peer")]
    Impersonation(PkiId),
    #[error("state info from a peer not eligible for the channel")]
    NotEligible,
}

impl Reject {
    /// A short label for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reject::Malformed(_) => "malformed",
            Reject::Unexpected(_) => "unexpected",
            Reject::UnknownIdentity(_) => "unknown_identity",
            Reject::InvalidIdentity(_) => "invalid_identity",
            Reject::PkiIdMismatch { .. } => "pki_id_mismatch",
            Reject::BadSignature(..) => "bad_signature",
            Reject::Stale(_) => "stale",
            Reject::Impersonation(_) => "impersonation",
            Reject::NotEligible => "not_eligible",
        }
    }
}

/// Encodes `msg` and signs it.
pub fn signed(crypto: &dyn GossipCrypto, msg: &GossipMessage) -> Envelope {
    let payload = msg.encode_to_vec();
    let signature = crypto.sign(&payload);
    Envelope {
        payload: payload.into(),
        signature,
        secret_envelope: None,
    }
}

/// Encodes `msg` without a signature (types Fabric does not sign: requests, responses, pull phases).
pub fn unsigned(msg: &GossipMessage) -> Envelope {
    Envelope {
        payload: msg.encode_to_vec().into(),
        signature: Vec::new(),
        secret_envelope: None,
    }
}

/// Attaches the signed secret internal endpoint.
pub fn with_secret(
    crypto: &dyn GossipCrypto,
    mut env: Envelope,
    internal_endpoint: &str,
) -> Envelope {
    let payload = Secret {
        content: Some(secret::Content::InternalEndpoint(
            internal_endpoint.to_string(),
        )),
    }
    .encode_to_vec();
    let signature = crypto.sign(&payload);
    env.secret_envelope = Some(SecretEnvelope { payload, signature });
    env
}

/// A copy of `env` without its secret, for peers of another org.
pub fn without_secret(env: &Envelope) -> Envelope {
    Envelope {
        secret_envelope: None,
        ..env.clone()
    }
}

/// The internal endpoint in an envelope's secret, when its signature verifies with `identity`.
pub fn internal_endpoint(
    crypto: &dyn GossipCrypto,
    env: &Envelope,
    identity: &[u8],
) -> Option<String> {
    let s = env.secret_envelope.as_ref()?;
    crypto.verify(identity, &s.payload, &s.signature).ok()?;
    match Secret::decode(s.payload.as_slice()).ok()?.content? {
        secret::Content::InternalEndpoint(e) => Some(e),
    }
}

/// Decodes an envelope's payload; a block it carries shares the envelope's bytes.
pub fn open(env: &Envelope) -> Result<GossipMessage, Reject> {
    GossipMessage::decode(env.payload.clone()).map_err(|e| Reject::Malformed(e.to_string()))
}

/// A message with `content` and `tag`.
pub fn message(tag: gossip_message::Tag, content: gossip_message::Content) -> GossipMessage {
    GossipMessage {
        tag: tag as i32,
        content: Some(content),
        ..Default::default()
    }
}

/// Our alive message (unsigned).
pub fn alive(
    pki: &PkiId,
    external_endpoint: &str,
    time: PeerTime,
    identity: Option<&[u8]>,
) -> GossipMessage {
    message(
        gossip_message::Tag::Empty,
        gossip_message::Content::AliveMsg(AliveMessage {
            membership: Some(Member {
                endpoint: external_endpoint.to_string(),
                metadata: Vec::new(),
                pki_id: pki.0.clone(),
            }),
            timestamp: Some(time.into()),
            identity: identity.map(<[u8]>::to_vec).unwrap_or_default(),
        }),
    )
}

/// SHA-256(pki_id ‖ channel): what StateInfo carries instead of the channel's name.
pub fn channel_mac(pki: &PkiId, channel: &str) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&pki.0);
    ctx.update(channel.as_bytes());
    ctx.finish().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl GossipCrypto for Fixed {
        fn sign(&self, msg: &[u8]) -> Vec<u8> {
            [b"sig:".as_slice(), msg].concat()
        }
        fn validate(&self, identity: &[u8]) -> Result<(PkiId, String), String> {
            Ok((PkiId(identity.to_vec()), "Org1MSP".into()))
        }
        fn verify(&self, _identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
            (sig == [b"sig:".as_slice(), msg].concat())
                .then_some(())
                .ok_or("bad".into())
        }
    }

    #[test]
    fn alive_round_trips_with_its_secret() {
        let pki = PkiId(vec![1, 2, 3]);
        let msg = alive(&pki, "ext:7051", PeerTime { inc: 5, seq: 9 }, None);
        let env = with_secret(&Fixed, signed(&Fixed, &msg), "int:7051");
        assert_eq!(open(&env).unwrap(), msg);
        assert_eq!(
            internal_endpoint(&Fixed, &env, b"x").as_deref(),
            Some("int:7051")
        );
        assert_eq!(internal_endpoint(&Fixed, &without_secret(&env), b"x"), None);
        let mut forged = env.clone();
        forged.secret_envelope.as_mut().unwrap().signature = b"nope".to_vec();
        assert_eq!(internal_endpoint(&Fixed, &forged, b"x"), None);
        assert!(matches!(
            open(&Envelope {
                payload: vec![0xff, 0xff].into(),
                ..env
            }),
            Err(Reject::Malformed(_))
        ));
    }

    #[test]
    fn channel_mac_depends_on_peer_and_channel() {
        let a = PkiId(vec![1]);
        let b = PkiId(vec![2]);
        assert_ne!(channel_mac(&a, "mychannel"), channel_mac(&b, "mychannel"));
        assert_ne!(channel_mac(&a, "mychannel"), channel_mac(&a, "other"));
        assert_eq!(channel_mac(&a, "mychannel").len(), 32);
    }
}
