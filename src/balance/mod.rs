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

use tokio::time::Instant;

use crate::config::Config;

pub use breaker::{Outcome, State, Transition, TripReason};
pub use pool::{Lease, Pick, Pool};

/// Every model group's pool, plus the health verdicts.
#[derive(Debug)]
pub struct Balancer {
    pools: BTreeMap<String, Pool>,
    pub health: health::Health,
}

impl Balancer {
    pub fn new(config: &Config, seed: u64, now: Instant) -> Self {
        let rb = &config.resilience.breaker;
        let window = config.resilience.capacity_window;
        let pools = config
            .models
            .iter()
            .enumerate()
            .map(|(i, (name, g))| {
                let seed = seed.wrapping_add(i as u64);
                (name.clone(), Pool::new(g, rb, window, seed, now))
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
        self.pools.get(model)
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
