//! How long a provider asked us to stay away, read from its response.
//!
//! Owns: parsing every retry hint we know - `retry-after-ms`, `x-ms-retry-after-ms` (Azure),
//! `Retry-After` (seconds or HTTP-date), Gemini's `RetryInfo.retryDelay` in the JSON error body,
//! OpenAI's `x-ratelimit-reset-requests/-tokens` (Go durations such as `6m0s`, `12ms`,
//! `2m59.56s`) and Anthropic's `anthropic-ratelimit-*-reset` (RFC 3339 timestamps) - and
//! clamping the result to a configured maximum. Must not: read the clock (`now` is passed in),
//! decide whether to retry, or fail: an unparseable header is simply no hint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// Where a hint came from (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintSource {
    RetryAfterMs,
    MsRetryAfterMs,
    RetryAfter,
    GeminiRetryInfo,
    RateLimitReset,
    AnthropicReset,
}

/// A retry hint, already clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub delay: Duration,
    pub source: HintSource,
}

/// The provider's retry hint for a failed response with `status`, if any, clamped to `max`.
/// Explicit retry headers count on any status and win over the body, which wins over
/// rate-limit reset headers. The body and the reset headers count only on a 429: OpenAI sends
/// `x-ratelimit-reset-*` on every response, and on a 500 they say when a quota window
/// refills, not when the server recovers.
pub fn hint(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    max: Duration,
) -> Option<Hint> {
    let found = explicit(headers, now).or_else(|| {
        if status == 429 {
            rate_limit_reset(headers, body, now)
        } else {
            None
        }
    })?;
    Some(Hint {
        delay: found.0.min(max),
        source: found.1,
    })
}

/// Gemini's RetryInfo, else the exhausted OpenAI or Anthropic window's reset.
fn rate_limit_reset(
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Option<(Duration, HintSource)> {
    if let Some(d) = gemini_retry_info(body) {
        return Some((d, HintSource::GeminiRetryInfo));
    }
    if let Some(d) = resets(headers, "x-ratelimit-", parse_go_duration) {
        return Some((d, HintSource::RateLimitReset));
    }
    resets(headers, "anthropic-ratelimit-", parse_rfc3339_at(now))
        .map(|d| (d, HintSource::AnthropicReset))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn explicit(headers: &HeaderMap, now: SystemTime) -> Option<(Duration, HintSource)> {
    let ms = |name| header(headers, name).and_then(parse_millis);
    if let Some(d) = ms("retry-after-ms") {
        return Some((d, HintSource::RetryAfterMs));
    }
    if let Some(d) = ms("x-ms-retry-after-ms") {
        return Some((d, HintSource::MsRetryAfterMs));
    }
    header(headers, "retry-after")
        .and_then(|v| parse_retry_after(v, now))
        .map(|d| (d, HintSource::RetryAfter))
}

/// `retry-after-ms: 1500` (a float is accepted, as the OpenAI SDK does).
fn parse_millis(v: &str) -> Option<Duration> {
    let ms: f64 = v.parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
}

/// `Retry-After: 120`, `Retry-After: 1.5` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
/// A date in the past means "now" (zero).
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The reset of the exhausted window among `{prefix}reset-*` / `{prefix}*-reset` headers: the
/// one whose matching `remaining` is 0, else the shortest (a window that refills soonest may
/// be enough).
fn resets(
    headers: &HeaderMap,
    prefix: &str,
    parse: impl Fn(&str) -> Option<Duration>,
) -> Option<Duration> {
    let mut exhausted: Option<Duration> = None;
    let mut shortest: Option<Duration> = None;
    for (name, value) in headers {
        let Some(rest) = name.as_str().strip_prefix(prefix) else {
            continue;
        };
        // OpenAI: reset-requests / reset-tokens; Anthropic: requests-reset / tokens-reset
        // (and window-suffixed variants, matched by substring).
        let Some(which) = rest
            .strip_prefix("reset-")
            .map(str::to_owned)
            .or_else(|| rest.find("-reset").map(|i| rest[..i].to_owned()))
        else {
            continue;
        };
        let Some(d) = value.to_str().ok().and_then(|v| parse(v.trim())) else {
            continue;
        };
        let remaining = headers
            .iter()
            .find(|(n, _)| {
                let n = n.as_str();
                n == format!("{prefix}remaining-{which}")
                    || n == format!("{prefix}{which}-remaining")
            })
            .and_then(|(_, v)| v.to_str().ok())
            .map(str::trim);
        if remaining == Some("0") {
            exhausted = Some(exhausted.map_or(d, |e| e.max(d)));
        }
        shortest = Some(shortest.map_or(d, |s| s.min(d)));
    }
    exhausted.or(shortest)
}

fn parse_rfc3339_at(now: SystemTime) -> impl Fn(&str) -> Option<Duration> {
    move |v| {
        let at = parse_rfc3339(v)?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// Go's `time.Duration` text: `6m0s`, `12ms`, `2m59.56s`, `1h`, `0s`, `1.5us`.
pub fn parse_go_duration(v: &str) -> Option<Duration> {
    if v == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = v;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let unit_len = rest[num_len..]
            .char_indices()
            .take_while(|(_, c)| c.is_alphabetic())
            .map(|(i, c)| i + c.len_utf8())
            .last()
            .unwrap_or(0);
        if num_len == 0 || unit_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        let scale = match &rest[num_len..num_len + unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[num_len + unit_len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Gemini's `{"error":{"details":[{"@type":"...RetryInfo","retryDelay":"28s"}]}}`.
fn gemini_retry_info(body: &[u8]) -> Option<Duration> {
    if body.is_empty() || !body.starts_with(b"{") && !body.starts_with(b"[") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    // The REST API sends an object; some proxies wrap it in a one-element array.
    let err = v.get("error").or_else(|| v.get(0)?.get("error"))?;
    err.get("details")?
        .as_array()?
        .iter()
        .filter(|d| {
            d.get("@type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| parse_proto_duration(d.get("retryDelay")?.as_str()?))
}

/// A protobuf JSON Duration: `"28s"`, `"27.4s"`.
fn parse_proto_duration(v: &str) -> Option<Duration> {
    let secs: f64 = v.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// RFC 3339 (`2025-08-21T12:40:59Z`, `...59.5+02:00`) to a `SystemTime`.
pub fn parse_rfc3339(v: &str) -> Option<SystemTime> {
    let b = v.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = v.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &v[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f: f64 = format!("0.{}", &frac[..digits]).parse().ok()?;
        nanos = (f * 1e9) as u32;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = rest.get(1..)?;
            if t.len() != 5 || t.as_bytes()[2] != b':' {
                return None;
            }
            let h: i64 = t[..2].parse().ok()?;
            let m: i64 = t[3..].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[path = "retry_after_tests.rs"]
mod tests;
