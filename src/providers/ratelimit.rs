//! Upstream rate-limit headers, rewritten to the client's convention.
//!
//! Owns: one pure function from a provider's response headers to the rate-limit and retry
//! headers the client gets. OpenAI clients (the OpenAI front door) get
//! `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (resets as Go durations, e.g.
//! `6m0s`); Anthropic clients (`/v1/messages`) get `anthropic-ratelimit-{requests,tokens,
//! input-tokens,output-tokens}-{limit,remaining,reset}` (resets as RFC 3339 times). Headers
//! already in the client's convention pass verbatim (OpenAI's and Azure's `x-ratelimit-*`,
//! Azure's plain-number resets included); the other convention is converted field by field;
//! Gemini sends none. `retry-after` and `retry-after-ms` are kept for both (both SDKs read
//! them); Azure's `x-ms-retry-after-ms` becomes `retry-after-ms`, and a `retry-after` in
//! whole seconds (rounded up) is added when only milliseconds came. Must not: read the clock
//! (`now` is passed in) or pass anything else (internal hosts in `x-ms-region`,
//! `apim-request-id`, `server` and the like stay behind).
//!
//! The gateway's own quota wins: when a gateway quota applies to the request, its
//! `x-ratelimit-*` headers replace every provider rate-limit header of either convention
//! (`llm::handler::RequestLog::quota_headers_into`), because the provider's numbers describe
//! the gateway's account, not the client's budget. Retry headers of a relayed provider
//! failure are kept either way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::balance::retry_after::{parse_go_duration, parse_rfc3339};

/// Whose naming the client expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    OpenAi,
    Anthropic,
}

/// Each window's fields as (field, OpenAI name, Anthropic name); OpenAI's convention has
/// only the first two windows, but clients ignore names they do not know. Static, so a
/// response costs no name formatting.
const NAMES: [(&str, &str, &str); 12] = [
    (
        "limit",
        "x-ratelimit-limit-requests",
        "anthropic-ratelimit-requests-limit",
    ),
    (
        "remaining",
        "x-ratelimit-remaining-requests",
        "anthropic-ratelimit-requests-remaining",
    ),
    (
        "reset",
        "x-ratelimit-reset-requests",
        "anthropic-ratelimit-requests-reset",
    ),
    (
        "limit",
        "x-ratelimit-limit-tokens",
        "anthropic-ratelimit-tokens-limit",
    ),
    (
        "remaining",
        "x-ratelimit-remaining-tokens",
        "anthropic-ratelimit-tokens-remaining",
    ),
    (
        "reset",
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-tokens-reset",
    ),
    (
        "limit",
        "x-ratelimit-limit-input-tokens",
        "anthropic-ratelimit-input-tokens-limit",
    ),
    (
        "remaining",
        "x-ratelimit-remaining-input-tokens",
        "anthropic-ratelimit-input-tokens-remaining",
    ),
    (
        "reset",
        "x-ratelimit-reset-input-tokens",
        "anthropic-ratelimit-input-tokens-reset",
    ),
    (
        "limit",
        "x-ratelimit-limit-output-tokens",
        "anthropic-ratelimit-output-tokens-limit",
    ),
    (
        "remaining",
        "x-ratelimit-remaining-output-tokens",
        "anthropic-ratelimit-output-tokens-remaining",
    ),
    (
        "reset",
        "x-ratelimit-reset-output-tokens",
        "anthropic-ratelimit-output-tokens-reset",
    ),
];

/// `retry-after-ms` and Azure's spelling of it (static: no name parsing per response).
const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");
const MS_RETRY_AFTER_MS: HeaderName = HeaderName::from_static("x-ms-retry-after-ms");

