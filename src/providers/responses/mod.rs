//! OpenAI Responses API codec (providers.md §1.4): pure, I/O-free translation between the
//! Responses front door (`POST /v1/responses`) and the chat-completions format the pipeline
//! runs on, for targets that do not speak the Responses API themselves (Anthropic, Gemini,
//! Bedrock, the built-in mock, OpenAI-compatible presets without `/v1/responses`).
//!
//! Owns: requests (request.rs: Responses → chat, refusing by name what chat cannot carry),
//! answers (response.rs: `chat.completion` → `response`) and the sans-IO stream translator
//! (stream.rs: chat chunks → Responses events), over typed wire shapes (wire.rs).
//! Must not: do I/O, read config or clocks (callers pass the model name and `created_at`),
//! or decide which targets are translated (llm::front_responses does).

pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

pub use request::{translate, ChatOptions, RequestError, Translated};
pub use response::{decode_chat_response, ResponseOptions};
pub use stream::ToResponsesStream;

#[cfg(test)]
pub(crate) mod test_support {
    /// Snapshot files named without the crate prefix, so they survive a move between crates.
    pub fn snapshot(name: &str, value: &str) {
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, value);
        });
    }
}
