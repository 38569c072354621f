use proptest::prelude::*;

use super::*;
use crate::providers::anthropic::test_support::snapshot;

const FIXTURES: &[(&str, &[u8])] = &[
    (
        "text_then_tool",
        include_bytes!("fixtures/text_then_tool.sse"),
    ),
    (
        "text_crlf_utf8",
        include_bytes!("fixtures/text_crlf_utf8.sse"),
    ),
    (
        "parallel_tools_cached",
        include_bytes!("fixtures/parallel_tools_cached.sse"),
    ),
    ("thinking", include_bytes!("fixtures/thinking.sse")),
    (
        "error_midstream",
        include_bytes!("fixtures/error_midstream.sse"),
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
    let mut t = ToOpenAiStream::new(opts(include_usage));
    crate::providers::translate::replay_split(&mut t, input, cuts)
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
fn usage_chunk_only_when_asked() {
    let input = FIXTURES[0].1;
    let (without, s1) = replay(input, &[], false);
    let (with, s2) = replay(input, &[], true);
    assert!(!without.contains("\"usage\""));
    assert!(with.contains("\"choices\":[],\"usage\":{\"prompt_tokens\":472"));
    assert!(without.ends_with("data: [DONE]\n\n"));
    // Usage reaches the caller either way.
    assert_eq!(s1.usage, s2.usage);
    assert_eq!(s1.usage.map(|u| u.total_tokens), Some(472 + 89));
}

#[test]
fn tool_indices_count_tool_calls_not_blocks() {
    let (out, summary) = replay(FIXTURES[2].1, &[], false);
    assert!(out.contains(r#"{"index":0,"id":"toolu_01A","type":"function","function":{"name":"get_weather","arguments":""}}"#));
    assert!(out.contains(r#"{"index":1,"id":"toolu_01B""#));
    assert!(out.contains(r#"{"index":2,"id":"toolu_01C""#));
    assert!(out.contains(r#"{"index":1,"function":{"arguments":"{\"city\": \"Tokyo\"}"}}"#));
    assert_eq!(summary.finish_reason, Some("tool_calls"));
    let u = summary.usage.unwrap();
    assert_eq!(u.prompt_tokens, 21 + 188 + 1024);
    assert_eq!(u.prompt_tokens_details.cached_tokens, 1024);
    assert_eq!(u.completion_tokens, 97);
}

#[test]
fn provider_error_mid_stream_becomes_one_openai_error_event() {
    let (out, summary) = replay(FIXTURES[4].1, &[], true);
    assert!(out.ends_with(
        "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\",\"param\":null,\"code\":null}}\n\n"
    ));
    assert!(!out.contains("[DONE]"));
    assert!(!out.contains("never forwarded"));
    match summary.outcome {
        StreamOutcome::ProviderError(e) => assert_eq!((e.status, e.retryable), (503, true)),
        other => panic!("unexpected {other:?}"),
    }
    // What was generated before the failure is still billable.
    assert_eq!(summary.usage.map(|u| u.prompt_tokens), Some(12));
}

#[test]
fn early_end_is_reported_not_silent() {
    let (out, summary) = replay(FIXTURES[5].1, &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
    assert!(out.ends_with("\"code\":\"upstream_protocol_error\"}}\n\n"));
    let (out, summary) = replay(b"", &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
    assert_eq!(summary.usage, None);
    assert!(out.starts_with("data: {\"error\""));
}

#[test]
fn unreadable_data_is_a_protocol_error() {
    let (out, summary) = replay(b"event: message_start\ndata: {not json\n\n", &[], false);
    assert!(matches!(summary.outcome, StreamOutcome::Protocol(_)));
    assert!(out.starts_with("data: {\"error\""));
}

#[test]
fn an_unterminated_final_event_is_still_used() {
    let mut input = FIXTURES[0].1.to_vec();
    while input.ends_with(b"\n") {
        input.pop();
    }
    let (out, summary) = replay(&input, &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Completed);
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn model_override_is_reported() {
    let mut t = ToOpenAiStream::new(StreamOptions {
        model: Some("my-alias".into()),
        ..opts(false)
    });
    let mut out = Vec::new();
    t.push(FIXTURES[0].1, &mut out);
    t.finish(&mut out);
    assert!(out
        .iter()
        .filter(|b| b.starts_with(b"data: {"))
        .all(|b| String::from_utf8_lossy(b).contains("\"model\":\"my-alias\"")));
}
