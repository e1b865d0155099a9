//! SHA-256 helpers.

use ring::digest::{Context, SHA256, digest};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 over the concatenation of `parts`, without building the concatenation.
pub fn sha256_concat<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Fabric's transaction id: hex(SHA-256(nonce ‖ creator)), so a creator cannot choose another's id.
pub fn tx_id(nonce: &[u8], creator: &[u8]) -> String {
    hex::encode(sha256_concat([nonce, creator]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_equals_hash_of_concatenation() {
        assert_eq!(sha256_concat([b"ab".as_slice(), b"c"]), sha256(b"abc"));
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tx_id_depends_on_creator() {
        assert_ne!(tx_id(b"n", b"alice"), tx_id(b"n", b"bob"));
        assert_eq!(tx_id(b"n", b"alice").len(), 64);
    }
}
