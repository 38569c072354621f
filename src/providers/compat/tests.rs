//! One test per preset row, and the rewrite's byte-identity guarantees.

use super::*;

fn apply(preset: &Preset, model: &str, body: &str) -> Option<String> {
    rewrite(body.as_bytes(), preset, model).map(|b| String::from_utf8(b.to_vec()).unwrap())
}

fn mistral() -> &'static Preset {
    find("mistral").unwrap()
}

const TOOLS_BODY: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"abcDEF123","type":"function","function":{"name":"g","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_abc123","content":"1"},{"role":"tool","tool_call_id":"abcDEF123","content":"2"}],"tool_choice":"required","temperature":0.50}"#;

#[test]
fn untouched_bodies_stay_byte_identical() {
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"max_tokens":5,"temperature":1.50,"stream_options":{"include_usage":true}}"#;
    for p in PRESETS.iter().filter(|p| p.name != "mistral") {
        let model = if p.name == "openai" { "gpt-4o" } else { "m" };
        if p.max_tokens == MaxTokens::Legacy || !p.rejects.is_empty() {
            continue;
        }
        assert_eq!(apply(p, model, body), None, "{}", p.name);
    }
    // A preset with rules, but a body none applies to.
    let plain = r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5}"#;
    assert_eq!(apply(mistral(), "m", plain), None);
    assert_eq!(apply(&AZURE, "gpt-4o", plain), None);
}

