//! Fuzzes every Gemini decoder: any bytes as a non-stream answer, an error body, an embeddings
//! answer, a request to encode, and a stream pushed in pieces (the first byte picks the split)
//! must give a result or a well-formed error, never a panic; a stream always ends with `[DONE]`
//! or one error event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::providers::gemini::{
    decode_embeddings, decode_error, decode_response, encode_embeddings, encode_request,
    GeminiStream,
};
use tollgate::providers::translate::{
    DecodeOptions, EmbeddingsOptions, StreamOptions, StreamOutcome,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let _ = decode_response(rest, &DecodeOptions::default());
    let _ = decode_error(429, rest);
    let _ = decode_embeddings(rest, &EmbeddingsOptions::default());
    let _ = encode_request(rest);
    let _ = encode_embeddings(rest, "m");

    let mut t = GeminiStream::new(StreamOptions {
        include_usage: true,
        ..StreamOptions::default()
    });
    let mut out = Vec::new();
    let at = usize::from(split).min(rest.len());
    t.push(&rest[..at], &mut out);
    t.push(&rest[at..], &mut out);
    let summary = t.finish(&mut out);
    let last = out.last().expect("a stream always ends with an event");
    match summary.outcome {
        StreamOutcome::Completed => assert_eq!(&last[..], b"data: [DONE]\n\n"),
        _ => assert!(last.starts_with(b"data: {\"error\"")),
    }
});
