//! Anthropic Messages API codec: pure, I/O-free translation between the OpenAI chat format the
//! gateway's front door speaks and Anthropic's `POST /v1/messages` (providers.md §3).
//!
//! Owns, for OpenAI clients on Anthropic targets: encoding requests (request.rs), decoding
//! answers and errors (response.rs) and the sans-IO stream translator (stream.rs); for
//! Anthropic-native clients (the `/v1/messages` front door) on OpenAI-style targets: requests
//! (reverse_request.rs), answers and errors (reverse_response.rs) and the stream translator
//! (reverse_stream.rs). All over typed wire shapes (wire.rs).
//! Must not: do I/O, read config or clocks (callers pass the model name, defaults and
//! `created`), or build HTTP headers beyond the constants below.

pub mod request;
pub mod response;
pub mod reverse_request;
pub mod reverse_response;
pub mod reverse_stream;
pub mod stream;
pub mod wire;

pub use request::{dropped_fields, encode_request, to_messages_request, EncodeOptions};
pub use response::{
    decode_error, decode_response, error_from_type, finish_reason, map_status, map_usage,
    to_chat_completion, DecodeOptions, ProviderError,
};
pub use reverse_request::{encode_openai_request, to_chat_request, ReverseEncodeOptions};
pub use reverse_response::{decode_openai_error, decode_openai_response, to_messages_response};
pub use reverse_stream::{stop_reason, ReverseOptions, ToAnthropicStream};
pub use stream::{StreamOptions, StreamOutcome, StreamSummary, ToOpenAiStream};

/// Path of the Messages endpoint under `https://api.anthropic.com`.
pub const MESSAGES_PATH: &str = "/v1/messages";
/// The `anthropic-version` header value every SDK through 1.x sends (widest compatibility;
/// make it configurable, providers.md §3.1).
pub const DEFAULT_VERSION: &str = "2023-06-01";

pub use super::translate::TranslateError;

#[cfg(test)]
pub(crate) mod test_support {
    /// Snapshot files named without the crate prefix, so they survive a move between crates.
    pub fn snapshot(name: &str, value: &str) {
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, value);
        });
    }
}
