use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::providers::responses::test_support::snapshot;
use crate::providers::translate::replay_split;

/// Chat streams shared with the Anthropic reverse translator's tests, plus a length cut.
const FIXTURES: &[(&str, &[u8])] = &[
    (
        "tool_call",
        include_bytes!("../anthropic/fixtures/openai_tool_call.sse"),
    ),
    (
        "text_parallel_named",
        include_bytes!("../anthropic/fixtures/openai_text_parallel_named.sse"),
    ),
    (
        "error_midstream",
        include_bytes!("../anthropic/fixtures/openai_error_midstream.sse"),
    ),
    (
        "no_usage_no_done",
        include_bytes!("../anthropic/fixtures/openai_no_usage_no_done.sse"),
    ),
    (
        "truncated",
        include_bytes!("../anthropic/fixtures/openai_truncated.sse"),
    ),
    ("length", include_bytes!("fixtures/length.sse")),
];

fn translator() -> ToResponsesStream {
    ToResponsesStream::new(ResponseOptions {
        model: "client-model".to_owned(),
        created_at: 1_741_569_952,
        ..ResponseOptions::default()
    })
}

fn replay(input: &[u8], cuts: &[usize]) -> (String, StreamSummary) {
    replay_split(&mut translator(), input, cuts)
}

/// Every event as (SSE name, JSON data).
fn events(out: &str) -> Vec<(String, Value)> {
    out.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_owned();
            let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            (name, data)
        })
        .collect()
}

#[test]
fn snapshots_of_every_fixture() {
    for (name, input) in FIXTURES {
        let (out, summary) = replay(input, &[]);
        snapshot(
            &format!("stream_{name}"),
            &format!("{out}--- {summary:?}\n"),
        );
    }
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

#[test]
fn events_are_well_formed_and_sequenced() {
    for (name, input) in FIXTURES {
        let (out, summary) = replay(input, &[]);
        let evs = events(&out);
        for (i, (ev, data)) in evs.iter().enumerate() {
            assert_eq!(data["type"], ev.as_str(), "{name}");
            assert_eq!(data["sequence_number"], i as u64, "{name}");
        }
        assert_eq!(evs[0].0, "response.created", "{name}");
        assert_eq!(evs[1].0, "response.in_progress", "{name}");
        let last = evs.last().unwrap();
        match summary.outcome {
            StreamOutcome::Completed => assert!(
                last.0 == "response.completed" || last.0 == "response.incomplete",
                "{name}: {}",
                last.0
            ),
            _ => {
                assert_eq!(last.0, "response.failed", "{name}");
                assert_eq!(evs[evs.len() - 2].0, "error", "{name}");
                assert_eq!(last.1["response"]["status"], "failed", "{name}");
            }
        }
        // Every added item is done once, in order, before the terminal event.
        let added: Vec<u64> = evs
            .iter()
            .filter(|(e, _)| e == "response.output_item.added")
            .map(|(_, d)| d["output_index"].as_u64().unwrap())
            .collect();
        let done: Vec<u64> = evs
            .iter()
            .filter(|(e, _)| e == "response.output_item.done")
            .map(|(_, d)| d["output_index"].as_u64().unwrap())
            .collect();
        if summary.outcome == StreamOutcome::Completed {
            assert_eq!(added, done, "{name}");
        }
    }
}

#[test]
fn tool_call_round_trip_fields() {
    let (out, summary) = replay(FIXTURES[0].1, &[]);
    let evs = events(&out);
    let done = evs
        .iter()
        .find(|(e, _)| e == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(done.1["arguments"], "{\"city\":\"Paris\"}");
    let completed = &evs.last().unwrap().1["response"];
    assert_eq!(completed["output"][0]["call_id"], "call_1");
    assert_eq!(completed["output"][0]["name"], "get_weather");
    assert_eq!(completed["usage"]["input_tokens"], 82);
    assert_eq!(completed["usage"]["output_tokens"], 17);
    assert_eq!(completed["model"], "client-model");
    assert_eq!(summary.usage.unwrap().completion_tokens, 17);
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
}

proptest! {
    /// Whatever bytes arrive, the client sees exactly one terminal event, last.
    #[test]
    fn any_bytes_end_with_exactly_one_terminal_event(
        data in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let (out, _) = replay(&data, &[]);
        let evs = events(&out);
        let terminal = |n: &str| {
            matches!(n, "response.completed" | "response.incomplete" | "response.failed")
        };
        prop_assert_eq!(evs.iter().filter(|(n, _)| terminal(n)).count(), 1);
        prop_assert!(terminal(&evs.last().unwrap().0));
    }
}
