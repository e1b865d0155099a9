//! A channel's configuration made usable: its MSPs and its named policies, evaluated by path.
//!
//! Paths follow Fabric's: `/Channel/Readers`, `/Channel/Writers`, `/Channel/Application/Admins`,
//! `/Channel/Application/Org1MSP/Admins`, `/Channel/Orderer/BlockValidation`,
//! `/Channel/Consortiums/SampleConsortium/ChannelCreationPolicy`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use weft_wire::common::{
    ApplicationConfig, ChannelConfig, Consortium, OrdererConfig, OrgConfig, Policy, policy,
};

use crate::identity::Identity;
use crate::identity_cache::IdentityCache;
use crate::msp::{Msp, MspError, Role};
use crate::own_signatures::OwnSignatures;
use crate::policy::{ImplicitMeta, PolicyError, SignaturePolicy, SignedData, VerifiedSigner};

/// A channel configuration with its MSPs built.
#[derive(Debug, Clone)]
pub struct ChannelBundle {
    config: ChannelConfig,
    msps: HashMap<String, Msp>,
    // Identities validated against this config (chain and NodeOUs): a chain check costs an ECDSA verification.
    // Validity dates are still checked on every use.
    cache: Arc<IdentityCache<Result<Identity, crate::IdentityError>>>,
}

/// Validated identities kept per bundle before the cache is cleared.
const IDENTITY_CACHE: usize = 10_000;

#[derive(Clone, Copy)]
enum Group<'a> {
    Channel(&'a ChannelConfig),
    Application(&'a ApplicationConfig),
    Orderer(&'a OrdererConfig),
    Consortium(&'a Consortium),
    Org(&'a OrgConfig),
}

impl<'a> Group<'a> {
    fn children(self) -> Vec<Group<'a>> {
        match self {
            Group::Channel(c) => {
                let mut out = Vec::new();
                if let Some(a) = &c.application {
                    out.push(Group::Application(a));
                }
                if let Some(o) = &c.orderer {
                    out.push(Group::Orderer(o));
                }
                out
            }
            Group::Application(a) => a.orgs.iter().map(Group::Org).collect(),
            Group::Orderer(o) => o.orgs.iter().map(Group::Org).collect(),
            Group::Consortium(c) => c.orgs.iter().map(Group::Org).collect(),
            Group::Org(_) => Vec::new(),
        }
    }

    fn policy(self, name: &str) -> Option<&'a Policy> {
        match self {
            Group::Channel(c) => c.policies.get(name),
            Group::Application(a) => a.policies.get(name),
            Group::Orderer(o) => o.policies.get(name),
            Group::Consortium(c) => {
                (name == "ChannelCreationPolicy").then_some(c.channel_creation_policy.as_ref())?
            }
            Group::Org(o) => o.policies.get(name),
        }
    }

    fn child(self, name: &str) -> Option<Group<'a>> {
        match self {
            Group::Channel(c) => match name {
                "Application" => c.application.as_ref().map(Group::Application),
                "Orderer" => c.orderer.as_ref().map(Group::Orderer),
                _ => None,
            },
            Group::Application(a) => find_org(&a.orgs, name),
            Group::Orderer(o) => find_org(&o.orgs, name),
            Group::Consortium(c) => find_org(&c.orgs, name),
            Group::Org(_) => None,
        }
    }
}

fn find_org<'a>(orgs: &'a [OrgConfig], name: &str) -> Option<Group<'a>> {
    orgs.iter()
        .find(|o| o.name == name || o.msp_id == name)
        .map(Group::Org)
}

impl ChannelBundle {
    /// Builds the MSPs of every organisation the configuration names.
    pub fn new(config: ChannelConfig) -> Result<Self, MspError> {
        let mut msps = HashMap::new();
        for org in all_orgs(&config) {
            msps.insert(org.msp_id.clone(), Msp::from_config(org)?);
        }
        Ok(Self {
            config,
            msps,
            cache: Arc::new(IdentityCache::new(IDENTITY_CACHE)),
        })
    }

    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    pub fn channel_id(&self) -> &str {
        &self.config.channel_id
    }

    pub fn msp(&self, mspid: &str) -> Option<&Msp> {
        self.msps.get(mspid)
    }

    /// The TLS root and intermediate certificates (DER) of every organisation in the channel.
    pub fn tls_roots(&self) -> Vec<Vec<u8>> {
        all_orgs(&self.config)
            .flat_map(|o| {
                o.tls_root_certs
                    .iter()
                    .chain(&o.tls_intermediate_certs)
                    .cloned()
            })
            .collect()
    }

    /// Validates an identity against its MSP in this channel, returning it parsed.
    pub fn validate(&self, serialized: &[u8], now: i64) -> Result<Identity, crate::IdentityError> {
        let result = self
            .cache
            .get_or_compute(serialized, || self.validate_uncached(serialized, now));
        let ident = result?;
        if now < ident.not_before || now > ident.not_after {
            return Err(crate::IdentityError::Expired {
                subject: ident.subject,
            });
        }
        Ok(ident)
    }

    fn validate_uncached(
        &self,
        serialized: &[u8],
        now: i64,
    ) -> Result<Identity, crate::IdentityError> {
        let ident = Identity::from_serialized(serialized)?;
        let msp = self
            .msps
            .get(&ident.mspid)
            .ok_or_else(|| crate::IdentityError::UnknownMsp(ident.mspid.clone()))?;
        msp.validate(&ident, now)?;
        Ok(ident)
    }

