//! The gossip handshake: each side's signed `ConnEstablish`, binding its identity to its TLS certificate.
//!
//! ```text
//! build:  payload = GossipMessage{tag: EMPTY, content: Conn{pki_id, identity, sha256(own TLS cert), probe}}
//!         Envelope{payload, signature: auth.sign(payload)}
//! verify (Fabric's order, first failure wins):
//!   remote presented a TLS cert        else "no_tls_cert"
//!   payload is a ConnEstablish         else "malformed" / "not_conn_establish"
//!   pki_id non-empty                   else "empty_pki_id"
//!   auth.validate(identity) accepts    else "identity_rejected"
//!     and yields the claimed pki_id    else "pki_id_mismatch"
//!   tls_cert_hash = sha256(TLS cert)   else "tls_cert_hash_mismatch"
//!   auth.verify(identity, payload, sig) else "bad_signature"
//! ```

use prost::Message;
use weft_wire::gossip::gossip_message::{Content, Tag};
use weft_wire::gossip::{ConnEstablish, Envelope, GossipMessage};

/// The identity side of the handshake, implemented by the peer with its MSPs (tests implement it with fixed
/// data or real certificates).
pub trait HandshakeAuth: Send + Sync + 'static {
    /// Our PKI-ID.
    fn pki_id(&self) -> Vec<u8>;
    /// Our serialized identity.
    fn identity(&self) -> Vec<u8>;
    /// Signs `msg` with our identity's key.
    fn sign(&self, msg: &[u8]) -> Vec<u8>;
    /// Validates a remote serialized identity; returns its PKI-ID and org (MSP ID) or why not.
    fn validate(&self, identity: &[u8]) -> Result<(Vec<u8>, String), String>;
    /// Checks `sig` over `msg` against the serialized identity `identity`.
    fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String>;
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Our signed handshake. `own_tls_hash` is the SHA-256 of our TLS certificate's DER.
pub(crate) fn build(auth: &dyn HandshakeAuth, own_tls_hash: &[u8], probe: bool) -> Envelope {
    let msg = GossipMessage {
        tag: Tag::Empty.into(),
        content: Some(Content::Conn(ConnEstablish {
            pki_id: auth.pki_id(),
            identity: auth.identity(),
            tls_cert_hash: own_tls_hash.to_vec(),
            probe,
        })),
        ..Default::default()
    };
    let payload = msg.encode_to_vec();
    let signature = auth.sign(&payload);
    Envelope {
        payload: payload.into(),
        signature,
        secret_envelope: None,
    }
}

/// A remote whose handshake passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub pki_id: Vec<u8>,
    pub org: String,
    pub identity: Vec<u8>,
    pub probe: bool,
}

/// Why a handshake was refused: `reason` is the metric label, `detail` the explanation for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub(crate) struct Refusal {
    pub reason: &'static str,
    pub detail: String,
}

impl Refusal {
    pub(crate) fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// Logs and counts the refusal of the handshake of `remote`.
    pub(crate) fn record(&self, remote: &str, inbound: bool) {
        tracing::warn!(
            target: "comm",
            %remote,
            inbound,
            reason = self.reason,
            detail = %self.detail,
            "gossip handshake refused"
        );
        metrics::counter!("gossip_comm_handshake_failures_total", "reason" => self.reason)
            .increment(1);
    }
}

/// Checks the remote's handshake `env`, received on a connection whose remote TLS leaf is `peer_cert`.
pub(crate) fn verify(
    auth: &dyn HandshakeAuth,
    peer_cert: Option<&[u8]>,
    env: &Envelope,
) -> Result<Verified, Refusal> {
    let cert = peer_cert.ok_or_else(|| Refusal::new("no_tls_cert", "no TLS certificate"))?;
    let msg = GossipMessage::decode(&env.payload[..])
        .map_err(|e| Refusal::new("malformed", format!("payload is not a GossipMessage: {e}")))?;
    let Some(Content::Conn(conn)) = msg.content else {
        return Err(Refusal::new(
            "not_conn_establish",
            "first message is not a ConnEstablish",
        ));
    };
    if conn.pki_id.is_empty() {
        return Err(Refusal::new("empty_pki_id", "PKI-ID is empty"));
    }
    let (pki_id, org) = auth
        .validate(&conn.identity)
        .map_err(|e| Refusal::new("identity_rejected", e))?;
    if pki_id != conn.pki_id {
        return Err(Refusal::new(
            "pki_id_mismatch",
            format!(
                "claimed PKI-ID {} but the identity's is {}",
                hex(&conn.pki_id),
                hex(&pki_id)
            ),
        ));
    }
    if conn.tls_cert_hash != sha256(cert) {
        return Err(Refusal::new(
            "tls_cert_hash_mismatch",
            "claimed TLS certificate hash differs from the certificate presented on this connection",
        ));
    }
    auth.verify(&conn.identity, &env.payload, &env.signature)
        .map_err(|e| Refusal::new("bad_signature", e))?;
    Ok(Verified {
        pki_id,
        org,
        identity: conn.identity,
        probe: conn.probe,
    })
}

