//! The Anthropic Messages front door (`POST /v1/messages`): Claude-style clients on any target.
//!
//! `kind: anthropic` targets get the client's body as is (see `passthrough`); for every other
//! kind this module owns: translating the client's Messages request once into an OpenAI chat
//! body (only when the model group has such a target; the attempt loop, relays and the usage
//! meter then run unchanged on it), and `AnthropicClient`, a `Downstream` adapter that turns
//! every OpenAI-shaped answer the pipeline writes (JSON, SSE chunks, relayed provider
//! failures) back into the Anthropic shape; plus the checks Anthropic makes before anything
//! else and the Anthropic shape of gateway-generated errors. Must not: know wire details
//! (providers::anthropic does the mapping), pick targets, or meter usage itself (the meter
//! reads the OpenAI side).

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use serde::Deserialize;

use super::attempt::Body;
use super::downstream::{ClientGone, Downstream, ResponseHead};
use super::request::{self, BodyKind, RequestHead};
use super::route::Route;
use crate::config::{ModelGroup, ProviderKind, Target};
use crate::error::GatewayError;
use crate::providers::anthropic::{
    decode_openai_error, decode_openai_response, encode_openai_request, ReverseEncodeOptions,
    ReverseOptions, ToAnthropicStream,
};

/// Largest answer buffered for translation (matches the relay's own limit).
const MAX_BUFFERED: usize = 64 * 1024 * 1024;

/// The client's Messages request translated to a chat body for non-Anthropic targets.
#[derive(Debug)]
pub(crate) struct Translated {
    /// The OpenAI chat body, naming the client's model; the attempt loop rewrites it per
    /// target.
    body: Bytes,
    head: RequestHead,
}

/// The route translated requests run as.
static CHAT: Route = Route::ChatCompletions;

impl Translated {
    /// The translation as the attempt loop sees it (its usage chunk is always kept: the
    /// client's `message_delta` is made from it).
    pub(crate) fn body(&self) -> Body<'_> {
        Body {
            route: &CHAT,
            head: &self.head,
            body: &self.body,
            keep_usage: true,
        }
    }
}

/// The field checked before anything else, with Anthropic's own validation message.
#[derive(Deserialize)]
struct Peek {
    max_tokens: Option<serde_json::Value>,
}

/// Refuses what Anthropic refuses before looking at the model (`llm::request` checked the
/// JSON, `model` and `messages`).
pub(crate) fn check(body: &[u8]) -> Result<(), GatewayError> {
    let peek: Peek = serde_json::from_slice(body).map_err(|e| {
        GatewayError::Untranslatable(format!(
            "We could not parse the JSON body of your request: {e}"
        ))
    })?;
    // Anthropic requires max_tokens; accepting requests it would refuse hides client bugs.
    if peek.max_tokens.is_none() {
        return Err(GatewayError::Untranslatable(
            "max_tokens: Field required".to_owned(),
        ));
    }
    Ok(())
}

/// The chat translation when `group` has a target that is not `kind: anthropic` (`None`
/// otherwise), or why the body has none.
pub(crate) fn chat_for(
    group: &ModelGroup,
    body: &[u8],
    model: &str,
) -> Option<Result<Translated, GatewayError>> {
    let needed = group.targets.iter().any(|t| !is_anthropic(t));
    needed.then(|| translate(body, model))
}

/// Whether some target of `group` takes the client's body as is.
pub(crate) fn has_anthropic_target(group: &ModelGroup) -> bool {
    group.targets.iter().any(is_anthropic)
}

fn is_anthropic(t: &Target) -> bool {
    matches!(t.provider.kind, ProviderKind::Anthropic(_))
}

/// Translates a Messages request body to an OpenAI chat body for the pipeline.
fn translate(body: &[u8], model: &str) -> Result<Translated, GatewayError> {
    let opts = ReverseEncodeOptions {
        model: model.to_owned(),
        // `max_tokens` is the name every OpenAI-compatible server accepts (the mock too).
        legacy_max_tokens: true,
        // The attempt loop asks each target for stream usage as that target allows.
        stream_usage: false,
    };
    let out = encode_openai_request(body, &opts)
        .map_err(|e| GatewayError::Untranslatable(e.to_string()))?;
    let body = Bytes::from(out);
    let head = request::parse(&body, BodyKind::Chat)?;
    Ok(Translated { body, head })
}

/// A gateway error as an Anthropic error body (same status; the type follows the status).
pub(crate) fn error_body(e: &GatewayError) -> Bytes {
    let (_, body) = decode_openai_error(e.status(), &e.body());
    match serde_json::to_vec(&body) {
        Ok(v) => Bytes::from(v),
        Err(_) => Bytes::from_static(
            br#"{"type":"error","error":{"type":"api_error","message":"internal gateway error"}}"#,
        ),
    }
}

/// What the adapter does with the body of the head it was given.
enum Mode {
    /// No head yet.
    Idle,
    /// A 2xx SSE stream, translated event by event.
    Stream(Box<ToAnthropicStream>),
    /// A JSON answer (success or error), buffered until its end then translated.
    Buffer { head: ResponseHead, body: BytesMut },
}

/// The client's downstream seen through OpenAI eyes: the pipeline writes OpenAI answers,
/// the client receives Anthropic ones.
pub(crate) struct AnthropicClient<'d> {
    inner: &'d mut dyn Downstream,
    /// Reported as the answer's `model` (the client's name, not the target's).
    model: String,
    /// `message_start`'s `input_tokens` (the provider's count comes in `message_delta`).
    input_estimate: u64,
    mode: Mode,
}

