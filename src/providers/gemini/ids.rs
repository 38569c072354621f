//! Tool-call ids for Gemini function calls, which come without one (providers.md §4.3, §8
//! item 7), and the thought signature riding inside them (§8 item 20).
//!
//! An id is `call_<seed>_<candidate>_<k>`: `seed` is a hash of the response (its `responseId`
//! when Gemini sends one, else the bytes of the first event), so ids are deterministic for one
//! response, distinct across responses, and distinct within one (candidate, k). Gemini 2.5/3
//! require a function call's `thoughtSignature` back in later turns, and OpenAI's chat format has
//! no slot for it, so it travels in the id as `…__thought__<base64url>` (clients echo ids
//! verbatim) and is restored when the history comes back. base64url keeps ids within
//! `[A-Za-z0-9_-]`, which every client accepts.
//!
//! Owns: that format. Must not: keep state.

/// Separates the call id from the encoded signature.
const SIGNATURE_MARK: &str = "__thought__";

/// 64-bit FNV-1a: stable across builds and platforms (std's hasher is not).
pub fn seed(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The id of function call `k` (counted per candidate) of `candidate`.
pub fn call_id(seed: u64, candidate: u32, k: u32, signature: Option<&str>) -> String {
    let mut id = format!("call_{seed:016x}_{candidate}_{k}");
    if let Some(sig) = signature.filter(|s| !s.is_empty()) {
        id.push_str(SIGNATURE_MARK);
        id.extend(sig.chars().filter_map(|c| match c {
            '+' => Some('-'),
            '/' => Some('_'),
            '=' => None,
            c => Some(c),
        }));
    }
    id
}

/// The thought signature carried by one of our ids, back in standard padded base64.
pub fn signature_of(id: &str) -> Option<String> {
    let (_, enc) = id.split_once(SIGNATURE_MARK)?;
    if enc.is_empty() {
        return None;
    }
    let mut sig: String = enc
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !sig.len().is_multiple_of(4) {
        sig.push('=');
    }
    Some(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_through_an_id() {
        for sig in ["CiQBEU0yD7pX+/vs4w==", "AB/+", "abc", "a"] {
            let id = call_id(seed(b"resp"), 0, 2, Some(sig));
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            let back = signature_of(&id).unwrap();
            assert_eq!(back.trim_end_matches('='), sig.trim_end_matches('='));
            assert_eq!(back.len() % 4, 0);
        }
        assert_eq!(signature_of(&call_id(1, 0, 0, None)), None);
        assert_eq!(signature_of("call_abc"), None);
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let s = seed(b"_V2BapveKcPg8QGa35aRCw");
        assert_eq!(call_id(s, 0, 0, None), call_id(s, 0, 0, None));
        assert_ne!(call_id(s, 0, 0, None), call_id(s, 0, 1, None));
        assert_ne!(call_id(s, 0, 1, None), call_id(s, 1, 0, None));
        assert_ne!(call_id(s, 0, 0, None), call_id(seed(b"other"), 0, 0, None));
    }
}
