use super::*;

/// 2026-11-22T03:20:00Z (a Sunday).
const NOW: i64 = 1_795_317_600_000;

#[test]
fn calendar_buckets_are_utc_periods() {
    assert_eq!(civil_from_days(NOW / DAY_MS), (2026, 11, 22));
    let d = bucket(Window::Day, NOW);
    assert_eq!(
        (d.start, d.end - d.start),
        (NOW - 3 * 3_600_000 - 20 * 60_000, DAY_MS)
    );
    let w = bucket(Window::Week, NOW);
    // Monday 2026-11-16 .. Monday 2026-11-23.
    assert_eq!(civil_from_days(w.start / DAY_MS), (2026, 11, 16));
    assert_eq!(civil_from_days(w.end / DAY_MS), (2026, 11, 23));
    let m = bucket(Window::Month, NOW);
    assert_eq!(civil_from_days(m.start / DAY_MS), (2026, 11, 1));
    assert_eq!(civil_from_days(m.end / DAY_MS), (2026, 12, 1));
    let dec = bucket(Window::Month, days_from_civil(2026, 12, 31) * DAY_MS);
    assert_eq!(civil_from_days(dec.end / DAY_MS), (2027, 1, 1));
    let feb = bucket(Window::Month, days_from_civil(2028, 2, 29) * DAY_MS);
    assert_eq!((feb.end - feb.start) / DAY_MS, 29);
    let y = bucket(Window::Year, NOW);
    assert_eq!(civil_from_days(y.start / DAY_MS), (2026, 1, 1));
    assert_eq!(y.id, 2026);
}

#[test]
fn civil_round_trips() {
    for day in (-800_000..800_000).step_by(997) {
        let (y, m, d) = civil_from_days(day);
        assert_eq!(days_from_civil(y, m, d), day);
    }
}

#[test]
fn rolling_window_weights_the_previous_bucket() {
    let start = bucket(Window::Minute, NOW).start;
    // 100 used in the previous minute, 15 s into this one: 75 % of it still counts.
    let c = check(Window::Minute, start + 15_000, 100, 20, 100, 10);
    assert!(!c.admitted);
    assert_eq!(c.used, 95);
    assert_eq!(c.remaining, 5);
    // It fits once 100 * (end - t) / 60 s <= 70: 42 s before the end, 3 s from now.
    assert_eq!(c.retry_ms, 3_000);
    let later = check(Window::Minute, start + 18_000, 100, 20, 100, 10);
    assert!(later.admitted, "{later:?}");
    assert_eq!(later.remaining, 0);
    assert!(!check(Window::Minute, start + 17_999, 100, 20, 100, 10).admitted);
    assert!(check(Window::Minute, start + 15_000, 100, 10, 100, 10).admitted);
}

#[test]
fn a_full_current_bucket_waits_for_the_next_one() {
    let start = bucket(Window::Second, NOW).start;
    let c = check(Window::Second, start + 200, 0, 10, 10, 1);
    assert!(!c.admitted);
    // Next second begins in 800 ms; then 10 * (1000 - x) / 1000 <= 9 at x = 100 ms.
    assert_eq!(c.retry_ms, 900);
    assert!(check(Window::Second, start + 1_100, 10, 0, 10, 1).admitted);
    assert!(!check(Window::Second, start + 1_099, 10, 0, 10, 1).admitted);
}

#[test]
fn calendar_rejections_retry_at_the_period_end() {
    let c = check(Window::Day, NOW, 0, 5, 5, 1);
    assert!(!c.admitted);
    assert_eq!(c.retry_ms, bucket(Window::Day, NOW).end - NOW);
    assert_eq!(c.reset_ms, c.retry_ms);
    let ok = check(Window::Day, NOW, 0, 4, 5, 1);
    assert_eq!((ok.admitted, ok.used, ok.remaining), (true, 5, 0));
}

#[test]
fn oversized_and_zero_charges() {
    let c = check(Window::Minute, NOW, 0, 0, 10, 11);
    assert!(!c.admitted);
    assert_eq!(c.retry_ms, 60_000);
    // A zero charge fits while something is left, not once the limit is used up.
    assert!(check(Window::Minute, NOW, 0, 9, 10, 0).admitted);
    assert!(!check(Window::Minute, NOW, 0, 10, 10, 0).admitted);
}
