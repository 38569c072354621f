//! Active health state per provider: the verdict of the background probes, with thresholds.
//!
//! Owns: `Tracker` (N consecutive successes mark a target healthy, M consecutive failures
//! unhealthy) and `Health`, the shared verdicts the selector reads. A provider without
//! `health_check` is always healthy; one with a check starts healthy (optimistic, so a fresh
//! gateway serves at once) until its probes say otherwise. Must not: send probes (the probe
//! task in `llm::probe` does the I/O) or read the clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::HealthCheck;

/// Consecutive-result thresholds of one provider's probes.
#[derive(Debug, Clone)]
pub struct Tracker {
    healthy: bool,
    streak: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl Tracker {
    pub fn new(cfg: &HealthCheck) -> Self {
        Tracker {
            healthy: true,
            streak: 0,
            healthy_threshold: cfg.healthy_threshold.max(1),
            unhealthy_threshold: cfg.unhealthy_threshold.max(1),
        }
    }

    /// Records one probe result; returns the new verdict when it changed.
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok == self.healthy {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if ok {
            self.healthy_threshold
        } else {
            self.unhealthy_threshold
        };
        if self.streak >= needed {
            self.healthy = ok;
            self.streak = 0;
            return Some(ok);
        }
        None
    }
}

/// The current verdict per provider name (only providers with a health check are listed).
#[derive(Debug, Default)]
pub struct Health(BTreeMap<String, AtomicBool>);

impl Health {
    pub fn new<'a>(checked: impl IntoIterator<Item = &'a str>) -> Self {
        Health(
            checked
                .into_iter()
                .map(|n| (n.to_owned(), AtomicBool::new(true)))
                .collect(),
        )
    }

    pub fn is_healthy(&self, provider: &str) -> bool {
        self.0
            .get(provider)
            .is_none_or(|h| h.load(Ordering::Relaxed))
    }

    pub fn set(&self, provider: &str, healthy: bool) {
        if let Some(h) = self.0.get(provider) {
            h.store(healthy, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn thresholds_need_consecutive_results() {
        let cfg = HealthCheck {
            path: "/models".into(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        };
        let mut t = Tracker::new(&cfg);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a success breaks the streak");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(false));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true));
        let h = Health::new(["a"]);
        assert!(h.is_healthy("a") && h.is_healthy("unchecked"));
        h.set("a", false);
        assert!(!h.is_healthy("a"));
    }
}
