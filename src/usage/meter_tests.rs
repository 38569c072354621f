use super::*;
use crate::usage::prompt::Prompt;
use crate::usage::tokens::for_model;

const WITH_USAGE: &str = concat!(
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello there\"}}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}\n\n",
    "data: [DONE]\n\n",
);

/// Feeds `stream` split at `at` through the SSE decoder and a meter.
fn run(stream: &str, at: usize, strip: bool) -> (Usage, String) {
    let mut dec = sse::Decoder::default();
    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(5), strip);
    let mut out = Vec::new();
    for part in [&stream.as_bytes()[..at], &stream.as_bytes()[at..]] {
        for ev in dec.push(part).unwrap() {
            if let Some(b) = m.on_event(ev) {
                out.extend_from_slice(&b);
            }
        }
    }
    (m.usage(), String::from_utf8(out).unwrap())
}

#[test]
fn provider_usage_wins_at_every_split() {
    for at in 0..=WITH_USAGE.len() {
        let (u, out) = run(WITH_USAGE, at, false);
        assert_eq!(
            (u.input, u.output, u.source),
            (12, 7, Source::Provider),
            "split {at}"
        );
        assert_eq!(out, WITH_USAGE);
    }
}

#[test]
fn injected_usage_is_hidden_at_every_split() {
    for at in 0..=WITH_USAGE.len() {
        let (u, out) = run(WITH_USAGE, at, true);
        assert_eq!((u.input, u.output), (12, 7), "split {at}");
        assert!(!out.contains("usage"), "{out}");
        assert!(!out.contains("\"choices\":[]"));
        assert!(out.ends_with("data: [DONE]\n\n"));
        assert_eq!(out.matches("data: ").count(), 5);
    }
}

#[test]
fn counts_the_output_when_no_usage_arrives() {
    let no_usage: String = WITH_USAGE
        .split_inclusive("\n\n")
        .filter(|e| !e.contains("prompt_tokens"))
        .collect();
    for at in 0..=no_usage.len() {
        let (u, _) = run(&no_usage, at, false);
        // "Hello theref{\"a\":1}" is 8 tokens on o200k; input is the prompt estimate.
        assert_eq!(
            (u.input, u.output, u.source),
            (5, 8, Source::Counted),
            "split {at}"
        );
    }
}

#[test]
fn a_cut_stream_is_billed_for_what_arrived() {
    let cut = &WITH_USAGE[..WITH_USAGE.find("tool_calls").unwrap()];
    let (u, _) = run(cut, 0, false);
    assert_eq!((u.input, u.output), (5, 2));
}

#[test]
fn whole_bodies() {
    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(9), false);
    m.on_body(br#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#);
    assert_eq!((m.usage().input, m.usage().output), (3, 1));
    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(9), false);
    m.on_body(br#"{"choices":[{"text":"hello world"}]}"#);
    assert_eq!((m.usage().input, m.usage().output), (9, 2));
    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(9), false);
    m.on_body(br#"{"data":[],"usage":{"prompt_tokens":4,"total_tokens":4}}"#);
    assert_eq!((m.usage().input, m.usage().output), (4, 0));
}

#[test]
fn nothing_is_billed_without_an_answer() {
    let m = Meter::new(for_model("gpt-4o"), Prompt::known(9), false);
    assert_eq!(m.usage(), Usage::default());
}

/// vLLM `continuous_usage_stats`: usage on every chunk, cumulative; the last one wins.
const CUMULATIVE: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"text\":\"Hel\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\r\n\r\n",
    "data: {\"choices\":[{\"index\":0,\"text\":\"lo\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\r\n\r\n",
    ": keep-alive comment\r\n\r\n",
    "data: [DONE]\r\n\r\n",
);

#[test]
fn cumulative_usage_last_wins_at_every_split() {
    for at in 0..=CUMULATIVE.len() {
        let (u, out) = run(CUMULATIVE, at, false);
        assert_eq!(
            (u.input, u.output, u.source),
            (4, 2, Source::Provider),
            "split {at}"
        );
        assert_eq!(out, CUMULATIVE);
    }
}

/// A passed-through Responses stream: usage only in the terminal event's response.
const RESPONSES_STREAM: &str = concat!(
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"output\":[],\"usage\":null}}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello there\",\"logprobs\":[]}\n\n",
    "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":2,\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"text\":\"Hello there\"}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello there\"}]}],\"usage\":{\"input_tokens\":12,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":7,\"output_tokens_details\":{\"reasoning_tokens\":3},\"total_tokens\":19}}}\n\n",
);

#[test]
fn responses_streams_are_metered_from_their_terminal_event() {
    for at in 0..=RESPONSES_STREAM.len() {
        let (u, out) = run(RESPONSES_STREAM, at, false);
        assert_eq!(
            (u.input, u.output, u.source),
            (12, 7, Source::Provider),
            "split {at}"
        );
        assert_eq!(out, RESPONSES_STREAM, "passed through untouched");
    }
    // Cut before the terminal event: the deltas are counted (not the `.done` repeat).
    let cut = RESPONSES_STREAM.find("event: response.completed").unwrap();
    let (u, _) = run(&RESPONSES_STREAM[..cut], cut, false);
    assert_eq!((u.input, u.output, u.source), (5, 2, Source::Counted));
}

#[test]
fn responses_bodies_use_the_responses_names() {
    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(5), false);
    m.on_body(br#"{"object":"response","output":[],"usage":{"input_tokens":30,"output_tokens":9,"total_tokens":39}}"#);
    let u = m.usage();
    assert_eq!((u.input, u.output, u.source), (30, 9, Source::Provider));
}

const ANTHROPIC: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there\"}}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

#[test]
fn anthropic_events_pass_untouched_and_report_cached_prompt_tokens() {
    for at in 0..=ANTHROPIC.len() {
        let mut dec = sse::Decoder::default();
        let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(5), true);
        m.set_wire(Wire::Anthropic);
        let mut out = Vec::new();
        for part in [&ANTHROPIC.as_bytes()[..at], &ANTHROPIC.as_bytes()[at..]] {
            for ev in dec.push(part).unwrap() {
                out.extend_from_slice(&m.on_event(ev).unwrap());
            }
        }
        assert_eq!(String::from_utf8(out).unwrap(), ANTHROPIC, "split {at}");
        let u = m.usage();
        assert_eq!((u.input, u.output, u.source), (15, 7, Source::Provider));
    }
}

#[test]
fn anthropic_stream_without_usage_is_counted() {
    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(5), false);
    m.set_wire(Wire::Anthropic);
    let ev = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there\"}}\n\n";
    m.on_event(Bytes::from(ev));
    let u = m.usage();
    assert_eq!((u.input, u.output, u.source), (5, 2, Source::Counted));
}
