//! Go-style durations (`5s`, `500ms`, `1m30s`, `1.5h`) for config fields, as Fabric's YAML files write them.
//!
//! Use as `#[serde(with = "weft_ops::config::duration")]` on a `std::time::Duration` field. Parsing accepts Go's
//! `time.ParseDuration` syntax (units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`, several terms, decimal
//! fractions) and, as a convenience, a bare non-negative integer meaning seconds (`30` or `"30"`). Negative
//! durations are rejected since `Duration` cannot hold them. Serialising writes Go's `Duration.String()` form
//! (`5s`, `500ms`, `1m30s`, `1h0m0s`), which parses back to the same value.

use std::time::Duration;

use serde::{Deserializer, Serializer, de};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Why a duration string was rejected. The message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("invalid duration \"\": empty")]
    Empty,
    /// A number without a unit, e.g. `5` inside `1m5`.
    #[error("invalid duration {0:?}: missing unit (expected ns, us, µs, ms, s, m or h)")]
    MissingUnit(String),
    /// A unit that Go does not know.
    #[error(
        "invalid duration {input:?}: unknown unit {unit:?} (expected ns, us, µs, ms, s, m or h)"
    )]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unrecognised unit.
        unit: String,
    },
    /// Not of the form `<number><unit>...`.
    #[error(
        "invalid duration {0:?}: expected a number followed by a unit, e.g. 5s, 500ms or 1m30s"
    )]
    Syntax(String),
    /// A leading `-`.
    #[error("invalid duration {0:?}: must not be negative")]
    Negative(String),
    /// More than about 584 years.
    #[error("invalid duration {0:?}: out of range")]
    Overflow(String),
}

/// Parses a Go duration string (or bare integer seconds).
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if text.is_empty() {
        return Err(DurationError::Syntax(input.to_owned()));
    }
    let total = if text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u128 = text
            .parse()
            .map_err(|_| DurationError::Overflow(input.to_owned()))?;
        secs.checked_mul(NANOS_PER_SEC)
            .ok_or_else(|| DurationError::Overflow(input.to_owned()))?
    } else {
        sum_terms(text, input)?
    };
    if negative && total != 0 {
        return Err(DurationError::Negative(input.to_owned()));
    }
    if total > u128::from(u64::MAX) {
        return Err(DurationError::Overflow(input.to_owned()));
    }
    let secs = u64::try_from(total / NANOS_PER_SEC)
        .map_err(|_| DurationError::Overflow(input.to_owned()))?;
    let nanos = u32::try_from(total % NANOS_PER_SEC)
        .map_err(|_| DurationError::Overflow(input.to_owned()))?;
    Ok(Duration::new(secs, nanos))
}

/// Adds up the `<number><unit>` terms of `text`, in nanoseconds.
fn sum_terms(text: &str, input: &str) -> Result<u128, DurationError> {
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (term_nanos, tail) = parse_term(rest, input)?;
        total = total
            .checked_add(term_nanos)
            .ok_or_else(|| DurationError::Overflow(input.to_owned()))?;
        rest = tail;
    }
    Ok(total)
}

/// Parses one `<int>[.<frac>]<unit>` term from the front of `s`; returns its nanoseconds and the remainder.
fn parse_term<'a>(s: &'a str, input: &str) -> Result<(u128, &'a str), DurationError> {
    let syntax = || DurationError::Syntax(input.to_owned());
    let overflow = || DurationError::Overflow(input.to_owned());

    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int_digits, after_int) = s.split_at(int_len);
    let (frac_digits, after_num) = match after_int.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            r.split_at(n)
        }
        None => ("", after_int),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(syntax());
    }
    let unit_len = after_num
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || *c == '.')
        .map_or(after_num.len(), |(i, _)| i);
    let (unit, tail) = after_num.split_at(unit_len);
    let scale: u128 = match unit {
        "" => return Err(DurationError::MissingUnit(input.to_owned())),
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        other => {
            return Err(DurationError::UnknownUnit {
                input: input.to_owned(),
                unit: other.to_owned(),
            });
        }
    };
    let whole: u128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().map_err(|_| overflow())?
    };
    let mut nanos = whole.checked_mul(scale).ok_or_else(overflow)?;
    // Digits beyond nanosecond precision of the largest unit cannot matter; ignore them as Go does.
    let frac_digits = &frac_digits[..frac_digits.len().min(18)];
    if !frac_digits.is_empty() {
        let frac: u128 = frac_digits.parse().map_err(|_| syntax())?;
        let denom = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| syntax())?);
        nanos = nanos
            .checked_add(frac * scale / denom)
            .ok_or_else(overflow)?;
    }
    Ok((nanos, tail))
}