/// The rate-limit and retry headers for a client of `to`, from the provider's `h`.
///
/// One pass over the provider's headers (looking each of the 24 names up by string would
/// parse and hash every name per response: ~13k instructions, callgrind, a tenth of the
/// gateway's own work on a small chat completion).
pub fn normalize(h: &HeaderMap, now: SystemTime, to: Convention) -> Vec<(HeaderName, HeaderValue)> {
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let (own_prefix, other_prefix) = match to {
        Convention::OpenAi => ("x-ratelimit-", "anthropic-ratelimit-"),
        Convention::Anthropic => ("anthropic-ratelimit-", "x-ratelimit-"),
    };
    let own_of = |i: usize| match to {
        Convention::OpenAi => NAMES[i].1,
        Convention::Anthropic => NAMES[i].2,
    };
    let other_of = |i: usize| match to {
        Convention::OpenAi => NAMES[i].2,
        Convention::Anthropic => NAMES[i].1,
    };
    let mut own_seen = [false; NAMES.len()];
    let mut other: [Option<&HeaderValue>; NAMES.len()] = [None; NAMES.len()];
    for (k, v) in h {
        let name = k.as_str();
        if name.starts_with(own_prefix) {
            // Everything already in the client's convention, verbatim (window variants too).
            out.push((k.clone(), v.clone()));
            if let Some(i) = (0..NAMES.len()).find(|&i| own_of(i) == name) {
                own_seen[i] = true;
            }
        } else if name.starts_with(other_prefix) {
            if let Some(i) = (0..NAMES.len()).find(|&i| other_of(i) == name) {
                // The first value, as `HeaderMap::get` would give.
                other[i].get_or_insert(v);
            }
        }
    }
    for (i, (field, _, _)) in NAMES.iter().enumerate() {
        if own_seen[i] {
            continue;
        }
        let Some(v) = other[i].and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let converted = match (*field, to) {
            ("reset", Convention::OpenAi) => parse_rfc3339(v)
                .map(|at| go_duration(at.duration_since(now).unwrap_or(Duration::ZERO))),
            ("reset", Convention::Anthropic) => {
                reset_delay(v).and_then(|d| now.checked_add(d)).map(rfc3339)
            }
            _ => is_count(v).then(|| v.to_owned()),
        };
        if let Some(value) = converted.and_then(|t| HeaderValue::from_str(&t).ok()) {
            out.push((HeaderName::from_static(own_of(i)), value));
        }
    }
    retry(h, &mut out);
    out
}

/// `retry-after`, `retry-after-ms` (from Azure's `x-ms-retry-after-ms` too), and a derived
/// `retry-after` when only milliseconds came.
fn retry(h: &HeaderMap, out: &mut Vec<(HeaderName, HeaderValue)>) {
    let ms = h
        .get(RETRY_AFTER_MS)
        .or_else(|| h.get(MS_RETRY_AFTER_MS))
        .cloned();
    if let Some(v) = h.get(http::header::RETRY_AFTER) {
        out.push((http::header::RETRY_AFTER, v.clone()));
    } else if let Some(ms) = ms
        .as_ref()
        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            let secs = (ms / 1000.0).ceil() as u64;
            out.push((http::header::RETRY_AFTER, HeaderValue::from(secs)));
        }
    }
    if let Some(v) = ms {
        out.push((RETRY_AFTER_MS, v));
    }
}

/// OpenAI resets are Go durations; Azure's are reported as plain seconds.
fn reset_delay(v: &str) -> Option<Duration> {
    let v = v.trim();
    match v.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::try_from_secs_f64(secs).ok(),
        _ => parse_go_duration(v),
    }
}

fn is_count(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `time.Duration` text as OpenAI sends it: `12ms`, `1s`, `6m0s`, `1h2m3.5s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let secs = if rest % 1000 == 0 {
        format!("{}s", rest / 1000)
    } else {
        let frac = format!("{:03}", rest % 1000);
        format!("{}.{}s", rest / 1000, frac.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// `2025-08-21T12:40:59Z` (whole seconds, rounded up so a client never retries early).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, da) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
