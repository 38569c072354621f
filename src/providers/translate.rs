//! The contract between the exchange (llm/) and every provider codec that translates an
//! OpenAI chat request for a non-OpenAI provider: the shared error, option and outcome types,
//! and the two traits the relay drives ([`ResponseCodec`], [`StreamTranslator`]).
//!
//! Owns: those types only. Must not: know any provider's wire format, or do I/O.

use bytes::Bytes;
use http::HeaderMap;

use super::openai_wire as o;

/// Why a client request cannot be expressed for Anthropic. Messages reach the client as a 400
/// `invalid_request_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    #[error("We could not parse the JSON body of your request: {0}")]
    InvalidJson(String),
    #[error("Not supported by this model's provider: {0}.")]
    Unsupported(&'static str),
    #[error(
        "This content part type is not supported in {role} messages by this model's provider."
    )]
    UnsupportedPart { role: &'static str },
    #[error("Invalid image URL: expected an http(s) URL or a base64 data: URL.")]
    InvalidImage,
    #[error("Unsupported image type '{0}': use image/jpeg, image/png, image/gif or image/webp.")]
    UnsupportedImageType(String),
    #[error("The arguments of tool call '{id}' are not a JSON object.")]
    InvalidToolArguments { id: String },
    #[error("Invalid value for 'tool_choice': '{0}'.")]
    InvalidToolChoice(String),
    #[error("{0}")]
    Invalid(String),
    #[error("The provider sent a response that could not be read: {0}")]
    InvalidResponse(String),
}

impl TranslateError {
    /// HTTP status for the client: the request's fault, except an unreadable provider answer.
    pub fn status(&self) -> u16 {
        match self {
            TranslateError::InvalidResponse(_) => 502,
            TranslateError::InvalidJson(_)
            | TranslateError::Unsupported(_)
            | TranslateError::UnsupportedPart { .. }
            | TranslateError::InvalidImage
            | TranslateError::UnsupportedImageType(_)
            | TranslateError::InvalidToolArguments { .. }
            | TranslateError::InvalidToolChoice(_)
            | TranslateError::Invalid(_) => 400,
        }
    }
}

/// What the caller supplies to an answer.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Unix seconds for `created` (Anthropic sends none).
    pub created: u64,
    /// Reported `model` instead of the provider's (e.g. the client's alias); `None` keeps the
    /// provider's dated name, as OpenAI itself reports the resolved model.
    pub model: Option<String>,
}

/// What the caller supplies to an embeddings answer (the OpenAI `list` of embeddings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbeddingsOptions {
    /// Reported `model` (the client's name for it).
    pub model: String,
    /// The client asked `encoding_format: "base64"`: vectors as base64 of little-endian f32s.
    pub base64: bool,
    /// Prompt tokens the gateway counted, reported when the provider reports none.
    pub prompt_estimate: u64,
}

impl EmbeddingsOptions {
    /// Reads what matters from the client's OpenAI embeddings body.
    pub fn from_request(body: &[u8], model: &str, prompt_estimate: u64) -> Self {
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(borrow, default)]
            encoding_format: Option<&'a str>,
        }
        let head: Option<Head<'_>> = serde_json::from_slice(body).ok();
        EmbeddingsOptions {
            model: model.to_owned(),
            base64: head.and_then(|h| h.encoding_format) == Some("base64"),
            prompt_estimate,
        }
    }
}

/// Which OpenAI answer a 2xx non-stream body becomes (the client's route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerKind {
    Chat,
    Embeddings(EmbeddingsOptions),
}

/// A provider error translated for an OpenAI client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// Status to send the client.
    pub status: u16,
    pub body: o::ErrorBody,
    /// Worth another attempt or another target (the SDKs' rule: 408, 409, 429, ≥500).
    pub retryable: bool,
}

/// What the caller knows about the client and the clock.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// The client's `stream_options.include_usage`: send a final usage chunk (empty choices).
    pub include_usage: bool,
    /// Unix seconds for every chunk's `created`.
    pub created: u64,
    /// Reported `model` instead of the provider's.
    pub model: Option<String>,
}

/// How the stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// `message_stop` arrived; `[DONE]` was sent.
    Completed,
    /// The provider sent an `error` event; it was forwarded as an OpenAI error event.
    ProviderError(ProviderError),
    /// Unreadable or oversized data; an error event was sent.
    Protocol(String),
    /// The bytes ended before `message_stop`; an error event was sent.
    Truncated,
}

/// Returned by [`StreamTranslator::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Provider-reported usage (cumulative, last value wins); `None` if none arrived.
    pub usage: Option<o::Usage>,
    /// The finish reason sent, if the message completed: OpenAI's `finish_reason` from
    /// the OpenAI-bound translators, Anthropic's `stop_reason` from `ToAnthropicStream`.
    pub finish_reason: Option<&'static str>,
    pub outcome: StreamOutcome,
}

/// Sans-IO stream translator: provider bytes in (split anywhere), OpenAI
/// `chat.completion.chunk` SSE events out, one `Bytes` per event.
pub trait StreamTranslator: Send {
    /// Consumes provider bytes; appends the client events they complete to `out`.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Bytes>);
    /// Ends the stream (an early end becomes an error event) and reports usage and outcome.
    fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary;
}

/// How a translated provider's answers become OpenAI answers.
pub trait ResponseCodec: Sync {
    /// Whether a 2xx answer with these headers is a stream (else a single JSON body).
    fn is_stream(&self, headers: &HeaderMap) -> bool;
    /// Translates a 2xx non-stream body to a `chat.completion` JSON body.
    fn decode_response(&self, body: &[u8], opts: &DecodeOptions)
        -> Result<Vec<u8>, TranslateError>;
    /// Translates a non-2xx answer; an unreadable body still gives a well-formed error.
    fn decode_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError;
    /// A stream translator for one response.
    fn stream(&self, opts: StreamOptions) -> Box<dyn StreamTranslator>;
    /// Statuses worth another target beyond `resilience.retry_on` (Anthropic's 529).
    fn always_retry(&self, _status: u16) -> bool {
        false
    }
    /// Whether answers name their model (Bedrock's do not: the relay then reports the model
    /// the client asked for, never an empty name).
    fn reports_model(&self) -> bool {
        true
    }
    /// Translates a 2xx embeddings body to OpenAI's `list` of embeddings. Kinds without an
    /// embeddings translation never get here (their request builder refuses the route).
    fn decode_embeddings(
        &self,
        _body: &[u8],
        _opts: &EmbeddingsOptions,
    ) -> Result<Vec<u8>, TranslateError> {
        Err(TranslateError::Unsupported("embeddings"))
    }
    /// A retry delay the provider put in an error BODY (Gemini's `RetryInfo`), sent to the
    /// client as `Retry-After` when the answer has no such header.
    fn retry_after(&self, _status: u16, _body: &[u8]) -> Option<std::time::Duration> {
        None
    }
}

/// Test support shared by every stream translator's tests: feeds `input` cut at `cuts`
/// (sorted offsets) and returns the client bytes and the summary.
#[cfg(test)]
pub(crate) fn replay_split(
    t: &mut dyn StreamTranslator,
    input: &[u8],
    cuts: &[usize],
) -> (String, StreamSummary) {
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        t.push(&input[last..c], &mut out);
        last = c;
    }
    let summary = t.finish(&mut out);
    let bytes: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
    (String::from_utf8(bytes).unwrap(), summary)
}
