//! Typed wire shapes of both sides of the Anthropic codec: the OpenAI chat types the gateway
//! reads from clients and writes back (`openai`), and the Anthropic Messages types it sends
//! and reads from the provider (`anthropic`).
//!
//! Owns: field names and serde attributes only. Reading is lenient (unknown fields ignored,
//! optional fields may be absent or `null`); writing is strict (only documented fields, absent
//! optionals omitted). Must not: hold translation logic (the codec's other modules do).

pub mod anthropic;
pub use crate::providers::openai_wire as openai;
