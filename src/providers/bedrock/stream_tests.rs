use proptest::prelude::*;

use super::*;
use crate::providers::bedrock::test_support::snapshot;

/// Written by fixtures/make_fixtures.py and checked there with botocore's decoder.
const FIXTURES: &[(&str, &[u8])] = &[
    ("text", include_bytes!("fixtures/text.bin")),
    (
        "text_then_tools",
        include_bytes!("fixtures/text_then_tools.bin"),
    ),
    (
        "reasoning_max_tokens",
        include_bytes!("fixtures/reasoning_max_tokens.bin"),
    ),
    ("guardrail", include_bytes!("fixtures/guardrail.bin")),
    (
        "throttled_midstream",
        include_bytes!("fixtures/throttled_midstream.bin"),
    ),
    (
        "model_stream_error",
        include_bytes!("fixtures/model_stream_error.bin"),
    ),
    (
        "error_message_type",
        include_bytes!("fixtures/error_message_type.bin"),
    ),
    ("truncated", include_bytes!("fixtures/truncated.bin")),
    ("no_metadata", include_bytes!("fixtures/no_metadata.bin")),
];

fn fixture(name: &str) -> &'static [u8] {
    FIXTURES.iter().find(|(n, _)| *n == name).unwrap().1
}

fn opts(include_usage: bool) -> StreamOptions {
    StreamOptions {
        include_usage,
        created: 1_741_569_952,
        model: None,
    }
}

/// Replays `input` cut at `cuts` (ascending offsets); returns the concatenated output.
fn replay(input: &[u8], cuts: &[usize], include_usage: bool) -> (String, StreamSummary) {
    let mut t = ToOpenAiStream::new(opts(include_usage), "chatcmpl-bedrock-test".into());
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

    #[test]
    fn a_fixture_with_one_flipped_byte_never_panics(which in 0..FIXTURES.len(), at in 0usize..4096, bit in 0u8..8) {
        let (_, input) = FIXTURES[which];
        let mut bad = input.to_vec();
        let at = at % bad.len();
        bad[at] ^= 1 << bit;
        let (out, summary) = replay(&bad, &[], true);
        // A flipped byte is caught by a CRC; the stream never ends as if nothing happened.
        prop_assert!(summary.outcome != StreamOutcome::Completed || out == replay(input, &[], true).0);
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
    let input = fixture("text");
    let (without, s1) = replay(input, &[], false);
    let (with, s2) = replay(input, &[], true);
    assert!(!without.contains("\"usage\""));
    assert!(with.contains("\"choices\":[],\"usage\":{\"prompt_tokens\":25,\"completion_tokens\":6"));
    assert!(without.ends_with("data: [DONE]\n\n"));
    assert!(without.contains("\"content\":\" from Bédrock\""));
    assert_eq!(s1.usage, s2.usage);
    assert_eq!(s1.usage.map(|u| u.total_tokens), Some(31));
    assert_eq!(s1.finish_reason, Some("stop"));
}

#[test]
fn tool_indices_count_tool_calls_not_blocks() {
    let (out, summary) = replay(fixture("text_then_tools"), &[], false);
    assert!(out.contains(r#"{"index":0,"id":"tooluse_paris01","type":"function","function":{"name":"get_weather","arguments":""}}"#));
    assert!(out.contains(r#"{"index":1,"id":"tooluse_tokyo02","type":"function","function":{"name":"get_weather","arguments":""}}"#));
    assert!(out.contains(r#"{"index":0,"function":{"arguments":"{\"city\":"}}"#));
    assert!(out.contains(r#"{"index":1,"function":{"arguments":"{\"city\":\"Tokyo\"}"}}"#));
    // The empty first fragment is not forwarded.
    assert!(!out.contains(r#""function":{"arguments":""}}"#));
    assert_eq!(summary.finish_reason, Some("tool_calls"));
    let u = summary.usage.unwrap();
    assert_eq!(u.prompt_tokens, 180 + 1024 + 16);
    assert_eq!(u.prompt_tokens_details.cached_tokens, 1024);
    assert_eq!(u.completion_tokens, 61);
}

#[test]
fn reasoning_is_forwarded_and_signatures_are_not() {
    let (out, summary) = replay(fixture("reasoning_max_tokens"), &[], false);
    assert!(out.contains(r#""reasoning_content":"The user wants""#));
    assert!(!out.contains("c2lnLTE="));
    assert_eq!(summary.finish_reason, Some("length"));
}

#[test]
fn exceptions_mid_stream_become_one_openai_error_event() {
    let (out, summary) = replay(fixture("throttled_midstream"), &[], true);
    assert!(out.contains("\"content\":\"Partial\""));
    assert!(out.ends_with(
        "data: {\"error\":{\"message\":\"Too many tokens, please wait before trying again.\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"ThrottlingException\"}}\n\n"
    ));
    assert!(!out.contains("[DONE]"));
    match summary.outcome {
        StreamOutcome::ProviderError(e) => assert_eq!((e.status, e.retryable), (429, true)),
        other => panic!("unexpected {other:?}"),
    }
    let (out, summary) = replay(fixture("model_stream_error"), &[], true);
    assert!(out.contains("\"code\":\"ModelStreamErrorException\""));
    assert!(matches!(summary.outcome, StreamOutcome::ProviderError(_)));
    let (out, summary) = replay(fixture("error_message_type"), &[], true);
    assert!(out.contains("\"message\":\"An internal error occurred.\""));
    match summary.outcome {
        StreamOutcome::ProviderError(e) => assert_eq!(e.status, 500),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn early_end_is_reported_not_silent() {
    let (out, summary) = replay(fixture("truncated"), &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
    assert!(out.ends_with("\"code\":\"upstream_protocol_error\"}}\n\n"));
    let (out, summary) = replay(b"", &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
    assert!(out.starts_with("data: {\"error\""));
    // Whole frames, but cut before messageStop.
    let text = fixture("text");
    let (_, summary) = replay(&text[..text.len() - 500], &[], false);
    assert_eq!(summary.outcome, StreamOutcome::Truncated);
}

#[test]
fn message_stop_without_metadata_completes_without_usage() {
    let (out, summary) = replay(fixture("no_metadata"), &[], true);
    assert_eq!(summary.outcome, StreamOutcome::Completed);
    assert_eq!(summary.usage, None);
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn a_bad_crc_is_a_protocol_error() {
    let mut bad = fixture("text").to_vec();
    let n = bad.len();
    bad[n - 20] ^= 0x20;
    let (out, summary) = replay(&bad, &[], false);
    assert!(matches!(summary.outcome, StreamOutcome::Protocol(ref m) if m.contains("CRC")));
    assert!(out.contains("\"content\":\"Hello\""));
    assert!(out.ends_with("\"code\":\"upstream_protocol_error\"}}\n\n"));
}

#[test]
fn model_override_is_reported() {
    let mut t = ToOpenAiStream::new(
        StreamOptions {
            model: Some("my-alias".into()),
            ..opts(false)
        },
        "id".into(),
    );
    let mut out = Vec::new();
    t.push(fixture("text"), &mut out);
    t.finish(&mut out);
    assert!(out
        .iter()
        .filter(|b| b.starts_with(b"data: {"))
        .all(|b| String::from_utf8_lossy(b).contains("\"model\":\"my-alias\"")));
}
