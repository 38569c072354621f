//! The live balancing state of one model group: a breaker, load signals and capacity windows
//! (requests and tokens) per target, and the group's selector.
//!
//! Owns: turning target state into `Candidate`s, the pick (untried targets first; a target
//! already tried in this request only when nothing else is left), in-flight accounting through
//! `Lease`, token accounting for `capacity_tpm` (the request's estimate is charged at the
//! pick, replaced by the real usage through `Lease::settle_tokens`, refunded when the attempt
//! failed: providers do not count refused requests), and feeding outcomes back to the
//! breaker. Must not: do I/O or read the clock.
//! One short mutex per group: a pick is a few comparisons, far below one upstream round trip.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::{Breaker, Outcome, Transition};
use super::load::{PeakEwma, Window};
use super::rng::Rng;
use super::select::{Candidate, Selector};
use crate::config::{BreakerSettings, ModelGroup};

#[derive(Debug)]
struct TargetState {
    breaker: Breaker,
    in_flight: u32,
    latency: PeakEwma,
    rpm: Window,
    tpm: Window,
}

#[derive(Debug)]
struct Inner {
    selector: Selector,
    rng: Rng,
    targets: Vec<TargetState>,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    priority: u32,
    weight: u32,
    capacity_rpm: Option<u32>,
    capacity_tpm: Option<u32>,
}

/// One model group's balancing state.
#[derive(Debug)]
pub struct Pool {
    meta: Vec<Meta>,
    inner: Mutex<Inner>,
}

/// The result of a pick.
#[derive(Debug)]
pub enum Pick<'p> {
    Target(Lease<'p>, Option<Transition>),
    /// Nothing usable; `retry_in` is when the first open breaker lets a probe through.
    Exhausted {
        retry_in: Option<Duration>,
    },
}

impl Pool {
    /// `window` is the span of the capacity windows (see `load::Window`).
    pub fn new(
        group: &ModelGroup,
        breaker: &BreakerSettings,
        window: Duration,
        seed: u64,
        now: Instant,
    ) -> Self {
        let meta: Vec<Meta> = group
            .targets
            .iter()
            .map(|t| Meta {
                priority: t.priority,
                weight: t.weight,
                capacity_rpm: t.capacity_rpm,
                capacity_tpm: t.capacity_tpm,
            })
            .collect();
        let targets = meta
            .iter()
            .map(|_| TargetState {
                breaker: Breaker::new(breaker.clone(), now),
                in_flight: 0,
                latency: PeakEwma::default(),
                rpm: Window::new(now, window),
                tpm: Window::new(now, window),
            })
            .collect();
        Pool {
            inner: Mutex::new(Inner {
                selector: Selector::new(group.strategy, meta.len()),
                rng: Rng::seeded(seed),
                targets,
            }),
            meta,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters more than refusing traffic would.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Picks a target. `tried[i]` marks targets this request already used; `healthy(i)` is the
    /// active health check's verdict; `tokens` is the request's estimate (prompt and the
    /// output it may generate), checked against and charged to `capacity_tpm`.
    pub fn pick(
        &self,
        now: Instant,
        tried: &[bool],
        healthy: &dyn Fn(usize) -> bool,
        tokens: u64,
    ) -> Pick<'_> {
        let mut g = self.lock();
        let inner = &mut *g;
        let base: Vec<Candidate> = self
            .meta
            .iter()
            .zip(inner.targets.iter_mut())
            .enumerate()
            .map(|(i, (m, t))| Candidate {
                priority: m.priority,
                weight: m.weight,
                eligible: t.breaker.available(now)
                    && healthy(i)
                    && m.capacity_rpm.is_none_or(|rpm| t.rpm.has_room(now, rpm))
                    && m.capacity_tpm
                        .is_none_or(|tpm| t.tpm.fits(now, tokens, tpm)),
                in_flight: t.in_flight,
                latency: t.latency.get(),
            })
            .collect();
        let fresh: Vec<Candidate> = base
            .iter()
            .enumerate()
            .map(|(i, c)| Candidate {
                eligible: c.eligible && !tried.get(i).copied().unwrap_or(false),
                ..*c
            })
            .collect();
        let chosen = inner
            .selector
            .pick(&fresh, &mut inner.rng)
            .or_else(|| inner.selector.pick(&base, &mut inner.rng));
        let Some(index) = chosen else {
            let retry_in = inner
                .targets
                .iter()
                .filter_map(|t| t.breaker.open_until())
                .min()
                .map(|u| u.saturating_duration_since(now));
            return Pick::Exhausted { retry_in };
        };
        let t = &mut inner.targets[index];
        t.in_flight += 1;
        t.rpm.add(now, 1);
        t.tpm.add(now, tokens);
        let transition = t.breaker.on_send(now);
        let lease = Lease {
            pool: self,
            index,
            recorded: false,
            charged: Some((now, tokens)),
        };
        Pick::Target(lease, transition)
    }

    fn record(
        &self,
        index: usize,
        now: Instant,
        outcome: Outcome,
        ttfb: Option<Duration>,
    ) -> Option<Transition> {
        let mut g = self.lock();
        let t = g.targets.get_mut(index)?;
        if let Some(d) = ttfb {
            t.latency.observe(now, d);
        }
        t.breaker.record(now, outcome)
    }

    fn correct_tokens(&self, index: usize, charged: (Instant, u64), now: Instant, actual: u64) {
        if let Some(t) = self.lock().targets.get_mut(index) {
            t.tpm.correct(charged.0, now, charged.1, actual);
        }
    }

    fn release(&self, index: usize, recorded: bool) {
        if let Some(t) = self.lock().targets.get_mut(index) {
            t.in_flight = t.in_flight.saturating_sub(1);
            if !recorded {
                t.breaker.on_abandon();
            }
        }
    }
}

/// A picked target: counts as in flight until finished or dropped.
#[derive(Debug)]
pub struct Lease<'p> {
    pool: &'p Pool,
    pub index: usize,
    recorded: bool,
    /// When and how many tokens the pick charged, until corrected.
    charged: Option<(Instant, u64)>,
}

