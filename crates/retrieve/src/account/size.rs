//! Sizes as written: a number of bytes or text such as `"50MB"`.

use serde::{Deserialize, Serialize};

/// A size: a number of bytes, or text such as `"50MB"`, `"10 MiB"`, `"512k"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    /// Bytes.
    Bytes(i64),
    /// A number with a unit: B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024);
    /// K, M and G alone mean KiB, MiB, GiB.
    Text(String),
}

/// Parses a size such as `50MB`, `10 MiB`, `512k` or `1048576`.
///
/// # Errors
/// A message saying what is wrong, for the `max_message_size` field.
pub fn parse_size(value: &SizeValue) -> Result<u64, String> {
    let text = match value {
        SizeValue::Bytes(n) => {
            return u64::try_from(*n).map_err(|_| format!("must not be negative (got {n})"));
        }
        SizeValue::Text(t) => t.trim(),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit = unit.trim();
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (write e.g. \"50MB\" or \"10MiB\")"))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "k" | "kib" => 1024,
        "m" | "mib" => 1024 * 1024,
        "g" | "gib" => 1024 * 1024 * 1024,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}
