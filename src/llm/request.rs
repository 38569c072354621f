//! Parsing of front-door request bodies: the few typed fields the gateway needs, with the byte
//! span of `model` so the body can be forwarded untouched except for that one value.
//!
//! Owns: `RequestHead` (model, stream, include_usage, token limits) and the byte-level model
//! rewrite. Must not: re-serialize the body (unknown fields and number formatting pass through
//! byte for byte), or know about providers.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::GatewayError;

/// Which body shape an endpoint expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Chat,
    /// Anthropic's Messages (and count_tokens) body: `messages` required, like chat.
    Messages,
    Completion,
    Embedding,
    /// OpenAI's Responses API (`input`, `max_output_tokens`).
    Responses,
}

/// What the gateway reads from a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestHead {
    pub model: String,
    /// Byte range of the `model` value (including its quotes) in the body.
    pub model_span: Range<usize>,
    pub stream: bool,
    pub include_usage: bool,
    /// `max_completion_tokens`, else `max_tokens` (`max_output_tokens` for Responses).
    pub max_tokens: Option<u64>,
    /// Byte range of the `stream_options` value, when present (for the usage injection).
    pub stream_options_span: Option<Range<usize>>,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    stream: Option<bool>,
    #[serde(borrow)]
    stream_options: Option<&'a RawValue>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Parses and checks a body. One pass over the JSON; the rest of the document is validated
/// for syntax but not interpreted.
pub fn parse(body: &[u8], kind: BodyKind) -> Result<RequestHead, GatewayError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| GatewayError::InvalidJson("the body is not valid UTF-8".into()))?;
    if !text.trim_start().starts_with('{') {
        return Err(GatewayError::InvalidJson(
            "the body must be a JSON object".into(),
        ));
    }
    let head: Head<'_> =
        serde_json::from_str(text).map_err(|e| GatewayError::InvalidJson(clean_serde_error(&e)))?;
    let raw_model = head.model.ok_or(GatewayError::MissingParameter("model"))?;
    let model: String =
        serde_json::from_str(raw_model.get()).map_err(|_| GatewayError::InvalidParameter {
            param: "model",
            message: "expected a string".into(),
        })?;
    if model.is_empty() {
        return Err(GatewayError::InvalidParameter {
            param: "model",
            message: "must not be empty".into(),
        });
    }
    match kind {
        BodyKind::Chat | BodyKind::Messages => require_array(head.messages, "messages")?,
        BodyKind::Completion => require_present(head.prompt, "prompt")?,
        BodyKind::Embedding => require_present(head.input, "input")?,
        // `input` may be absent (stored prompts); the translation requires it when needed.
        BodyKind::Responses => {}
    }
    let stream = head.stream.unwrap_or(false);
    let options: Option<StreamOptions> = match head.stream_options {
        Some(raw) => {
            serde_json::from_str(raw.get()).map_err(|_| GatewayError::InvalidParameter {
                param: "stream_options",
                message: "expected an object with a boolean `include_usage`".into(),
            })?
        }
        None => None,
    };
    // Responses streams always end with their usage; `stream_options` has no such member.
    let include_usage = stream
        && kind != BodyKind::Responses
        && options.and_then(|o| o.include_usage).unwrap_or(false);
    let max_tokens = match kind {
        BodyKind::Responses => head.max_output_tokens,
        _ => head.max_completion_tokens.or(head.max_tokens),
    };
    Ok(RequestHead {
        model,
        model_span: span_of(text, raw_model.get()),
        stream,
        include_usage,
        max_tokens,
        stream_options_span: head
            .stream_options
            .filter(|r| r.get() != "null")
            .map(|r| span_of(text, r.get())),
    })
}

fn require_present(v: Option<&RawValue>, name: &'static str) -> Result<(), GatewayError> {
    match v {
        Some(raw) if raw.get() != "null" => Ok(()),
        _ => Err(GatewayError::MissingParameter(name)),
    }
}