    /// Checks each signature (identity valid at `now`, signature correct); duplicates of an identity count once.
    /// Returns the signers that passed and, for the others, why not.
    /// A signature found in `own` (made by this process over these very bytes) is not verified again.
    pub fn verify_signers(
        &self,
        signed: &[SignedData<'_>],
        now: i64,
        own: Option<&OwnSignatures>,
    ) -> (Vec<VerifiedSigner>, Vec<String>) {
        let mut ok: Vec<VerifiedSigner> = Vec::new();
        let mut rejected = Vec::new();
        for sd in signed {
            let result = self.validate(sd.identity, now).and_then(|ident| {
                if !own.is_some_and(|o| o.take(sd)) {
                    ident.verify(sd.data, sd.signature)?;
                }
                Ok(ident)
            });
            match result {
                Ok(ident) if ok.iter().any(|s| s.identity.cert_der == ident.cert_der) => {}
                Ok(ident) => {
                    let msp = &self.msps[&ident.mspid];
                    let roles = [
                        Role::Member,
                        Role::Admin,
                        Role::Client,
                        Role::Peer,
                        Role::Orderer,
                    ]
                    .into_iter()
                    .filter(|r| msp.has_role(&ident, *r))
                    .collect();
                    ok.push(VerifiedSigner {
                        identity: ident,
                        roles,
                    });
                }
                Err(e) => rejected.push(e.to_string()),
            }
        }
        (ok, rejected)
    }

    /// Evaluates the policy at `path` over the signatures.
    pub fn evaluate(
        &self,
        path: &str,
        signed: &[SignedData<'_>],
        now: i64,
    ) -> Result<(), PolicyError> {
        let (signers, rejected) = self.verify_signers(signed, now, None);
        self.evaluate_signers(path, &signers, &rejected)
    }

    /// Evaluates a policy over signers already verified: a channel policy path (`/Channel/...`) or a signature
    /// policy rule (`AND('Org1MSP.peer', ...)`). `rejected` (signatures that did not verify) only explains a
    /// failure.
    pub fn evaluate_signers(
        &self,
        path: &str,
        signers: &[VerifiedSigner],
        rejected: &[String],
    ) -> Result<(), PolicyError> {
        let met = if path.starts_with('/') {
            let (group, name) = self.resolve(path)?;
            eval_in(group, name, signers)?
        } else {
            path.parse::<SignaturePolicy>()?.evaluate(signers)
        };
        if met {
            return Ok(());
        }
        let reason = if rejected.is_empty() {
            let who: Vec<String> = signers
                .iter()
                .map(|s| format!("{} ({:?})", s.identity.common_name, s.roles))
                .collect();
            format!("signers {who:?} do not meet it")
        } else {
            format!("rejected signatures: {}", rejected.join("; "))
        };
        Err(PolicyError::NotSatisfied {
            path: path.to_string(),
            reason,
        })
    }

    fn resolve<'a, 'p>(&'a self, path: &'p str) -> Result<(Group<'a>, &'p str), PolicyError> {
        let not_found = || PolicyError::NotFound(path.to_string());
        let mut parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let name = parts.pop().ok_or_else(not_found)?;
        let mut iter = parts.into_iter();
        if iter.next() != Some("Channel") {
            return Err(not_found());
        }
        let mut group = Group::Channel(&self.config);
        while let Some(seg) = iter.next() {
            group = if seg == "Consortiums" {
                let cname = iter.next().ok_or_else(not_found)?;
                let c = self
                    .config
                    .consortiums
                    .iter()
                    .find(|c| c.name == cname)
                    .ok_or_else(not_found)?;
                Group::Consortium(c)
            } else {
                group.child(seg).ok_or_else(not_found)?
            };
        }
        group.policy(name).ok_or_else(not_found)?;
        Ok((group, name))
    }
}

fn eval_in(group: Group<'_>, name: &str, signers: &[VerifiedSigner]) -> Result<bool, PolicyError> {
    let Some(policy) = group.policy(name) else {
        return Ok(false);
    };
    match policy.r#type() {
        policy::Type::Signature => Ok(policy.rule.parse::<SignaturePolicy>()?.evaluate(signers)),
        policy::Type::ImplicitMeta => {
            let meta: ImplicitMeta = policy.rule.parse()?;
            let children = group.children();
            let mut satisfied = 0;
            for child in &children {
                if eval_in(*child, &meta.sub_policy, signers)? {
                    satisfied += 1;
                }
            }
            Ok(meta.met(satisfied, children.len()))
        }
        policy::Type::Unknown => Err(PolicyError::Parse {
            rule: policy.rule.clone(),
            reason: "policy has no type".to_string(),
        }),
    }
}

/// Every organisation definition in a configuration (orderer, application and consortium orgs).
pub fn all_orgs(config: &ChannelConfig) -> impl Iterator<Item = &OrgConfig> {
    let orderer = config.orderer.iter().flat_map(|o| &o.orgs);
    let app = config.application.iter().flat_map(|a| &a.orgs);
    let cons = config.consortiums.iter().flat_map(|c| &c.orgs);
    orderer.chain(app).chain(cons)
}

/// A signature policy value.
pub fn signature_policy(rule: &str) -> Policy {
    Policy {
        r#type: policy::Type::Signature as i32,
        rule: rule.to_string(),
    }
}

/// An implicit-meta policy value.
pub fn implicit_meta(rule: &str) -> Policy {
    Policy {
        r#type: policy::Type::ImplicitMeta as i32,
        rule: rule.to_string(),
    }
}

/// Fabric's default channel-level policies.
pub fn default_channel_policies() -> BTreeMap<String, Policy> {
    [
        ("Readers", "ANY Readers"),
        ("Writers", "ANY Writers"),
        ("Admins", "MAJORITY Admins"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), implicit_meta(v)))
    .collect()
}
