//! The peer's identities as gossip sees them: signing with the local key, validating others against the local
//! MSP and the MSPs of every joined channel, PKI-IDs as Fabric derives them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use weft_crypto::identity_cache::IdentityCache;
use weft_crypto::{Identity, Msp, Signer};
use weft_gossip::{GossipCrypto, PkiId};

/// The MSPs a peer knows: its own and those of its channels' orgs, updated as channels join or reconfigure.
#[derive(Debug, Clone, Default)]
pub struct Msps(Arc<RwLock<BTreeMap<String, Msp>>>);

impl Msps {
    pub fn insert(&self, msp: Msp) {
        self.0
            .write()
            .expect("msps lock")
            .insert(msp.mspid.clone(), msp);
    }

    fn validate(&self, identity: &[u8]) -> Result<(Identity, String), String> {
        let ident = Identity::from_serialized(identity).map_err(|e| e.to_string())?;
        let msps = self.0.read().expect("msps lock");
        let msp = msps
            .get(&ident.mspid)
            .ok_or_else(|| format!("unknown MSP {}", ident.mspid))?;
        msp.validate(&ident, crate::now_unix())
            .map_err(|e| e.to_string())?;
        let org = ident.mspid.clone();
        Ok((ident, org))
    }
}

/// Signs as this peer and judges other peers, for both the handshake and the gossip cores.
#[derive(Clone)]
pub struct PeerAuth {
    pub signer: Arc<Signer>,
    pub msps: Msps,
    pub pki_id: Vec<u8>,
    /// Peers' identities as parsed for signature checks: every StateInfo and alive message is verified.
    parsed: Arc<IdentityCache<Result<Identity, String>>>,
}

/// Parsed peer identities kept before the cache is cleared.
const PARSED: usize = 1_000;

impl PeerAuth {
    pub fn new(signer: Arc<Signer>, msps: Msps) -> Self {
        let pki_id = weft_crypto::identity::pki_id(signer.serialized())
            .expect("our own identity is well formed")
            .to_vec();
        Self {
            signer,
            msps,
            pki_id,
            parsed: Arc::new(IdentityCache::new(PARSED)),
        }
    }

    fn check(&self, identity: &[u8]) -> Result<(Vec<u8>, String), String> {
        let (_, org) = self.msps.validate(identity)?;
        let pki = weft_crypto::identity::pki_id(identity).map_err(|e| e.to_string())?;
        Ok((pki.to_vec(), org))
    }

    fn verify_sig(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
        let ident = self.parsed.get_or_compute(identity, || {
            Identity::from_serialized(identity).map_err(|e| e.to_string())
        })?;
        ident.verify(msg, sig).map_err(|e| e.to_string())
    }
}

impl weft_net::HandshakeAuth for PeerAuth {
    fn pki_id(&self) -> Vec<u8> {
        self.pki_id.clone()
    }
    fn identity(&self) -> Vec<u8> {
        self.signer.serialized().to_vec()
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.signer.sign(msg)
    }
    fn validate(&self, identity: &[u8]) -> Result<(Vec<u8>, String), String> {
        self.check(identity)
    }
    fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
        self.verify_sig(identity, msg, sig)
    }
}

impl GossipCrypto for PeerAuth {
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.signer.sign(msg)
    }
    fn validate(&self, identity: &[u8]) -> Result<(PkiId, String), String> {
        self.check(identity).map(|(p, o)| (PkiId(p), o))
    }
    fn verify(&self, identity: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
        self.verify_sig(identity, msg, sig)
    }
}