/// Formats like Go's `Duration.String()`: `0s`, `250ns`, `1.5µs`, `500ms`, `5s`, `1m30s`, `2h0m0s`.
pub fn format(d: Duration) -> String {
    let total = d.as_nanos();
    if total == 0 {
        return "0s".to_owned();
    }
    if total < NANOS_PER_SEC {
        return if total < 1_000 {
            format!("{total}ns")
        } else if total < 1_000_000 {
            format!("{}µs", decimal(total / 1_000, total % 1_000, 3))
        } else {
            format!("{}ms", decimal(total / 1_000_000, total % 1_000_000, 6))
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
    let s = decimal(u128::from(s), u128::from(d.subsec_nanos()), 9);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `whole.frac` with `frac` given to `digits` places, trailing zeros (and a bare point) removed.
fn decimal(whole: u128, frac: u128, digits: usize) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Serde `serialize_with`: writes the Go form.
pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*d))
}

/// Serde `deserialize_with`: reads a Go duration string or integer seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration such as \"5s\", \"500ms\" or \"1m30s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(DurationError::Negative(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax() {
        let cases = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("5s", Duration::from_secs(5)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3_600)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5h", Duration::from_secs(5_400)),
            (".5s", Duration::from_millis(500)),
            ("1h2m3s4ms5us6ns", Duration::new(3_723, 4_005_006)),
            ("7µs", Duration::from_micros(7)),
            ("7μs", Duration::from_micros(7)),
            ("+3s", Duration::from_secs(3)),
            ("30", Duration::from_secs(30)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn formats_like_go_and_round_trips() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(250), "250ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(7_200), "2h0m0s"),
            (Duration::new(3_723, 4_005_006), "1h2m3.004005006s"),
        ];
        for (d, want) in cases {
            assert_eq!(format(d), want);
            assert_eq!(parse(want), Ok(d), "{want}");
        }
    }

    #[test]
    fn rejects_garbage_with_a_clear_message() {
        let err = parse("5x").expect_err("unknown unit");
        assert_eq!(
            err.to_string(),
            "invalid duration \"5x\": unknown unit \"x\" (expected ns, us, µs, ms, s, m or h)"
        );
        assert!(matches!(parse("1m5"), Err(DurationError::MissingUnit(_))));
        assert!(matches!(parse("s"), Err(DurationError::Syntax(_))));
        assert!(matches!(parse("-5s"), Err(DurationError::Negative(_))));
        assert!(matches!(parse(""), Err(DurationError::Empty)));
        assert!(matches!(
            parse("99999999999h"),
            Err(DurationError::Overflow(_))
        ));
        assert_eq!(parse("-0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn serde_reads_strings_and_integer_seconds() {
        #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
        struct C {
            #[serde(with = "super")]
            t: Duration,
        }
        let c: C = serde_yaml_ng::from_str("t: 1m30s").expect("string");
        assert_eq!(c.t, Duration::from_secs(90));
        let c: C = serde_yaml_ng::from_str("t: 7").expect("integer");
        assert_eq!(c.t, Duration::from_secs(7));
        assert_eq!(serde_yaml_ng::to_string(&c).expect("ser"), "t: 7s\n");
        assert!(serde_yaml_ng::from_str::<C>("t: -7").is_err());
        assert!(serde_yaml_ng::from_str::<C>("t: true").is_err());
    }
}
