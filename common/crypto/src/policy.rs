//! Policies: Fabric's signature-policy language and implicit-meta rules.
//!
//! A signature policy is written `OR('Org1MSP.peer', AND('Org2MSP.admin', 'Org3MSP.member'))` or
//! `OutOf(2, 'A.peer', 'B.peer', 'C.peer')`. As in Fabric, each signer satisfies at most one principal and
//! sub-policies are tried greedily in order. An implicit-meta policy (`ANY Readers`, `ALL Writers`,
//! `MAJORITY Admins`) asks how many child groups' policy of that name is satisfied.

use std::str::FromStr;

use crate::identity::Identity;
use crate::msp::Role;

/// Why a policy could not be parsed or was not satisfied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot parse policy {rule:?}: {reason}")]
    Parse { rule: String, reason: String },
    #[error("no policy at {0}")]
    NotFound(String),
    #[error("policy {path} not satisfied: {reason}")]
    NotSatisfied { path: String, reason: String },
}

/// `'MSPID.role'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub mspid: String,
    pub role: Role,
}

/// A parsed signature policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignaturePolicy {
    SignedBy(Principal),
    /// At least `n` of the sub-policies.
    OutOf(usize, Vec<SignaturePolicy>),
}

/// A signature to check against a policy: who claims to have signed what.
#[derive(Debug, Clone)]
pub struct SignedData<'a> {
    /// `SerializedIdentity` bytes.
    pub identity: &'a [u8],
    pub data: &'a [u8],
    pub signature: &'a [u8],
}

/// How an implicit-meta policy counts satisfied children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaRule {
    Any,
    All,
    Majority,
}

/// `ANY Readers` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplicitMeta {
    pub rule: MetaRule,
    pub sub_policy: String,
}

impl FromStr for ImplicitMeta {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let err = |reason: &str| PolicyError::Parse {
            rule: s.to_string(),
            reason: reason.to_string(),
        };
        let mut words = s.split_whitespace();
        let (Some(rule), Some(sub), None) = (words.next(), words.next(), words.next()) else {
            return Err(err("expected '<ANY|ALL|MAJORITY> <SubPolicy>'"));
        };
        let rule = match rule.to_ascii_uppercase().as_str() {
            "ANY" => MetaRule::Any,
            "ALL" => MetaRule::All,
            "MAJORITY" => MetaRule::Majority,
            _ => return Err(err("the rule must be ANY, ALL or MAJORITY")),
        };
        Ok(ImplicitMeta {
            rule,
            sub_policy: sub.to_string(),
        })
    }
}

impl ImplicitMeta {
    /// Whether `satisfied` of `total` children meet the rule. With no children, only ALL holds (vacuously)
    /// — Fabric's behaviour.
    pub fn met(&self, satisfied: usize, total: usize) -> bool {
        match self.rule {
            MetaRule::Any => satisfied >= 1,
            MetaRule::All => satisfied == total,
            MetaRule::Majority => satisfied > total / 2,
        }
    }
}

impl FromStr for SignaturePolicy {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let mut p = Parser { src: s, pos: 0 };
        let policy = p.expr().map_err(|reason| PolicyError::Parse {
            rule: s.to_string(),
            reason,
        })?;
        p.skip_ws();
        if p.pos != s.len() {
            return Err(PolicyError::Parse {
                rule: s.to_string(),
                reason: format!("unexpected text at {}", p.pos),
            });
        }
        Ok(policy)
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.src[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.src[self.pos..].starts_with(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{c}' at {}", self.pos))
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let q = rest
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .ok_or("expected a quoted principal")?;
        let end = rest[1..].find(q).ok_or("unterminated quote")?;
        self.pos += end + 2;
        Ok(rest[1..=end].to_string())
    }

    fn expr(&mut self) -> Result<SignaturePolicy, String> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        if rest.starts_with('\'') || rest.starts_with('"') {
            let text = self.quoted()?;
            let (mspid, role) = text
                .rsplit_once('.')
                .ok_or(format!("principal {text:?} is not 'MSPID.role'"))?;
            let role = role.parse::<Role>()?;
            return Ok(SignaturePolicy::SignedBy(Principal {
                mspid: mspid.to_string(),
                role,
            }));
        }
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_uppercase();
        self.pos += name_len;
        self.eat('(')?;
        let mut n = None;
        if name == "OUTOF" {
            self.skip_ws();
            let rest = &self.src[self.pos..];
            let quoted = rest.starts_with('\'');
            let digits_at = usize::from(quoted);
            let len = rest[digits_at..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(0);
            n = Some(
                rest[digits_at..digits_at + len]
                    .parse::<usize>()
                    .map_err(|_| "OutOf needs a count")?,
            );
            self.pos += digits_at + len + usize::from(quoted);
            self.eat(',')?;
        }
        let mut args = vec![self.expr()?];
        loop {
            self.skip_ws();
            if self.src[self.pos..].starts_with(',') {
                self.pos += 1;
                args.push(self.expr()?);
            } else {
                break;
            }
        }
        self.eat(')')?;
        let n = match name.as_str() {
            "AND" => args.len(),
            "OR" => 1,
            "OUTOF" => n.expect("set above"),
            other => {
                return Err(format!(
                    "unknown operator {other:?} (expected AND, OR or OutOf)"
                ));
            }
        };
        if n > args.len() {
            return Err(format!(
                "OutOf({n}) over only {} policies can never be satisfied",
                args.len()
            ));
        }
        Ok(SignaturePolicy::OutOf(n, args))
    }
}

/// A signer whose identity is valid and whose signature verified; `roles` tells what it may stand for.
#[derive(Debug, Clone)]
pub struct VerifiedSigner {
    pub identity: Identity,
    pub roles: Vec<Role>,
}

impl SignaturePolicy {
    /// Whether the verified signers satisfy the policy, each signer used at most once.
    pub fn evaluate(&self, signers: &[VerifiedSigner]) -> bool {
        let mut used = vec![false; signers.len()];
        self.eval(signers, &mut used)
    }

