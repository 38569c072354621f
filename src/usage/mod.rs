//! Token accounting: how many tokens a request will use (estimate) and did use (actual).
//!
//! Owns: the per-model tokenizer choice and warm-up ([`tokens`]), the prompt estimate from a
//! front-door body ([`prompt`]), reading usage from provider answers (OpenAI-shaped, or
//! Anthropic's own: [`anthropic`]) and counting completion tokens when the provider reports
//! none ([`meter`]), and the byte-level
//! `stream_options.include_usage` injection ([`inject`]).
//! Must not: decide admission (that is `quota/`), do I/O, or re-serialize request bodies.
//! Provider-reported usage always wins over our counts; our counts are labelled estimates.

pub mod anthropic;
pub mod inject;
pub mod meter;
pub mod prompt;
pub mod tokens;

/// Tokens one request used (or is expected to use).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    /// Where the numbers come from.
    pub source: Source,
}

/// Whether a count is the provider's word or our own tokenizer's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// The provider's `usage` object.
    Provider,
    /// Counted by the gateway (prompt estimate and/or tokenized output).
    #[default]
    Counted,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}
