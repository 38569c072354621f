use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn cfg() -> BreakerSettings {
    BreakerSettings {
        failures: 3,
        error_rate: 0.5,
        window: Duration::from_secs(10),
        min_requests: 6,
        cooldown: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(300),
        half_open_probes: 1,
    }
}

const FAIL: Outcome = Outcome::Failure { retry_after: None };
const S: Duration = Duration::from_secs(1);

#[test]
fn consecutive_failures_open_for_the_cooldown_then_probe_then_close() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg(), t0);
    assert_eq!(b.record(t0, FAIL), None);
    assert_eq!(b.record(t0, FAIL), None);
    let tr = b.record(t0, FAIL).unwrap();
    assert_eq!(tr.reason, Some(TripReason::ConsecutiveFailures));
    assert_eq!(b.open_until(), Some(t0 + 30 * S));
    assert!(!b.available(t0 + 29 * S));
    assert!(b.available(t0 + 30 * S));
    // The first request after the cooldown is the probe; no second one meanwhile.
    let tr = b.on_send(t0 + 30 * S).unwrap();
    assert_eq!(tr.to, State::HalfOpen { probes: 1 });
    assert!(!b.available(t0 + 30 * S));
    let tr = b.record(t0 + 31 * S, Outcome::Success).unwrap();
    assert_eq!(tr.to, State::Closed);
    assert!(b.available(t0 + 31 * S));
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.error_rate = 1.0; // only the count matters here
    let mut b = Breaker::new(c, t0);
    for _ in 0..4 {
        b.record(t0, FAIL);
        b.record(t0, Outcome::Success);
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn retry_after_opens_for_exactly_that_long() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg(), t0);
    let tr = b
        .record(
            t0,
            Outcome::Failure {
                retry_after: Some(7 * S),
            },
        )
        .unwrap();
    assert_eq!(tr.reason, Some(TripReason::RetryAfter));
    assert!(!b.available(t0 + 7 * S - Duration::from_millis(1)));
    assert!(b.available(t0 + 7 * S));
    // A later, longer hint extends the opening; a shorter one does not shorten it.
    b.record(
        t0 + S,
        Outcome::Failure {
            retry_after: Some(2 * S),
        },
    );
    assert_eq!(b.open_until(), Some(t0 + 7 * S));
    b.record(
        t0 + S,
        Outcome::Failure {
            retry_after: Some(10 * S),
        },
    );
    assert_eq!(b.open_until(), Some(t0 + 11 * S));
}

#[test]
fn failed_probe_reopens() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg(), t0);
    b.record(
        t0,
        Outcome::Failure {
            retry_after: Some(S),
        },
    );
    b.on_send(t0 + S);
    let tr = b.record(t0 + 2 * S, FAIL).unwrap();
    assert_eq!(tr.reason, Some(TripReason::ProbeFailed));
    assert_eq!(b.open_until(), Some(t0 + 32 * S));
    b.on_send(t0 + 32 * S);
    let tr = b
        .record(
            t0 + 32 * S,
            Outcome::Failure {
                retry_after: Some(4 * S),
            },
        )
        .unwrap();
    assert_eq!(tr.reason, Some(TripReason::RetryAfter));
    assert_eq!(b.open_until(), Some(t0 + 36 * S));
}

#[test]
fn error_ratio_over_the_window() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.failures = 0; // only the ratio
    let mut b = Breaker::new(c, t0);
    // 5 requests, 3 failed: below min_requests.
    for o in [FAIL, Outcome::Success, FAIL, Outcome::Success, FAIL] {
        assert_eq!(b.record(t0, o), None);
    }
    let tr = b.record(t0 + S, Outcome::Success);
    assert_eq!(
        tr, None,
        "6 requests, 3 failed = 0.5 but the last was a success"
    );
    let tr = b.record(t0 + S, FAIL).unwrap();
    assert_eq!(tr.reason, Some(TripReason::ErrorRate));
}

#[test]
fn old_results_leave_the_window() {
    let t0 = Instant::now();
    let mut c = cfg();
    c.failures = 0;
    let mut b = Breaker::new(c, t0);
    for _ in 0..5 {
        b.record(t0, FAIL);
    }
    // 20 s later the window (10 s) holds only fresh successes and one failure.
    for _ in 0..6 {
        b.record(t0 + 20 * S, Outcome::Success);
    }
    assert_eq!(b.record(t0 + 20 * S, FAIL), None);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn an_abandoned_probe_frees_its_slot() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg(), t0);
    b.record(
        t0,
        Outcome::Failure {
            retry_after: Some(S),
        },
    );
    b.on_send(t0 + S);
    assert!(!b.available(t0 + S));
    b.on_abandon();
    assert!(b.available(t0 + S), "another probe may go");
}
