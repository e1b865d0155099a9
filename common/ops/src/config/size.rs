//! Byte sizes as Fabric's YAML writes them (`99 MB`, `512 KB`, `10MB`, `2g`, or a plain number of bytes).
//!
//! Use as `#[serde(with = "weft_ops::config::size")]` on a `u32` or `u64` field. Units are binary, as in
//! Fabric's configtxgen (`KB` = 1024, `MB` = 1024², `GB` = 1024³), case-insensitive, with an optional `B` or `iB`
//! suffix and optional space before them; no fractions. Serialising writes the largest exact unit (`99 MB`,
//! `512 KB`) or the plain number of bytes.

use serde::{Deserializer, Serializer, de};

const KB: u64 = 1024;
const MB: u64 = 1024 * KB;
const GB: u64 = 1024 * MB;

/// Why a size was rejected. The message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Not `<digits>[ ]<unit>`.
    #[error(
        "invalid byte size {0:?}: expected a whole number with an optional unit, e.g. 99 MB, 512 KB or 1048576"
    )]
    Syntax(String),
    /// A unit other than B, KB, MB, GB.
    #[error("invalid byte size {input:?}: unknown unit {unit:?} (expected B, KB, MB or GB)")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unrecognised unit.
        unit: String,
    },
    /// Larger than the field can hold.
    #[error("byte size {input:?} is too large (at most {max} bytes)")]
    TooLarge {
        /// The whole input.
        input: String,
        /// The largest value the field can hold.
        max: u64,
    },
}

/// Parses a size into bytes.
pub fn parse(input: &str) -> Result<u64, SizeError> {
    let text = input.trim();
    let digits_len = text.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, unit) = text.split_at(digits_len);
    if digits.is_empty() {
        return Err(SizeError::Syntax(input.to_owned()));
    }
    let too_large = || SizeError::TooLarge {
        input: input.to_owned(),
        max: u64::MAX,
    };
    let scale = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KB,
        "m" | "mb" | "mib" => MB,
        "g" | "gb" | "gib" => GB,
        _ if unit
            .trim_start()
            .starts_with(|c: char| c.is_ascii_alphabetic()) =>
        {
            return Err(SizeError::UnknownUnit {
                input: input.to_owned(),
                unit: unit.trim().to_owned(),
            });
        }
        _ => return Err(SizeError::Syntax(input.to_owned())),
    };
    let n: u64 = digits.parse().map_err(|_| too_large())?;
    n.checked_mul(scale).ok_or_else(too_large)
}

/// Formats with the largest unit that divides exactly (`99 MB`), else as plain bytes (`1000`).
pub fn format(bytes: u64) -> String {
    match exact_unit(bytes) {
        Some((n, unit)) => format!("{n} {unit}"),
        None => bytes.to_string(),
    }
}

fn exact_unit(bytes: u64) -> Option<(u64, &'static str)> {
    [(GB, "GB"), (MB, "MB"), (KB, "KB")]
        .into_iter()
        .find(|(scale, _)| bytes != 0 && bytes.is_multiple_of(*scale))
        .map(|(scale, unit)| (bytes / scale, unit))
}

/// Serde `serialize_with`: `99 MB` when a unit divides exactly, else the integer.
pub fn serialize<S, T>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Copy + Into<u64>,
{
    let bytes: u64 = (*value).into();
    match exact_unit(bytes) {
        Some(_) => serializer.serialize_str(&format(bytes)),
        None => serializer.serialize_u64(bytes),
    }
}

/// Serde `deserialize_with`: a size string or an integer number of bytes, into any `T: TryFrom<u64>` (`u32`,
/// `u64`).
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let (bytes, text) = deserializer.deserialize_any(SizeVisitor)?;
    T::try_from(bytes).map_err(|_| {
        let max = [u64::MAX, u32::MAX.into(), u16::MAX.into(), u8::MAX.into()]
            .into_iter()
            .find(|m| T::try_from(*m).is_ok())
            .unwrap_or(0);
        de::Error::custom(SizeError::TooLarge { input: text, max })
    })
}

/// Yields the byte count and the input's text (for messages).
struct SizeVisitor;

impl de::Visitor<'_> for SizeVisitor {
    type Value = (u64, String);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a byte size such as \"99 MB\", \"512 KB\" or a number of bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse(v).map(|n| (n, v.to_owned())).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok((v, v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(|n| (n, v.to_string()))
            .map_err(|_| E::custom(SizeError::Syntax(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fabric_sizes() {
        let cases = [
            ("99 MB", 99 * MB),
            ("512 KB", 512 * KB),
            ("10MB", 10 * MB),
            ("2g", 2 * GB),
            ("1 MiB", MB),
            ("1048576", MB),
            ("7 b", 7),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        for (bytes, want) in [
            (99 * MB, "99 MB"),
            (512 * KB, "512 KB"),
            (3 * GB, "3 GB"),
            (1000, "1000"),
            (0, "0"),
        ] {
            assert_eq!(format(bytes), want);
            assert_eq!(parse(want), Ok(bytes));
        }
    }

    #[test]
    fn rejects_garbage_with_a_clear_message() {
        assert_eq!(
            parse("99 XB").expect_err("unit").to_string(),
            "invalid byte size \"99 XB\": unknown unit \"XB\" (expected B, KB, MB or GB)"
        );
        assert!(matches!(parse("MB"), Err(SizeError::Syntax(_))));
        assert!(matches!(parse("1.5 MB"), Err(SizeError::Syntax(_))));
        assert!(matches!(parse("-1"), Err(SizeError::Syntax(_))));
        assert!(matches!(
            parse("99999999999 GB"),
            Err(SizeError::TooLarge { .. })
        ));
    }

    #[test]
    fn serde_into_u32_and_u64() {
        #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
        struct C {
            #[serde(with = "super")]
            small: u32,
            #[serde(with = "super")]
            big: u64,
        }
        let c: C = serde_yaml_ng::from_str("small: 99 MB\nbig: 1000").expect("sizes");
        assert_eq!(
            c,
            C {
                small: 99 * 1024 * 1024,
                big: 1000
            }
        );
        assert_eq!(
            serde_yaml_ng::to_string(&c).expect("ser"),
            "small: 99 MB\nbig: 1000\n"
        );
        let err = serde_yaml_ng::from_str::<C>("small: 8 GB\nbig: 1").expect_err("too large");
        assert!(
            err.to_string().contains("at most 4294967295 bytes"),
            "{err}"
        );
    }
}
