//! An organisation's certificate authority (signing CA or TLS CA) and the certificates it
//! issues, with the same subjects, extensions and validity as Fabric's `cryptogen/ca`.

use std::net::IpAddr;

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::SecureRandom;
use time::{Duration, OffsetDateTime};

use super::config::CaSpec;
use super::error::CryptogenError;
use super::key::EcKey;

/// OID of `street` (X.520 streetAddress).
const OID_STREET: [u64; 4] = [2, 5, 4, 9];
/// OID of `postalCode`.
const OID_POSTAL_CODE: [u64; 4] = [2, 5, 4, 17];
/// OID of `OU`, used for a second OU attribute (rcgen keeps one value per attribute type).
const OID_OU: [u64; 4] = [2, 5, 4, 11];

/// Subject fields shared by a CA and everything it issues (Fabric's `subjectTemplateAdditional`).
#[derive(Debug, Clone)]
pub(crate) struct SubjectBase {
    country: String,
    province: String,
    locality: String,
    org_unit: Option<String>,
    street: Option<String>,
    postal_code: Option<String>,
}

impl SubjectBase {
    /// cryptogen's defaults (`US`, `California`, `San Francisco`) overridden by the `CA:` block.
    pub(crate) fn from_spec(spec: Option<&CaSpec>) -> Self {
        let pick = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned();
        let spec = spec.cloned().unwrap_or_default();
        Self {
            country: pick(spec.country.as_ref()).unwrap_or_else(|| "US".to_owned()),
            province: pick(spec.province.as_ref()).unwrap_or_else(|| "California".to_owned()),
            locality: pick(spec.locality.as_ref()).unwrap_or_else(|| "San Francisco".to_owned()),
            org_unit: pick(spec.organizational_unit.as_ref()),
            street: pick(spec.street_address.as_ref()),
            postal_code: pick(spec.postal_code.as_ref()),
        }
    }

    /// Go's `pkix.Name` order: C, ST, L, street, postalCode, O, OU..., CN.
    fn name(&self, org: Option<&str>, ous: &[&str], cn: &str) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, value(&self.country));
        dn.push(DnType::StateOrProvinceName, value(&self.province));
        dn.push(DnType::LocalityName, value(&self.locality));
        if let Some(street) = &self.street {
            dn.push(DnType::CustomDnType(OID_STREET.to_vec()), value(street));
        }
        if let Some(postal) = &self.postal_code {
            dn.push(
                DnType::CustomDnType(OID_POSTAL_CODE.to_vec()),
                value(postal),
            );
        }
        if let Some(org) = org {
            dn.push(DnType::OrganizationName, value(org));
        }
        let all_ous = self
            .org_unit
            .as_deref()
            .into_iter()
            .chain(ous.iter().copied());
        for (i, ou) in all_ous.enumerate() {
            let ty = match i {
                0 => DnType::OrganizationalUnitName,
                _ => DnType::CustomDnType(OID_OU.to_vec()),
            };
            dn.push(ty, value(ou));
        }
        dn.push(DnType::CommonName, value(cn));
        dn
    }
}

/// Like Go's encoding/asn1: PrintableString when the text allows it, UTF8String otherwise.
fn value(s: &str) -> DnValue {
    match PrintableString::try_from(s) {
        Ok(p) => DnValue::PrintableString(p),
        Err(_) => DnValue::Utf8String(s.to_owned()),
    }
}

/// What an issued leaf certificate is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Usage<'a> {
    /// MSP enrollment certificate: digitalSignature, no EKU, no SANs; `ous` become OUs.
    Signing { ous: &'a [&'a str] },
    /// TLS certificate: digitalSignature + keyEncipherment, serverAuth + clientAuth, `sans`.
    Tls { sans: &'a [String] },
}

/// A leaf certificate and its private key.
pub(crate) struct Issued {
    pub cert_pem: String,
    pub key: EcKey,
}

/// A self-signed root CA able to issue leaves.
pub(crate) struct Ca {
    name: String,
    base: SubjectBase,
    params: CertificateParams,
    key: EcKey,
    cert_pem: String,
}

impl Ca {
    /// Creates a root CA `CN=<name>, O=<org>` with cryptogen's CA extensions.
    pub(crate) fn new(name: &str, org: &str, base: &SubjectBase) -> Result<Self, CryptogenError> {
        let key = EcKey::generate()?;
        let mut params = base_params()?;
        params.distinguished_name = base.name(Some(org), &[], name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        params.key_identifier_method = KeyIdMethod::PreSpecified(key.ski());
        let cert = params
            .self_signed(&key)
            .map_err(CryptogenError::crypto(format!("CA certificate {name}")))?;
        Ok(Self {
            name: name.to_owned(),
            base: base.clone(),
            params,
            key,
            cert_pem: cert.pem(),
        })
    }

    /// The CA's CN, which also names its certificate file (`<name>-cert.pem`).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub(crate) fn key_pem(&self) -> &str {
        self.key.pkcs8_pem()
    }

    /// Issues a certificate for a fresh key with `CN=<cn>` for the given usage.
    pub(crate) fn issue(&self, cn: &str, usage: Usage<'_>) -> Result<Issued, CryptogenError> {
        let what = || format!("certificate {cn} from {}", self.name);
        let key = EcKey::generate()?;
        let mut params = base_params()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = KeyIdMethod::PreSpecified(key.ski());
        match usage {
            Usage::Signing { ous } => {
                params.distinguished_name = self.base.name(None, ous, cn);
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            }
            Usage::Tls { sans } => {
                params.distinguished_name = self.base.name(None, &[], cn);
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
                params.subject_alt_names = sans
                    .iter()
                    .map(|s| san(s))
                    .collect::<Result<_, _>>()
                    .map_err(CryptogenError::crypto(what()))?;
            }
        }
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(CryptogenError::crypto(what()))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key,
        })
    }
}

fn san(s: &str) -> Result<SanType, rcgen::Error> {
    Ok(match s.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(s.try_into()?),
    })
}

/// Random 128-bit serial and cryptogen's validity: from the current minute less five minutes,
/// for ten years (3650 days).
fn base_params() -> Result<CertificateParams, CryptogenError> {
    let mut serial = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| CryptogenError::Crypto {
            what: "certificate serial number".to_owned(),
            reason: "system random source failed".to_owned(),
        })?;
    let now = OffsetDateTime::now_utc();
    let rounded = now.unix_timestamp() + 30;
    let minute = OffsetDateTime::from_unix_timestamp(rounded - rounded.rem_euclid(60))
        .unwrap_or(now)
        .replace_nanosecond(0)
        .unwrap_or(now);
    let not_before = minute - Duration::minutes(5);
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = not_before;
    params.not_after = not_before + Duration::days(3650);
    Ok(params)
}
