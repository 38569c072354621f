//! Fuzzes the OpenAI-compatible vendor rewrite (providers::compat) and the rate-limit header
//! normaliser (providers::ratelimit): any bytes as a request body under every preset must give
//! `None` or a JSON object (never a panic), and a rewrite never leaves a tool-call id Mistral
//! refuses; any header values must normalise without panicking.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tollgate::providers::compat::{ids, rewrite, ToolIds, PRESETS};
use tollgate::providers::ratelimit::{normalize, Convention};

fuzz_target!(|data: &[u8]| {
    for p in PRESETS {
        for model in ["o3", "gpt-4o"] {
            let Some(out) = rewrite(data, p, model) else {
                continue;
            };
            let v: serde_json::Value =
                serde_json::from_slice(&out).expect("a rewrite is valid JSON");
            assert!(v.is_object());
            if p.tool_ids == ToolIds::Alnum9 {
                for m in v["messages"].as_array().into_iter().flatten() {
                    for c in m["tool_calls"].as_array().into_iter().flatten() {
                        if let Some(id) = c["id"].as_str() {
                            assert!(ids::is_valid(id), "{id}");
                        }
                    }
                }
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    let mut h = http::HeaderMap::new();
    for (i, value) in text.split('\n').enumerate() {
        let Ok(v) = http::HeaderValue::from_str(value) else {
            continue;
        };
        let name = [
            "anthropic-ratelimit-tokens-reset",
            "x-ratelimit-reset-requests",
            "x-ms-retry-after-ms",
            "retry-after-ms",
            "anthropic-ratelimit-requests-limit",
        ][i % 5];
        h.append(name, v);
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_755_780_000);
    let _ = normalize(&h, now, Convention::OpenAi);
    let _ = normalize(&h, now, Convention::Anthropic);
});
