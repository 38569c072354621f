use super::*;

fn zone(rate_per_sec: u64, capacity: usize) -> Zone {
    Zone::new(ZoneSpec {
        name: "z".into(),
        key: Template::default(),
        rate: rate_per_sec * 1000,
        capacity,
    })
}

fn key(k: &str) -> Vec<Option<String>> {
    vec![Some(k.to_owned())]
}

fn outcomes(zones: &[Zone], limits: &[Limit], times: &[u64]) -> Vec<String> {
    times
        .iter()
        .map(|t| match check(zones, limits, &key("a"), *t) {
            Verdict::Pass(d) if d.is_zero() => "ok".to_owned(),
            Verdict::Pass(d) => format!("delay {}", d.as_millis()),
            Verdict::Reject { excess, .. } => format!("reject {excess}"),
        })
        .collect()
}

#[test]
fn burst_with_nodelay_matches_nginx_timeline() {
    // rate=1r/s burst=2 nodelay: 6 rapid requests → 200 200 200 503 503 503.
    let z = [zone(1, 100)];
    let l = [Limit {
        zone: 0,
        burst: 2000,
        delay: u64::MAX,
    }];
    let got = outcomes(&z, &l, &[0, 1, 2, 3, 4, 5]);
    assert_eq!(
        got,
        [
            "ok",
            "ok",
            "ok",
            "reject 2997",
            "reject 2996",
            "reject 2995"
        ]
    );
    // One second later one slot has leaked.
    assert_eq!(outcomes(&z, &l, &[1002, 1003]), ["ok", "reject 2997"]);
}

#[test]
fn delay_mode_spaces_requests_at_the_rate() {
    // burst=3 without nodelay: excess requests wait (excess / rate).
    let z = [zone(1, 100)];
    let l = [Limit {
        zone: 0,
        burst: 3000,
        delay: 0,
    }];
    assert_eq!(
        outcomes(&z, &l, &[0, 0, 0, 0, 0]),
        [
            "ok",
            "delay 1000",
            "delay 2000",
            "delay 3000",
            "reject 4000"
        ]
    );
    // delay=1: the first excess request passes at once.
    let z = [zone(2, 100)];
    let l = [Limit {
        zone: 0,
        burst: 3000,
        delay: 1000,
    }];
    assert_eq!(outcomes(&z, &l, &[0, 0, 0]), ["ok", "ok", "delay 500"]);
}

#[test]
fn several_zones_charge_only_when_all_pass() {
    let z = [zone(1, 100), zone(1, 100)];
    let loose = Limit {
        zone: 0,
        burst: 5000,
        delay: u64::MAX,
    };
    let tight = Limit {
        zone: 1,
        burst: 0,
        delay: u64::MAX,
    };
    let keys = vec![Some("a".to_owned()), Some("a".to_owned())];
    assert_eq!(
        check(&z, &[loose, tight], &keys, 0),
        Verdict::Pass(Duration::ZERO)
    );
    // The earlier zone's new key was charged to 1000 (nginx's account step).
    assert!(matches!(
        check(&z, &[loose, tight], &keys, 10),
        Verdict::Reject { limit: 1, .. }
    ));
    // The rejection did not charge zone 0: a request limited by zone 0 alone still passes
    // four more times (burst 5 minus the one charged).
    let alone = |t| check(&z, &[loose], &key("a"), t);
    let passes = (20..30)
        .filter(|t| matches!(alone(*t), Verdict::Pass(_)))
        .count();
    assert_eq!(passes, 4);
}

#[test]
fn empty_keys_are_not_limited_and_capacity_evicts_oldest() {
    let z = [zone(1, 2)];
    let l = [Limit {
        zone: 0,
        burst: 0,
        delay: u64::MAX,
    }];
    for t in 0..5 {
        assert_eq!(check(&z, &l, &[None], t), Verdict::Pass(Duration::ZERO));
    }
    assert!(z[0].is_empty());
    for k in ["a", "b", "c"] {
        check(&z, &l, &key(k), 0);
    }
    assert_eq!(z[0].len(), 2);
    // "a" was evicted: it starts over.
    assert_eq!(check(&z, &l, &key("a"), 1), Verdict::Pass(Duration::ZERO));
    assert!(matches!(
        check(&z, &l, &key("a"), 2),
        Verdict::Reject { .. }
    ));
}

#[test]
fn drained_keys_idle_for_a_minute_expire() {
    let z = [zone(1, 100)];
    let l = [Limit {
        zone: 0,
        burst: 0,
        delay: u64::MAX,
    }];
    check(&z, &l, &key("old"), 0);
    check(&z, &l, &key("new"), 59_000);
    assert_eq!(z[0].len(), 2);
    check(&z, &l, &key("new"), 61_000);
    assert_eq!(z[0].len(), 1);
}
