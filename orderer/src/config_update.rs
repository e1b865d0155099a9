//! Config updates: validating a CONFIG_UPDATE against the current config and computing the next config.
//!
//! Two changes exist: creating an application channel from a consortium of the system channel (checked
//! against the consortium's ChannelCreationPolicy) and replacing an organisation's anchor peers (checked
//! against that organisation's Admins policy, its mod policy in Fabric). Signatures come from the
//! ConfigUpdateEnvelope, each over signature header ‖ config update, as in Fabric.

use weft_crypto::ChannelBundle;
use weft_crypto::envelope::Opened;
use weft_crypto::policy::SignedData;
use weft_wire::common::{
    ApplicationConfig, ChannelConfig, ConfigUpdate, ConfigUpdateEnvelope, SignatureHeader, Status,
    config_update,
};

/// Why a config update was refused, with the status Broadcast answers. The channel is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    pub status: Status,
    pub reason: String,
}

fn bad(reason: impl Into<String>) -> Rejection {
    Rejection {
        status: Status::BadRequest,
        reason: reason.into(),
    }
}

fn forbidden(reason: impl Into<String>) -> Rejection {
    Rejection {
        status: Status::Forbidden,
        reason: reason.into(),
    }
}

/// A decoded config update with its signatures.
pub struct Update {
    pub update: ConfigUpdate,
    signatures: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

impl Update {
    /// Decodes the CONFIG_UPDATE envelope's data.
    pub fn decode(opened: &Opened) -> Result<Self, Rejection> {
        let env: ConfigUpdateEnvelope = weft_wire::decode("config update envelope", &opened.data)
            .map_err(|e| bad(e.to_string()))?;
        let update: ConfigUpdate = weft_wire::decode("config update", &env.config_update)
            .map_err(|e| bad(e.to_string()))?;
        if update.channel_id != opened.channel_id() {
            return Err(bad(format!(
                "config update for channel {:?} sent in an envelope for {:?}",
                update.channel_id,
                opened.channel_id()
            )));
        }
        let mut signatures = Vec::new();
        for s in &env.signatures {
            let sh: SignatureHeader =
                weft_wire::decode("config signature header", &s.signature_header)
                    .map_err(|e| bad(e.to_string()))?;
            let data = [s.signature_header.as_slice(), &env.config_update].concat();
            signatures.push((sh.creator, data, s.signature.clone()));
        }
        Ok(Self { update, signatures })
    }

    fn signed(&self) -> Vec<SignedData<'_>> {
        self.signatures
            .iter()
            .map(|(c, d, s)| SignedData {
                identity: c,
                data: d,
                signature: s,
            })
            .collect()
    }

    fn authorize(&self, bundle: &ChannelBundle, path: &str, now: i64) -> Result<(), Rejection> {
        bundle
            .evaluate(path, &self.signed(), now)
            .map_err(|e| forbidden(e.to_string()))
    }
}

/// The config of a new application channel, from the system channel's consortium.
pub fn create_channel(
    system: &ChannelBundle,
    update: &Update,
    now: i64,
) -> Result<ChannelConfig, Rejection> {
    let Some(config_update::Change::Create(create)) = &update.update.change else {
        return Err(Rejection {
            status: Status::NotFound,
            reason: format!("channel {:?} does not exist", update.update.channel_id),
        });
    };
    let channel_id = &update.update.channel_id;
    if !weft_ledger::ledgers::valid_channel_name(channel_id) {
        return Err(bad(format!(
            "invalid channel name {channel_id:?}: lower-case letters, digits, '.' and '-', starting with a letter"
        )));
    }
    let sys = system.config();
    let consortium = sys
        .consortiums
        .iter()
        .find(|c| c.name == create.consortium)
        .ok_or_else(|| {
            forbidden(format!(
                "consortium {:?} is not defined in the system channel",
                create.consortium
            ))
        })?;
    let mut orgs = Vec::new();
    for id in &create.orgs {
        let org = consortium
            .orgs
            .iter()
            .find(|o| o.msp_id == *id || o.name == *id)
            .ok_or_else(|| {
                forbidden(format!(
                    "organization {id} is not a member of consortium {}",
                    consortium.name
                ))
            })?;
        let mut org = org.clone();
        org.anchor_peers = create
            .anchors
            .iter()
            .find(|a| a.msp_id == org.msp_id)
            .map(|a| a.anchor_peers.clone())
            .unwrap_or_default();
        orgs.push(org);
    }
    if orgs.is_empty() {
        return Err(bad("a channel needs at least one organization"));
    }
    update.authorize(
        system,
        &format!(
            "/Channel/Consortiums/{}/ChannelCreationPolicy",
            consortium.name
        ),
        now,
    )?;
    Ok(ChannelConfig {
        channel_id: channel_id.clone(),
        sequence: 0,
        orderer_addresses: sys.orderer_addresses.clone(),
        orderer: sys.orderer.clone(),
        application: Some(ApplicationConfig {
            orgs,
            policies: create.policies.clone(),
            capabilities: create.capabilities.clone(),
        }),
        consortiums: Vec::new(),
        consortium: consortium.name.clone(),
        policies: sys.policies.clone(),
        capabilities: sys.capabilities.clone(),
    })
}

/// The next config of an existing channel after `update`.
pub fn apply(
    bundle: &ChannelBundle,
    update: &Update,
    now: i64,
) -> Result<ChannelConfig, Rejection> {
    match &update.update.change {
        Some(config_update::Change::AnchorPeers(a)) => {
            let app = bundle
                .config()
                .application
                .as_ref()
                .ok_or_else(|| bad("anchor peers can only be set on an application channel"))?;
            let org = app
                .orgs
                .iter()
                .find(|o| o.msp_id == a.msp_id)
                .ok_or_else(|| {
                    bad(format!(
                        "organization {} is not in channel {}",
                        a.msp_id,
                        bundle.channel_id()
                    ))
                })?;
            for peer in &a.anchor_peers {
                if peer.host.is_empty() || !(1..=65535).contains(&peer.port) {
                    return Err(bad(format!(
                        "invalid anchor peer {}:{}",
                        peer.host, peer.port
                    )));
                }
            }
            update.authorize(
                bundle,
                &format!("/Channel/Application/{}/Admins", org.name),
                now,
            )?;
            let mut next = bundle.config().clone();
            next.sequence += 1;
            let app = next.application.as_mut().expect("checked above");
            let org = app
                .orgs
                .iter_mut()
                .find(|o| o.msp_id == a.msp_id)
                .expect("checked above");
            org.anchor_peers = a.anchor_peers.clone();
            Ok(next)
        }
        Some(config_update::Change::Create(_)) => Err(bad(format!(
            "channel {} already exists",
            bundle.channel_id()
        ))),
        None => Err(bad("config update carries no change")),
    }
}
