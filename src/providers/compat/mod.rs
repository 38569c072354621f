//! OpenAI-compatible vendors as data: one row per vendor saying how its API departs from
//! OpenAI's, and the one body rewrite that applies a row (`rewrite`).
//!
//! Owns: the preset table (`PRESETS`, plus `AZURE` for `kind: azure_openai`), each row's
//! default base URL and quirks. Must not: hold per-vendor code paths (a vendor is a row, not a
//! module), do I/O, or touch a body no quirk applies to (`rewrite` returns `None` and the
//! caller forwards the client's bytes unchanged).
//!
//! Sources: providers.md §1.1 (reasoning models reject `max_tokens`), §6.1 (Mistral), §6.4
//! (Ollama /v1), §6.5 (vLLM), §6.6 (llama.cpp), §6.7 (stream usage). Rows for Groq, Together,
//! DeepSeek and OpenRouter follow their public docs: each documents `max_tokens` and
//! `stream_options.include_usage`; only Groq documents a list of refused fields.

pub mod ids;
pub mod rewrite;

#[cfg(test)]
mod tests;

pub use rewrite::rewrite;

/// Which output-length field a vendor takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokens {
    /// Either field, as the client sent it.
    AsSent,
    /// Only `max_tokens`: a client's `max_completion_tokens` is renamed to it.
    Legacy,
    /// Models whose name starts with one of these prefixes take only `max_completion_tokens`
    /// (a client's `max_tokens` is renamed to it); other models take either.
    CompletionFor(&'static [&'static str]),
}

/// Constraints on tool-call ids the vendor accepts in a conversation's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolIds {
    /// Any string.
    Any,
    /// Exactly 9 ASCII letters or digits (`^[a-zA-Z0-9]{9}$`); others are rewritten
    /// consistently in assistant `tool_calls[].id` and `tool` messages' `tool_call_id`.
    Alnum9,
}

/// One OpenAI-compatible vendor.
#[derive(Debug, PartialEq, Eq)]
pub struct Preset {
    /// The `preset:` value in the config.
    pub name: &'static str,
    /// Used when the provider sets no `base_url` (`None`: `base_url` is required).
    pub base_url: Option<&'static str>,
    /// Accepts `stream_options` (and so can be asked for stream usage). When false the field
    /// is removed from requests and streams are metered by counting (or by the usage the
    /// vendor sends unasked).
    pub stream_options: bool,
    pub max_tokens: MaxTokens,
    pub tool_ids: ToolIds,
    /// What `tool_choice: "required"` becomes (`None`: sent as is).
    pub tool_choice_required: Option<&'static str>,
    /// Top-level fields renamed (OpenAI name, vendor name).
    pub renames: &'static [(&'static str, &'static str)],
    /// Top-level fields removed because the vendor refuses them (422/400 on unknown fields).
    pub rejects: &'static [&'static str],
    /// Serves `POST /v1/responses` itself (providers.md §1.4, §6.4, §6.5): Responses requests
    /// pass through untouched; otherwise they are translated to chat.
    pub responses: bool,
}

/// OpenAI's reasoning families: `max_tokens` is refused there (400 `unsupported_parameter`).
pub const REASONING_PREFIXES: &[&str] = &["o1", "o3", "o4", "gpt-5"];

const fn plain(name: &'static str, base_url: Option<&'static str>) -> Preset {
    Preset {
        name,
        base_url,
        stream_options: true,
        max_tokens: MaxTokens::AsSent,
        tool_ids: ToolIds::Any,
        tool_choice_required: None,
        renames: &[],
        rejects: &[],
        responses: false,
    }
}

/// The default row: OpenAI itself.
pub const OPENAI: Preset = Preset {
    max_tokens: MaxTokens::CompletionFor(REASONING_PREFIXES),
    responses: true,
    ..plain("openai", Some("https://api.openai.com/v1"))
};

/// `kind: azure_openai` speaks OpenAI's format with OpenAI's models: the same rules (the
/// reasoning rule matches the target's `model`, i.e. the deployment name on classic URLs).
pub const AZURE: Preset = Preset {
    name: "azure_openai",
    base_url: None,
    ..OPENAI
};

/// Every preset `kind: openai` accepts, `OPENAI` first.
pub const PRESETS: &[Preset] = &[
    OPENAI,
    Preset {
        stream_options: false,
        max_tokens: MaxTokens::Legacy,
        tool_ids: ToolIds::Alnum9,
        tool_choice_required: Some("any"),
        renames: &[("seed", "random_seed")],
        // Not in mistralai's ChatCompletionRequest: 422 `extra_forbidden` (§6.1).
        rejects: &[
            "user",
            "store",
            "logit_bias",
            "safety_identifier",
            "modalities",
            "audio",
            "web_search_options",
            "verbosity",
            "function_call",
            "functions",
        ],
        ..plain("mistral", Some("https://api.mistral.ai/v1"))
    },
    Preset {
        // Groq documents these as unsupported (400).
        rejects: &["logprobs", "logit_bias", "top_logprobs"],
        ..plain("groq", Some("https://api.groq.com/openai/v1"))
    },
    Preset {
        max_tokens: MaxTokens::Legacy,
        ..plain("together", Some("https://api.together.xyz/v1"))
    },
    Preset {
        max_tokens: MaxTokens::Legacy,
        ..plain("deepseek", Some("https://api.deepseek.com/v1"))
    },
    Preset {
        responses: true,
        ..plain("vllm", Some("http://127.0.0.1:8000/v1"))
    },
    Preset {
        max_tokens: MaxTokens::Legacy,
        // Stateless only (§6.4): `previous_response_id` is Ollama's to refuse.
        responses: true,
        ..plain("ollama", Some("http://127.0.0.1:11434/v1"))
    },
    Preset {
        max_tokens: MaxTokens::Legacy,
        ..plain("llamacpp", Some("http://127.0.0.1:8080/v1"))
    },
    Preset {
        max_tokens: MaxTokens::Legacy,
        ..plain("openrouter", Some("https://openrouter.ai/api/v1"))
    },
];

/// The preset with this name.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names, for config errors.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

impl Preset {
    /// Whether `model` takes only `max_completion_tokens` on this vendor.
    pub fn completion_tokens_only(&self, model: &str) -> bool {
        match self.max_tokens {
            // "o1" matches "o1", "o1-mini", "o1.5" but not "o10" or "o1x".
            MaxTokens::CompletionFor(prefixes) => prefixes.iter().any(|p| {
                model
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.']))
            }),
            _ => false,
        }
    }
}
