//! The `Date` response header, formatted once per second per worker thread (as nginx caches
//! its time strings) instead of once per response: formatting an HTTP date costs ~4k
//! instructions, a few percent of a whole proxied request (callgrind, bench/README.md).
//!
//! Owns: that cache. Must not: decide whether a response gets a `Date` (reply.rs does).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

thread_local! {
    static CACHE: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
}

/// `now` as an HTTP date header value; the value is shared for every response in the same
/// second on this thread.
pub fn http_date(now: SystemTime) -> HeaderValue {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((at, v)) = c.as_ref() {
            if *at == secs {
                return v.clone();
            }
        }
        let v = HeaderValue::from_str(&httpdate::fmt_http_date(now))
            .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
        *c = Some((secs, v.clone()));
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn same_second_shares_a_value_and_the_next_second_changes_it() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = http_date(t);
        assert_eq!(a, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(t + Duration::from_millis(999)), a);
        assert_eq!(
            http_date(t + Duration::from_secs(1)),
            "Tue, 14 Nov 2023 22:13:21 GMT"
        );
        // Going back (a clock step) is formatted afresh, never served stale.
        assert_eq!(http_date(t), a);
    }
}
