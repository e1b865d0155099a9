//! Composite keys in Fabric's format: `\u{0}` objectType `\u{0}` attr₁ `\u{0}` … attrₙ `\u{0}`.
//!
//! The leading `\u{0}` keeps composite keys out of simple range queries (which start at `\u{1}`),
//! and `\u{10FFFF}`, forbidden inside parts, bounds a partial-key range from above.

use crate::error::ChaincodeError;

/// Separates (and starts) the parts of a composite key.
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';
/// The largest Unicode scalar; appended to a partial composite key to bound its range.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

/// Builds a composite key; parts must not contain `\u{0}` or `\u{10FFFF}`.
pub fn create_composite_key(
    object_type: &str,
    attributes: &[&str],
) -> Result<String, ChaincodeError> {
    check_part(object_type)?;
    let mut key = String::with_capacity(2 + object_type.len());
    key.push(COMPOSITE_KEY_NAMESPACE);
    key.push_str(object_type);
    key.push(COMPOSITE_KEY_NAMESPACE);
    for attribute in attributes {
        check_part(attribute)?;
        key.push_str(attribute);
        key.push(COMPOSITE_KEY_NAMESPACE);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), ChaincodeError> {
    let inner = key
        .strip_prefix(COMPOSITE_KEY_NAMESPACE)
        .and_then(|rest| rest.strip_suffix(COMPOSITE_KEY_NAMESPACE))
        .ok_or_else(|| ChaincodeError::msg(format!("{key:?} is not a composite key")))?;
    let mut parts = inner.split(COMPOSITE_KEY_NAMESPACE).map(str::to_owned);
    // `split` always yields at least one item, possibly empty (an empty object type).
    let object_type = parts.next().unwrap_or_default();
    Ok((object_type, parts.collect()))
}

/// The `[start, end)` range holding every composite key that extends the partial key.
pub fn partial_key_range(
    object_type: &str,
    attributes: &[&str],
) -> Result<(String, String), ChaincodeError> {
    let start = create_composite_key(object_type, attributes)?;
    let mut end = start.clone();
    end.push(MAX_UNICODE_RUNE);
    Ok((start, end))
}

/// Whether `key` lives in the composite-key space.
pub fn is_composite(key: &str) -> bool {
    key.starts_with(COMPOSITE_KEY_NAMESPACE)
}

fn check_part(part: &str) -> Result<(), ChaincodeError> {
    if let Some(bad) = part
        .chars()
        .find(|&c| c == COMPOSITE_KEY_NAMESPACE || c == MAX_UNICODE_RUNE)
    {
        return Err(ChaincodeError::msg(format!(
            "composite key part {part:?} contains U+{:04X}, which is not allowed",
            u32::from(bad)
        )));
    }
    Ok(())
}