/// Lower-case hex, for logs.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identity = org name; PKI-ID = sha256(identity); signature = sha256(identity ‖ msg).
    struct Fake {
        org: &'static str,
    }

    impl HandshakeAuth for Fake {
        fn pki_id(&self) -> Vec<u8> {
            sha256(self.org.as_bytes())
        }
        fn identity(&self) -> Vec<u8> {
            self.org.as_bytes().to_vec()
        }
        fn sign(&self, msg: &[u8]) -> Vec<u8> {
            sha256(&[self.org.as_bytes(), msg].concat())
        }
        fn validate(&self, identity: &[u8]) -> Result<(Vec<u8>, String), String> {
            match identity {
                b"Org1MSP" | b"Org2MSP" => Ok((
                    sha256(identity),
                    String::from_utf8_lossy(identity).into_owned(),
                )),
                _ => Err("unknown MSP".into()),
            }
        }
        fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
            (sig == sha256(&[identity, msg].concat()))
                .then_some(())
                .ok_or_else(|| "signature mismatch".into())
        }
    }

    const CERT: &[u8] = b"tls leaf DER";

    fn reason(r: Result<Verified, Refusal>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.reason)
    }

    fn with_conn(env: &Envelope, f: impl FnOnce(&mut ConnEstablish)) -> Envelope {
        let mut msg = GossipMessage::decode(&env.payload[..]).unwrap();
        let Some(Content::Conn(c)) = msg.content.as_mut() else {
            unreachable!()
        };
        f(c);
        let payload = msg.encode_to_vec();
        Envelope {
            signature: Fake { org: "Org1MSP" }.sign(&payload),
            payload: payload.into(),
            secret_envelope: None,
        }
    }

    #[test]
    fn a_good_handshake_passes_and_carries_probe() {
        let a = Fake { org: "Org1MSP" };
        let env = build(&a, &sha256(CERT), true);
        let v = verify(&Fake { org: "Org2MSP" }, Some(CERT), &env).unwrap();
        assert_eq!(v.pki_id, a.pki_id());
        assert_eq!(v.org, "Org1MSP");
        assert!(v.probe);
    }

    #[test]
    fn each_check_refuses_with_its_reason() {
        let me = Fake { org: "Org2MSP" };
        let good = build(&Fake { org: "Org1MSP" }, &sha256(CERT), false);
        assert_eq!(reason(verify(&me, None, &good)), "no_tls_cert");
        let garbage = Envelope {
            payload: vec![0xff; 3].into(),
            ..good.clone()
        };
        assert_eq!(reason(verify(&me, Some(CERT), &garbage)), "malformed");
        let not_conn = Envelope {
            payload: GossipMessage::default().encode_to_vec().into(),
            ..good.clone()
        };
        assert_eq!(
            reason(verify(&me, Some(CERT), &not_conn)),
            "not_conn_establish"
        );
        let empty = with_conn(&good, |c| c.pki_id.clear());
        assert_eq!(reason(verify(&me, Some(CERT), &empty)), "empty_pki_id");
        let stranger = build(&Fake { org: "EvilMSP" }, &sha256(CERT), false);
        assert_eq!(
            reason(verify(&me, Some(CERT), &stranger)),
            "identity_rejected"
        );
        let other_id = with_conn(&good, |c| c.pki_id = vec![1; 32]);
        assert_eq!(
            reason(verify(&me, Some(CERT), &other_id)),
            "pki_id_mismatch"
        );
        assert_eq!(
            reason(verify(&me, Some(b"another cert"), &good)),
            "tls_cert_hash_mismatch"
        );
        let forged = Envelope {
            signature: vec![0; 32],
            ..good.clone()
        };
        assert_eq!(reason(verify(&me, Some(CERT), &forged)), "bad_signature");
        assert_eq!(reason(verify(&me, Some(CERT), &good)), "ok");
    }
}
