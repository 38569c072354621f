use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn get<'a>(out: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a str> {
    out.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_str().unwrap())
}

/// 2025-08-21T12:40:00Z
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_755_780_000)
}

#[test]
fn openai_headers_reach_openai_clients_verbatim() {
    let h = map(&[
        ("x-ratelimit-limit-requests", "5000"),
        ("x-ratelimit-remaining-tokens", "159976"),
        ("x-ratelimit-reset-tokens", "6m0s"),
        ("x-ratelimit-limit-tokens_usage_based", "1"),
        ("retry-after", "2"),
        ("server", "10.0.0.7"),
    ]);
    let out = normalize(&h, now(), Convention::OpenAi);
    assert_eq!(out.len(), 5, "{out:?}");
    assert_eq!(get(&out, "x-ratelimit-reset-tokens"), Some("6m0s"));
    assert_eq!(get(&out, "retry-after"), Some("2"));
    assert_eq!(get(&out, "server"), None);
}

#[test]
fn anthropic_headers_become_openai_names() {
    let h = map(&[
        ("anthropic-ratelimit-requests-limit", "1000"),
        ("anthropic-ratelimit-requests-remaining", "999"),
        ("anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z"),
        ("anthropic-ratelimit-tokens-reset", "2025-08-21T12:46:00.5Z"),
        ("anthropic-ratelimit-input-tokens-limit", "80000"),
        ("anthropic-ratelimit-output-tokens-remaining", "bogus"),
        ("retry-after", "7"),
    ]);
    let out = normalize(&h, now(), Convention::OpenAi);
    assert_eq!(get(&out, "x-ratelimit-limit-requests"), Some("1000"));
    assert_eq!(get(&out, "x-ratelimit-remaining-requests"), Some("999"));
    assert_eq!(get(&out, "x-ratelimit-reset-requests"), Some("59s"));
    assert_eq!(get(&out, "x-ratelimit-reset-tokens"), Some("6m0.5s"));
    assert_eq!(get(&out, "x-ratelimit-limit-input-tokens"), Some("80000"));
    assert_eq!(get(&out, "x-ratelimit-remaining-output-tokens"), None);
    assert_eq!(get(&out, "anthropic-ratelimit-requests-limit"), None);
    assert_eq!(get(&out, "retry-after"), Some("7"));
}

#[test]
fn openai_and_azure_headers_become_anthropic_names() {
    let h = map(&[
        ("x-ratelimit-limit-tokens", "160000"),
        ("x-ratelimit-remaining-requests", "4"),
        ("x-ratelimit-reset-requests", "1m0s"),
        // Azure reports plain seconds.
        ("x-ratelimit-reset-tokens", "30"),
        ("anthropic-ratelimit-tokens-limit", "5"),
    ]);
    let out = normalize(&h, now(), Convention::Anthropic);
    // Already in the client's convention: wins over a conversion.
    assert_eq!(get(&out, "anthropic-ratelimit-tokens-limit"), Some("5"));
    assert_eq!(
        get(&out, "anthropic-ratelimit-requests-remaining"),
        Some("4")
    );
    assert_eq!(
        get(&out, "anthropic-ratelimit-requests-reset"),
        Some("2025-08-21T12:41:00Z")
    );
    assert_eq!(
        get(&out, "anthropic-ratelimit-tokens-reset"),
        Some("2025-08-21T12:40:30Z")
    );
    assert_eq!(get(&out, "x-ratelimit-limit-tokens"), None);
}

#[test]
fn azure_retry_after_ms_becomes_standard() {
    let h = map(&[
        ("x-ms-retry-after-ms", "1500"),
        ("x-ms-region", "East US"),
        ("apim-request-id", "0f0e"),
        ("x-ratelimit-remaining-requests", "0"),
    ]);
    for to in [Convention::OpenAi, Convention::Anthropic] {
        let out = normalize(&h, now(), to);
        assert_eq!(get(&out, "retry-after"), Some("2"));
        assert_eq!(get(&out, "retry-after-ms"), Some("1500"));
        assert_eq!(get(&out, "x-ms-region"), None);
        assert_eq!(get(&out, "apim-request-id"), None);
    }
    let out = normalize(&map(&[("retry-after-ms", "20")]), now(), Convention::OpenAi);
    assert_eq!(get(&out, "retry-after"), Some("1"));
    assert!(normalize(&HeaderMap::new(), now(), Convention::OpenAi).is_empty());
}

#[test]
fn durations_and_times_format_like_the_providers() {
    let d = Duration::from_millis;
    assert_eq!(go_duration(d(12)), "12ms");
    assert_eq!(go_duration(d(1000)), "1s");
    assert_eq!(go_duration(d(360_000)), "6m0s");
    assert_eq!(go_duration(d(179_560)), "2m59.56s");
    assert_eq!(go_duration(d(3_723_500)), "1h2m3.5s");
    for ms in [0u64, 12, 1000, 179_560, 3_723_500, 86_400_000] {
        assert_eq!(parse_go_duration(&go_duration(d(ms))), Some(d(ms)), "{ms}");
    }
    assert_eq!(rfc3339(now()), "2025-08-21T12:40:00Z");
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_001)),
        "2000-02-29T00:00:01Z"
    );
    for secs in [0u64, 951_782_400, 4_102_444_800, 1_755_780_000] {
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
    }
}

/// Found by `make fuzz` (compat_rewrite): a reset too far away to be a time overflowed
/// `SystemTime + Duration` and panicked; it is dropped instead.
#[test]
fn a_reset_beyond_representable_time_is_dropped_not_a_panic() {
    let mut h = HeaderMap::new();
    h.insert(
        "x-ratelimit-reset-requests",
        "9991999999999999999".parse().unwrap(),
    );
    h.insert("x-ratelimit-limit-requests", "60".parse().unwrap());
    let now = UNIX_EPOCH + Duration::from_secs(1_755_780_000);
    let out = normalize(&h, now, Convention::Anthropic);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["anthropic-ratelimit-requests-limit"]);
}