fn require_array(v: Option<&RawValue>, name: &'static str) -> Result<(), GatewayError> {
    require_present(v, name)?;
    let raw = v.map(|r| r.get()).unwrap_or("");
    if !raw.starts_with('[') {
        return Err(GatewayError::InvalidParameter {
            param: name,
            message: "expected an array".into(),
        });
    }
    if raw[1..].trim_start().starts_with(']') {
        return Err(GatewayError::InvalidParameter {
            param: name,
            message: "must contain at least one message".into(),
        });
    }
    Ok(())
}

/// The byte range of `part` inside `whole`; `part` must be a sub-slice of `whole`.
fn span_of(whole: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// serde's messages mention Rust types; keep the position, which helps clients.
fn clean_serde_error(e: &serde_json::Error) -> String {
    format!(
        "{} (line {}, column {})",
        match e.classify() {
            serde_json::error::Category::Eof => "unexpected end of input",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected value type",
            serde_json::error::Category::Io => "read error",
        },
        e.line(),
        e.column()
    )
}

/// Returns `body` with the model value replaced by `new_model` (as a JSON string). When the
/// name is unchanged the original buffer is returned without copying.
pub fn with_model(body: &Bytes, head: &RequestHead, new_model: &str) -> Bytes {
    if new_model == head.model {
        return body.clone();
    }
    let quoted = serde_json::Value::String(new_model.to_owned()).to_string();
    let mut out = BytesMut::with_capacity(body.len() + quoted.len());
    out.extend_from_slice(&body[..head.model_span.start]);
    out.extend_from_slice(quoted.as_bytes());
    out.extend_from_slice(&body[head.model_span.end..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(s: &str) -> Result<RequestHead, GatewayError> {
        parse(s.as_bytes(), BodyKind::Chat)
    }

    #[test]
    fn reads_the_needed_fields() {
        let h = chat(
            r#"{"messages":[{"role":"user","content":"hi"}],"stream":true,
            "stream_options":{"include_usage":true},"model":"gpt-4o","max_tokens":7}"#,
        )
        .unwrap();
        assert_eq!(h.model, "gpt-4o");
        assert!(h.stream && h.include_usage);
        assert_eq!(h.max_tokens, Some(7));
    }

    #[test]
    fn missing_and_bad_fields_are_named() {
        assert_eq!(
            chat(r#"{"messages":[{"role":"user","content":"x"}]}"#),
            Err(GatewayError::MissingParameter("model"))
        );
        assert_eq!(
            chat(r#"{"model":"m"}"#),
            Err(GatewayError::MissingParameter("messages"))
        );
        assert_eq!(
            chat(r#"{"model":"m","messages":null}"#),
            Err(GatewayError::MissingParameter("messages"))
        );
        assert!(matches!(
            chat(r#"{"model":3,"messages":[1]}"#),
            Err(GatewayError::InvalidParameter { param: "model", .. })
        ));
        assert!(matches!(
            chat(r#"{"model":"m","messages":[ ]}"#),
            Err(GatewayError::InvalidParameter {
                param: "messages",
                ..
            })
        ));
        assert!(matches!(
            chat(r#"{"model":"m","messages":[1],"#),
            Err(GatewayError::InvalidJson(_))
        ));
        assert!(matches!(chat("[1]"), Err(GatewayError::InvalidJson(_))));
        assert!(matches!(
            parse(b"{\"model\":\"\xff\"}", BodyKind::Chat),
            Err(GatewayError::InvalidJson(_))
        ));
        assert_eq!(
            parse(br#"{"model":"e"}"#, BodyKind::Embedding),
            Err(GatewayError::MissingParameter("input"))
        );
    }

    #[test]
    fn model_rewrite_touches_only_the_model_value() {
        let body = Bytes::from_static(
            br#"{ "x": 1.50, "model" : "public\"name", "messages":[{"role":"user","content":"model"}], "z":{"model":"inner"}}"#,
        );
        let h = parse(&body, BodyKind::Chat).unwrap();
        assert_eq!(h.model, "public\"name");
        let out = with_model(&body, &h, "gpt-4o-2024-08-06");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{ "x": 1.50, "model" : "gpt-4o-2024-08-06", "messages":[{"role":"user","content":"model"}], "z":{"model":"inner"}}"#
        );
        assert_eq!(
            with_model(&body, &h, "public\"name").as_ptr(),
            body.as_ptr()
        );
    }
}
