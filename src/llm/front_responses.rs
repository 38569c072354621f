//! The OpenAI Responses front door (`POST /v1/responses`): Responses clients on any target.
//!
//! Owns: which targets get the client's bytes untouched (`passthrough`: OpenAI-format targets
//! that serve `/v1/responses` themselves: the `openai`, `vllm` and `ollama` presets and Azure's
//! v1 surface), translating the request ONCE, lazily, into a chat body for every other target
//! (`Plan`), and `ResponsesClient`, a `Downstream` adapter that turns the chat answers the
//! pipeline writes for those targets back into a Responses object or event stream.
//! Must not: know wire details (providers::responses does the mapping), pick targets, or
//! meter usage itself (the meter reads the chat side, or the passthrough's own
//! `response.completed`).
//!
//! The choice is per attempt, so a model group may mix both kinds: a request the chat
//! translation cannot carry (built-in tools, `previous_response_id`, ...) still runs on the
//! passthrough targets and gets a 400 naming the field only when a translated target is
//! picked.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use super::downstream::{ClientGone, Downstream, ResponseHead};
use super::request::{self, BodyKind, RequestHead};
use crate::config::{AzureApi, ProviderKind, Target};
use crate::error::GatewayError;
use crate::providers::responses::{
    decode_chat_response, translate, ChatOptions, RequestError, ResponseOptions, ToResponsesStream,
};
use crate::providers::translate::StreamTranslator;

/// Largest answer buffered for translation (matches the relay's own limit).
const MAX_BUFFERED: usize = 64 * 1024 * 1024;

/// Whether `target` serves `/v1/responses` itself (the request and answer pass untouched).
pub(crate) fn passthrough(target: &Target) -> bool {
    match &target.provider.kind {
        ProviderKind::OpenAi(p) => p.preset.responses,
        ProviderKind::AzureOpenAi(p) => matches!(p.api, AzureApi::V1),
        ProviderKind::Anthropic(_)
        | ProviderKind::Bedrock(_)
        | ProviderKind::Gemini(_)
        | ProviderKind::Mock(_) => false,
    }
}

/// The chat request that stands for a Responses request on translated targets.
#[derive(Debug)]
pub(crate) struct ChatRequest {
    /// The chat body, naming the client's model (rewritten per target by the attempt loop).
    pub body: Bytes,
    pub head: RequestHead,
    /// What the answer's translation needs (model, echoed parameters).
    pub answer: ResponseOptions,
}

/// One Responses request's translation, made on first need and shared by every attempt.
pub(crate) struct Plan<'r> {
    body: &'r [u8],
    model: &'r str,
    chat: OnceLock<Result<ChatRequest, GatewayError>>,
}

impl<'r> Plan<'r> {
    pub(crate) fn new(body: &'r [u8], model: &'r str) -> Self {
        Plan {
            body,
            model,
            chat: OnceLock::new(),
        }
    }

