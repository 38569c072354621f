use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

/// 2025-08-21T12:40:00Z
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_755_780_000)
}

const MAX: Duration = Duration::from_secs(300);

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

/// (response headers, expected delay, expected source)
type Case = (
    &'static [(&'static str, &'static str)],
    Option<Duration>,
    Option<HintSource>,
);

#[test]
fn header_table() {
    use HintSource::*;
    let cases: &[Case] = &[
        (&[], None, None),
        (&[("retry-after", "7")], ms(7_000), Some(RetryAfter)),
        (&[("retry-after", "1.5")], ms(1_500), Some(RetryAfter)),
        (&[("retry-after", "0")], ms(0), Some(RetryAfter)),
        (&[("retry-after", "-3")], None, None),
        (&[("retry-after", "soon")], None, None),
        (&[("retry-after", "120s")], None, None),
        (
            &[("retry-after", "Thu, 21 Aug 2025 12:40:30 GMT")],
            ms(30_000),
            Some(RetryAfter),
        ),
        // A date in the past: retry now.
        (
            &[("retry-after", "Thu, 21 Aug 2025 12:00:00 GMT")],
            ms(0),
            Some(RetryAfter),
        ),
        (&[("retry-after-ms", "250")], ms(250), Some(RetryAfterMs)),
        (
            &[("retry-after-ms", "12.5")],
            Some(Duration::from_micros(12_500)),
            Some(RetryAfterMs),
        ),
        (
            &[("x-ms-retry-after-ms", "900")],
            ms(900),
            Some(MsRetryAfterMs),
        ),
        // retry-after-ms wins over retry-after (more precise, same meaning).
        (
            &[("retry-after", "2"), ("retry-after-ms", "1800")],
            ms(1_800),
            Some(RetryAfterMs),
        ),
        // Clamped to the maximum.
        (&[("retry-after", "86400")], Some(MAX), Some(RetryAfter)),
        // OpenAI resets: the exhausted window decides.
        (
            &[
                ("x-ratelimit-remaining-requests", "4999"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-requests", "12ms"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ],
            Some(MAX),
            Some(RateLimitReset),
        ),
        (
            &[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "2m59.56s"),
                ("x-ratelimit-reset-tokens", "1s"),
            ],
            ms(179_560),
            Some(RateLimitReset),
        ),
        // No remaining counts: the shortest reset.
        (
            &[
                ("x-ratelimit-reset-requests", "12ms"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ],
            ms(12),
            Some(RateLimitReset),
        ),
        // An explicit header beats the resets.
        (
            &[("retry-after", "3"), ("x-ratelimit-reset-tokens", "6m0s")],
            ms(3_000),
            Some(RetryAfter),
        ),
        // Anthropic: RFC 3339 timestamps.
        (
            &[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z"),
                ("anthropic-ratelimit-tokens-reset", "2025-08-21T12:40:01Z"),
            ],
            ms(59_000),
            Some(AnthropicReset),
        ),
        (
            &[(
                "anthropic-ratelimit-output-tokens-reset",
                "2025-08-21T14:40:10+02:00",
            )],
            ms(10_000),
            Some(AnthropicReset),
        ),
        (
            &[("anthropic-ratelimit-tokens-reset", "not a date")],
            None,
            None,
        ),
    ];
    for (pairs, want, source) in cases {
        let got = hint(429, &headers(pairs), b"", now(), MAX);
        assert_eq!(got.map(|h| h.delay), *want, "{pairs:?}");
        assert_eq!(got.map(|h| h.source), *source, "{pairs:?}");
    }
}

#[test]
fn gemini_retry_info_in_the_body() {
    let body = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[
        {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
        {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}]}}"#;
    let got = hint(429, &HeaderMap::new(), body, now(), MAX).unwrap();
    assert_eq!(got.delay, Duration::from_secs(31));
    assert_eq!(got.source, HintSource::GeminiRetryInfo);
    let frac = br#"[{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"27.4s"}]}}]"#;
    assert_eq!(
        hint(429, &HeaderMap::new(), frac, now(), MAX).map(|h| h.delay),
        ms(27_400)
    );
    // A header still wins.
    let h = headers(&[("retry-after", "5")]);
    assert_eq!(hint(429, &h, body, now(), MAX).map(|h| h.delay), ms(5_000));
    for junk in [
        &b"not json"[..],
        b"{}",
        br#"{"error":{"details":"x"}}"#,
        b"{",
    ] {
        assert_eq!(hint(429, &HeaderMap::new(), junk, now(), MAX), None);
    }
}

#[test]
fn only_a_429_takes_its_hint_from_reset_headers_or_the_body() {
    let resets = headers(&[
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "20s"),
        ("anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z"),
    ]);
    let body = br#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"9s"}]}}"#;
    for status in [500, 502, 503, 504] {
        assert_eq!(hint(status, &resets, body, now(), MAX), None, "{status}");
    }
    assert_eq!(
        hint(429, &resets, b"", now(), MAX).map(|h| h.delay),
        ms(20_000)
    );
    // An explicit Retry-After counts on a 503 too (its classic use).
    let h = headers(&[("retry-after", "4")]);
    assert_eq!(hint(503, &h, b"", now(), MAX).map(|h| h.delay), ms(4_000));
}

#[test]
fn go_durations() {
    let ok = [
        ("6m0s", 360_000_000u64),
        ("12ms", 12_000),
        ("2m59.56s", 179_560_000),
        ("1h", 3_600_000_000),
        ("1.5us", 1),
        ("500ns", 0),
        ("0s", 0),
        ("0", 0),
        ("1h2m3s", 3_723_000_000),
    ];
    for (text, micros) in ok {
        assert_eq!(
            parse_go_duration(text).map(|d| d.as_micros() as u64),
            Some(micros),
            "{text}"
        );
    }
    for bad in ["", "5", "s", "5x", "1.2.3s", "-1s", "5 s"] {
        assert_eq!(parse_go_duration(bad), None, "{bad}");
    }
}

#[test]
fn rfc3339() {
    let t = |s| parse_rfc3339(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_millis());
    assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(t("2025-08-21T12:40:00Z"), Some(1_755_780_000_000));
    assert_eq!(t("2025-08-21T12:40:00.250Z"), Some(1_755_780_000_250));
    assert_eq!(t("2025-08-21T13:40:00+01:00"), Some(1_755_780_000_000));
    assert_eq!(t("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
    for bad in [
        "",
        "2025-08-21",
        "2025-13-01T00:00:00Z",
        "2025-08-21T12:40:00",
        "x025-08-21T12:40:00Z",
    ] {
        assert_eq!(t(bad), None, "{bad}");
    }
}