#[test]
fn openai_reasoning_models_get_max_completion_tokens() {
    let body = r#"{"model":"o3-mini","max_tokens":100,"messages":[]}"#;
    assert_eq!(
        apply(&OPENAI, "o3-mini", body).as_deref(),
        Some(r#"{"model":"o3-mini","max_completion_tokens":100,"messages":[]}"#)
    );
    for m in [
        "o1",
        "o1-mini",
        "o4-mini",
        "gpt-5",
        "gpt-5.1",
        "gpt-5-mini-2025-08-07",
    ] {
        assert!(OPENAI.completion_tokens_only(m), "{m}");
        assert!(AZURE.completion_tokens_only(m), "{m}");
    }
    for m in ["gpt-4o", "o10", "gpt-50", "gpt-4o-mini", "my-o3"] {
        assert!(!OPENAI.completion_tokens_only(m), "{m}");
    }
    assert_eq!(apply(&OPENAI, "gpt-4o", body), None);
    // Both sent: the one reasoning models take stays.
    let both = r#"{"max_tokens":1,"max_completion_tokens":2,"messages":[]}"#;
    assert_eq!(
        apply(&OPENAI, "gpt-5", both).as_deref(),
        Some(r#"{"max_completion_tokens":2,"messages":[]}"#)
    );
}

#[test]
fn mistral_row() {
    let p = mistral();
    assert_eq!(p.base_url, Some("https://api.mistral.ai/v1"));
    assert!(!p.stream_options);
    let body = r#"{"model":"mistral-large","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":64,"seed":7,"user":"u1","messages":[{"role":"user","content":"x"}],"top_p":0.90}"#;
    assert_eq!(
        apply(p, "mistral-large", body).as_deref(),
        Some(
            r#"{"model":"mistral-large","stream":true,"max_tokens":64,"random_seed":7,"messages":[{"role":"user","content":"x"}],"top_p":0.90}"#
        )
    );
    let both = r#"{"max_tokens":1,"max_completion_tokens":2}"#;
    assert_eq!(apply(p, "m", both).as_deref(), Some(r#"{"max_tokens":2}"#));
    let seeds = r#"{"seed":1,"random_seed":2}"#;
    assert_eq!(
        apply(p, "m", seeds).as_deref(),
        Some(r#"{"random_seed":2}"#)
    );
}

#[test]
fn mistral_tool_ids_are_rewritten_consistently() {
    let out = apply(mistral(), "m", TOOLS_BODY).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let call0 = v["messages"][1]["tool_calls"][0]["id"].as_str().unwrap();
    let call1 = v["messages"][1]["tool_calls"][1]["id"].as_str().unwrap();
    assert!(ids::is_valid(call0) && call0 != "call_abc123");
    assert_eq!(v["messages"][2]["tool_call_id"], call0);
    // Already valid: kept.
    assert_eq!(call1, "abcDEF123");
    assert_eq!(v["messages"][3]["tool_call_id"], "abcDEF123");
    assert_eq!(v["tool_choice"], "any");
    // Members outside `messages` keep their bytes.
    assert!(
        out.ends_with(r#","tool_choice":"any","temperature":0.50}"#),
        "{out}"
    );
    // Valid ids, no `required`: nothing to do.
    let fine = TOOLS_BODY
        .replace("call_abc123", "Zz9Zz9Zz9")
        .replace("\"required\"", "\"auto\"");
    assert_eq!(apply(mistral(), "m", &fine), None);
}

#[test]
fn groq_row_drops_refused_fields() {
    let p = find("groq").unwrap();
    assert_eq!(p.base_url, Some("https://api.groq.com/openai/v1"));
    let body = r#"{"model":"m","logprobs":true,"top_logprobs":2,"messages":[]}"#;
    assert_eq!(
        apply(p, "m", body).as_deref(),
        Some(r#"{"model":"m","messages":[]}"#)
    );
    assert_eq!(apply(p, "m", r#"{"max_completion_tokens":3}"#), None);
}

#[test]
fn legacy_max_tokens_rows() {
    for name in ["together", "deepseek", "ollama", "llamacpp", "openrouter"] {
        let p = find(name).unwrap();
        assert!(p.stream_options, "{name}");
        assert!(p.base_url.is_some(), "{name}");
        assert_eq!(
            apply(
                p,
                "m",
                r#"{"max_completion_tokens":9,"stream_options":{"include_usage":true}}"#
            )
            .as_deref(),
            Some(r#"{"max_tokens":9,"stream_options":{"include_usage":true}}"#),
            "{name}"
        );
        assert_eq!(apply(p, "m", r#"{"max_tokens":9}"#), None, "{name}");
    }
}

#[test]
fn vllm_row_passes_everything() {
    let p = find("vllm").unwrap();
    assert_eq!(p.base_url, Some("http://127.0.0.1:8000/v1"));
    assert_eq!(apply(p, "m", TOOLS_BODY), None);
    assert_eq!(
        apply(
            p,
            "o3",
            r#"{"max_tokens":1,"max_completion_tokens":2,"stream_options":{}}"#
        ),
        None
    );
}

#[test]
fn table_is_consistent() {
    assert_eq!(PRESETS[0], OPENAI);
    let mut names: Vec<&str> = names().collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate preset names");
    assert!(find("azure_openai").is_none());
    for p in PRESETS {
        assert!(p.base_url.is_some_and(|u| u.ends_with("/v1")), "{}", p.name);
    }
}

#[test]
fn bodies_that_are_not_objects_are_left_alone() {
    assert_eq!(apply(mistral(), "m", r#"["stream_options"]"#), None);
    assert_eq!(apply(mistral(), "m", r#"{"stream_options":"#), None);
}

proptest::proptest! {
    #[test]
    fn rewrite_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        for p in PRESETS {
            let _ = rewrite(&body, p, "o3");
        }
    }

    #[test]
    fn rewritten_bodies_are_json_objects(
        extra in proptest::collection::vec(("[a-z_]{1,12}", 0u32..100), 0..6),
        ids in proptest::collection::vec(".{0,12}", 1..5),
    ) {
        let mut body = serde_json::Map::new();
        for (k, v) in &extra {
            body.insert(k.clone(), serde_json::Value::from(*v));
        }
        body.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
        let calls: Vec<_> = ids.iter().map(|id| serde_json::json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}})).collect();
        let mut messages = vec![serde_json::json!({"role": "assistant", "content": null, "tool_calls": calls})];
        for id in &ids {
            messages.push(serde_json::json!({"role": "tool", "tool_call_id": id, "content": "r"}));
        }
        body.insert("messages".into(), serde_json::Value::from(messages));
        let text = serde_json::Value::Object(body).to_string();
        let out = rewrite(text.as_bytes(), mistral(), "m").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        proptest::prop_assert!(v.get("stream_options").is_none());
        let sent: Vec<&str> = v["messages"][0]["tool_calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        for (i, id) in sent.iter().enumerate() {
            proptest::prop_assert!(ids::is_valid(id));
            proptest::prop_assert_eq!(v["messages"][i + 1]["tool_call_id"].as_str(), Some(*id));
        }
    }
}
