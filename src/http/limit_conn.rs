//! `limit_conn_zone` / `limit_conn` (`ngx_http_limit_conn_module`): concurrent requests per
//! key, counted from the access phase until the request is logged. A full zone rejects
//! like an exceeded limit (nginx cannot allocate the key's node either).
//!
//! Owns: the per-key counters. It must not answer requests nor know when they end: the
//! proxy releases what it acquired.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::vars::Template;

/// A `limit_conn_zone`.
#[derive(Debug, Clone)]
pub struct ZoneSpec {
    pub name: String,
    pub key: Template,
    /// How many keys fit (its size over nginx's per-key cost).
    pub capacity: usize,
}

/// A zone's counters, shared by every request.
#[derive(Debug)]
pub struct Zone {
    pub spec: ZoneSpec,
    /// Shared with the zone's successor after an in-process reload, so requests that
    /// started before it release what they counted.
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

impl Zone {
    pub fn new(spec: ZoneSpec) -> Zone {
        Zone {
            spec,
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A zone of `spec` that shares `old`'s counters (nginx keeps a zone whose name and size
    /// a reload leaves unchanged).
    pub fn keeping_state_of(spec: ZoneSpec, old: &Zone) -> Zone {
        Zone {
            spec,
            counts: Arc::clone(&old.counts),
        }
    }

    /// Counts one more request for `key` unless it already has `max`.
    pub fn acquire(&self, key: &str, max: u32) -> bool {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(key) {
            if *n >= max {
                return false;
            }
            *n += 1;
            return true;
        }
        if m.len() >= self.spec.capacity.max(1) || max == 0 {
            return false;
        }
        m.insert(key.to_owned(), 1);
        true
    }

    /// Undoes one [`acquire`](Zone::acquire).
    pub fn release(&self, key: &str) {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                m.remove(key);
            }
        }
    }
}

/// A `limit_conn zone N` of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub zone: usize,
    pub max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_frees_on_release() {
        let z = Zone::new(ZoneSpec {
            name: "c".into(),
            key: Template::default(),
            capacity: 2,
        });
        assert!(z.acquire("a", 2) && z.acquire("a", 2));
        assert!(!z.acquire("a", 2));
        assert!(z.acquire("b", 1));
        // Full zone: a third key cannot be counted.
        assert!(!z.acquire("c", 5));
        z.release("a");
        assert!(z.acquire("a", 2));
        z.release("b");
        assert!(z.acquire("c", 5));
    }
}
