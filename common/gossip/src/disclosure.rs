//! Fabric's cross-org disclosure rules (reference §1.1b), as pure functions.
//!
//! A peer is described by its org and whether it has an external endpoint. Each function answers one
//! question the cores ask before sending something.

/// A peer as the disclosure rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party<'a> {
    pub org: &'a str,
    pub has_external: bool,
}

/// Rule 1: may the alive message about `subject` be sent to `remote`, by a peer of `my_org`?
/// Only subjects of the remote's org or of my org; across orgs, both need an external endpoint.
/// Alive messages of an unknown org (empty) are never disclosed.
pub fn may_disclose_alive(my_org: &str, subject: Party<'_>, remote: Party<'_>) -> bool {
    if subject.org.is_empty() {
        return false;
    }
    let same_as_remote = subject.org == remote.org;
    let mine = subject.org == my_org;
    if !(same_as_remote || mine) {
        return false;
    }
    same_as_remote || (subject.has_external && remote.has_external)
}

/// Rule 2: the internal endpoint (secret) goes only to peers of my org.
pub fn may_send_secret(my_org: &str, remote: Party<'_>) -> bool {
    remote.org == my_org
}

/// Rules 3 and 4: may an alive message about `subject` be forwarded (pushed) to `target`?
/// An alive of my org without an external endpoint stays in my org; a foreign-origin alive goes only to
/// peers of my org or of its origin, and never to peers without an external endpoint.
pub fn may_forward_alive(my_org: &str, subject: Party<'_>, target: Party<'_>) -> bool {
    if subject.org == my_org {
        return target.org == my_org || (subject.has_external && target.has_external);
    }
    (target.org == my_org || target.org == subject.org) && target.has_external
}

/// Rule 6: may a StateInfo about `subject` go to `remote`? Within the subject's org always; across orgs only
/// when the subject has an external endpoint.
pub fn may_disclose_state_info(subject: Party<'_>, remote: Party<'_>) -> bool {
    remote.org == subject.org || subject.has_external
}

/// Rule 8: may a peer with (or without) an external endpoint contact an anchor of `anchor_org`?
pub fn may_contact_anchor(my_org: &str, my_has_external: bool, anchor_org: &str) -> bool {
    anchor_org == my_org || my_has_external
}

#[cfg(test)]
mod tests {
    use super::*;

    const MY: &str = "Org1MSP";
    fn p(org: &str, ext: bool) -> Party<'_> {
        Party {
            org,
            has_external: ext,
        }
    }

    #[test]
    fn rule1_alive_disclosure() {
        // Same-org subjects go to same-org remotes whatever their endpoints.
        assert!(may_disclose_alive(MY, p(MY, false), p(MY, false)));
        // My-org subject to a foreign remote: both need an external endpoint.
        assert!(may_disclose_alive(MY, p(MY, true), p("Org2MSP", true)));
        assert!(!may_disclose_alive(MY, p(MY, false), p("Org2MSP", true)));
        assert!(!may_disclose_alive(MY, p(MY, true), p("Org2MSP", false)));
        // A foreign subject goes only to remotes of its own org.
        assert!(may_disclose_alive(
            MY,
            p("Org2MSP", false),
            p("Org2MSP", true)
        ));
        assert!(!may_disclose_alive(MY, p("Org2MSP", true), p(MY, true)));
        assert!(!may_disclose_alive(
            MY,
            p("Org2MSP", true),
            p("Org3MSP", true)
        ));
        // Unknown org: never.
        assert!(!may_disclose_alive(MY, p("", true), p(MY, true)));
    }

    #[test]
    fn rule2_secrets_stay_in_the_org() {
        assert!(may_send_secret(MY, p(MY, false)));
        assert!(!may_send_secret(MY, p("Org2MSP", true)));
    }

    #[test]
    fn rules3_and_4_forwarding() {
        // My-org alive without an external endpoint stays in my org.
        assert!(may_forward_alive(MY, p(MY, false), p(MY, false)));
        assert!(!may_forward_alive(MY, p(MY, false), p("Org2MSP", true)));
        assert!(may_forward_alive(MY, p(MY, true), p("Org2MSP", true)));
        // A foreign-origin alive: to my org or its own, and never to peers without an external endpoint.
        assert!(may_forward_alive(MY, p("Org2MSP", true), p(MY, true)));
        assert!(!may_forward_alive(MY, p("Org2MSP", true), p(MY, false)));
        assert!(may_forward_alive(
            MY,
            p("Org2MSP", true),
            p("Org2MSP", true)
        ));
        assert!(!may_forward_alive(
            MY,
            p("Org2MSP", true),
            p("Org3MSP", true)
        ));
    }

    #[test]
    fn rule6_state_info() {
        assert!(may_disclose_state_info(p(MY, false), p(MY, false)));
        assert!(!may_disclose_state_info(p(MY, false), p("Org2MSP", true)));
        assert!(may_disclose_state_info(p(MY, true), p("Org2MSP", true)));
    }

    #[test]
    fn rule8_anchor_contact() {
        assert!(may_contact_anchor(MY, false, MY));
        assert!(!may_contact_anchor(MY, false, "Org2MSP"));
        assert!(may_contact_anchor(MY, true, "Org2MSP"));
    }
}
