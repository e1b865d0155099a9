//! The JSON of `GET /gossip/membership` and `GET /channels/{channel}/members`.

use serde::Serialize;
use weft_gossip::types::{ChannelMember, MemberView, MembershipView};

#[derive(Debug, Clone, Serialize)]
pub struct SelfView {
    pub pki_id: String,
    pub endpoint: String,
    pub org: String,
}

#[derive(Debug, Serialize)]
pub struct MemberJson {
    pub pki_id: String,
    pub endpoint: String,
    pub org: String,
    pub last_seen_ms_ago: u64,
}

#[derive(Debug, Serialize)]
pub struct MembershipJson {
    #[serde(rename = "self")]
    pub me: SelfView,
    pub alive: Vec<MemberJson>,
    pub dead: Vec<MemberJson>,
}

#[derive(Debug, Serialize)]
pub struct ChannelMemberJson {
    pub pki_id: String,
    pub endpoint: String,
    pub org: String,
    pub height: u64,
    pub left: bool,
}

fn member(m: &MemberView) -> MemberJson {
    MemberJson {
        pki_id: m.pki_id.hex(),
        endpoint: m.endpoint.clone(),
        org: m.org.clone(),
        last_seen_ms_ago: m.last_seen_ms_ago,
    }
}

pub fn membership(me: &SelfView, v: &MembershipView) -> MembershipJson {
    MembershipJson {
        me: me.clone(),
        alive: v.alive.iter().map(member).collect(),
        dead: v.dead.iter().map(member).collect(),
    }
}

pub fn channel_members(v: &[ChannelMember]) -> Vec<ChannelMemberJson> {
    v.iter()
        .map(|m| ChannelMemberJson {
            pki_id: m.pki_id.hex(),
            endpoint: m.endpoint.clone(),
            org: m.org.clone(),
            height: m.height,
            left: m.left,
        })
        .collect()
}
