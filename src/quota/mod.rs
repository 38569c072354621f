//! Quotas: limits on requests, tokens and cost per key, tier, team, model, client IP or
//! request header, enforced exactly across concurrent requests and gateway instances.
//!
//! The flow is **estimate → reserve → settle**:
//! 1. `llm::handler` estimates the request (prompt tokens by tiktoken, plus `max_tokens` or
//!    `quota.default_max_tokens` of output when `reserve_output` is on).
//! 2. [`Quotas::reserve`] charges that estimate against every applicable limit, all or
//!    nothing, in one store round trip. Concurrent requests therefore cannot all pass a check
//!    and overspend together (the defect of gateways that check first and charge after).
//!    A rejection is a 429 with `Retry-After` computed from the window.
//! 3. After the response (also when the client left mid-stream or the upstream failed),
//!    [`Quotas::settle`] adds `actual - reserved` to the same buckets (a refund or an extra
//!    charge).
//!
//! Store keys are persistent: Redis counters outlive gateway versions, so the key format is
//! versioned and must not change without bumping the version (see `redis.rs`).
//!
//! Owns: which limits apply, the charges and corrections, the failure policy of the store,
//! and the `x-ratelimit-*` headers. Must not: tokenize (`usage/`), or know HTTP framing.

mod coalesce;
mod engine;
mod headers;
pub mod redis;
pub mod store;
pub mod window;

pub use engine::{Estimate, Facts, Quotas, Ticket};
pub use store::{Adjust, Charge, Clock, MemoryStore, Outcome, QuotaStore, StoreError};
