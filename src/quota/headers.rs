//! The `x-ratelimit-*` response headers of a quota check, in OpenAI's format.
//!
//! Owns: picking the tightest limit per measure and formatting amounts and reset times
//! (`6m0s`; cost in dollars). Must not: decide admission.

use http::{HeaderName, HeaderValue};

use super::engine::Headers;
use super::window::Check;
use crate::config::{Limit, Measure};

/// `x-ratelimit-{limit,remaining,reset}-<measure>` for the tightest limit of each measure.
pub(super) fn headers(limits: &[(&Limit, String)], checks: &[Check]) -> Headers {
    let mut best: Vec<(Measure, u64, &Check)> = Vec::new();
    for ((l, _), c) in limits.iter().zip(checks) {
        match best.iter_mut().find(|(m, _, _)| *m == l.measure) {
            Some(slot) if c.remaining < slot.2.remaining => *slot = (l.measure, l.amount, c),
            Some(_) => {}
            None => best.push((l.measure, l.amount, c)),
        }
    }
    let mut out = Vec::new();
    for (m, amount, c) in best {
        let name = m.header_name();
        let (limit, remaining) = match m {
            Measure::Cost => (micro_usd(amount), micro_usd(c.remaining)),
            _ => (amount.to_string(), c.remaining.to_string()),
        };
        for (kind, value) in [
            ("limit", limit),
            ("remaining", remaining),
            ("reset", openai_duration(c.reset_ms)),
        ] {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(format!("x-ratelimit-{kind}-{name}")),
                HeaderValue::try_from(value),
            ) {
                out.push((n, v));
            }
        }
    }
    out
}

pub(super) fn micro_usd(v: u64) -> String {
    format!("{}.{:06}", v / 1_000_000, v % 1_000_000)
}

/// OpenAI's reset format: `20ms`, `1s`, `6m0s`, `1h2m3s`.
pub(super) fn openai_duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = (ms + 999) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}
