use proptest::prelude::*;

use super::*;
use crate::providers::anthropic::stream::{StreamOptions, ToOpenAiStream};
use crate::providers::anthropic::test_support::snapshot;

const FIXTURES: &[(&str, &[u8])] = &[
    (
        "openai_tool_call",
        include_bytes!("fixtures/openai_tool_call.sse"),
    ),
    (
        "openai_text_parallel_named",
        include_bytes!("fixtures/openai_text_parallel_named.sse"),
    ),
    (
        "openai_error_midstream",
        include_bytes!("fixtures/openai_error_midstream.sse"),
    ),
    (
        "openai_no_usage_no_done",
        include_bytes!("fixtures/openai_no_usage_no_done.sse"),
    ),
    (
        "openai_truncated",
        include_bytes!("fixtures/openai_truncated.sse"),
    ),
];

fn replay(input: &[u8], cuts: &[usize]) -> (String, StreamSummary) {
    let mut t = ToAnthropicStream::new(ReverseOptions::default());
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        t.push(&input[last..c], &mut out);
        last = c;
    }
    let summary = t.finish(&mut out);
    let bytes: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
    (String::from_utf8(bytes).unwrap(), summary)
}

#[test]
fn every_fixture_is_split_independent_at_every_byte() {
    for (name, input) in FIXTURES {
        let whole = replay(input, &[]);
        for at in 0..=input.len() {
            assert_eq!(replay(input, &[at]), whole, "{name}: split at {at}");
        }
    }
}

proptest! {
    #[test]
    fn random_multi_splits_change_nothing(
        which in 0..FIXTURES.len(),
        mut cuts in prop::collection::vec(0usize..8192, 0..40),
    ) {
        let (_, input) = FIXTURES[which];
        for c in cuts.iter_mut() {
            *c %= input.len() + 1;
        }
        cuts.sort_unstable();
        prop_assert_eq!(replay(input, &cuts), replay(input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_always_end_well_formed(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let (out, summary) = replay(&bytes, &[]);
        let last = out.trim_end().rsplit("\n\n").next().unwrap_or("").to_owned();
        match summary.outcome {
            StreamOutcome::Completed => prop_assert!(last.starts_with("event: message_stop"), "{}", out),
            _ => prop_assert!(last.starts_with("event: error"), "{}", out),
        }
    }
}

#[test]
fn snapshots_of_translated_streams() {
    for (name, input) in FIXTURES {
        let (out, summary) = replay(input, &[]);
        snapshot(
            &format!("reverse_{name}"),
            &format!("{out}\n---\n{summary:#?}"),
        );
    }
}

#[test]
fn tool_calls_become_blocks_after_text_and_decide_the_stop_reason() {
    let (out, summary) = replay(FIXTURES[1].1, &[]);
    assert!(out.contains(r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_A","name":"find","input":{}}}"#));
    assert!(out.contains(r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_B""#));
    assert!(out.contains(r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Tokyo\"}"}}"#));
    // finish_reason was "stop" but tools were called.
    assert_eq!(summary.finish_reason, Some("tool_use"));
    assert!(out.contains(
        r#""usage":{"input_tokens":176,"output_tokens":40,"cache_read_input_tokens":1024}"#
    ));
    assert_eq!(summary.usage.map(|u| u.prompt_tokens), Some(1200));
}

#[test]
fn stop_reason_table() {
    let cases = [
        (Some("stop"), false, "end_turn"),
        (Some("length"), false, "max_tokens"),
        (Some("tool_calls"), false, "tool_use"),
        (Some("function_call"), false, "tool_use"),
        (Some("content_filter"), false, "refusal"),
        (Some("stop"), true, "tool_use"),
        (None, false, "end_turn"),
    ];
    for (finish, tools, want) in cases {
        assert_eq!(stop_reason(finish, tools), want, "{finish:?} {tools}");
    }
}

#[test]
fn upstream_error_becomes_an_anthropic_error_event() {
    let (out, summary) = replay(FIXTURES[2].1, &[]);
    assert!(out.ends_with(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Rate limit reached for gpt-4o\"}}\n\n"
    ));
    assert!(matches!(summary.outcome, StreamOutcome::ProviderError(ref e) if e.status == 429));
}

/// Anthropic → OpenAI → Anthropic keeps text, tool calls, stop reason and usage.
#[test]
fn round_trip_through_both_translators() {
    let src: &[u8] = include_bytes!("fixtures/parallel_tools_cached.sse");
    let mut fwd = ToOpenAiStream::new(StreamOptions {
        include_usage: true,
        ..StreamOptions::default()
    });
    let mut mid = Vec::new();
    fwd.push(src, &mut mid);
    let fwd_summary = fwd.finish(&mut mid);
    let mid: Vec<u8> = mid.iter().flat_map(|b| b.iter().copied()).collect();
    let (back, back_summary) = replay(&mid, &[]);
    assert_eq!(back_summary.outcome, StreamOutcome::Completed);
    assert_eq!(back_summary.finish_reason, Some("tool_use"));
    assert_eq!(back_summary.usage, fwd_summary.usage);
    for needle in [
        r#""text":"I'll check both cities.""#,
        r#""id":"toolu_01A","name":"get_weather""#,
        r#""id":"toolu_01B","name":"get_weather""#,
        r#""id":"toolu_01C","name":"get_time""#,
        r#""partial_json":"{\"city\": \"Tokyo\"}""#,
    ] {
        assert!(back.contains(needle), "{needle} missing from {back}");
    }
    // The original counters come back exactly (cache writes ride in cache_write_tokens).
    assert!(back.contains(r#""usage":{"input_tokens":21,"output_tokens":97,"cache_creation_input_tokens":188,"cache_read_input_tokens":1024}"#));
}

/// An Anthropic upstream's error type rides the OpenAI leg (relay_translated keeps it) and comes
/// back as is, not guessed from a status.
#[test]
fn anthropic_error_type_survives_the_round_trip() {
    let src = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\ndata: {\"error\":{\"message\":\"busy\",\"type\":\"overloaded_error\",\"param\":null,\"code\":null}}\n\n";
    let (out, _) = replay(src, &[]);
    assert!(
        out.ends_with("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n"),
        "{out}"
    );
}
