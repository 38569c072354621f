//! Fuzzes the Messages front door's translation to OpenAI-format targets: any bytes as a
//! Messages request to translate, a chat answer and error to turn back into Anthropic's shape,
//! and an OpenAI SSE stream pushed in pieces into Anthropic events. Never a panic; the event
//! stream is well-formed Anthropic SSE (`event:` + `data:` pairs) that ends with
//! `message_stop` when completed or one `error` event otherwise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::providers::anthropic::{
    decode_openai_error, decode_openai_response, encode_openai_request, ReverseEncodeOptions,
    ReverseOptions, StreamOutcome, ToAnthropicStream,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let opts = ReverseEncodeOptions {
        model: "gpt".into(),
        legacy_max_tokens: split & 1 == 1,
        stream_usage: true,
    };
    if let Ok(body) = encode_openai_request(rest, &opts) {
        serde_json::from_slice::<serde_json::Value>(&body).expect("a translated request is JSON");
    }
    if let Ok(body) = decode_openai_response(rest, Some("claude")) {
        serde_json::from_slice::<serde_json::Value>(&body).expect("a translated answer is JSON");
    }
    let (status, _) = decode_openai_error(500, rest);
    assert!((400..=599).contains(&status));

    let mut t = ToAnthropicStream::new(ReverseOptions {
        model: Some("claude".into()),
        input_tokens_estimate: 7,
    });
    let mut out = Vec::new();
    let at = (usize::from(split) * rest.len() / 255).min(rest.len());
    t.push(&rest[..at], &mut out);
    t.push(&rest[at..], &mut out);
    let summary = t.finish(&mut out);
    let last = out.last().expect("a stream always ends with an event");
    match summary.outcome {
        StreamOutcome::Completed => assert!(last.starts_with(b"event: message_stop\n"), "{last:?}"),
        _ => assert!(last.starts_with(b"event: error\n"), "{last:?}"),
    }
    for ev in &out {
        assert!(ev.starts_with(b"event: "), "{ev:?}");
        assert!(ev.ends_with(b"\n\n"));
    }
});
