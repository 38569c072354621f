//! The circuit breaker of one target: an explicit state machine with named trip reasons.
//!
//! ```text
//!   Closed --(Retry-After hint | N consecutive failures | error ratio over window)--> Open{until}
//!   Open{until} --(now >= until, a request is let through)--> HalfOpen{probes}
//!   HalfOpen --(probe succeeds)--> Closed      HalfOpen --(probe fails)--> Open{until}
//! ```
//!
//! Owns: the state, the failure counters and the error-ratio window. Must not: read the clock
//! (every call takes `now`), sleep, or know about HTTP (the caller says what an outcome was).

use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerSettings;

/// Why a breaker opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripReason {
    /// The provider said how long to stay away (Retry-After and friends).
    RetryAfter,
    ConsecutiveFailures,
    ErrorRate,
    /// A half-open probe failed.
    ProbeFailed,
}

impl TripReason {
    pub fn label(self) -> &'static str {
        match self {
            TripReason::RetryAfter => "retry_after",
            TripReason::ConsecutiveFailures => "consecutive_failures",
            TripReason::ErrorRate => "error_rate",
            TripReason::ProbeFailed => "probe_failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open {
        until: Instant,
        reason: TripReason,
    },
    /// `probes` requests are in flight to test the target.
    HalfOpen {
        probes: u32,
    },
}

impl State {
    /// Stable label and gauge value (0 closed, 1 open, 2 half-open).
    pub fn label(&self) -> (&'static str, i64) {
        match self {
            State::Closed => ("closed", 0),
            State::Open { .. } => ("open", 1),
            State::HalfOpen { .. } => ("half_open", 2),
        }
    }
}

/// What an attempt to the target came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A failure, with the provider's retry hint when it sent one (already clamped).
    Failure {
        retry_after: Option<Duration>,
    },
}

/// A state change, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Option<TripReason>,
}

/// Buckets of the error-ratio window.
const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Index of the bucket period this covers (time since `origin` / bucket length).
    period: u64,
    ok: u32,
    failed: u32,
}

#[derive(Debug, Clone)]
pub struct Breaker {
    cfg: BreakerSettings,
    state: State,
    consecutive: u32,
    origin: Instant,
    buckets: [Bucket; BUCKETS],
}

impl Breaker {
    pub fn new(cfg: BreakerSettings, now: Instant) -> Self {
        Breaker {
            cfg,
            state: State::Closed,
            consecutive: 0,
            origin: now,
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a request may go to this target now (does not change the state).
    pub fn available(&self, now: Instant) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until, .. } => now >= until,
            State::HalfOpen { probes } => probes < self.cfg.half_open_probes,
        }
    }

    /// When an open breaker lets a probe through (`None` when not open).
    pub fn open_until(&self) -> Option<Instant> {
        match self.state {
            State::Open { until, .. } => Some(until),
            _ => None,
        }
    }

    /// A request was sent to the target (after `available` said yes).
    pub fn on_send(&mut self, now: Instant) -> Option<Transition> {
        match self.state {
            State::Open { until, .. } if now >= until => {
                Some(self.go(State::HalfOpen { probes: 1 }, None))
            }
            State::HalfOpen { probes } => {
                self.state = State::HalfOpen { probes: probes + 1 };
                None
            }
            State::Closed | State::Open { .. } => None,
        }
    }

    /// A request sent after `on_send` ended without an outcome (cancelled): frees its probe
    /// slot, so a half-open breaker cannot wait forever for an answer that never comes.
    pub fn on_abandon(&mut self) {
        if let State::HalfOpen { probes } = self.state {
            self.state = State::HalfOpen {
                probes: probes.saturating_sub(1),
            };
        }
    }

    /// Records how a request to the target ended.
    pub fn record(&mut self, now: Instant, outcome: Outcome) -> Option<Transition> {
        let failed = matches!(outcome, Outcome::Failure { .. });
        self.count(now, failed);
        match (self.state, outcome) {
            (State::HalfOpen { .. }, Outcome::Success) => {
                self.reset_counts();
                Some(self.go(State::Closed, None))
            }
            (State::HalfOpen { .. }, Outcome::Failure { retry_after }) => {
                let (for_, reason) = match retry_after {
                    Some(d) => (d, TripReason::RetryAfter),
                    None => (self.cfg.cooldown, TripReason::ProbeFailed),
                };
                Some(self.trip(now, for_, reason))
            }
            (State::Closed, Outcome::Success) => {
                self.consecutive = 0;
                None
            }
            (State::Closed, Outcome::Failure { retry_after }) => {
                self.consecutive += 1;
                if let Some(d) = retry_after {
                    return Some(self.trip(now, d, TripReason::RetryAfter));
                }
                if self.cfg.failures > 0 && self.consecutive >= self.cfg.failures {
                    return Some(self.trip(
                        now,
                        self.cfg.cooldown,
                        TripReason::ConsecutiveFailures,
                    ));
                }
                let (ok, bad) = self.window_counts(now);
                let total = ok + bad;
                if total >= self.cfg.min_requests.max(1)
                    && f64::from(bad) / f64::from(total) >= self.cfg.error_rate
                {
                    return Some(self.trip(now, self.cfg.cooldown, TripReason::ErrorRate));
                }
                None
            }
            // A late answer from before the breaker opened: a Retry-After can only extend it.
            (
                State::Open { until, .. },
                Outcome::Failure {
                    retry_after: Some(d),
                },
            ) if now + d > until => Some(self.trip(now, d, TripReason::RetryAfter)),
            (State::Open { .. }, _) => None,
        }
    }

    fn trip(&mut self, now: Instant, for_: Duration, reason: TripReason) -> Transition {
        self.reset_counts();
        self.go(
            State::Open {
                until: now + for_,
                reason,
            },
            Some(reason),
        )
    }

    fn go(&mut self, to: State, reason: Option<TripReason>) -> Transition {
        let from = self.state;
        self.state = to;
        Transition { from, to, reason }
    }

    fn reset_counts(&mut self) {
        self.consecutive = 0;
        self.buckets = [Bucket::default(); BUCKETS];
    }

    fn period(&self, now: Instant) -> u64 {
        let len = (self.cfg.window.as_millis() / BUCKETS as u128).max(1);
        (now.saturating_duration_since(self.origin).as_millis() / len) as u64
    }

    fn count(&mut self, now: Instant, failed: bool) {
        let period = self.period(now);
        let b = &mut self.buckets[(period % BUCKETS as u64) as usize];
        if b.period != period {
            *b = Bucket {
                period,
                ok: 0,
                failed: 0,
            };
        }
        if failed {
            b.failed += 1;
        } else {
            b.ok += 1;
        }
    }

    /// (ok, failed) over the last `window`.
    fn window_counts(&self, now: Instant) -> (u32, u32) {
        let period = self.period(now);
        self.buckets
            .iter()
            .filter(|b| period.saturating_sub(b.period) < BUCKETS as u64 && b.period <= period)
            .fold((0, 0), |(ok, bad), b| (ok + b.ok, bad + b.failed))
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
