//! The `application/vnd.amazon.eventstream` encoder of the Bedrock mock (providers.md §5.5),
//! written separately from the gateway's decoder so each checks the other.
//!
//! Owns: frame layout (prelude, string headers, JSON payload, both CRC-32s), the random-looking
//! `"p"` padding member real ConverseStream payloads carry, and cutting frames across writes.

use serde_json::Value;

fn string_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(7);
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

/// One frame with string headers.
pub(crate) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (k, v) in headers {
        string_header(&mut h, k, v);
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An event frame; the payload gets a `"p"` padding member like Bedrock's.
pub(crate) fn event(kind: &str, payload: &Value) -> Vec<u8> {
    let mut payload = payload.clone();
    if let Some(m) = payload.as_object_mut() {
        let pad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
        m.insert("p".into(), Value::from(&pad[..4 + kind.len() % 30]));
    }
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// A modelled exception frame (`:exception-type`).
pub(crate) fn exception(kind: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// The frames as writes that each end inside a frame (the second half of one frame and the
/// first half of the next), as a TCP stream may deliver them.
pub(crate) fn split_across_writes(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(frames.len() + 1);
    let mut carry: Vec<u8> = Vec::new();
    for f in frames {
        let mid = f.len() / 2;
        carry.extend_from_slice(&f[..mid]);
        out.push(std::mem::take(&mut carry));
        carry.extend_from_slice(&f[mid..]);
    }
    if !carry.is_empty() {
        out.push(carry);
    }
    out.retain(|w| !w.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// providers.md §5.5: the first bytes of a 172-byte frame with 87 header bytes.
    #[test]
    fn prelude_crc_matches_the_reference_example() {
        let mut p = 172u32.to_be_bytes().to_vec();
        p.extend_from_slice(&87u32.to_be_bytes());
        assert_eq!(crc32fast::hash(&p), 0x25fa_69a9);
    }

    #[test]
    fn writes_concatenate_to_the_frames() {
        let frames = vec![frame(&[("a", "b")], b"{}"), frame(&[], b"xyz")];
        let writes = split_across_writes(&frames);
        assert_eq!(writes.concat(), frames.concat());
        assert_eq!(writes.len(), 3);
    }
}