    /// The chat request, translated on the first call.
    pub(crate) fn chat(&self) -> Result<&ChatRequest, GatewayError> {
        self.chat
            .get_or_init(|| to_chat(self.body, self.model))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn to_chat(body: &[u8], model: &str) -> Result<ChatRequest, GatewayError> {
    let opts = ChatOptions {
        model: model.to_owned(),
    };
    let t = translate(body, &opts).map_err(request_error)?;
    let body = Bytes::from(serde_json::to_vec(&t.chat).map_err(|_| GatewayError::Internal)?);
    let head = request::parse(&body, BodyKind::Chat)?;
    Ok(ChatRequest {
        body,
        head,
        answer: ResponseOptions {
            model: model.to_owned(),
            created_at: 0,
            echo: t.echo,
        },
    })
}

/// A translation refusal as the client's 400 (with `param` when the field has one name).
fn request_error(e: RequestError) -> GatewayError {
    match e {
        RequestError::Json(m) => GatewayError::InvalidJson(m),
        RequestError::Unsupported { param, message } => {
            GatewayError::UnsupportedParameter { param, message }
        }
        RequestError::Invalid { param, message } => {
            GatewayError::InvalidParameter { param, message }
        }
        e @ RequestError::Unknown(_) => GatewayError::Untranslatable(e.to_string()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the adapter does with the body of the head it was given.
enum Mode {
    /// No head yet, or an error answer: bytes pass through (OpenAI errors are the Responses
    /// API's errors too).
    Pass,
    /// A 2xx SSE stream, translated event by event.
    Stream(Box<ToResponsesStream>),
    /// A 2xx JSON answer, buffered until its end then translated.
    Buffer { head: ResponseHead, body: BytesMut },
}

/// The client's downstream seen through chat eyes: the pipeline writes chat answers, the
/// client receives Responses ones.
pub(crate) struct ResponsesClient<'d> {
    inner: &'d mut dyn Downstream,
    answer: ResponseOptions,
    mode: Mode,
}

impl<'d> ResponsesClient<'d> {
    pub(crate) fn new(inner: &'d mut dyn Downstream, mut answer: ResponseOptions) -> Self {
        answer.created_at = now_secs();
        ResponsesClient {
            inner,
            answer,
            mode: Mode::Pass,
        }
    }

    /// Translates a complete buffered 2xx answer and sends it.
    async fn flush_buffer(
        &mut self,
        mut head: ResponseHead,
        body: Bytes,
    ) -> Result<(), ClientGone> {
        let out = match decode_chat_response(&body, &self.answer) {
            Ok(v) => Bytes::from(v),
            Err(e) => {
                log::warn!("unreadable chat answer for a Responses client: {e}");
                head.status = 502;
                let body = serde_json::json!({"error": {
                    "message": e.to_string(),
                    "type": "upstream_error",
                    "param": null,
                    "code": "upstream_protocol_error",
                }});
                Bytes::from(body.to_string())
            }
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
}

#[async_trait]
impl Downstream for ResponsesClient<'_> {
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

    async fn write_head(&mut self, head: ResponseHead) -> Result<(), ClientGone> {
        if !(200..300).contains(&head.status) {
            self.mode = Mode::Pass;
            return self.inner.write_head(head).await;
        }
        if is_event_stream(&head) {
            self.mode = Mode::Stream(Box::new(ToResponsesStream::new(self.answer.clone())));
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
            Mode::Pass => self.inner.write_body(data, end).await,
            Mode::Stream(tr) => {
                let mut out = Vec::new();
                tr.push(&data, &mut out);
                if end {
                    // Ends the stream well formed (a terminal event, or error + failed).
                    tr.finish(&mut out);
                }
                for ev in out {
                    self.inner.write_body(ev, false).await?;
                }
                if end {
                    self.mode = Mode::Pass;
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
                match std::mem::replace(&mut self.mode, Mode::Pass) {
                    Mode::Buffer { head, body } => self.flush_buffer(head, body.freeze()).await,
                    _ => Ok(()),
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that records what reaches it.
    #[derive(Default)]
    struct Recorder {
        headers: HeaderMap,
        heads: Vec<ResponseHead>,
        body: Vec<u8>,
        ended: bool,
    }

    #[async_trait]
    impl Downstream for Recorder {
        fn method(&self) -> &str {
            "POST"
        }
        fn path(&self) -> &str {
            "/v1/responses"
        }
        fn headers(&self) -> &HeaderMap {
            &self.headers
        }
        async fn read_body(&mut self) -> Result<Option<Bytes>, ClientGone> {
            Ok(None)
        }
        async fn send_continue(&mut self) -> Result<(), ClientGone> {
            Ok(())
        }
        async fn write_head(&mut self, head: ResponseHead) -> Result<(), ClientGone> {
            self.heads.push(head);
            Ok(())
        }
        async fn write_body(&mut self, data: Bytes, end: bool) -> Result<(), ClientGone> {
            self.body.extend_from_slice(&data);
            self.ended |= end;
            Ok(())
        }
        fn close_after_response(&mut self) {}
    }

    fn answer() -> ResponseOptions {
        ResponseOptions {
            model: "m".to_owned(),
            ..ResponseOptions::default()
        }
    }

    #[tokio::test]
    async fn chat_answers_become_responses_and_errors_pass() {
        let chat = br#"{"id":"c1","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let mut rec = Recorder::default();
        let mut client = ResponsesClient::new(&mut rec, answer());
        client
            .write_head(ResponseHead::json(200, chat.len()))
            .await
            .unwrap();
        client
            .write_body(Bytes::from_static(&chat[..10]), false)
            .await
            .unwrap();
        client
            .write_body(Bytes::from_static(&chat[10..]), true)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&rec.body).unwrap();
        assert_eq!(v["object"], "response");
        assert_eq!(v["output"][0]["content"][0]["text"], "hi");
        assert_eq!(v["usage"]["input_tokens"], 3);
        assert_eq!(rec.heads[0].body_len, Some(rec.body.len()));
        assert!(rec.ended);

        let err = br#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let mut rec = Recorder::default();
        let mut client = ResponsesClient::new(&mut rec, answer());
        client
            .write_head(ResponseHead::json(429, err.len()))
            .await
            .unwrap();
        client
            .write_body(Bytes::from_static(err), true)
            .await
            .unwrap();
        assert_eq!(rec.heads[0].status, 429);
        assert_eq!(rec.body, err);
    }

    #[tokio::test]
    async fn chat_streams_become_responses_events() {
        let mut rec = Recorder::default();
        let mut client = ResponsesClient::new(&mut rec, answer());
        client
            .write_head(ResponseHead::event_stream())
            .await
            .unwrap();
        for ev in [
            r#"data: {"id":"c","choices":[{"index":0,"delta":{"content":"yo"}}]}"#,
            r#"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "data: [DONE]",
        ] {
            let ev = Bytes::from(format!("{ev}\n\n"));
            client.write_body(ev, false).await.unwrap();
        }
        client.write_body(Bytes::new(), true).await.unwrap();
        let text = String::from_utf8(rec.body).unwrap();
        assert!(text.starts_with("event: response.created\n"), "{text}");
        assert!(
            text.contains("event: response.output_text.delta\n"),
            "{text}"
        );
        assert!(text.ends_with("\n\n") && text.contains("event: response.completed\n"));
        assert!(rec.ended);
    }

    #[test]
    fn translates_once_and_names_refused_fields() {
        let body = br#"{"model":"m","input":"hi","stream":true,"max_output_tokens":7}"#;
        let plan = Plan::new(body, "m");
        let chat = plan.chat().unwrap();
        assert_eq!(chat.head.model, "m");
        assert!(chat.head.stream);
        assert_eq!(chat.head.max_tokens, Some(7));
        assert!(std::ptr::eq(chat, plan.chat().unwrap()));

        let body = br#"{"model":"m","input":"hi","tools":[{"type":"web_search"}]}"#;
        let e = Plan::new(body, "m").chat().unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.param(), Some("tools"));
        assert_eq!(e.code(), "unsupported_parameter");
        let body = br#"{"model":"m","input":"hi","previous_response_id":"resp_1"}"#;
        let e = Plan::new(body, "m").chat().unwrap_err();
        assert_eq!(e.param(), Some("previous_response_id"));
    }
}
