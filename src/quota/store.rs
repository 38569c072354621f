//! The `QuotaStore` trait and the in-memory store.
//!
//! Owns: the store contract - check every charge and, only when all fit, count them all, in
//! one atomic step (one round trip for remote stores) - and the in-process implementation
//! with an injected clock. Must not: know which limits apply to a request (`quota::engine`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::window::{self, Check};
use crate::config::Window;

/// One counter to charge: `counter` is the stable key of (limit, subject value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub counter: String,
    pub window: Window,
    pub limit: u64,
    pub amount: u64,
}

/// A correction after the response: `delta` added to the bucket the reservation went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjust {
    pub counter: String,
    pub bucket: i64,
    pub delta: i64,
}

/// The store's answer: one check per charge, and the bucket each charge went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub admitted: bool,
    pub checks: Vec<Check>,
    pub buckets: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("quota store timed out")]
    Timeout,
    #[error("quota store unavailable: {0}")]
    Unavailable(String),
    #[error("quota store answered unexpectedly: {0}")]
    Protocol(String),
}

/// Where counters live.
#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Checks all charges; when every one fits, counts all of them (all or nothing).
    async fn reserve(&self, charges: &[Charge]) -> Result<Outcome, StoreError>;
    /// Applies corrections (negative = refund). Counters never go below zero.
    async fn settle(&self, adjusts: &[Adjust]) -> Result<(), StoreError>;
    /// Short name for metrics and logs.
    fn kind(&self) -> &'static str;
}

/// Unix milliseconds; injected so tests control time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    })
}

/// Counters in this process.
pub struct MemoryStore {
    clock: Clock,
    state: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    /// (counter, bucket) -> (value, expires at ms).
    values: HashMap<(String, i64), (u64, i64)>,
    ops: u64,
}

/// Expired buckets are swept every this many reservations.
const SWEEP_EVERY: u64 = 1024;

impl MemoryStore {
    pub fn new(clock: Clock) -> Self {
        MemoryStore {
            clock,
            state: Mutex::new(Counters::default()),
        }
    }

    /// Synchronous core of `reserve` (also used by the Redis store's local fallback).
    pub fn reserve_now(&self, charges: &[Charge]) -> Outcome {
        let now = (self.clock)();
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.ops += 1;
        if st.ops.is_multiple_of(SWEEP_EVERY) {
            st.values.retain(|_, (_, exp)| *exp > now);
        }
        let get = |st: &Counters, c: &str, b: i64| {
            st.values
                .get(&(c.to_owned(), b))
                .filter(|(_, exp)| *exp > now)
                .map_or(0, |(v, _)| *v)
        };
        let mut checks = Vec::with_capacity(charges.len());
        let mut buckets = Vec::with_capacity(charges.len());
        for c in charges {
            let b = window::bucket(c.window, now);
            let prev = if window::rolling_len_ms(c.window).is_some() {
                get(&st, &c.counter, b.id - 1)
            } else {
                0
            };
            let cur = get(&st, &c.counter, b.id);
            checks.push(window::check(c.window, now, prev, cur, c.limit, c.amount));
            buckets.push(b.id);
        }
        let admitted = checks.iter().all(|c| c.admitted);
        if admitted {
            for (c, id) in charges.iter().zip(&buckets) {
                let b = window::bucket(c.window, now);
                let exp = now + window::keep_ms(c.window, b, now);
                let e = st
                    .values
                    .entry((c.counter.clone(), *id))
                    .or_insert((0, exp));
                if e.1 <= now {
                    *e = (0, exp);
                }
                e.0 = e.0.saturating_add(c.amount);
            }
        }
        Outcome {
            admitted,
            checks,
            buckets,
        }
    }

    pub fn settle_now(&self, adjusts: &[Adjust]) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for a in adjusts {
            if let Some((v, _)) = st.values.get_mut(&(a.counter.clone(), a.bucket)) {
                *v = v.saturating_add_signed(a.delta);
            }
        }
    }
}

#[async_trait]
impl QuotaStore for MemoryStore {
    async fn reserve(&self, charges: &[Charge]) -> Result<Outcome, StoreError> {
        Ok(self.reserve_now(charges))
    }

    async fn settle(&self, adjusts: &[Adjust]) -> Result<(), StoreError> {
        self.settle_now(adjusts);
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn charge(counter: &str, limit: u64, amount: u64) -> Charge {
        Charge {
            counter: counter.into(),
            window: Window::Minute,
            limit,
            amount,
        }
    }

    #[test]
    fn all_or_nothing_then_settle_and_expiry() {
        let t = Arc::new(AtomicI64::new(1_800_000_000_000));
        let t2 = t.clone();
        let s = MemoryStore::new(Arc::new(move || t2.load(Ordering::SeqCst)));
        let o = s.reserve_now(&[charge("a", 10, 8), charge("b", 100, 8)]);
        assert!(o.admitted);
        // "b" has room but "a" does not: nothing is counted.
        let o2 = s.reserve_now(&[charge("a", 10, 8), charge("b", 100, 8)]);
        assert!(!o2.admitted);
        // "b" alone would fit (8 + 8), but nothing was counted.
        assert!(o2.checks[1].admitted && !o2.checks[0].admitted);
        // Refund 6 of "a": now 2 used, 8 fits.
        s.settle_now(&[Adjust {
            counter: "a".into(),
            bucket: o.buckets[0],
            delta: -6,
        }]);
        assert!(s.reserve_now(&[charge("a", 10, 8)]).admitted);
        assert_eq!(s.reserve_now(&[charge("b", 100, 0)]).checks[0].used, 8);
        // Two minutes later everything is forgotten.
        t.fetch_add(120_000, Ordering::SeqCst);
        let o3 = s.reserve_now(&[charge("a", 10, 10)]);
        assert!(o3.admitted, "{o3:?}");
    }
}
