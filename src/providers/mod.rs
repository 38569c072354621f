//! Provider codecs: how a front-door request becomes a provider request, and what comes back.
//!
//! Owns: one module per provider kind. Must not: do I/O (the exchange in llm/ and the client
//! in upstream/ do).

pub mod anthropic;
pub mod anthropic_passthrough;
pub mod anthropic_target;
pub mod azure;
pub mod bedrock;
pub mod bedrock_target;
pub mod compat;
pub mod gemini;
pub mod gemini_target;
pub mod mock;
pub mod openai;
pub mod openai_wire;
pub mod ratelimit;
pub mod responses;
pub mod translate;

/// The codec that translates a kind's answers for OpenAI clients; `None` for kinds that speak
/// OpenAI's format themselves (their answers are relayed as they are).
pub fn codec(kind: &crate::config::ProviderKind) -> Option<&'static dyn translate::ResponseCodec> {
    use crate::config::ProviderKind;
    match kind {
        ProviderKind::Anthropic(_) => Some(&anthropic_target::AnthropicCodec),
        ProviderKind::Bedrock(_) => Some(&bedrock_target::BedrockCodec),
        ProviderKind::Gemini(_) => Some(&gemini_target::GeminiCodec),
        ProviderKind::OpenAi(_) | ProviderKind::AzureOpenAi(_) | ProviderKind::Mock(_) => None,
    }
}
