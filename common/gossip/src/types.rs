//! Identifiers, logical timestamps and the views the cores expose.

use std::fmt;

/// A peer's id: SHA-256 over its MSP ID and serialized certificate.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PkiId(pub Vec<u8>);

impl PkiId {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for PkiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.hex();
        write!(f, "{}", &h[..h.len().min(12)])
    }
}

impl fmt::Display for PkiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl From<&[u8]> for PkiId {
    fn from(b: &[u8]) -> Self {
        PkiId(b.to_vec())
    }
}

/// (incarnation, sequence): a higher incarnation wins, then a higher sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PeerTime {
    pub inc: u64,
    pub seq: u64,
}

impl From<&weft_wire::gossip::PeerTime> for PeerTime {
    fn from(t: &weft_wire::gossip::PeerTime) -> Self {
        PeerTime {
            inc: t.inc_num,
            seq: t.seq_num,
        }
    }
}

impl From<PeerTime> for weft_wire::gossip::PeerTime {
    fn from(t: PeerTime) -> Self {
        weft_wire::gossip::PeerTime {
            inc_num: t.inc,
            seq_num: t.seq,
        }
    }
}

/// Who this peer is.
#[derive(Debug, Clone)]
pub struct SelfInfo {
    pub pki_id: PkiId,
    /// Serialized identity (MSP ID and certificate).
    pub identity: Vec<u8>,
    /// MSP ID.
    pub org: String,
    /// `peer.gossip.endpoint` or `peer.address`: how same-org peers reach us.
    pub internal_endpoint: String,
    /// `peer.gossip.externalEndpoint`: how other orgs reach us; empty makes us invisible to them.
    pub external_endpoint: String,
    /// Incarnation number: the start time in nanoseconds.
    pub incarnation: u64,
}

/// A member as the admin view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub pki_id: PkiId,
    pub endpoint: String,
    pub org: String,
    pub last_seen_ms_ago: u64,
}

/// The membership view: alive and dead members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipView {
    pub alive: Vec<MemberView>,
    pub dead: Vec<MemberView>,
}

/// A channel member as the admin view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMember {
    pub pki_id: PkiId,
    pub endpoint: String,
    pub org: String,
    pub height: u64,
    pub left: bool,
}
