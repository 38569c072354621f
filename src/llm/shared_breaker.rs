//! Breaker openings shared between gateway instances through Redis
//! (`resilience.breaker.shared`), so every instance stops sending to a target whose provider
//! said "come back later" to one of them.
//!
//! Owns: the key format, publishing an opening a provider asked for (a retryable failure with
//! a retry hint: `SET key <until> PX <delay>`, the delay already clamped to
//! `max_retry_after`), and the lookup before a pick (a target whose key exists counts as open),
//! cached per target for `CACHE_FOR` so the hot path touches Redis at most a few times a
//! second. Only provider hints are shared: openings from consecutive failures or error ratios
//! may be local trouble (a network path), and probes stay local. Must not: hold a request
//! longer than `timeout`, fail a request because Redis failed (a failed lookup counts as "not
//! shared": metric + log), or decide when a breaker opens (`balance::breaker` does).
//!
//! Key format, version 1: `<prefix>:v1:{b}:breaker:<provider>/<model>` (the target label);
//! the value is the Unix ms the opening ends (for people reading Redis; the TTL does the
//! work). The hash tag `{b}` keeps a group's keys in one Redis Cluster slot, so one MGET
//! reads them all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::prelude::*;
use fred::types::config::Options;
use fred::types::Expiration;
use tokio::time::Instant;

use crate::config::{SharedBreaker, Target};
use crate::observe::Metrics;

/// How long a lookup result is trusted: an opening published elsewhere reaches this instance
/// at most this late, and Redis sees at most a few lookups per second per target.
const CACHE_FOR: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
struct Cached {
    at: Instant,
    open: bool,
}

/// The shared breaker client (one per gateway).
pub struct SharedBreakers {
    client: Client,
    options: Options,
    prefix: String,
    cache: Mutex<HashMap<String, Cached>>,
    metrics: Arc<Metrics>,
    /// The last call failed: the next failure is not logged again, the next success is.
    failing: AtomicBool,
}

impl SharedBreakers {
    /// Starts connecting in the background; fails only on an invalid URL.
    pub fn connect(s: &SharedBreaker, metrics: Arc<Metrics>) -> Result<Self, String> {
        let (client, options) = crate::quota::redis::connect(s.url.expose(), s.timeout)?;
        Ok(SharedBreakers {
            client,
            options,
            prefix: s.prefix.clone(),
            cache: Mutex::new(HashMap::new()),
            metrics,
            failing: AtomicBool::new(false),
        })
    }

    fn key(&self, label: &str) -> String {
        format!("{}:v1:{{b}}:breaker:{label}", self.prefix)
    }

    /// Which of `targets` are open by a shared opening (one MGET for those not cached).
    pub async fn open(&self, targets: &[Target]) -> Vec<bool> {
        let now = Instant::now();
        let labels: Vec<String> = targets.iter().map(Target::label).collect();
        let mut open = vec![false; labels.len()];
        let stale: Vec<usize> = {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            (0..labels.len())
                .filter(|&i| match cache.get(&labels[i]) {
                    Some(c) if now.saturating_duration_since(c.at) < CACHE_FOR => {
                        open[i] = c.open;
                        false
                    }
                    _ => true,
                })
                .collect()
        };
        if stale.is_empty() {
            return open;
        }
        let keys: Vec<String> = stale.iter().map(|&i| self.key(&labels[i])).collect();
        let c = self.client.with_options(&self.options);
        let found = match c.mget::<Vec<Option<String>>, _>(keys).await {
            Ok(v) if v.len() == stale.len() => {
                self.succeeded("lookup");
                v.iter().map(Option::is_some).collect()
            }
            Ok(_) => {
                self.failed("lookup", "unexpected MGET reply");
                vec![false; stale.len()]
            }
            Err(e) => {
                self.failed("lookup", &e.to_string());
                // Cached as closed too: a Redis that hangs costs one timeout per target per
                // `CACHE_FOR`, not one per request.
                vec![false; stale.len()]
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        for (&i, is_open) in stale.iter().zip(found) {
            open[i] = is_open;
            cache.insert(
                labels[i].clone(),
                Cached {
                    at: now,
                    open: is_open,
                },
            );
        }
        open
    }

    /// Publishes that `target` is open for `delay`, in the background: the failed attempt
    /// goes on to its retry at once.
    pub fn publish(self: &Arc<Self>, target: &Target, delay: Duration) {
        let ms = delay.as_millis().min(i64::MAX as u128) as i64;
        if ms <= 0 {
            return;
        }
        let until = SystemTime::now()
            .checked_add(delay)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        let key = self.key(&target.label());
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let c = me.client.with_options(&me.options);
            let set = c
                .set::<(), _, _>(key, until, Some(Expiration::PX(ms)), None, false)
                .await;
            match set {
                Ok(()) => me.succeeded("publish"),
                Err(e) => me.failed("publish", &e.to_string()),
            }
        });
    }

    fn succeeded(&self, op: &str) {
        self.metrics.shared_breaker_op(op, "ok");
        if self.failing.swap(false, Ordering::Relaxed) {
            log::info!("shared breaker: redis answers again");
        }
    }

    fn failed(&self, op: &str, why: &str) {
        self.metrics.shared_breaker_op(op, "error");
        if !self.failing.swap(true, Ordering::Relaxed) {
            log::warn!("shared breaker: redis {op} failed ({why}); openings are not shared until it answers");
        }
    }
}
