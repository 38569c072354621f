//! Window math: which bucket a moment falls in, how much of a limit is used, when a rejected
//! request may retry. Pure functions of an injected `now` (Unix milliseconds).
//!
//! Owns: the two window kinds. Second/minute/hour are smooth rolling windows: two buckets of
//! the window's length, the previous one weighted by how much of it still overlaps the window
//! ending now (the "sliding window counter": no burst at bucket edges, O(1) state). Day, week
//! (ISO, from Monday), month and year are calendar periods in UTC, like billing cycles.
//! Must not: read the clock or touch a store. `lua/reserve_batch_v1.lua` implements the same math;
//! keep them in sync (the Redis tests compare both on the same inputs).

use crate::config::Window;

const DAY_MS: i64 = 86_400_000;

/// The length of a rolling window; `None` for calendar windows.
pub fn rolling_len_ms(w: Window) -> Option<i64> {
    match w {
        Window::Second => Some(1_000),
        Window::Minute => Some(60_000),
        Window::Hour => Some(3_600_000),
        Window::Day | Window::Week | Window::Month | Window::Year => None,
    }
}

/// A counting bucket: `[start, end)` in Unix ms, and an id unique within its window kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub id: i64,
    pub start: i64,
    pub end: i64,
}

/// The bucket `now` falls in.
pub fn bucket(w: Window, now: i64) -> Bucket {
    if let Some(len) = rolling_len_ms(w) {
        let id = now.div_euclid(len);
        return Bucket {
            id,
            start: id * len,
            end: (id + 1) * len,
        };
    }
    let day = now.div_euclid(DAY_MS);
    let (start_day, end_day, id) = match w {
        Window::Week => {
            // 1970-01-01 was a Thursday: shift by 3 days so weeks start on Monday.
            let id = (day + 3).div_euclid(7);
            (id * 7 - 3, id * 7 + 4, id)
        }
        Window::Month => {
            let (y, m, _) = civil_from_days(day);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (
                days_from_civil(y, m, 1),
                days_from_civil(ny, nm, 1),
                y * 12 + m - 1,
            )
        }
        Window::Year => {
            let (y, _, _) = civil_from_days(day);
            (days_from_civil(y, 1, 1), days_from_civil(y + 1, 1, 1), y)
        }
        _ => (day, day + 1, day),
    };
    Bucket {
        id,
        start: start_day * DAY_MS,
        end: end_day * DAY_MS,
    }
}

/// How long a bucket's counter must be kept after `now` (then the store may drop it).
pub fn keep_ms(w: Window, b: Bucket, now: i64) -> i64 {
    match rolling_len_ms(w) {
        // Still read as the "previous" bucket during the next window.
        Some(len) => b.end - now + len + 1_000,
        // Settlements of requests that straddle the period end still find it.
        None => b.end - now + 3_600_000,
    }
}

/// The outcome of checking one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub admitted: bool,
    /// Used amount after this request when admitted, before it when not.
    pub used: u64,
    pub remaining: u64,
    /// Until the window forgets everything counted so far.
    pub reset_ms: i64,
    /// Until this request would fit (0 when admitted).
    pub retry_ms: i64,
}

/// Checks whether `charge` fits under `limit`, given the counters of the current bucket
/// (`cur`) and, for rolling windows, the previous one (`prev`).
pub fn check(w: Window, now: i64, prev: u64, cur: u64, limit: u64, charge: u64) -> Check {
    let b = bucket(w, now);
    let (used, reset_ms) = match rolling_len_ms(w) {
        Some(len) => {
            // Rounded up: never under-count, and the retry time below is then exact.
            let weighted = (prev as u128 * (b.end - now) as u128).div_ceil(len as u128) as u64;
            let reset = if cur > 0 {
                b.end + len - now
            } else if prev > 0 {
                b.end - now
            } else {
                0
            };
            (weighted.saturating_add(cur), reset)
        }
        None => (cur, if cur > 0 { b.end - now } else { 0 }),
    };
    // A zero charge (e.g. output tokens when only the prompt is reserved) still needs some
    // room left, so an exhausted limit rejects it.
    let fits = used.saturating_add(charge) <= limit && (charge > 0 || used < limit);
    if fits {
        let after = used.saturating_add(charge);
        return Check {
            admitted: true,
            used: after,
            remaining: limit - after,
            reset_ms: reset_ms.max(if charge > 0 {
                reset_default(w, b, now)
            } else {
                0
            }),
            retry_ms: 0,
        };
    }
    Check {
        admitted: false,
        used,
        remaining: limit.saturating_sub(used),
        reset_ms,
        retry_ms: retry_ms(w, b, now, prev, cur, limit, charge),
    }
}

/// When a fresh charge has just been counted, the window forgets it this long from now.
fn reset_default(w: Window, b: Bucket, now: i64) -> i64 {
    match rolling_len_ms(w) {
        Some(len) => b.end + len - now,
        None => b.end - now,
    }
}

fn retry_ms(w: Window, b: Bucket, now: i64, prev: u64, cur: u64, limit: u64, charge: u64) -> i64 {
    let Some(len) = rolling_len_ms(w) else {
        return b.end - now;
    };
    let Some(room) = limit.checked_sub(charge) else {
        // Larger than the whole limit: it never fits; point at a full window.
        return len;
    };
    let wait = if cur <= room && prev > 0 {
        // The previous bucket's weight shrinks until prev * (end - t) / len <= room - cur.
        let free = ((room - cur) as u128 * len as u128 / prev as u128) as i64;
        b.end - now - free
    } else if cur > 0 {
        // Only after the next bucket starts does this one fade (as the previous one).
        let free = (room as u128 * len as u128 / cur as u128) as i64;
        b.end + len - free - now
    } else {
        0
    };
    wait.max(1)
}

/// Days since 1970-01-01 -> (year, month 1-12, day 1-31), proleptic Gregorian (H. Hinnant).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) -> days since 1970-01-01.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
