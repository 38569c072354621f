//! Fuzzes the Responses front door's answer side on translated targets: any bytes as a
//! `chat.completion` to turn into a Responses object, and an OpenAI SSE stream pushed in
//! pieces into Responses events. Never a panic; every event carries a strictly increasing
//! `sequence_number`, and the stream ends with `response.completed`/`response.incomplete`
//! when completed or `response.failed` otherwise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::providers::responses::{decode_chat_response, ResponseOptions, ToResponsesStream};
use tollgate::providers::translate::{StreamOutcome, StreamTranslator};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let opts = ResponseOptions {
        model: "m".into(),
        created_at: 1,
        ..ResponseOptions::default()
    };
    if let Ok(body) = decode_chat_response(rest, &opts) {
        serde_json::from_slice::<serde_json::Value>(&body).expect("a Responses object is JSON");
    }
    let mut t = ToResponsesStream::new(opts);
    let mut out = Vec::new();
    let at = (usize::from(split) * rest.len() / 255).min(rest.len());
    t.push(&rest[..at], &mut out);
    t.push(&rest[at..], &mut out);
    let summary = t.finish(&mut out);
    let mut seq = None;
    let mut last_type = String::new();
    for ev in &out {
        let text = std::str::from_utf8(ev).expect("events are UTF-8");
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("every event has a data line");
        let v: serde_json::Value = serde_json::from_str(data).expect("event data is JSON");
        let n = v["sequence_number"].as_u64().expect("sequence_number");
        assert!(seq.is_none_or(|s| n > s), "sequence numbers increase");
        seq = Some(n);
        last_type = v["type"].as_str().unwrap_or("").to_owned();
    }
    match summary.outcome {
        StreamOutcome::Completed => assert!(
            last_type == "response.completed" || last_type == "response.incomplete",
            "{last_type}"
        ),
        _ => assert_eq!(last_type, "response.failed"),
    }
});
