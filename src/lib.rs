//! tollgate: an AI gateway for LLM traffic and a drop-in for nginx reverse-proxy configs, on
//! Cloudflare's Pingora.
//!
//! Crate map (who owns what):
//! - [`config`]: YAML → validated runtime model, env interpolation, located errors.
//! - [`server`]: pingora server assembly, listeners, threads, signals, graceful shutdown.
//! - [`tls_listen`]: nginx listeners' TLS: certificates chosen by SNI, ALPN h2.
//! - [`proxy`]: the only module naming pingora's proxy types; adapts sessions to [`llm`] or,
//!   for nginx configs, to [`http`].
//! - [`llm`]: the OpenAI-compatible front door as an owned exchange (route, auth, body,
//!   model group, the attempt loop with retries and fallback, relay, translated relay for
//!   Anthropic targets), the Anthropic Messages front door (passed through to Anthropic
//!   targets: `passthrough`; translated onto the pipeline for the others: `front_anthropic`;
//!   `count_tokens`), the OpenAI Responses front door (`front_responses`: passthrough or chat
//!   translation per target), the active health probes, and breaker openings shared through
//!   Redis.
//! - [`balance`]: pure balancing and resilience: priority tiers, strategies, circuit breaker,
//!   retry hints, health verdicts (no I/O; time and randomness injected).
//! - [`providers`]: pure per-provider codecs (OpenAI-compatible with vendor presets as data,
//!   Azure OpenAI, Anthropic Messages, built-in mock), the Responses ⇄ chat codec and the
//!   rate-limit header normaliser.
//! - [`upstream`]: pooled upstream HTTP client with connect/first-byte/idle/total timeouts.
//! - [`nginx`]: nginx.conf front end (lexer, parser, directive table, nginx-exact `-t`
//!   diagnostics, which directives are served).
//! - [`http`]: the generic path's pure model: an nginx config lowered into servers,
//!   locations, scripts and upstream balancers, with nginx 1.22's request-time rules.
//! - [`sse`]: sans-IO Server-Sent Events framing.
//! - [`eventstream`]: sans-IO AWS event-stream framing (Bedrock's ConverseStream), CRC-checked.
//! - [`usage`]: token counting (tiktoken), provider usage extraction, include_usage injection.
//! - [`quota`]: limits, windows, estimate → reserve → settle against a `QuotaStore`.
//! - [`observe`]: Prometheus metrics; [`admin`]: /metrics, /healthz, /readyz.
//! - [`error`]: the client-facing error type and its one status/type/code mapping.

#![forbid(unsafe_code)]
// Production code must not panic on bad input; tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod admin;
pub mod balance;
pub mod config;
pub mod control;
pub mod error;
pub mod eventstream;
pub mod http;
pub mod lifecycle;
pub mod llm;
pub mod nginx;
pub mod observe;
pub mod providers;
pub mod proxy;
pub mod quota;
pub mod reload;
pub mod reload_in_process;
pub mod server;
pub mod sse;
pub mod tls_listen;
pub mod upstream;
pub mod usage;
