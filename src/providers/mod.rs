//! Provider codecs: how a front-door request becomes a provider request, and what comes back.
//!
//! Owns: one module per provider kind. Must not: do I/O (the exchange in llm/ and the client
//! in upstream/ do).

pub mod anthropic;
pub mod anthropic_target;
pub mod mock;
pub mod openai;
