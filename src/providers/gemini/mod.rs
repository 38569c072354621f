//! Google Gemini API codec: pure, I/O-free translation between the OpenAI formats the gateway's
//! front door speaks and Gemini's `generateContent`, `streamGenerateContent?alt=sse` and
//! `batchEmbedContents` (providers.md §4).
//!
//! Owns: encoding chat requests (request.rs, with JSON Schema cleaning in schema.rs), decoding
//! answers and errors (response.rs), the sans-IO stream translator (stream.rs), embeddings both
//! ways (embeddings.rs) and the generated tool-call ids that carry thought signatures (ids.rs),
//! all over typed wire shapes (wire.rs). Must not: do I/O, read config or clocks (callers pass
//! the model name and `created`), or build HTTP headers.

pub mod embeddings;
pub mod ids;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
pub mod wire;

pub use embeddings::{decode_embeddings, encode_embeddings};
pub use request::{encode_request, to_gemini_request};
pub use response::{decode_error, decode_response, finish_reason, map_usage};
pub use stream::GeminiStream;

#[cfg(test)]
pub(crate) mod test_support {
    /// Snapshot files named without the crate prefix, so they survive a move between crates.
    pub fn snapshot(name: &str, value: &str) {
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, value);
        });
    }
}