impl Lease<'_> {
    /// Records how the attempt went (`ttfb` feeds the latency estimate). The target stays
    /// counted in flight until the lease is dropped (a relayed stream keeps it busy).
    pub fn record(
        &mut self,
        now: Instant,
        outcome: Outcome,
        ttfb: Option<Duration>,
    ) -> Option<Transition> {
        self.recorded = true;
        if matches!(outcome, Outcome::Failure { .. }) {
            // Refused or failed: the provider counted no tokens for it.
            self.settle_tokens(now, 0);
        }
        self.pool.record(self.index, now, outcome, ttfb)
    }

    /// Replaces the estimate charged at the pick with the tokens really used (prompt and
    /// completion). Only the first call counts.
    pub fn settle_tokens(&mut self, now: Instant, actual: u64) {
        if let Some(charged) = self.charged.take() {
            self.pool.correct_tokens(self.index, charged, now, actual);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool.release(self.index, self.recorded);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::balance::load::MINUTE;
    use crate::config::{MockProvider, NonEmpty, Provider, ProviderKind, Strategy, Target};

    fn group(targets: &[(u32, u32)]) -> ModelGroup {
        let provider = Arc::new(Provider {
            name: "p".into(),
            kind: ProviderKind::Mock(MockProvider::default()),
        });
        ModelGroup {
            name: "g".into(),
            targets: NonEmpty::new(
                targets
                    .iter()
                    .map(|&(priority, weight)| Target {
                        provider: provider.clone(),
                        model: "m".into(),
                        priority,
                        weight,
                        capacity_rpm: None,
                        capacity_tpm: None,
                    })
                    .collect(),
            )
            .unwrap(),
            owned_by: "x".into(),
            created: 0,
            strategy: Strategy::Weighted,
        }
    }

    fn index(p: Pick<'_>) -> Option<usize> {
        match p {
            Pick::Target(l, _) => Some(l.index),
            Pick::Exhausted { .. } => None,
        }
    }

    #[test]
    fn falls_through_tiers_and_returns_after_the_hint() {
        let t0 = Instant::now();
        let pool = Pool::new(
            &group(&[(0, 1), (1, 1)]),
            &BreakerSettings::default(),
            MINUTE,
            1,
            t0,
        );
        let ok = |_| true;
        let Pick::Target(mut lease, _) = pool.pick(t0, &[false, false], &ok, 0) else {
            panic!("no pick");
        };
        assert_eq!(lease.index, 0);
        lease.record(
            t0,
            Outcome::Failure {
                retry_after: Some(Duration::from_secs(5)),
            },
            None,
        );
        drop(lease);
        assert_eq!(index(pool.pick(t0, &[false, false], &ok, 0)), Some(1));
        assert_eq!(
            index(pool.pick(t0 + Duration::from_secs(5), &[false, false], &ok, 0)),
            Some(0)
        );
    }

    #[test]
    fn tried_targets_come_last_and_exhaustion_says_when() {
        let t0 = Instant::now();
        let pool = Pool::new(
            &group(&[(0, 1), (0, 1)]),
            &BreakerSettings::default(),
            MINUTE,
            1,
            t0,
        );
        let ok = |_| true;
        assert_eq!(index(pool.pick(t0, &[true, false], &ok, 0)), Some(1));
        assert!(index(pool.pick(t0, &[true, true], &ok, 0)).is_some());
        let unhealthy = |i| i == 1;
        assert_eq!(
            index(pool.pick(t0, &[false, false], &unhealthy, 0)),
            Some(1)
        );
        for i in 0..2 {
            let Pick::Target(mut l, _) = pool.pick(t0, &[false, false], &ok, 0) else {
                panic!()
            };
            let _ = i;
            l.record(
                t0,
                Outcome::Failure {
                    retry_after: Some(Duration::from_secs(9)),
                },
                None,
            );
        }
        let got = match pool.pick(t0 + Duration::from_secs(1), &[false, false], &ok, 0) {
            Pick::Exhausted { retry_in } => retry_in,
            Pick::Target(l, _) => panic!("picked {}", l.index),
        };
        assert_eq!(got, Some(Duration::from_secs(8)));
    }

    #[test]
    fn a_full_target_falls_through_until_its_window_slides() {
        let t0 = Instant::now();
        let mut g = group(&[(0, 1), (1, 1)]);
        let mut targets: Vec<Target> = g.targets.iter().cloned().collect();
        targets[0].capacity_rpm = Some(2);
        g.targets = NonEmpty::new(targets).unwrap();
        let pool = Pool::new(&g, &BreakerSettings::default(), MINUTE, 1, t0);
        let ok = |_| true;
        let picks: Vec<Option<usize>> = (0..4)
            .map(|_| index(pool.pick(t0, &[false, false], &ok, 0)))
            .collect();
        assert_eq!(picks, [Some(0), Some(0), Some(1), Some(1)]);
        let later = t0 + Duration::from_secs(120);
        assert_eq!(index(pool.pick(later, &[false, false], &ok, 0)), Some(0));
    }

    fn tpm_pool(capacity: u32, window: Duration, t0: Instant) -> Pool {
        let mut g = group(&[(0, 1), (1, 1)]);
        let mut targets: Vec<Target> = g.targets.iter().cloned().collect();
        targets[0].capacity_tpm = Some(capacity);
        g.targets = NonEmpty::new(targets).unwrap();
        Pool::new(&g, &BreakerSettings::default(), window, 1, t0)
    }

    /// Picks with `tokens` and settles the lease at once with `used` tokens.
    fn pick_used(pool: &Pool, now: Instant, tokens: u64, used: u64) -> Option<usize> {
        match pool.pick(now, &[false, false], &|_| true, tokens) {
            Pick::Target(mut l, _) => {
                l.record(now, Outcome::Success, None);
                l.settle_tokens(now, used);
                Some(l.index)
            }
            Pick::Exhausted { .. } => None,
        }
    }

    #[test]
    fn a_target_out_of_tokens_falls_through_until_its_window_slides() {
        let t0 = Instant::now();
        let pool = tpm_pool(100, MINUTE, t0);
        // 40-token estimates, each really using 40: the third would exceed 100.
        let picks: Vec<Option<usize>> = (0..4).map(|_| pick_used(&pool, t0, 40, 40)).collect();
        assert_eq!(picks, [Some(0), Some(0), Some(1), Some(1)]);
        // A smaller request still fits in the 20 left.
        assert_eq!(pick_used(&pool, t0, 20, 20), Some(0));
        assert_eq!(pick_used(&pool, t0 + 2 * MINUTE, 40, 40), Some(0));
    }

    #[test]
    fn real_usage_replaces_the_estimate() {
        let t0 = Instant::now();
        let pool = tpm_pool(100, MINUTE, t0);
        // Estimated 90, really used 10: 80 tokens of room come back.
        assert_eq!(pick_used(&pool, t0, 90, 10), Some(0));
        assert_eq!(pick_used(&pool, t0, 85, 85), Some(0));
        // Estimated 1, really used 60: the target is now over and falls through.
        assert_eq!(pick_used(&pool, t0, 1, 60), Some(0));
        assert_eq!(pick_used(&pool, t0, 1, 1), Some(1));
    }

    #[test]
    fn a_failed_attempt_refunds_its_estimate() {
        let t0 = Instant::now();
        let pool = tpm_pool(100, MINUTE, t0);
        let Pick::Target(mut l, _) = pool.pick(t0, &[false, false], &|_| true, 90) else {
            panic!("no pick")
        };
        assert_eq!(l.index, 0);
        l.record(t0, Outcome::Failure { retry_after: None }, None);
        drop(l);
        assert_eq!(pick_used(&pool, t0, 90, 90), Some(0));
    }

    #[test]
    fn an_unsettled_lease_keeps_its_estimate() {
        let t0 = Instant::now();
        let pool = tpm_pool(100, Duration::from_secs(6), t0);
        // A 6 s window prorates 100 tpm to 10 tokens.
        let Pick::Target(l, _) = pool.pick(t0, &[false, false], &|_| true, 8) else {
            panic!("no pick")
        };
        assert_eq!(l.index, 0);
        drop(l);
        assert_eq!(pick_used(&pool, t0, 8, 8), Some(1));
        assert_eq!(
            pick_used(&pool, t0 + Duration::from_secs(13), 8, 8),
            Some(0)
        );
    }

    #[test]
    fn leases_count_in_flight() {
        let t0 = Instant::now();
        let mut g = group(&[(0, 1), (0, 1)]);
        g.strategy = Strategy::LeastInFlight;
        let pool = Pool::new(&g, &BreakerSettings::default(), MINUTE, 1, t0);
        let ok = |_| true;
        let Pick::Target(a, _) = pool.pick(t0, &[false, false], &ok, 0) else {
            panic!()
        };
        let Pick::Target(b, _) = pool.pick(t0, &[false, false], &ok, 0) else {
            panic!()
        };
        assert_ne!(a.index, b.index, "the busy one is avoided");
        drop(a);
        drop(b);
        assert!(pool.lock().targets.iter().all(|t| t.in_flight == 0));
    }
}
