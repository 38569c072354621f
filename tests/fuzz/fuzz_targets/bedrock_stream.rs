//! Fuzzes the AWS event-stream decoder and the Bedrock ConverseStream translator: any bytes,
//! split anywhere, must give messages or an error, and the translated stream must end with
//! `[DONE]` or one error event; never a panic, a hang or an unbounded buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::eventstream::Decoder;
use tollgate::providers::bedrock::ToOpenAiStream;
use tollgate::providers::translate::{StreamOptions, StreamOutcome};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a split point, so frames arrive in two pieces.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (usize::from(split) * rest.len() / 255).min(rest.len());
    let (a, b) = rest.split_at(at);

    let mut d = Decoder::default();
    for piece in [a, b] {
        d.push(piece);
        while let Ok(Some(m)) = d.next_message() {
            let _ = m.str_header(":event-type");
        }
    }

    let mut t = ToOpenAiStream::new(
        StreamOptions {
            include_usage: true,
            created: 1,
            model: None,
        },
        "id".into(),
    );
    let mut out = Vec::new();
    t.push(a, &mut out);
    t.push(b, &mut out);
    let summary = t.finish(&mut out);
    let last = out.last().expect("a finished stream always says something");
    match summary.outcome {
        StreamOutcome::Completed => assert_eq!(&last[..], b"data: [DONE]\n\n"),
        _ => assert!(last.starts_with(b"data: {\"error\"")),
    }
});
