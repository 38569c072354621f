//! The LLM pipeline: the OpenAI-compatible front door driven as an "owned exchange", and the
//! Anthropic Messages front door: passed through to Anthropic targets (`passthrough`),
//! translated onto the OpenAI pipeline for the others (`front_anthropic`), and its
//! `count_tokens` (`count_tokens`); and the OpenAI Responses front door (`front_responses`),
//! passed through or translated per target.
//!
//! Owns: routing, virtual-key auth, reading and parsing the body, the attempt loop (choose a
//! target through `balance`, send, retry or fall back on retryable failures), relaying (or
//! generating) the answer, error responses, per-request metrics, the active health probes
//! (`probe`) and breaker openings shared between instances (`shared_breaker`). Pingora replays at most 64 KiB of a body read before the upstream is
//! chosen, and we route on `model` in bodies of any size, so this module drives the upstream
//! exchange itself (see ARCHITECTURE.md). Must not: name pingora's proxy types (`proxy/` adapts
//! the session through `Downstream`).

mod attempt;
pub mod auth;
mod count_tokens;
pub mod downstream;
mod front_anthropic;
mod front_responses;
mod handler;
mod models;
mod passthrough;
pub mod probe;
mod relay;
mod relay_translated;
pub mod request;
pub mod route;
pub mod shared_breaker;

use std::sync::Arc;

use crate::balance::Balancer;
use crate::config::{Config, QuotaStoreSettings};
use crate::observe::Metrics;
use crate::quota::{store::system_clock, MemoryStore, QuotaStore, Quotas};
use crate::upstream::UpstreamClient;

pub use downstream::{ClientGone, Downstream, ResponseHead};
pub use handler::serve;

/// Everything a request needs, shared by all workers.
pub struct Gateway {
    pub config: Arc<Config>,
    pub keys: auth::KeyStore,
    pub metrics: Arc<Metrics>,
    pub upstream: Arc<UpstreamClient>,
    /// Per-group target selection, breakers and health verdicts.
    pub balancer: Arc<Balancer>,
    /// `None` when no `quota:` is configured.
    pub quotas: Option<Arc<Quotas>>,
    /// `None` unless `resilience.breaker.shared` is configured.
    pub shared_breakers: Option<Arc<shared_breaker::SharedBreakers>>,
}

impl Gateway {
    /// Fails when the upstream TLS trust store cannot be loaded or the Redis URL is invalid.
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> Result<Self, String> {
        // Seeds only spread picks differently per process; they need not be unpredictable.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let balancer = Arc::new(Balancer::new(&config, seed, tokio::time::Instant::now()));
        for (name, g) in &config.models {
            for t in g.targets.iter() {
                metrics.breaker_init(name, &t.label());
            }
        }
        // ~100 ms per encoding: paid here, not by the first request.
        crate::usage::tokens::warm_up();
        let quotas = match &config.quota {
            None => None,
            Some(q) => {
                let store: Arc<dyn QuotaStore> = match &q.store {
                    QuotaStoreSettings::Memory => Arc::new(MemoryStore::new(system_clock())),
                    QuotaStoreSettings::Redis(r) => Arc::new(
                        crate::quota::redis::RedisStore::connect(r.url.expose(), r.timeout)?,
                    ),
                };
                Some(Arc::new(Quotas::new(
                    q.clone(),
                    config.prices.clone(),
                    store,
                    Arc::clone(&metrics),
                )))
            }
        };
        let shared_breakers = match &config.resilience.shared_breaker {
            None => None,
            Some(s) => Some(Arc::new(shared_breaker::SharedBreakers::connect(
                s,
                Arc::clone(&metrics),
            )?)),
        };
        Ok(Gateway {
            balancer,
            quotas,
            shared_breakers,
            keys: auth::KeyStore::new(&config.keys),
            upstream: Arc::new(UpstreamClient::new(128)?),
            config,
            metrics,
        })
    }
}
