use proptest::prelude::*;

use super::*;
use crate::providers::gemini::test_support::snapshot;

const FIXTURES: &[(&str, &[u8])] = &[
    ("text", include_bytes!("fixtures/text.sse")),
    ("text_crlf", include_bytes!("fixtures/text_crlf.sse")),
    (
        "parallel_tools",
        include_bytes!("fixtures/parallel_tools.sse"),
    ),
    (
        "function_call_late",
        include_bytes!("fixtures/function_call_late.sse"),
    ),
    ("safety", include_bytes!("fixtures/safety.sse")),
    (
        "blocked_prompt",
        include_bytes!("fixtures/blocked_prompt.sse"),
    ),
    (
        "error_midstream",
        include_bytes!("fixtures/error_midstream.sse"),
    ),
    (
        "error_midstream_data",
        include_bytes!("fixtures/error_midstream_data.sse"),
    ),
    (
        "thoughts_cache",
        include_bytes!("fixtures/thoughts_cache.sse"),
    ),
    (
        "two_candidates",
        include_bytes!("fixtures/two_candidates.sse"),
    ),
    ("truncated", include_bytes!("fixtures/truncated.sse")),
];

fn opts(include_usage: bool) -> StreamOptions {
    StreamOptions {
        include_usage,
        created: 1_741_569_952,
        model: None,
    }
}

/// Replays `input` cut at `cuts` (ascending offsets); returns the concatenated output.
fn replay(input: &[u8], cuts: &[usize], include_usage: bool) -> (String, StreamSummary) {
    let mut t = GeminiStream::new(opts(include_usage));
    crate::providers::translate::replay_split(&mut t, input, cuts)
}

