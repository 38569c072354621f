//! Tool-call ids for vendors that accept only `^[a-zA-Z0-9]{9}$` (Mistral).
//!
//! Owns: the injective map from a conversation's ids to valid ones. Valid ids map to
//! themselves; every other id maps to 9 base62 characters of a stable hash (FNV-1a), salted
//! again on a collision with an id already taken, so two different ids never share a rewrite
//! within one request. Must not: depend on anything but the ids (no clock, no randomness):
//! the same history rewrites the same way on every turn.
//!
//! Mapping back: a chat answer never repeats the history's ids; the ids it carries are minted
//! by the vendor (already valid, so the client stores them and sends them back unchanged and
//! they pass through as themselves). `IdMap::original` exists for completeness and tests.

use std::collections::{HashMap, HashSet};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LEN: usize = 9;

/// Whether the vendor takes `id` as is.
pub fn is_valid(id: &str) -> bool {
    id.len() == LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Original id -> id sent to the vendor, for one request.
#[derive(Debug, Default)]
pub struct IdMap {
    forward: HashMap<String, String>,
}

impl IdMap {
    /// Builds the map for every id of one request (duplicates allowed, order irrelevant for
    /// injectivity).
    pub fn build<'a>(ids: impl IntoIterator<Item = &'a str>) -> IdMap {
        let mut distinct: Vec<&str> = ids.into_iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        // Valid ids keep their value, so they are taken before any rewrite is chosen.
        let mut taken: HashSet<String> = distinct
            .iter()
            .filter(|id| is_valid(id))
            .map(|id| (*id).to_owned())
            .collect();
        let mut forward = HashMap::with_capacity(distinct.len());
        for id in distinct {
            if is_valid(id) {
                forward.insert(id.to_owned(), id.to_owned());
                continue;
            }
            let mut salt = 0u64;
            let new = loop {
                let candidate = encode(id, salt);
                if !taken.contains(&candidate) {
                    break candidate;
                }
                salt += 1;
            };
            taken.insert(new.clone());
            forward.insert(id.to_owned(), new);
        }
        IdMap { forward }
    }

    /// The id to send for `id` (`id` itself when it was not in the set).
    pub fn get<'a>(&'a self, id: &'a str) -> &'a str {
        self.forward.get(id).map_or(id, String::as_str)
    }

    /// Whether any id changes.
    pub fn rewrites(&self) -> bool {
        self.forward.iter().any(|(k, v)| k != v)
    }

    /// The original id of a rewritten one.
    pub fn original(&self, sent: &str) -> Option<&str> {
        self.forward
            .iter()
            .find(|(_, v)| v.as_str() == sent)
            .map(|(k, _)| k.as_str())
    }
}

fn encode(id: &str, salt: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(salt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = String::with_capacity(LEN);
    for _ in 0..LEN {
        out.push(char::from(ALPHABET[(h % 62) as usize]));
        h /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_ids_stay_and_others_become_valid() {
        let m = IdMap::build(["abcDEF123", "call_abc123", "toolu_01XYZ", "call_abc123"]);
        assert_eq!(m.get("abcDEF123"), "abcDEF123");
        for id in ["call_abc123", "toolu_01XYZ"] {
            assert!(is_valid(m.get(id)), "{}", m.get(id));
            assert_eq!(m.original(m.get(id)), Some(id));
        }
        assert!(m.rewrites());
        assert!(!IdMap::build(["abcDEF123"]).rewrites());
        // Stable across requests: the same history rewrites the same way.
        assert_eq!(
            IdMap::build(["call_abc123"]).get("call_abc123"),
            m.get("call_abc123")
        );
    }

    #[test]
    fn a_collision_with_a_valid_id_is_salted_away() {
        let clash = encode("call_x", 0);
        let m = IdMap::build(["call_x", clash.as_str()]);
        assert_eq!(m.get(&clash), clash);
        assert_ne!(m.get("call_x"), clash);
        assert!(is_valid(m.get("call_x")));
    }

    proptest! {
        #[test]
        fn any_id_set_maps_injectively_and_back(ids in prop::collection::vec(".{0,24}", 0..40)) {
            let m = IdMap::build(ids.iter().map(String::as_str));
            let mut seen = HashSet::new();
            for id in &ids {
                let sent = m.get(id);
                prop_assert!(is_valid(sent));
                prop_assert_eq!(m.original(sent), Some(id.as_str()));
                seen.insert((id.clone(), sent.to_owned()));
            }
            let outs: HashSet<&String> = seen.iter().map(|(_, s)| s).collect();
            prop_assert_eq!(outs.len(), seen.len());
        }
    }
}
