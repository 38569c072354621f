//! AWS Bedrock Runtime Converse codec: pure, I/O-free translation between the OpenAI chat
//! format of the gateway's front door and Bedrock's `POST /model/{modelId}/converse` and
//! `/converse-stream` (providers.md §5).
//!
//! Owns, for OpenAI clients (and, through the Messages front door, Anthropic clients) on
//! Bedrock targets: encoding requests (request.rs), decoding answers and errors (response.rs)
//! and the sans-IO stream translator over the AWS event-stream framing (stream.rs, with the
//! framing itself in `crate::eventstream`). All over typed wire shapes (wire.rs).
//! Must not: do I/O, sign requests or read clocks (bedrock_target.rs signs; callers pass
//! `created` and the completion id).

pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

pub use request::{encode_request, to_converse_request};
pub use response::{decode_error, decode_response, error_from_exception, finish_reason, map_usage};
pub use stream::ToOpenAiStream;

#[cfg(test)]
pub(crate) mod test_support {
    /// Snapshot files named without the crate prefix, so they survive a move between crates.
    pub fn snapshot(name: &str, value: &str) {
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, value);
        });
    }
}
