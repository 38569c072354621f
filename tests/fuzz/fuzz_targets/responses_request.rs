//! Fuzzes the Responses front door's request decoder (providers::responses::request): any
//! bytes must give a translation or a named refusal (never a panic), a translation always has
//! at least one chat message and serializes to a JSON object, and the stream translator must
//! end any bytes with exactly one terminal event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::providers::responses::{translate, ChatOptions, ResponseOptions, ToResponsesStream};
use tollgate::providers::translate::StreamTranslator;

fuzz_target!(|data: &[u8]| {
    let opts = ChatOptions {
        model: "m".to_owned(),
    };
    if let Ok(t) = translate(data, &opts) {
        assert!(!t.chat.messages.is_empty());
        let out = serde_json::to_vec(&t.chat).expect("a translation serializes");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert!(v.is_object());
    }
    let mut s = ToResponsesStream::new(ResponseOptions::default());
    let mut out = Vec::new();
    s.push(data, &mut out);
    s.finish(&mut out);
    let terminal = out
        .iter()
        .filter(|e| {
            e.starts_with(b"event: response.completed")
                || e.starts_with(b"event: response.incomplete")
                || e.starts_with(b"event: response.failed")
        })
        .count();
    assert_eq!(terminal, 1);
});
