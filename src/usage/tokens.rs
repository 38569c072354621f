//! Tokenizers: the right tiktoken encoding per model family, loaded once at startup.
//!
//! Owns: the model -> encoding choice (tiktoken's own table, o200k for unknown models, which
//! makes the count an estimate) and a bounded-cost count. Must not: parse request bodies.

use tiktoken_rs::tokenizer::{get_tokenizer, Tokenizer};
use tiktoken_rs::CoreBPE;

/// Text is tokenized in pieces of at most this many bytes. tiktoken's regex split is
/// super-linear on long runs without whitespace (100 000 x "a" takes 24 ms, 400 000 takes
/// 140 ms); pieces keep the cost linear. A split inside a word can add one token per piece,
/// which is noise for admission control.
const PIECE: usize = 16 * 1024;

/// Beyond this many bytes of text we stop tokenizing and estimate 1 token per 3 bytes (a
/// conservative ratio for English and code): a guard against pathological bodies.
pub const MAX_TOKENIZED: usize = 8 * 1024 * 1024;

/// An encoding chosen for a model.
#[derive(Clone, Copy)]
pub struct Encoder {
    bpe: &'static CoreBPE,
    /// False when the model is unknown to tiktoken and o200k was used as a stand-in.
    pub exact: bool,
}

/// Builds the two encodings used by current models (~100 ms each) so the first request does
/// not pay for it. The older ones (p50k, r50k) load on first use.
pub fn warm_up() {
    let _ = tiktoken_rs::o200k_base_singleton();
    let _ = tiktoken_rs::cl100k_base_singleton();
}

/// The encoding for `model` (the provider's model name).
pub fn for_model(model: &str) -> Encoder {
    let name = model.rsplit('/').next().unwrap_or(model);
    let (bpe, exact) = match get_tokenizer(name) {
        Some(Tokenizer::O200kBase) => (tiktoken_rs::o200k_base_singleton(), true),
        Some(Tokenizer::O200kHarmony) => (tiktoken_rs::o200k_harmony_singleton(), true),
        Some(Tokenizer::Cl100kBase) => (tiktoken_rs::cl100k_base_singleton(), true),
        Some(Tokenizer::P50kBase) => (tiktoken_rs::p50k_base_singleton(), true),
        Some(Tokenizer::P50kEdit) => (tiktoken_rs::p50k_edit_singleton(), true),
        Some(Tokenizer::R50kBase) | Some(Tokenizer::Gpt2) => {
            (tiktoken_rs::r50k_base_singleton(), true)
        }
        None => (tiktoken_rs::o200k_base_singleton(), false),
    };
    Encoder { bpe, exact }
}

impl Encoder {
    /// Tokens in `text`, special-token text counted as plain text (client text is untrusted).
    pub fn count(&self, text: &str) -> u64 {
        if text.len() > MAX_TOKENIZED {
            return (text.len() as u64).div_ceil(3);
        }
        let mut n = 0u64;
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(PIECE);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (piece, tail) = rest.split_at(cut);
            n += self.bpe.encode_ordinary(piece).len() as u64;
            rest = tail;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_family_encoding() {
        let e = for_model("gpt-4o-mini");
        assert!(e.exact);
        assert_eq!(e.count("hello world"), 2);
        assert!(for_model("gpt-3.5-turbo").exact);
        assert!(!for_model("claude-3-5-sonnet").exact);
        assert!(for_model("openai/gpt-4o").exact);
    }

    #[test]
    fn pathological_input_stays_cheap_and_close() {
        let e = for_model("gpt-4o");
        let text = "a".repeat(200_000);
        let n = e.count(&text);
        // Real count: 25 000 tokens (8 a's per token); piecewise adds at most one per piece.
        assert!((24_000..=26_000).contains(&n), "{n}");
        let huge = "ab ".repeat(MAX_TOKENIZED);
        assert_eq!(e.count(&huge), (huge.len() as u64).div_ceil(3));
    }
}
