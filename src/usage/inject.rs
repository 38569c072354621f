//! Turning on `stream_options.include_usage` in a client's streamed request body.
//!
//! Owns: the byte-level edit (like `llm::request::with_model`: the rest of the body passes
//! byte for byte). OpenAI sends no usage at all in streams unless asked, and quotas need the
//! real numbers, so we always ask; `usage::meter` hides the extra chunk from clients that did
//! not. Must not: touch non-streamed bodies, or bodies whose client already asked.

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value};

use crate::llm::request::RequestHead;

/// Returns the body with `include_usage: true` and `head` updated (model span, flag) to
/// describe the new body; `None` when nothing needs to change.
pub fn include_usage(body: &Bytes, head: &RequestHead) -> Option<(Bytes, RequestHead)> {
    if !head.stream || head.include_usage {
        return None;
    }
    // `value_at`: where the stream_options value starts inside `value`.
    let (span, value, value_at) = match &head.stream_options_span {
        Some(span) => {
            // The client sent stream_options without include_usage (or with false): keep its
            // other members, set ours. Only this small value is re-serialized.
            let mut map: Map<String, Value> = serde_json::from_slice(&body[span.clone()]).ok()?;
            map.insert("include_usage".into(), Value::Bool(true));
            (span.clone(), Value::Object(map).to_string(), 0)
        }
        None => {
            // Insert a new member right after the opening brace.
            let open = body.iter().position(|b| *b == b'{')? + 1;
            let member = r#""stream_options":{"include_usage":true},"#;
            (open..open, member.to_owned(), r#""stream_options":"#.len())
        }
    };
    let mut out = BytesMut::with_capacity(body.len() + value.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&body[span.end..]);
    let mut new_head = head.clone();
    let grown = value.len() as isize - span.len() as isize;
    if head.model_span.start >= span.end {
        let shift = |x: usize| (x as isize + grown) as usize;
        new_head.model_span = shift(head.model_span.start)..shift(head.model_span.end);
    }
    let value_len = value.len() - value_at - usize::from(head.stream_options_span.is_none());
    new_head.stream_options_span = Some(span.start + value_at..span.start + value_at + value_len);
    new_head.include_usage = true;
    Some((out.freeze(), new_head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::request::{parse, with_model, BodyKind};

    fn check(body: &str, expect: &str) {
        let body = Bytes::from(body.to_owned());
        let head = parse(&body, BodyKind::Chat).unwrap();
        let (out, new_head) = include_usage(&body, &head).unwrap();
        // The updated head must describe the new body exactly as a fresh parse would.
        assert_eq!(new_head, parse(&out, BodyKind::Chat).unwrap());
        let renamed = with_model(&out, &new_head, "gpt-4o");
        assert_eq!(std::str::from_utf8(&renamed).unwrap(), expect);
    }

    #[test]
    fn inserts_or_extends_stream_options() {
        check(
            r#"{"model":"m","stream":true,"messages":[1]}"#,
            r#"{"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true,"messages":[1]}"#,
        );
        check(
            r#"{"stream_options": {"include_obfuscation":false}, "model":"m","stream":true,"messages":[1]}"#,
            r#"{"stream_options": {"include_obfuscation":false,"include_usage":true}, "model":"gpt-4o","stream":true,"messages":[1]}"#,
        );
        check(
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[1.50]}"#,
            r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[1.50]}"#,
        );
    }

    #[test]
    fn leaves_other_bodies_alone() {
        for b in [
            r#"{"model":"m","messages":[1]}"#,
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[1]}"#,
        ] {
            let body = Bytes::from(b);
            let head = parse(&body, BodyKind::Chat).unwrap();
            assert!(include_usage(&body, &head).is_none());
        }
    }
}
