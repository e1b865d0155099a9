//! Reading PEM blocks (certificates, PKCS#8 keys) into DER.

use x509_parser::pem::Pem;

/// The DER contents of every PEM block in `data` with the given label (e.g. `CERTIFICATE`).
pub fn blocks(data: &[u8], label: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for pem in Pem::iter_from_buffer(data) {
        let pem = pem.map_err(|e| format!("bad PEM: {e}"))?;
        if pem.label == label {
            out.push(pem.contents);
        }
    }
    Ok(out)
}

/// The DER of the first PEM block with `label`, or an error saying none was found.
pub fn first(data: &[u8], label: &str) -> Result<Vec<u8>, String> {
    blocks(data, label)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("no PEM block labelled {label}"))
}

/// Encodes DER as PEM with `label`.
pub fn encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_read_round_trips() {
        for len in 0..10 {
            let der: Vec<u8> = (0..len * 7).map(|i| i as u8).collect();
            let pem = encode("CERTIFICATE", &der);
            assert_eq!(first(pem.as_bytes(), "CERTIFICATE").unwrap(), der);
        }
    }

    #[test]
    fn missing_label_is_an_error() {
        let pem = encode("PRIVATE KEY", b"abc");
        assert!(
            first(pem.as_bytes(), "CERTIFICATE")
                .unwrap_err()
                .contains("CERTIFICATE")
        );
    }
}
