//! nginx's number, size, offset and time syntax: ports of `ngx_atoi`, `ngx_parse_size`,
//! `ngx_parse_offset` and `ngx_parse_time` (nginx 1.22.1, `src/core/ngx_parse.c`).
//!
//! Owns: deciding whether an argument is a valid value and what it is worth. It must not
//! produce diagnostics: callers turn `None` into nginx's `invalid value` wording.

/// `ngx_atoi`: decimal digits only, not empty, no overflow of a signed 64-bit value.
pub fn atoi(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `ngx_parse_size`: a count with an optional `k`/`K` or `m`/`M` suffix, in bytes.
pub fn parse_size(s: &str) -> Option<i64> {
    scaled(s, &[(b'k', 1 << 10), (b'm', 1 << 20)])
}

/// `ngx_parse_offset`: like [`parse_size`], plus `g`/`G`.
pub fn parse_offset(s: &str) -> Option<i64> {
    scaled(s, &[(b'k', 1 << 10), (b'm', 1 << 20), (b'g', 1 << 30)])
}

fn scaled(s: &str, units: &[(u8, i64)]) -> Option<i64> {
    let last = s.bytes().last()?.to_ascii_lowercase();
    let (digits, scale) = match units.iter().find(|(u, _)| *u == last) {
        Some((_, scale)) => (&s[..s.len() - 1], *scale),
        None => (s, 1),
    };
    atoi(digits)?.checked_mul(scale)
}

/// The steps of `ngx_parse_time`, in the order a value must name them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Start,
    Year,
    Month,
    Week,
    Day,
    Hour,
    Min,
    Sec,
    Msec,
    Last,
}

/// `ngx_parse_time`: `1h 30m`, `500ms`, `2d`, a bare number (seconds). Returns seconds when
/// `is_sec`, milliseconds otherwise. Units must appear in decreasing order, once each;
/// milliseconds (and years, for millisecond values) are refused where nginx refuses them.
pub fn parse_time(s: &str, is_sec: bool) -> Option<i64> {
    let b = s.as_bytes();
    let mut step = if is_sec { Step::Start } else { Step::Month };
    let (mut value, mut total, mut valid) = (0i64, 0i64, false);
    let mut p = 0;
    while p < b.len() {
        let c = b[p];
        p += 1;
        if c.is_ascii_digit() {
            value = value.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            valid = true;
            continue;
        }
        let (next, mut scale) = match c {
            b'y' if step == Step::Start => (Step::Year, 365 * 86400),
            b'M' if step < Step::Month => (Step::Month, 30 * 86400),
            b'w' if step < Step::Week => (Step::Week, 7 * 86400),
            b'd' if step < Step::Day => (Step::Day, 86400),
            b'h' if step < Step::Hour => (Step::Hour, 3600),
            b'm' if b.get(p) == Some(&b's') => {
                if is_sec || step >= Step::Msec {
                    return None;
                }
                p += 1;
                (Step::Msec, 1)
            }
            b'm' if step < Step::Min => (Step::Min, 60),
            b's' if step < Step::Sec => (Step::Sec, 1),
            b' ' if step < Step::Sec => (Step::Last, 1),
            _ => return None,
        };
        step = next;
        if step != Step::Msec && !is_sec {
            scale *= 1000;
        }
        total = total.checked_add(value.checked_mul(scale)?)?;
        value = 0;
        while b.get(p) == Some(&b' ') {
            p += 1;
        }
    }
    if !valid {
        return None;
    }
    let tail = if is_sec {
        value
    } else {
        value.checked_mul(1000)?
    };
    total.checked_add(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_offsets() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("8K"), Some(8192));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("10mb"), None);
        assert_eq!(parse_size("1g"), None);
        assert_eq!(parse_offset("1g"), Some(1 << 30));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("m"), None);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("300", true), Some(300));
        assert_eq!(parse_time("300", false), Some(300_000));
        assert_eq!(parse_time("1h 30m", true), Some(5400));
        assert_eq!(parse_time("500ms", false), Some(500));
        assert_eq!(parse_time("500ms", true), None);
        assert_eq!(parse_time("10x", false), None);
        assert_eq!(parse_time("1y", false), None);
        assert_eq!(parse_time("1y", true), Some(365 * 86400));
        assert_eq!(parse_time("30s 1m", false), None);
        assert_eq!(parse_time("", false), None);
        assert_eq!(parse_time("s", false), None);
    }
}
