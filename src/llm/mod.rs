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
        Gateway::succeeding(config, metrics, None)
    }

    /// The gateway of `config` after an in-process reload from `old` (`None`: a fresh start).
    /// Carried over from `old`: the upstream connection pool; the whole balancer (breakers,
    /// capacity windows, health verdicts) when the models, providers and resilience settings
    /// are unchanged, else the pools (breakers, capacity windows) of the model groups whose
    /// targets (providers included) and strategy and the breaker and capacity-window settings
    /// are unchanged; the quota store (its counters) when its settings are unchanged; the
    /// shared breakers' connection when their settings are unchanged. Everything else is
    /// built afresh.
    pub fn succeeding(
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        old: Option<&Gateway>,
    ) -> Result<Self, String> {
        // A group keeps its pool when it and the settings of every pool are unchanged.
        let keep_group = |name: &str| {
            old.is_some_and(|o| {
                o.config.resilience.breaker == config.resilience.breaker
                    && o.config.resilience.capacity_window == config.resilience.capacity_window
                    && o.config.models.get(name).map(group_form)
                        == config.models.get(name).map(group_form)
            })
        };
        let whole = old.filter(|o| same_balancing(&o.config, &config));
        let balancer = match whole {
            Some(o) => Arc::clone(&o.balancer),
            None => {
                // Seeds only spread picks differently per process; they need not be
                // unpredictable.
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
                    ^ u64::from(std::process::id());
                let now = tokio::time::Instant::now();
                let old = old.map(|o| &*o.balancer);
                Arc::new(Balancer::succeeding(&config, seed, now, old, keep_group))
            }
        };
        for (name, g) in &config.models {
            // A kept pool's breakers keep their state, and their gauges with it.
            if whole.is_some() || keep_group(name) {
                continue;
            }
            for t in g.targets.iter() {
                metrics.breaker_init(name, &t.label());
            }
        }
        // ~100 ms per encoding: paid here, not by the first request.
        crate::usage::tokens::warm_up();
        let quotas = match &config.quota {
            None => None,
            Some(q) => {
                let kept = old
                    .and_then(|o| o.quotas.as_ref())
                    .map(|o| o.store())
                    .filter(|(settings, _)| **settings == q.store)
                    .map(|(_, store)| Arc::clone(store));
                let store: Arc<dyn QuotaStore> = match (kept, &q.store) {
                    (Some(store), _) => store,
                    (None, QuotaStoreSettings::Memory) => {
                        Arc::new(MemoryStore::new(system_clock()))
                    }
                    (None, QuotaStoreSettings::Redis(r)) => Arc::new(
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
        let shared_breakers = match (&config.resilience.shared_breaker, old) {
            (None, _) => None,
            (Some(s), Some(o))
                if o.shared_breakers.is_some()
                    && o.config.resilience.shared_breaker.as_ref() == Some(s) =>
            {
                o.shared_breakers.clone()
            }
            (Some(s), _) => Some(Arc::new(shared_breaker::SharedBreakers::connect(
                s,
                Arc::clone(&metrics),
            )?)),
        };
        let upstream = match old {
            Some(o) => Arc::clone(&o.upstream),
            None => Arc::new(UpstreamClient::new(128)?),
        };
        Ok(Gateway {
            balancer,
            quotas,
            shared_breakers,
            keys: auth::KeyStore::new(&config.keys),
            upstream,
            config,
            metrics,
        })
    }
}

/// Whether `a` and `b` balance alike: same model groups (targets and strategy), providers and
/// resilience settings. The config types have no `PartialEq` (secrets, URLs); their `Debug`
/// forms are compared instead, which hide secrets, so a changed API key alone keeps the
/// balancer (its state does not depend on keys). A group's `created` (the load time, shown
/// in `/v1/models`) does not count.
pub fn same_balancing(a: &Config, b: &Config) -> bool {
    let groups = |c: &Config| -> Vec<String> {
        c.models
            .iter()
            .map(|(name, g)| format!("{name} {}", group_form(g)))
            .collect()
    };
    a.resilience == b.resilience
        && groups(a) == groups(b)
        && format!("{:?}", a.providers) == format!("{:?}", b.providers)
}

/// What a model group's pool is built from (`Debug`: the config types have no `PartialEq`).
fn group_form(g: &Arc<crate::config::ModelGroup>) -> String {
    format!("{:?} {:?}", g.targets, g.strategy)
}
