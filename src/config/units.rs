//! Durations ("100ms", "30s", "5m", "1h30m", or plain seconds) and sizes ("512B", "10KB",
//! "300KiB", "32MiB", "1GiB", or plain bytes): parsing and the canonical spelling for `dump`.
//!
//! Owns: the accepted spellings and the messages that list them.
//! Must not: decide which values are sensible for a field (e.g. "> 0"); callers check that.

use std::time::Duration;

use serde_yaml::Value;

const DURATION_HELP: &str =
    "expected a whole number of seconds, or numbers with units ms, s, m, h \
                             (e.g. 100ms, 30s, 5m, 1h30m)";
const SIZE_HELP: &str =
    "expected a whole number of bytes, or a number with a unit B, KB, MB, GB, TB \
                         (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 32MiB";

/// Parses `"1h30m"`, `"100ms"`, `"30"` (seconds) ... Components may repeat and are summed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: {DURATION_HELP}");
    let s = text.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut millis: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || letters == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit: u64 = match &rest[digits..digits + letters] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        millis = n
            .checked_mul(unit)
            .and_then(|v| v.checked_add(millis))
            .ok_or_else(bad)?;
        rest = &rest[digits + letters..];
    }
    Ok(Duration::from_millis(millis))
}

/// Parses `"32MiB"`, `"10KB"`, `"512B"`, `"1024"` (bytes) into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {text:?}: {SIZE_HELP}");
    let s = text.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = s[..digits].parse().map_err(|_| bad())?;
    let unit: u64 = match &s[digits..] {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).ok_or_else(bad)
}

/// A duration field as written in YAML: an integer (seconds) or a string.
pub(crate) fn duration_value(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(secs) => Ok(Duration::from_secs(secs)),
            None => Err(format!("invalid duration {n}: {DURATION_HELP}")),
        },
        Value::String(s) => parse_duration(s),
        other => Err(format!(
            "expected a duration, found {}; {DURATION_HELP}",
            kind(other)
        )),
    }
}

/// A size field as written in YAML: an integer (bytes) or a string.
pub(crate) fn size_value(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("invalid size {n}: {SIZE_HELP}")),
        Value::String(s) => parse_size(s),
        other => Err(format!(
            "expected a size, found {}; {SIZE_HELP}",
            kind(other)
        )),
    }
}

/// A short name for the type of a YAML value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The canonical spelling: "1h30m", "250ms", "0s". Parses back to the same value (to the ms).
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let parts: [(u128, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
    let mut rest = total_ms;
    for (unit, name) in parts {
        if rest >= unit {
            out.push_str(&format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    out
}

/// The canonical spelling: the largest binary unit that divides exactly, then decimal, else bytes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 7] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    if bytes == 0 {
        return "0".to_string();
    }
    for (unit, name) in UNITS {
        if bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("100ms", Duration::from_millis(100)),
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("1m30s250ms", Duration::from_millis(90_250)),
            ("45", Duration::from_secs(45)),
            ("0", Duration::ZERO),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
            assert_eq!(parse_duration(&format_duration(want)), Ok(want), "{text}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(100)), "100ms");
    }

    #[test]
    fn bad_durations_say_what_is_accepted() {
        for bad in [
            "",
            "abc",
            "10x",
            "1.5s",
            "-3s",
            "s",
            "5 m",
            "1h-",
            "99999999999999999999h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("ms, s, m, h"), "{bad}: {err}");
        }
    }

    #[test]
    fn duration_values() {
        let v = |s: &str| serde_yaml::from_str::<Value>(s).unwrap();
        assert_eq!(duration_value(&v("30")), Ok(Duration::from_secs(30)));
        assert_eq!(duration_value(&v("2m")), Ok(Duration::from_secs(120)));
        assert!(duration_value(&v("-1"))
            .unwrap_err()
            .starts_with("invalid duration -1"));
        assert!(duration_value(&v("1.5")).is_err());
        assert!(duration_value(&v("[1]"))
            .unwrap_err()
            .contains("found a list"));
    }

    #[test]
    fn sizes() {
        let ok = [
            ("1024", 1024),
            ("512B", 512),
            ("10KB", 10_000),
            ("10MB", 10_000_000),
            ("300KiB", 300 * 1024),
            ("32MiB", 32 << 20),
            ("1GiB", 1 << 30),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(want), "{text}");
            assert_eq!(parse_size(&format_size(want)), Ok(want), "{text}");
        }
        assert_eq!(format_size(32 << 20), "32MiB");
        assert_eq!(format_size(10_000), "10KB");
        assert_eq!(format_size(1000 + 1), "1001");
    }

    #[test]
    fn bad_sizes_say_what_is_accepted() {
        for bad in [
            "",
            "MiB",
            "12 MiB",
            "1.5GiB",
            "10kb",
            "-1",
            "5XB",
            "99999999999TiB",
        ] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.contains("KiB, MiB"), "{bad}: {err}");
        }
        let neg = serde_yaml::from_str::<Value>("-5").unwrap();
        assert!(size_value(&neg).unwrap_err().starts_with("invalid size -5"));
    }
}
