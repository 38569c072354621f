use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::config::{BaseUrl, Secret, Timeouts};

/// 2024-05-01T12:34:56Z.
fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_714_566_896)
}

fn provider(token: Option<&str>) -> BedrockProvider {
    BedrockProvider {
        region: "us-east-1".into(),
        base_url: BaseUrl {
            tls: true,
            host: "bedrock-runtime.us-east-1.amazonaws.com".into(),
            port: 443,
            path: String::new(),
        },
        access_key_id: Secret::new("AKIDEXAMPLE"),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: token.map(Secret::new),
        timeouts: Timeouts::default(),
    }
}

fn get<'a>(h: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.to_str().ok())
}

/// The vector printed by `tests/python/bedrock_sigv4.py vector` (botocore 1.44.5's SigV4Auth
/// for the same request, time and credentials).
#[test]
fn signature_matches_botocore() {
    let body = br#"{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}"#;
    let headers = [
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        ),
    ];
    let out = signature(
        &provider(Some("session-token-example")),
        "bedrock-runtime.us-east-1.amazonaws.com",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        &headers,
        body,
        clock(),
    )
    .unwrap();
    assert_eq!(
        get(&out, "authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/bedrock/aws4_request, \
             SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, \
             Signature=c56ee8f611f94f748bb04ce58e609b7797e2b0b3c6283396fa9111cf9a4e269b"
        )
    );
    assert_eq!(get(&out, "x-amz-date"), Some("20240501T123456Z"));
    assert_eq!(
        get(&out, "x-amz-security-token"),
        Some("session-token-example")
    );
    assert!(out
        .iter()
        .filter(|(k, _)| k == "authorization" || k == "x-amz-security-token")
        .all(|(_, v)| v.is_sensitive()));
}

#[test]
fn path_headers_and_body() {
    let body = br#"{"model":"alias","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":9}"#;
    let model = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0";
    let r = build_request(&provider(None), body, model, true, clock()).unwrap();
    assert_eq!(
        r.path,
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-v1%3A0/converse-stream"
    );
    assert_eq!(get(&r.headers, "accept"), Some(EVENT_STREAM));
    assert_eq!(get(&r.headers, "content-type"), Some("application/json"));
    assert_eq!(get(&r.headers, "x-amz-security-token"), None);
    let auth = get(&r.headers, "authorization").unwrap();
    assert!(auth.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature="
    ));
    assert!(!auth.contains("EXAMPLEKEY"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["system"][0]["text"], "Be brief.");
    assert_eq!(v["inferenceConfig"]["maxTokens"], 9);
    assert!(v.get("model").is_none());
    let plain = build_request(
        &provider(None),
        body,
        "amazon.nova-pro-v1:0",
        false,
        clock(),
    );
    assert_eq!(
        plain.unwrap().path,
        "/model/amazon.nova-pro-v1%3A0/converse"
    );
}

#[test]
fn each_attempt_signs_its_own_time_and_body() {
    let p = provider(None);
    let body = br#"{"messages":[{"role":"user","content":"hi"}]}"#;
    let a = build_request(&p, body, "m", false, clock()).unwrap();
    let b = build_request(&p, body, "m", false, clock() + Duration::from_secs(1)).unwrap();
    let c = build_request(&p, body, "other", false, clock()).unwrap();
    let auth = |r: &UpstreamRequest| get(&r.headers, "authorization").unwrap().to_owned();
    assert_ne!(auth(&a), auth(&b));
    assert_ne!(auth(&a), auth(&c));
    assert_eq!(
        auth(&a),
        auth(&build_request(&p, body, "m", false, clock()).unwrap())
    );
}

#[test]
fn a_base_url_path_prefix_and_port_are_kept() {
    let mut p = provider(None);
    p.base_url = BaseUrl {
        tls: false,
        host: "127.0.0.1".into(),
        port: 8123,
        path: "/vpce".into(),
    };
    let r = build_request(
        &p,
        br#"{"messages":[{"role":"user","content":"x"}]}"#,
        "m",
        false,
        clock(),
    )
    .unwrap();
    assert_eq!(r.path, "/vpce/model/m/converse");
}

#[test]
fn untranslatable_body_is_a_translate_error() {
    let e = build_request(&provider(None), b"{", "m", false, clock()).err();
    assert!(matches!(e, Some(BuildError::Translate(_))));
}

#[test]
fn codec_recognises_event_streams() {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    assert!(BedrockCodec.is_stream(&h));
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    assert!(!BedrockCodec.is_stream(&h));
}
