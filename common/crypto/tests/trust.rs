//! Identities, policies and blocks checked end to end with real certificates made by rcgen.

use std::time::SystemTime;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use weft_crypto::block::{self, BlockError};
use weft_crypto::bundle::{implicit_meta, signature_policy};
use weft_crypto::{ChannelBundle, Signer, envelope};
use weft_wire::common::{ApplicationConfig, ChannelConfig, HeaderType, OrdererConfig, OrgConfig};

struct Org {
    ca_cert_der: Vec<u8>,
    ca_key: KeyPair,
    ca_params: CertificateParams,
    mspid: String,
}

impl Org {
    fn new(mspid: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("ca.{mspid}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Org {
            ca_cert_der: cert.der().to_vec(),
            ca_key: key,
            ca_params: params,
            mspid: mspid.into(),
        }
    }

    fn signer(&self, cn: &str, ou: &str) -> Signer {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Signer::new(&self.mspid, cert.pem().into_bytes(), &key.serialize_der()).unwrap()
    }

    fn config(&self) -> OrgConfig {
        let member = format!("OR('{0}.member')", self.mspid);
        OrgConfig {
            name: self.mspid.clone(),
            msp_id: self.mspid.clone(),
            root_certs: vec![self.ca_cert_der.clone()],
            node_ous_enabled: true,
            policies: [
                ("Readers".to_string(), signature_policy(&member)),
                (
                    "Writers".to_string(),
                    signature_policy(&format!("OR('{0}.admin','{0}.client')", self.mspid)),
                ),
                (
                    "Admins".to_string(),
                    signature_policy(&format!("OR('{0}.admin')", self.mspid)),
                ),
                (
                    "BlockValidation".to_string(),
                    signature_policy(&format!("OR('{0}.orderer')", self.mspid)),
                ),
            ]
            .into(),
            ..Default::default()
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn channel(orderer: &Org, orgs: &[&Org]) -> ChannelBundle {
    let meta = |r: &str| implicit_meta(r);
    let config = ChannelConfig {
        channel_id: "mychannel".into(),
        orderer: Some(OrdererConfig {
            orgs: vec![orderer.config()],
            policies: [
                ("BlockValidation".to_string(), meta("ANY BlockValidation")),
                ("Readers".to_string(), meta("ANY Readers")),
            ]
            .into(),
            ..Default::default()
        }),
        application: Some(ApplicationConfig {
            orgs: orgs.iter().map(|o| o.config()).collect(),
            policies: [
                ("Admins".to_string(), meta("MAJORITY Admins")),
                ("Writers".to_string(), meta("ANY Writers")),
                ("Readers".to_string(), meta("ANY Readers")),
            ]
            .into(),
            ..Default::default()
        }),
        policies: weft_crypto::bundle::default_channel_policies(),
        ..Default::default()
    };
    ChannelBundle::new(config).unwrap()
}

#[test]
fn signed_block_verifies_and_tampering_is_caught() {
    let ord = Org::new("OrdererMSP");
    let org1 = Org::new("Org1MSP");
    let bundle = channel(&ord, &[&org1]);
    let orderer = ord.signer("orderer.example.com", "orderer");

    let mut b0 = block::new_block(0, vec![], vec![b"genesis".to_vec()]);
    block::sign_block(&mut b0, &orderer, 0);
    block::verify_next(&b0, 0, &[], &bundle, now()).unwrap();
    let h0 = block::header_hash(b0.header.as_ref().unwrap());

    let mut b1 = block::new_block(1, h0.to_vec(), vec![b"tx1".to_vec(), b"tx2".to_vec()]);
    block::sign_block(&mut b1, &orderer, 0);
    block::verify_next(&b1, 1, &h0, &bundle, now()).unwrap();
    assert_eq!(block::last_config_index(&b1), Some(0));

    assert!(matches!(
        block::verify_next(&b1, 2, &h0, &bundle, now()),
        Err(BlockError::WrongNumber { .. })
    ));
    assert!(matches!(
        block::verify_next(&b1, 1, &[0; 32], &bundle, now()),
        Err(BlockError::BrokenChain { .. })
    ));

    let mut tampered = b1.clone();
    tampered.data.as_mut().unwrap().data[0] = b"evil".to_vec().into();
    assert!(matches!(
        block::verify_next(&tampered, 1, &h0, &bundle, now()),
        Err(BlockError::BadDataHash { .. })
    ));

    // Signed by a peer of Org1 instead of the orderer: a valid signature that the policy refuses.
    let mut forged = block::new_block(1, h0.to_vec(), vec![b"tx".to_vec()]);
    block::sign_block(
        &mut forged,
        &org1.signer("peer0.org1.example.com", "peer"),
        0,
    );
    let err = block::verify_next(&forged, 1, &h0, &bundle, now()).unwrap_err();
    assert!(matches!(err, BlockError::BadSignature { .. }), "{err}");

    // A signature from an orderer of an unknown CA.
    let rogue = Org::new("OrdererMSP");
    let mut forged = block::new_block(1, h0.to_vec(), vec![b"tx".to_vec()]);
    block::sign_block(
        &mut forged,
        &rogue.signer("orderer.example.com", "orderer"),
        0,
    );
    let err = block::verify_next(&forged, 1, &h0, &bundle, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not issued by a root CA"), "{err}");
}

#[test]
fn envelope_authorisation_follows_channel_policies() {
    let ord = Org::new("OrdererMSP");
    let org1 = Org::new("Org1MSP");
    let org2 = Org::new("Org2MSP");
    let bundle = channel(&ord, &[&org1, &org2]);
    let admin1 = org1.signer("Admin@org1.example.com", "admin");
    let peer1 = org1.signer("peer0.org1.example.com", "peer");

    let (env, txid) = envelope::create(
        &admin1,
        HeaderType::Message,
        "mychannel",
        b"hi".to_vec(),
        SystemTime::now(),
    );
    let opened = envelope::open(&env).unwrap();
    assert_eq!(opened.channel_header.tx_id, txid);
    opened
        .authorize(&bundle, "/Channel/Writers", now())
        .unwrap();
    opened
        .authorize(&bundle, "/Channel/Readers", now())
        .unwrap();
    // One org's admin is not a majority of two.
    assert!(
        opened
            .authorize(&bundle, "/Channel/Application/Admins", now())
            .is_err()
    );
    opened
        .authorize(&bundle, "/Channel/Application/Org1MSP/Admins", now())
        .unwrap();

    let (env, _) = envelope::create(
        &peer1,
        HeaderType::Message,
        "mychannel",
        b"hi".to_vec(),
        SystemTime::now(),
    );
    let opened = envelope::open(&env).unwrap();
    opened
        .authorize(&bundle, "/Channel/Readers", now())
        .unwrap();
    assert!(
        opened
            .authorize(&bundle, "/Channel/Writers", now())
            .is_err(),
        "peers are not writers"
    );

    let (mut env, _) = envelope::create(
        &admin1,
        HeaderType::Message,
        "mychannel",
        b"hi".to_vec(),
        SystemTime::now(),
    );
    env.payload.push(0);
    let err = envelope::open(&env).map(|o| o.authorize(&bundle, "/Channel/Writers", now()));
    assert!(
        !matches!(err, Ok(Ok(()))),
        "a payload changed after signing must not pass"
    );

    assert!(matches!(
        bundle.evaluate("/Channel/Nope", &[], now()),
        Err(weft_crypto::PolicyError::NotFound(_))
    ));
}

#[test]
fn expired_identity_is_refused() {
    let org1 = Org::new("Org1MSP");
    let ident =
        weft_crypto::Identity::from_serialized(org1.signer("x", "client").serialized()).unwrap();
    let msp = weft_crypto::Msp::from_config(&org1.config()).unwrap();
    msp.validate(&ident, now()).unwrap();
    assert!(msp.validate(&ident, ident.not_after + 1).is_err());
    let no_ou = org1.signer("y", "marketing");
    let ident = weft_crypto::Identity::from_serialized(no_ou.serialized()).unwrap();
    assert!(matches!(
        msp.validate(&ident, now()),
        Err(weft_crypto::IdentityError::NoNodeOu { .. })
    ));
}

#[test]
fn a_peer_s_own_signature_is_recognised_and_a_tampered_copy_still_refused() {
    let org1 = Org::new("Org1MSP");
    let bundle = channel(&Org::new("OrdererMSP"), &[&org1]);
    let peer = org1.signer("peer0.org1.example.com", "peer");
    let own = weft_crypto::OwnSignatures::new(&peer);
    let data = b"proposal response payload".to_vec();
    let signature = own.sign(&peer, &data);
    let mut tampered = signature.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let signed = |signature| weft_crypto::SignedData {
        identity: peer.serialized(),
        data: &data,
        signature,
    };

    // A copy whose signature was changed is not ours: it is verified, and fails.
    let (ok, rejected) = bundle.verify_signers(&[signed(&tampered)], now(), Some(&own));
    assert!(ok.is_empty());
    assert_eq!(rejected.len(), 1, "{rejected:?}");

    // The signature as made is recognised (and so used up: ECDSA was not asked), and its signer is verified.
    let (ok, rejected) = bundle.verify_signers(&[signed(&signature)], now(), Some(&own));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(ok[0].identity.common_name, "peer0.org1.example.com");
    assert!(
        !own.take(&signed(&signature)),
        "looked up by verify_signers"
    );

    // Met again, it is verified as anyone's signature would be.
    let (ok, _) = bundle.verify_signers(&[signed(&signature)], now(), Some(&own));
    assert_eq!(ok.len(), 1);
}
