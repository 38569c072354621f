//! Fuzzes the SSE event decoder and the usage meter that reads every relayed event: any bytes,
//! split at two points, give the same events as the whole input (framing does not depend on
//! how reads arrive); metering those events (and the bytes as one JSON body) never panics, and
//! a meter that saw no answer bills nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::sse::Decoder;
use tollgate::usage::meter::Meter;
use tollgate::usage::prompt::Prompt;
use tollgate::usage::tokens::for_model;

const MAX_EVENT: usize = 1 << 16;

fn decode(pieces: &[&[u8]]) -> Result<Vec<bytes::Bytes>, ()> {
    let mut d = Decoder::new(MAX_EVENT);
    let mut out = Vec::new();
    for p in pieces {
        out.extend(d.push(p).map_err(|_| ())?);
    }
    out.extend(d.finish());
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let i = (usize::from(a) * rest.len() / 255).min(rest.len());
    let j = (usize::from(b) * rest.len() / 255).clamp(i, rest.len());
    let whole = decode(&[rest]);
    let split = decode(&[&rest[..i], &rest[i..j], &rest[j..]]);
    assert_eq!(whole, split, "events must not depend on read boundaries");

    let mut m = Meter::new(for_model("gpt-4o"), Prompt::known(3), a & 1 == 1);
    assert_eq!(m.usage().input + m.usage().output, 0, "nothing answered, nothing billed");
    for ev in whole.unwrap_or_default() {
        let _ = m.on_event(ev);
        let _ = m.usage();
    }
    let mut body = Meter::new(for_model("gpt-4o"), Prompt::known(3), false);
    body.on_body(rest);
    let _ = body.usage();
});
