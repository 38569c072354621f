//! `limit_req_zone` / `limit_req` exactly as `ngx_http_limit_req_module` does it: a leaky
//! bucket per key in milli-requests (`excess = max(0, excess - rate*ms/1000 + 1000)`),
//! rejecting when `excess > burst*1000` without charging, and delaying by
//! `(excess - delay*1000) / rate`. Several `limit_req` of a location are checked in order and
//! charged only when all pass; the largest delay applies.
//!
//! Owns: the zone state (LRU with nginx's expiry of drained idle keys and forced eviction at
//! the zone's capacity) with time injected by the caller in milliseconds. It must not sleep or
//! answer: the proxy delays or rejects.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::vars::Template;

/// A `limit_req_zone`.
#[derive(Debug, Clone)]
pub struct ZoneSpec {
    pub name: String,
    pub key: Template,
    /// Requests per 1000 seconds (nginx's `rate`: r/s × 1000, r/m × 1000 / 60).
    pub rate: u64,
    /// How many keys the zone holds (its size over nginx's per-state cost).
    pub capacity: usize,
}

/// A `limit_req` of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub zone: usize,
    /// burst × 1000.
    pub burst: u64,
    /// delay × 1000 (`nodelay`: `u64::MAX`).
    pub delay: u64,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    excess: u64,
    last: u64,
    seq: u64,
}

/// One zone's keys.
#[derive(Debug, Default)]
struct State {
    nodes: HashMap<String, Node>,
    /// Least recently used first.
    lru: BTreeMap<u64, String>,
    seq: u64,
}

/// A zone shared by every request (one process: a lock instead of nginx's shared memory).
#[derive(Debug)]
pub struct Zone {
    pub spec: ZoneSpec,
    /// Shared with the zone's successor after an in-process reload (`keeping_state_of`).
    state: std::sync::Arc<Mutex<State>>,
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Pass after this delay (zero: at once).
    Pass(Duration),
    /// Rejected by the zone at this index of the location's limits, with its excess.
    Reject { limit: usize, excess: u64 },
}

/// nginx's `ngx_http_limit_req_expire` leaves keys used in the last minute alone.
const EXPIRE_IDLE_MS: u64 = 60_000;

impl Zone {
    pub fn new(spec: ZoneSpec) -> Zone {
        Zone {
            spec,
            state: std::sync::Arc::new(Mutex::new(State::default())),
        }
    }

    /// A zone of `spec` that shares `old`'s keys (nginx keeps a zone whose name and size a
    /// reload leaves unchanged; the new rate applies to the old state).
    pub fn keeping_state_of(spec: ZoneSpec, old: &Zone) -> Zone {
        Zone {
            spec,
            state: std::sync::Arc::clone(&old.state),
        }
    }

    /// The excess the next request of `key` would have, charging it when `account`
    /// (nginx's lookup; a new key starts at 0 and is stored either way).
    fn lookup(&self, key: &str, limit: &Limit, now: u64, account: bool) -> Result<u64, u64> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.seq += 1;
        let seq = st.seq;
        self.expire(&mut st, now);
        if let Some(node) = st.nodes.get(key).copied() {
            st.lru.remove(&node.seq);
            st.lru.insert(seq, key.to_owned());
            let ms = now.saturating_sub(node.last);
            let drained = self.spec.rate.saturating_mul(ms) / 1000;
            let excess = (node.excess + 1000).saturating_sub(drained);
            let mut n = Node { seq, ..node };
            if excess > limit.burst {
                st.nodes.insert(key.to_owned(), n);
                return Err(excess);
            }
            if account {
                n.excess = excess;
                if ms > 0 {
                    n.last = now;
                }
            }
            st.nodes.insert(key.to_owned(), n);
            return Ok(excess);
        }
        while st.nodes.len() >= self.spec.capacity.max(1) {
            let Some((_, oldest)) = st.lru.pop_first() else {
                break;
            };
            st.nodes.remove(&oldest);
        }
        let node = Node {
            excess: 0,
            last: now,
            seq,
        };
        st.nodes.insert(key.to_owned(), node);
        st.lru.insert(seq, key.to_owned());
        Ok(0)
    }

    /// Removes up to two least recently used keys idle for a minute and fully drained.
    fn expire(&self, st: &mut State, now: u64) {
        for _ in 0..2 {
            let Some((&seq, key)) = st.lru.first_key_value() else {
                return;
            };
            let Some(n) = st.nodes.get(key) else { return };
            let ms = now.saturating_sub(n.last);
            if ms < EXPIRE_IDLE_MS || n.excess > self.spec.rate.saturating_mul(ms) / 1000 {
                return;
            }
            let key = key.clone();
            st.nodes.remove(&key);
            st.lru.remove(&seq);
        }
    }

    /// `ngx_http_limit_req_account` for a zone checked earlier: charges the key now and
    /// returns its new excess (a key new to this request goes to 1000, as in nginx).
    fn account(&self, key: &str, now: u64) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(n) = st.nodes.get_mut(key) else {
            return 0;
        };
        let ms = now.saturating_sub(n.last);
        let drained = self.spec.rate.saturating_mul(ms) / 1000;
        n.excess = (n.excess + 1000).saturating_sub(drained);
        if ms > 0 {
            n.last = now;
        }
        n.excess
    }

    /// How many keys the zone holds now.
    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |s| s.nodes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks a location's limits in order for keys already evaluated (`None`: empty key, not
/// accounted). `now` is in milliseconds of a monotonic clock.
pub fn check(zones: &[Zone], limits: &[Limit], keys: &[Option<String>], now: u64) -> Verdict {
    let mut max_delay = 0u64;
    let mut pending: Vec<(&Limit, &str)> = Vec::new();
    let last = limits.len().saturating_sub(1);
    for (i, limit) in limits.iter().enumerate() {
        let Some(key) = keys.get(i).and_then(|k| k.as_deref()) else {
            continue;
        };
        let zone = &zones[limit.zone];
        match zone.lookup(key, limit, now, i == last) {
            Err(excess) => return Verdict::Reject { limit: i, excess },
            Ok(_) if i != last => pending.push((limit, key)),
            Ok(excess) => max_delay = delay_for(zone, limit, excess),
        }
    }
    // The earlier zones are charged only now, and their delay follows the charged excess.
    for (limit, key) in pending {
        let zone = &zones[limit.zone];
        let excess = zone.account(key, now);
        max_delay = max_delay.max(delay_for(zone, limit, excess));
    }
    Verdict::Pass(Duration::from_millis(max_delay))
}

/// Milliseconds to wait: `(excess - delay) / rate`.
fn delay_for(zone: &Zone, limit: &Limit, excess: u64) -> u64 {
    if excess <= limit.delay || zone.spec.rate == 0 {
        return 0;
    }
    (excess - limit.delay) * 1000 / zone.spec.rate
}

#[cfg(test)]
#[path = "limit_req_tests.rs"]
mod tests;