fn fixture(name: &str) -> &'static [u8] {
    FIXTURES.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn every_fixture_is_split_independent_at_every_byte() {
    for (name, input) in FIXTURES {
        for include_usage in [false, true] {
            let whole = replay(input, &[], include_usage);
            for at in 0..=input.len() {
                assert_eq!(
                    replay(input, &[at], include_usage),
                    whole,
                    "{name}: split at {at}"
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn random_multi_splits_change_nothing(
        which in 0..FIXTURES.len(),
        mut cuts in prop::collection::vec(0usize..4096, 0..40),
        include_usage in any::<bool>(),
    ) {
        let (_, input) = FIXTURES[which];
        for c in cuts.iter_mut() {
            *c %= input.len() + 1;
        }
        cuts.sort_unstable();
        prop_assert_eq!(replay(input, &cuts, include_usage), replay(input, &[], include_usage));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_always_end_well_formed(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let (out, summary) = replay(&bytes, &[], true);
        let last = out.trim_end().rsplit("\n\n").next().unwrap_or("").to_owned();
        match summary.outcome {
            StreamOutcome::Completed => prop_assert!(last.ends_with("[DONE]"), "{}", out),
            _ => prop_assert!(last.starts_with("data: {\"error\""), "{}", out),
        }
    }

    #[test]
    fn arbitrary_json_events_never_panic(
        texts in prop::collection::vec("[a-z ]{0,8}", 0..4),
        finish in prop::option::of(prop::sample::select(vec!["STOP", "MAX_TOKENS", "SAFETY", "OTHER"])),
        prompt in prop::option::of(0u64..1000),
        total in prop::option::of(0u64..2000),
    ) {
        let mut input = String::new();
        for t in &texts {
            input.push_str(&format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{t}\"}}]}}}}]}}\n\n"));
        }
        let usage = serde_json::json!({"promptTokenCount": prompt, "totalTokenCount": total});
        let fin = serde_json::json!({"candidates": [{"finishReason": finish}], "usageMetadata": usage});
        input.push_str(&format!("data: {fin}\n\n"));
        let (out, summary) = replay(input.as_bytes(), &[], true);
        prop_assert_eq!(summary.outcome == StreamOutcome::Completed, finish.is_some(), "{}", out);
        if let Some(u) = summary.usage {
            prop_assert_eq!(u.total_tokens, u.prompt_tokens + u.completion_tokens);
        }
    }
}

#[test]
fn snapshots_of_translated_streams() {
    for (name, input) in FIXTURES {
        let (out, summary) = replay(input, &[], true);
        snapshot(
            &format!("stream_{name}"),
            &format!("{out}\n---\n{summary:#?}"),
        );
    }
}

#[test]
fn usage_chunk_only_when_asked_and_last_value_wins() {
    let input = fixture("text");
    let (without, s1) = replay(input, &[], false);
    let (with, s2) = replay(input, &[], true);
    assert!(!without.contains("\"usage\""));
    assert!(with.contains(
        "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12"
    ));
    assert!(without.ends_with("data: [DONE]\n\n"));
    assert_eq!(s1.usage, s2.usage);
    assert_eq!(s1.finish_reason, Some("stop"));
    assert!(without.contains(r#""delta":{"content":", wörld — ☃"}"#));
    assert!(without.contains(r#""id":"chatcmpl-Xy1gaYmRIsLxnvgPq8aZ4Qk""#));
    assert_eq!(
        replay(fixture("text_crlf"), &[], true),
        replay(input, &[], true)
    );
}

#[test]
fn function_calls_become_complete_tool_call_deltas_with_unique_ids() {
    let (out, summary) = replay(fixture("parallel_tools"), &[], false);
    assert_eq!(summary.finish_reason, Some("tool_calls"));
    let calls: Vec<serde_json::Value> = out
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| v.pointer("/choices/0/delta/tool_calls").cloned())
        .flat_map(|c| c.as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[1]["index"], 1);
    assert_eq!(calls[0]["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(calls[1]["function"]["name"], "get_weather");
    let id0 = calls[0]["id"].as_str().unwrap();
    let id1 = calls[1]["id"].as_str().unwrap();
    assert_ne!(id0, id1);
    // The first call's thought signature rides in its id, the second has none.
    assert_eq!(
        crate::providers::gemini::ids::signature_of(id0).as_deref(),
        Some("CiQBEU0yD7pX+vs4w/Zq8A==")
    );
    assert_eq!(crate::providers::gemini::ids::signature_of(id1), None);
    // Usage: the 51-token gap between total and prompt + candidates is thinking.
    let u = summary.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (103, 85, 188)
    );
    assert_eq!(
        u.completion_tokens_details.map(|d| d.reasoning_tokens),
        Some(51)
    );

    let (late, summary) = replay(fixture("function_call_late"), &[], false);
    assert_eq!(summary.finish_reason, Some("tool_calls"));
    assert!(late.contains(r#"{"index":1,"id":"#));
    assert!(late.contains(r#""function":{"name":"now","arguments":"{}"}"#));
}

#[test]
fn safety_and_blocked_prompts_are_content_filter() {
    let (_, s) = replay(fixture("safety"), &[], false);
    assert_eq!(
        (s.finish_reason, &s.outcome),
        (Some("content_filter"), &StreamOutcome::Completed)
    );
    let (out, s) = replay(fixture("blocked_prompt"), &[], true);
    assert_eq!(s.finish_reason, Some("content_filter"));
    assert!(out.contains(r#""delta":{"role":"assistant","content":""}"#));
    assert_eq!(s.usage.map(|u| u.prompt_tokens), Some(14));
}

#[test]
fn provider_errors_mid_stream_become_one_openai_error_event() {
    for (name, status) in [("error_midstream", 503), ("error_midstream_data", 429)] {
        let (out, summary) = replay(fixture(name), &[], true);
        let last = out.trim_end().rsplit("\n\n").next().unwrap();
        assert!(last.starts_with("data: {\"error\""), "{name}: {out}");
        assert!(!out.contains("[DONE]"));
        assert!(!out.contains("never forwarded"));
        match summary.outcome {
            StreamOutcome::ProviderError(e) => {
                assert_eq!((e.status, e.retryable), (status, true), "{name}")
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
        assert!(out.contains("\"content\":\"Partial\""));
        assert_eq!(summary.usage.map(|u| u.prompt_tokens), Some(6));
    }
}

#[test]
fn thoughts_are_reasoning_and_cache_is_reported() {
    let (out, s) = replay(fixture("thoughts_cache"), &[], true);
    assert!(out.contains(r#""reasoning_content":"**Weighing options** I should compare.""#));
    let u = s.usage.unwrap();
    // The trailing usage-only event wins: prompt 2100 + 1 tool-use, completion 4 + 46.
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (2101, 50, 2151)
    );
    assert_eq!(u.prompt_tokens_details.cached_tokens, 2048);
    assert_eq!(
        u.completion_tokens_details.map(|d| d.reasoning_tokens),
        Some(46)
    );
}

#[test]
fn two_candidates_are_two_choices() {
    let (out, s) = replay(fixture("two_candidates"), &[], false);
    assert!(out.contains(r#""index":1,"delta":{"tool_calls":[{"index":0,"#));
    assert!(out.contains(r#"{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}"#));
    assert!(out.contains(r#"{"index":1,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}"#));
    assert_eq!(s.outcome, StreamOutcome::Completed);
}

#[test]
fn early_end_is_reported_not_silent() {
    let (out, summary) = replay(fixture("truncated"), &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
    assert!(out.ends_with("\"code\":\"upstream_protocol_error\"}}\n\n"));
    assert_eq!(summary.usage.map(|u| u.prompt_tokens), Some(4));
    let (out, summary) = replay(b"", &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
    assert_eq!(summary.usage, None);
    assert!(out.starts_with("data: {\"error\""));
}

#[test]
fn unreadable_data_is_a_protocol_error() {
    let (out, summary) = replay(b"data: {not json\n\n", &[], false);
    assert!(matches!(summary.outcome, StreamOutcome::Protocol(_)));
    assert!(out.starts_with("data: {\"error\""));
    let (_, summary) = replay(b"hello there\n\n", &[], false);
    assert!(matches!(summary.outcome, StreamOutcome::Protocol(_)));
}

#[test]
fn model_override_is_reported() {
    let mut t = GeminiStream::new(StreamOptions {
        model: Some("my-alias".into()),
        ..opts(false)
    });
    let mut out = Vec::new();
    t.push(fixture("text"), &mut out);
    t.finish(&mut out);
    assert!(out
        .iter()
        .filter(|b| b.starts_with(b"data: {"))
        .all(|b| String::from_utf8_lossy(b).contains("\"model\":\"my-alias\"")));
}
