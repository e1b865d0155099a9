//! A configtx.yaml profile turned into the artifacts configtxgen writes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use weft_crypto::policy::{ImplicitMeta, SignaturePolicy};
use weft_wire::Message;
use weft_wire::common::{
    AnchorPeer, AnchorPeersUpdate, ApplicationConfig, BatchSize, Block, ChannelConfig,
    ChannelCreate, ConfigEnvelope, ConfigUpdate, ConfigUpdateEnvelope, Consortium, Envelope,
    HeaderType, OrdererConfig, OrgConfig, Policy, config_update, policy,
};

use super::ConfigTxError;
use super::yaml::{ConfigTx, OrgYaml, PolicyYaml, Profile};

const ORG_POLICIES: &[&str] = &["Readers", "Writers", "Admins"];
const ORDERER_POLICIES: &[&str] = &["Readers", "Writers", "Admins", "BlockValidation"];

struct Ctx<'a> {
    tx: &'a ConfigTx,
    name: &'a str,
}

impl Ctx<'_> {
    fn invalid(&self, reason: impl Into<String>) -> ConfigTxError {
        ConfigTxError::Invalid {
            profile: self.name.to_string(),
            reason: reason.into(),
        }
    }

    fn policies(
        &self,
        at: &str,
        yaml: &BTreeMap<String, PolicyYaml>,
        required: &[&str],
    ) -> Result<BTreeMap<String, Policy>, ConfigTxError> {
        for key in required {
            if !yaml.contains_key(*key) {
                return Err(self.invalid(format!("{at}.Policies.{key} is missing")));
            }
        }
        let mut out = BTreeMap::new();
        for (name, p) in yaml {
            let bad = |reason: String| self.invalid(format!("{at}.Policies.{name}: {reason}"));
            let kind = match p.kind.as_str() {
                "Signature" => {
                    p.rule
                        .parse::<SignaturePolicy>()
                        .map_err(|e| bad(e.to_string()))?;
                    policy::Type::Signature
                }
                "ImplicitMeta" => {
                    p.rule
                        .parse::<ImplicitMeta>()
                        .map_err(|e| bad(e.to_string()))?;
                    policy::Type::ImplicitMeta
                }
                other => {
                    return Err(bad(format!(
                        "unknown Type {other:?} (expected Signature or ImplicitMeta)"
                    )));
                }
            };
            out.insert(
                name.clone(),
                Policy {
                    r#type: kind as i32,
                    rule: p.rule.clone(),
                },
            );
        }
        Ok(out)
    }

    fn org(&self, at: &str, org: &OrgYaml) -> Result<OrgConfig, ConfigTxError> {
        let dir = self.tx.base_dir.join(&org.msp_dir);
        let mut out =
            weft_crypto::msp_dir::read_org_msp(&dir, &org.id).map_err(|e| ConfigTxError::Msp {
                org: org.name.clone(),
                dir: dir.clone(),
                reason: e.to_string(),
            })?;
        out.name = org.name.clone();
        out.policies = self.policies(&format!("{at}.{}", org.name), &org.policies, ORG_POLICIES)?;
        out.anchor_peers = anchors(org);
        out.orderer_endpoints = org.orderer_endpoints.clone().unwrap_or_default();
        Ok(out)
    }

    fn orgs(&self, at: &str, orgs: &Option<Vec<OrgYaml>>) -> Result<Vec<OrgConfig>, ConfigTxError> {
        let mut out: Vec<OrgConfig> = Vec::new();
        for o in orgs.iter().flatten() {
            if out.iter().any(|x| x.msp_id == o.id) {
                return Err(self.invalid(format!(
                    "{at}: organization {} ({}) listed twice",
                    o.name, o.id
                )));
            }
            out.push(self.org(at, o)?);
        }
        Ok(out)
    }

    fn profile(&self) -> Result<&Profile, ConfigTxError> {
        self.tx
            .profiles
            .get(self.name)
            .ok_or_else(|| ConfigTxError::NoProfile(self.name.to_string()))
    }
}

