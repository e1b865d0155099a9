//! configtx.yaml → channel configs and config transactions, and their validation by the orderer's rules.

use std::path::Path;
use std::time::SystemTime;

use weft_crypto::{ChannelBundle, LocalMsp, envelope};
use weft_orderer::config_update::{self, Update};
use weft_orderer::configtx::{self, ConfigTxError};
use weft_wire::Message;
use weft_wire::common::{
    ConfigSignature, ConfigUpdateEnvelope, Envelope, HeaderType, SignatureHeader, Status,
};

fn material() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local");
    let crypto = weft_ca::cryptogen::load_config(&root.join("crypto-config.yaml")).unwrap();
    weft_ca::cryptogen::generate(&crypto, &dir.path().join("crypto-config")).unwrap();
    let tmpl = std::fs::read_to_string(root.join("configtx.yaml.tmpl")).unwrap();
    let yaml = tmpl
        .replace("@ORDERER_ADDRESS@", "127.0.0.1:7050")
        .replace("@ORG1_ANCHOR_HOST@", "peer0.org1.example.com")
        .replace("@ORG1_ANCHOR_PORT@", "7051")
        .replace("@ORG2_ANCHOR_HOST@", "peer0.org2.example.com")
        .replace("@ORG2_ANCHOR_PORT@", "9051")
        .replace("@BATCH_TIMEOUT@", "2s");
    std::fs::write(dir.path().join("configtx.yaml"), yaml).unwrap();
    dir
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signer(dir: &Path, org: &str, user: &str) -> weft_crypto::Signer {
    let msp = dir.join(format!(
        "crypto-config/peerOrganizations/{org}.example.com/users/{user}@{org}.example.com/msp"
    ));
    let id = if org == "org1" { "Org1MSP" } else { "Org2MSP" };
    LocalMsp::load(&msp, id).unwrap().signer
}

/// Adds `s`'s config signature and wraps the update in an envelope signed by `s`, as `peer channel update` does.
fn sign_update(env: &Envelope, s: &weft_crypto::Signer) -> Envelope {
    let opened = envelope::open(env).unwrap();
    let mut cue: ConfigUpdateEnvelope = weft_wire::decode("cue", &opened.data).unwrap();
    let sh = SignatureHeader {
        creator: s.serialized().to_vec(),
        nonce: s.nonce(),
    }
    .encode_to_vec();
    let signature = s.sign(&[sh.as_slice(), &cue.config_update].concat());
    cue.signatures.push(ConfigSignature {
        signature_header: sh,
        signature,
    });
    envelope::create(
        s,
        HeaderType::ConfigUpdate,
        opened.channel_id(),
        cue.encode_to_vec(),
        SystemTime::now(),
    )
    .0
}

#[test]
fn profiles_resolve_anchors_and_merges() {
    let dir = material();
    let tx = configtx::load(dir.path()).unwrap();
    let sys = configtx::genesis_config(&tx, "TwoOrgsOrdererGenesis", "system-channel").unwrap();
    let o = sys.orderer.as_ref().unwrap();
    let b = o.batch_size.unwrap();
    assert_eq!(
        (
            b.max_message_count,
            b.absolute_max_bytes,
            b.preferred_max_bytes
        ),
        (10, 99 * 1024 * 1024, 512 * 1024)
    );
    assert_eq!(o.batch_timeout_ms, 2000);
    assert!(o.policies.contains_key("BlockValidation"));
    assert_eq!(sys.orderer_addresses, vec!["127.0.0.1:7050"]);
    // `<<: *ChannelDefaults` brought the channel policies and capabilities in.
    assert_eq!(sys.policies["Admins"].rule, "MAJORITY Admins");
    assert_eq!(sys.capabilities.get("V2_0"), Some(&true));
    let cons = &sys.consortiums[0];
    assert_eq!(cons.name, "SampleConsortium");
    assert_eq!(
        cons.orgs
            .iter()
            .map(|o| o.msp_id.as_str())
            .collect::<Vec<_>>(),
        ["Org1MSP", "Org2MSP"]
    );
    assert!(
        cons.orgs.iter().all(|o| o.anchor_peers.is_empty()
            && o.node_ous_enabled
            && !o.tls_root_certs.is_empty())
    );
    ChannelBundle::new(sys).unwrap();

    let genesis = configtx::genesis_block(
        configtx::genesis_config(&tx, "TwoOrgsOrdererGenesis", "system-channel").unwrap(),
        SystemTime::now(),
    );
    assert_eq!(
        weft_crypto::block::config_of(&genesis)
            .unwrap()
            .unwrap()
            .channel_id,
        "system-channel"
    );
}