impl<'d> AnthropicClient<'d> {
    pub(crate) fn new(inner: &'d mut dyn Downstream, model: String) -> Self {
        AnthropicClient {
            inner,
            model,
            input_estimate: 0,
            mode: Mode::Idle,
        }
    }

    /// Translates a complete buffered answer and sends it.
    async fn flush_buffer(
        &mut self,
        mut head: ResponseHead,
        body: Bytes,
    ) -> Result<(), ClientGone> {
        let out = if (200..300).contains(&head.status) {
            match decode_openai_response(&body, Some(&self.model)) {
                Ok(v) => Bytes::from(v),
                Err(e) => {
                    head.status = 502;
                    error_body(&GatewayError::Untranslatable(e.to_string()))
                }
            }
        } else {
            let (_, err) = decode_openai_error(head.status, &body);
            serde_json::to_vec(&err)
                .map(Bytes::from)
                .unwrap_or_else(|_| error_body(&GatewayError::Internal))
        };
        head.headers
            .retain(|(k, _)| k != http::header::CONTENT_TYPE);
        head.headers.push((
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        ));
        head.body_len = Some(out.len());
        self.inner.write_head(head).await?;
        self.inner.write_body(out, true).await
    }

    /// Writes the events one write produced as one chunk (one syscall, no added delay).
    async fn write_events(&mut self, events: Vec<Bytes>) -> Result<(), ClientGone> {
        match events.len() {
            0 => Ok(()),
            1 => self.inner.write_body(events[0].clone(), false).await,
            _ => self.inner.write_body(events.concat().into(), false).await,
        }
    }
}

fn is_event_stream(head: &ResponseHead) -> bool {
    head.headers.iter().any(|(k, v)| {
        k == http::header::CONTENT_TYPE
            && v.to_str()
                .is_ok_and(|ct| ct.trim_start().starts_with("text/event-stream"))
    })
}

#[async_trait]
impl Downstream for AnthropicClient<'_> {
    fn method(&self) -> &str {
        self.inner.method()
    }
    fn path(&self) -> &str {
        self.inner.path()
    }
    fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }
    async fn read_body(&mut self) -> Result<Option<Bytes>, ClientGone> {
        self.inner.read_body().await
    }
    async fn send_continue(&mut self) -> Result<(), ClientGone> {
        self.inner.send_continue().await
    }
    fn close_after_response(&mut self) {
        self.inner.close_after_response()
    }
    fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.inner.client_ip()
    }
    fn prompt_estimate(&mut self, tokens: u64) {
        self.input_estimate = tokens;
    }

    async fn write_head(&mut self, head: ResponseHead) -> Result<(), ClientGone> {
        if (200..300).contains(&head.status) && is_event_stream(&head) {
            let opts = ReverseOptions {
                model: Some(self.model.clone()),
                input_tokens_estimate: self.input_estimate,
            };
            self.mode = Mode::Stream(Box::new(ToAnthropicStream::new(opts)));
            return self.inner.write_head(head).await;
        }
        let cap = head.body_len.unwrap_or(0).min(MAX_BUFFERED);
        self.mode = Mode::Buffer {
            head,
            body: BytesMut::with_capacity(cap),
        };
        Ok(())
    }

    async fn write_body(&mut self, data: Bytes, end: bool) -> Result<(), ClientGone> {
        match &mut self.mode {
            Mode::Idle => self.inner.write_body(data, end).await,
            Mode::Stream(tr) => {
                let mut out = Vec::new();
                tr.push(&data, &mut out);
                if end {
                    // Ends the stream well formed (message_stop, or an error event).
                    tr.finish(&mut out);
                }
                self.write_events(out).await?;
                if end {
                    self.mode = Mode::Idle;
                    return self.inner.write_body(Bytes::new(), true).await;
                }
                Ok(())
            }
            Mode::Buffer { body, .. } => {
                if body.len() + data.len() > MAX_BUFFERED {
                    return Err(ClientGone);
                }
                body.extend_from_slice(&data);
                if !end {
                    return Ok(());
                }
                match std::mem::replace(&mut self.mode, Mode::Idle) {
                    Mode::Buffer { head, body } => self.flush_buffer(head, body.freeze()).await,
                    _ => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_once_with_the_client_model() {
        let t = translate(
            br#"{"model":"m","max_tokens":5,"system":"s","messages":[{"role":"user","content":"hi"}]}"#,
            "m",
        )
        .unwrap();
        assert_eq!(t.head.model, "m");
        let v: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["model"], "m");
        assert_eq!(v["max_tokens"], 5);
        assert_eq!(v["messages"][0]["role"], "system");
    }

    #[test]
    fn refuses_what_anthropic_refuses() {
        for body in [&br#"{"model":"m","messages":[]}"#[..], br#"not json"#] {
            assert_eq!(check(body).unwrap_err().status(), 400);
        }
        assert!(check(br#"{"model":"m","max_tokens":1,"messages":[]}"#).is_ok());
    }

    #[test]
    fn gateway_errors_are_anthropic_shaped() {
        let body = error_body(&GatewayError::MissingApiKey);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert!(v["error"]["message"].as_str().is_some());
    }
}