/// The channel config at sequence 0 that a profile describes (orderer system channel or application channel).
pub fn genesis_config(
    tx: &ConfigTx,
    profile: &str,
    channel_id: &str,
) -> Result<ChannelConfig, ConfigTxError> {
    let ctx = Ctx { tx, name: profile };
    let p = ctx.profile()?;
    let o = p
        .orderer
        .as_ref()
        .ok_or_else(|| ctx.invalid("a genesis block needs an Orderer section"))?;
    let b = &o.batch_size;
    if b.max_message_count == 0 {
        return Err(ctx.invalid("Orderer.BatchSize.MaxMessageCount must be at least 1"));
    }
    if b.preferred_max_bytes > b.absolute_max_bytes {
        return Err(ctx.invalid("Orderer.BatchSize.PreferredMaxBytes exceeds AbsoluteMaxBytes"));
    }
    if o.orderer_type != "solo" {
        return Err(ctx.invalid(format!(
            "Orderer.OrdererType {:?}: weft orders with solo only",
            o.orderer_type
        )));
    }
    let orderer_orgs = ctx.orgs("Orderer.Organizations", &o.organizations)?;
    let mut addresses = o.addresses.clone().unwrap_or_default();
    if addresses.is_empty() {
        addresses = orderer_orgs
            .iter()
            .flat_map(|org| org.orderer_endpoints.clone())
            .collect();
    }
    if addresses.is_empty() {
        return Err(ctx.invalid(
            "no orderer address: set Orderer.Addresses or an orderer org's OrdererEndpoints",
        ));
    }
    let orderer = OrdererConfig {
        orderer_type: o.orderer_type.clone(),
        batch_size: Some(BatchSize {
            max_message_count: b.max_message_count,
            absolute_max_bytes: b.absolute_max_bytes,
            preferred_max_bytes: b.preferred_max_bytes,
        }),
        batch_timeout_ms: o.batch_timeout.as_millis() as u64,
        orgs: orderer_orgs,
        policies: ctx.policies("Orderer", &o.policies, ORDERER_POLICIES)?,
    };
    let mut consortiums = Vec::new();
    for (name, c) in p.consortiums.iter().flatten() {
        let mut orgs = ctx.orgs(&format!("Consortiums.{name}"), &c.organizations)?;
        // Anchor peers are per channel; they enter a channel by its own config updates.
        orgs.iter_mut().for_each(|o| o.anchor_peers.clear());
        consortiums.push(Consortium {
            name: name.clone(),
            orgs,
            channel_creation_policy: Some(Policy {
                r#type: policy::Type::ImplicitMeta as i32,
                rule: "ANY Admins".into(),
            }),
        });
    }
    let application = match &p.application {
        Some(a) => Some(ApplicationConfig {
            orgs: ctx.orgs("Application.Organizations", &a.organizations)?,
            policies: ctx.policies("Application", &a.policies, ORG_POLICIES)?,
            capabilities: a.capabilities.clone(),
        }),
        None => None,
    };
    if application.is_none() && consortiums.is_empty() {
        return Err(
            ctx.invalid("a genesis profile needs Consortiums (system channel) or Application")
        );
    }
    Ok(ChannelConfig {
        channel_id: channel_id.to_string(),
        sequence: 0,
        orderer_addresses: addresses,
        orderer: Some(orderer),
        application,
        consortiums,
        consortium: p.consortium.clone().unwrap_or_default(),
        policies: ctx.policies("Channel", &p.policies, ORG_POLICIES)?,
        capabilities: p.capabilities.clone(),
    })
}

fn anchors(org: &OrgYaml) -> Vec<AnchorPeer> {
    let yaml = org.anchor_peers.iter().flatten();
    yaml.map(|a| AnchorPeer {
        host: a.host.clone(),
        port: i32::from(a.port),
    })
    .collect()
}

/// Block 0 of a channel: one CONFIG envelope holding `config`. The genesis block carries no orderer signature.
pub fn genesis_block(config: ChannelConfig, now: SystemTime) -> Block {
    let channel_id = config.channel_id.clone();
    let env = weft_crypto::envelope::unsigned(
        HeaderType::Config,
        &channel_id,
        ConfigEnvelope {
            config: Some(config),
            last_update: None,
        }
        .encode_to_vec(),
        now,
    );
    weft_crypto::block::new_block(0, Vec::new(), vec![env.encode_to_vec()])
}

fn update_envelope(channel_id: &str, change: config_update::Change, now: SystemTime) -> Envelope {
    let update = ConfigUpdate {
        channel_id: channel_id.to_string(),
        change: Some(change),
    };
    let data = ConfigUpdateEnvelope {
        config_update: update.encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    weft_crypto::envelope::unsigned(HeaderType::ConfigUpdate, channel_id, data, now)
}

/// The channel creation transaction (`channel.tx`) for an application channel profile.
pub fn channel_create_tx(
    tx: &ConfigTx,
    profile: &str,
    channel_id: &str,
    now: SystemTime,
) -> Result<Envelope, ConfigTxError> {
    let ctx = Ctx { tx, name: profile };
    let p = ctx.profile()?;
    let consortium = p
        .consortium
        .clone()
        .ok_or_else(|| ctx.invalid("a channel creation profile needs Consortium"))?;
    let app = p
        .application
        .as_ref()
        .ok_or_else(|| ctx.invalid("a channel creation profile needs Application"))?;
    let orgs = ctx.orgs("Application.Organizations", &app.organizations)?;
    if orgs.is_empty() {
        return Err(ctx.invalid("Application.Organizations is empty"));
    }
    let create = ChannelCreate {
        consortium,
        orgs: orgs.iter().map(|o| o.msp_id.clone()).collect(),
        policies: ctx.policies("Application", &app.policies, ORG_POLICIES)?,
        capabilities: app.capabilities.clone(),
        anchors: Vec::new(),
    };
    Ok(update_envelope(
        channel_id,
        config_update::Change::Create(create),
        now,
    ))
}

/// The anchor peer update (`Org1MSPanchors.tx`) setting `as_org`'s anchor peers from the profile.
pub fn anchor_peers_update(
    tx: &ConfigTx,
    profile: &str,
    channel_id: &str,
    as_org: &str,
    now: SystemTime,
) -> Result<Envelope, ConfigTxError> {
    let ctx = Ctx { tx, name: profile };
    let p = ctx.profile()?;
    let app = p
        .application
        .as_ref()
        .ok_or_else(|| ctx.invalid("an anchor peer update needs Application"))?;
    let org = app
        .organizations
        .iter()
        .flatten()
        .find(|o| o.id == as_org || o.name == as_org)
        .ok_or_else(|| {
            ctx.invalid(format!(
                "organization {as_org} is not in Application.Organizations"
            ))
        })?;
    let update = AnchorPeersUpdate {
        msp_id: org.id.clone(),
        anchor_peers: anchors(org),
    };
    Ok(update_envelope(
        channel_id,
        config_update::Change::AnchorPeers(update),
        now,
    ))
}