#[test]
fn channel_creation_and_anchor_updates_follow_their_policies() {
    let dir = material();
    let tx = configtx::load(dir.path()).unwrap();
    let system = ChannelBundle::new(
        configtx::genesis_config(&tx, "TwoOrgsOrdererGenesis", "system-channel").unwrap(),
    )
    .unwrap();
    let create =
        configtx::channel_create_tx(&tx, "TwoOrgsChannel", "mychannel", SystemTime::now()).unwrap();

    let unsigned = Update::decode(&envelope::open(&create).unwrap()).unwrap();
    let err = config_update::create_channel(&system, &unsigned, now()).unwrap_err();
    assert_eq!(err.status, Status::Forbidden, "{err}");

    let by_user = sign_update(&create, &signer(dir.path(), "org1", "User1"));
    let err = config_update::create_channel(
        &system,
        &Update::decode(&envelope::open(&by_user).unwrap()).unwrap(),
        now(),
    );
    assert_eq!(
        err.unwrap_err().status,
        Status::Forbidden,
        "a client is not an admin"
    );

    let by_admin = sign_update(&create, &signer(dir.path(), "org1", "Admin"));
    let config = config_update::create_channel(
        &system,
        &Update::decode(&envelope::open(&by_admin).unwrap()).unwrap(),
        now(),
    )
    .unwrap();
    assert_eq!(config.channel_id, "mychannel");
    assert_eq!(config.application.as_ref().unwrap().orgs.len(), 2);
    let channel = ChannelBundle::new(config).unwrap();

    let anchors = configtx::anchor_peers_update(
        &tx,
        "TwoOrgsChannel",
        "mychannel",
        "Org1MSP",
        SystemTime::now(),
    )
    .unwrap();
    let by_org2 = sign_update(&anchors, &signer(dir.path(), "org2", "Admin"));
    let err = config_update::apply(
        &channel,
        &Update::decode(&envelope::open(&by_org2).unwrap()).unwrap(),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err.status,
        Status::Forbidden,
        "Org2's admin cannot set Org1's anchors: {err}"
    );
    let by_org1 = sign_update(&anchors, &signer(dir.path(), "org1", "Admin"));
    let next = config_update::apply(
        &channel,
        &Update::decode(&envelope::open(&by_org1).unwrap()).unwrap(),
        now(),
    )
    .unwrap();
    assert_eq!(next.sequence, 1);
    let org1 = &next.application.as_ref().unwrap().orgs[0];
    assert_eq!(
        (
            org1.anchor_peers[0].host.as_str(),
            org1.anchor_peers[0].port
        ),
        ("peer0.org1.example.com", 7051)
    );

    let again = config_update::create_channel(
        &system,
        &Update::decode(&envelope::open(&by_org1).unwrap()).unwrap(),
        now(),
    );
    assert_eq!(
        again.unwrap_err().status,
        Status::NotFound,
        "an anchor update is not a channel creation"
    );
}

#[test]
fn bad_configtx_input_names_what_is_wrong() {
    let dir = material();
    let err = configtx::load(&dir.path().join("missing")).unwrap_err();
    assert!(
        matches!(err, ConfigTxError::Read { .. }) && err.to_string().contains("/missing"),
        "{err}"
    );

    let tx = configtx::load(dir.path()).unwrap();
    assert!(matches!(
        configtx::genesis_config(&tx, "Nope", "c"),
        Err(ConfigTxError::NoProfile(_))
    ));
    let err = configtx::channel_create_tx(&tx, "TwoOrgsOrdererGenesis", "c", SystemTime::now())
        .unwrap_err();
    assert!(err.to_string().contains("Consortium"), "{err}");
    let err =
        configtx::anchor_peers_update(&tx, "TwoOrgsChannel", "c", "Org9MSP", SystemTime::now())
            .unwrap_err();
    assert!(err.to_string().contains("Org9MSP"), "{err}");

    let original = std::fs::read_to_string(dir.path().join("configtx.yaml")).unwrap();
    let cases = [
        (
            "crypto-config/peerOrganizations/org1.example.com/msp",
            "crypto-config/nowhere/msp",
            "nowhere/msp",
        ),
        (
            "Rule: \"OR('Org1MSP.admin')\"",
            "Rule: \"OR('Org1MSP.chief')\"",
            "SampleConsortium.Org1MSP.Policies.Admins: cannot parse policy",
        ),
        (
            "        BlockValidation:\n            Type: ImplicitMeta\n            Rule: \"ANY Writers\"\n",
            "",
            "Orderer.Policies.BlockValidation is missing",
        ),
        (
            "MaxMessageCount: 10",
            "MaxMessageCount: ten",
            "MaxMessageCount",
        ),
        (
            "PreferredMaxBytes: 512 KB",
            "PreferredMaxBytes: 100 MB",
            "PreferredMaxBytes exceeds AbsoluteMaxBytes",
        ),
    ];
    for (from, to, expect) in cases {
        assert!(original.contains(from), "{from}");
        std::fs::write(
            dir.path().join("configtx.yaml"),
            original.replacen(from, to, 1),
        )
        .unwrap();
        let err = configtx::load(dir.path())
            .and_then(|tx| configtx::genesis_config(&tx, "TwoOrgsOrdererGenesis", "s"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{to:?}: expected {expect:?} in {err}");
    }
}
