//! Balancing and resilience: which target of a model group gets a request, and when a target
//! is kept out of rotation.
//!
//! Owns: priority tiers and in-tier strategies (`select`), the per-target circuit breaker
//! (`breaker`), retry hints from provider responses (`retry_after`), load signals (`load`),
//! active-health verdicts (`health`) and the live per-group state (`pool`). Everything here is
//! pure: time (`now`) and randomness (a seeded `Rng`) are passed in, nothing does I/O. The
//! attempt loop that uses it is in `llm::attempt`; the health probes in `llm::probe`.
//! Must not: send requests, read the clock, or log.
//!
//! Breakers and capacity windows (`capacity_rpm`, `capacity_tpm`) are per target of a model
//! group and per gateway process; openings a provider asked for are additionally shared
//! between instances by `llm::shared_breaker` (outside this pure module: it does I/O), which
//! the attempt loop folds into the `healthy` verdict of a pick.

pub mod breaker;
pub mod health;
pub mod load;
pub mod pool;
pub mod retry_after;
pub mod rng;
pub mod select;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::time::Instant;

use crate::config::Config;

pub use breaker::{Outcome, State, Transition, TripReason};
pub use pool::{Lease, Pick, Pool};

/// Every model group's pool, plus the health verdicts.
#[derive(Debug)]
pub struct Balancer {
    /// Shared with a successor balancer for the groups an in-process reload leaves as they are.
    pools: BTreeMap<String, Arc<Pool>>,
    pub health: health::Health,
}

impl Balancer {
    pub fn new(config: &Config, seed: u64, now: Instant) -> Self {
        Balancer::succeeding(config, seed, now, None, |_| false)
    }

    /// The balancer of `config` after an in-process reload from `old`: a model group for
    /// which `keep(name)` holds keeps `old`'s pool (its breakers and capacity windows, shared
    /// with requests still running on `old`); the other groups and the health verdicts start
    /// afresh (the health probes of a new balancer start afresh too).
    pub fn succeeding(
        config: &Config,
        seed: u64,
        now: Instant,
        old: Option<&Balancer>,
        keep: impl Fn(&str) -> bool,
    ) -> Self {
        let rb = &config.resilience.breaker;
        let window = config.resilience.capacity_window;
        let pools = config
            .models
            .iter()
            .enumerate()
            .map(|(i, (name, g))| {
                let kept = old.filter(|_| keep(name)).and_then(|o| o.pools.get(name));
                let pool = match kept {
                    Some(p) => Arc::clone(p),
                    None => {
                        let seed = seed.wrapping_add(i as u64);
                        Arc::new(Pool::new(g, rb, window, seed, now))
                    }
                };
                (name.clone(), pool)
            })
            .collect();
        let checked = config
            .providers
            .values()
            .filter_map(|p| p.kind.health_check().map(|_| p.name.as_str()));
        Balancer {
            pools,
            health: health::Health::new(checked),
        }
    }

    pub fn pool(&self, model: &str) -> Option<&Pool> {
        self.pools.get(model).map(|p| &**p)
    }

    /// Model groups none of whose targets passes its provider's health check. Breaker state
    /// does not count: every instance sees the same provider 429s, so taking instances out of
    /// a load balancer for it would not help; a provider that fails its probes might be
    /// reachable from another instance.
    pub fn groups_without_healthy_target<'c>(&self, config: &'c Config) -> Vec<&'c str> {
        config
            .models
            .iter()
            .filter(|(_, g)| {
                !g.targets
                    .iter()
                    .any(|t| t.weight > 0 && self.health.is_healthy(&t.provider.name))
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }
}
