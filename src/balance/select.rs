//! Picking one target of a model group: priority tiers, then a strategy inside the tier.
//!
//! Owns: the tier rule (the lowest priority with at least one eligible target wins, so a tier
//! falls through only when every target in it is open, unhealthy, out of capacity or already
//! tried) and the in-tier strategies: smooth weighted round robin (nginx's), round robin,
//! weighted random, least in-flight, and latency (peak EWMA, power of two choices).
//! Must not: read the clock or the OS RNG (the `Rng` is injected), or know why a target is
//! ineligible. A zero-weight target is never picked.

use crate::config::Strategy;

use super::rng::Rng;

/// What the selector needs to know about one target right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub priority: u32,
    pub weight: u32,
    /// Breaker lets it through, health check passes, capacity left, not excluded.
    pub eligible: bool,
    pub in_flight: u32,
    /// Peak-EWMA latency in seconds (0 = not measured yet).
    pub latency: f64,
}

impl Candidate {
    fn usable(&self) -> bool {
        self.eligible && self.weight > 0
    }
}

/// Per-group selection state (the round-robin position, smooth-WRR current weights).
#[derive(Debug, Clone)]
pub struct Selector {
    strategy: Strategy,
    /// nginx's `current_weight` per target.
    current: Vec<i64>,
    next: usize,
}

impl Selector {
    pub fn new(strategy: Strategy, targets: usize) -> Self {
        Selector {
            strategy,
            current: vec![0; targets],
            next: 0,
        }
    }

    /// The index of the target to use, `None` when no target is usable.
    pub fn pick(&mut self, cands: &[Candidate], rng: &mut Rng) -> Option<usize> {
        let tier = cands
            .iter()
            .filter(|c| c.usable())
            .map(|c| c.priority)
            .min()?;
        let idx: Vec<usize> = (0..cands.len())
            .filter(|&i| cands[i].usable() && cands[i].priority == tier)
            .collect();
        if self.current.len() != cands.len() {
            self.current = vec![0; cands.len()];
        }
        let i = match self.strategy {
            Strategy::Weighted => self.smooth_weighted(cands, &idx),
            Strategy::RoundRobin => self.round_robin(&idx),
            Strategy::Random => weighted_random(cands, &idx, rng),
            Strategy::LeastInFlight => self.least_in_flight(cands, &idx),
            Strategy::Latency => two_choices(cands, &idx, rng),
        };
        Some(i)
    }

    /// nginx `ngx_http_upstream_get_peer`: every peer gains its weight, the largest wins and
    /// pays back the total. Spreads picks evenly (5,1,1 gives a a b a c a a, not a a a a a b c).
    fn smooth_weighted(&mut self, cands: &[Candidate], idx: &[usize]) -> usize {
        let mut total = 0i64;
        let mut best = idx[0];
        for &i in idx {
            let w = i64::from(cands[i].weight);
            self.current[i] += w;
            total += w;
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= total;
        best
    }

    fn round_robin(&mut self, idx: &[usize]) -> usize {
        let i = idx[self.next % idx.len()];
        self.next = self.next.wrapping_add(1);
        i
    }

    /// Fewest requests in flight; ties rotate so equal targets share the load.
    fn least_in_flight(&mut self, cands: &[Candidate], idx: &[usize]) -> usize {
        let start = self.next % idx.len();
        self.next = self.next.wrapping_add(1);
        let rotated = idx[start..].iter().chain(&idx[..start]);
        let mut best = idx[start];
        for &i in rotated {
            if cands[i].in_flight < cands[best].in_flight {
                best = i;
            }
        }
        best
    }
}

fn weighted_random(cands: &[Candidate], idx: &[usize], rng: &mut Rng) -> usize {
    let total: u64 = idx.iter().map(|&i| u64::from(cands[i].weight)).sum();
    let mut r = rng.below(total);
    for &i in idx {
        let w = u64::from(cands[i].weight);
        if r < w {
            return i;
        }
        r -= w;
    }
    idx[idx.len() - 1]
}

/// Power of two choices over peak-EWMA cost (latency × (in flight + 1)): cheap, and avoids
/// the herd that "always the fastest" causes. Unmeasured targets cost 0, so they get tried.
fn two_choices(cands: &[Candidate], idx: &[usize], rng: &mut Rng) -> usize {
    if idx.len() == 1 {
        return idx[0];
    }
    let n = idx.len() as u64;
    let a = rng.below(n) as usize;
    let b = (a + 1 + rng.below(n - 1) as usize) % idx.len();
    let cost = |i: usize| cands[i].latency * f64::from(cands[i].in_flight + 1);
    let (a, b) = (idx[a], idx[b]);
    if cost(b) < cost(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