    fn eval(&self, signers: &[VerifiedSigner], used: &mut [bool]) -> bool {
        match self {
            SignaturePolicy::SignedBy(p) => {
                let hit = signers.iter().enumerate().find(|(i, s)| {
                    !used[*i] && s.identity.mspid == p.mspid && s.roles.contains(&p.role)
                });
                if let Some((i, _)) = hit {
                    used[i] = true;
                    true
                } else {
                    false
                }
            }
            SignaturePolicy::OutOf(n, subs) => {
                let mut met = 0;
                for sub in subs {
                    let mut trial = used.to_vec();
                    if sub.eval(signers, &mut trial) {
                        used.copy_from_slice(&trial);
                        met += 1;
                        if met >= *n {
                            return true;
                        }
                    }
                }
                *n == 0
            }
        }
    }

    /// The principals named anywhere in the policy.
    pub fn principals(&self) -> Vec<&Principal> {
        match self {
            SignaturePolicy::SignedBy(p) => vec![p],
            SignaturePolicy::OutOf(_, subs) => subs.iter().flat_map(|s| s.principals()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(mspid: &str, roles: &[Role]) -> VerifiedSigner {
        let mut identity = Identity::test_only_blank();
        identity.mspid = mspid.into();
        VerifiedSigner {
            identity,
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn parses_fabric_rules() {
        let p: SignaturePolicy = "OR('Org1MSP.admin', 'Org1MSP.peer','Org1MSP.client')"
            .parse()
            .unwrap();
        assert_eq!(p.principals().len(), 3);
        let p: SignaturePolicy = "AND('Org1MSP.peer', OR(\"Org2MSP.member\", 'Org3MSP.member'))"
            .parse()
            .unwrap();
        assert!(matches!(p, SignaturePolicy::OutOf(2, _)));
        let p: SignaturePolicy = "OutOf(2, 'A.peer', 'B.peer', 'C.peer')".parse().unwrap();
        assert!(matches!(p, SignaturePolicy::OutOf(2, ref v) if v.len() == 3));
        let p: SignaturePolicy = "OutOf('1', 'A.peer')".parse().unwrap();
        assert!(matches!(p, SignaturePolicy::OutOf(1, _)));
    }

    #[test]
    fn rejects_malformed_rules_with_a_reason() {
        for bad in [
            "OR('A.peer'",
            "XOR('A.peer')",
            "OR('A.chief')",
            "OR('Apeer')",
            "OutOf(3, 'A.peer')",
            "OR('A.peer') x",
        ] {
            let err = bad.parse::<SignaturePolicy>().unwrap_err();
            assert!(matches!(err, PolicyError::Parse { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn and_needs_distinct_signers() {
        let p: SignaturePolicy = "AND('Org1MSP.member', 'Org1MSP.member')".parse().unwrap();
        assert!(!p.evaluate(&[signer("Org1MSP", &[Role::Member, Role::Peer])]));
        assert!(p.evaluate(&[
            signer("Org1MSP", &[Role::Member]),
            signer("Org1MSP", &[Role::Member])
        ]));
    }

    #[test]
    fn roles_and_orgs_must_match() {
        let p: SignaturePolicy = "AND('Org1MSP.peer', 'Org2MSP.peer')".parse().unwrap();
        let o1 = signer("Org1MSP", &[Role::Member, Role::Peer]);
        let o2 = signer("Org2MSP", &[Role::Member, Role::Peer]);
        let o2_client = signer("Org2MSP", &[Role::Member, Role::Client]);
        assert!(p.evaluate(&[o1.clone(), o2.clone()]));
        assert!(!p.evaluate(std::slice::from_ref(&o1)));
        assert!(!p.evaluate(&[o1.clone(), o2_client]));
        let any: SignaturePolicy = "OutOf(1, 'Org1MSP.peer', 'Org2MSP.peer')".parse().unwrap();
        assert!(any.evaluate(&[o2]));
    }

    #[test]
    fn implicit_meta_counts() {
        let m: ImplicitMeta = "MAJORITY Admins".parse().unwrap();
        assert_eq!(m.sub_policy, "Admins");
        assert!(!m.met(1, 2));
        assert!(m.met(2, 3));
        let any: ImplicitMeta = "ANY Readers".parse().unwrap();
        assert!(any.met(1, 5) && !any.met(0, 5));
        let all: ImplicitMeta = "ALL Writers".parse().unwrap();
        assert!(all.met(2, 2) && !all.met(1, 2));
        assert!("SOME Readers".parse::<ImplicitMeta>().is_err());
        assert!("ANY".parse::<ImplicitMeta>().is_err());
    }
}
