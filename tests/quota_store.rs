//! The Redis store against the in-memory store: the Lua window math (server time) must agree
//! with `quota::window` on every window kind, and all-or-nothing must hold in both.

mod common;

use std::time::Duration;

use common::redis::Redis;
use tollgate::config::Window;
use tollgate::quota::redis::RedisStore;
use tollgate::quota::store::system_clock;
use tollgate::quota::{Adjust, Charge, MemoryStore, QuotaStore};

const WINDOWS: [Window; 7] = [
    Window::Second,
    Window::Minute,
    Window::Hour,
    Window::Day,
    Window::Week,
    Window::Month,
    Window::Year,
];

fn charges(amount: u64) -> Vec<Charge> {
    WINDOWS
        .iter()
        .map(|w| Charge {
            counter: format!("test:v1:{{q}}:{}", w.name()),
            window: *w,
            limit: 10,
            amount,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lua_and_rust_window_math_agree() {
    let redis = Redis::start(false);
    let r = RedisStore::connect(&redis.url(), Duration::from_secs(2)).unwrap();
    let m = MemoryStore::new(system_clock());
    // Wait for the connection (the store connects in the background).
    let mut first = None;
    for _ in 0..100 {
        if let Ok(o) = r.reserve(&charges(4)).await {
            first = Some(o);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = first.expect("redis store never answered");
    let b = m.reserve(&charges(4)).await.unwrap();
    // Same buckets; skip a run that straddled a second boundary.
    if a.buckets[0] == b.buckets[0] {
        assert_eq!(a.buckets, b.buckets);
    }
    assert_eq!(a.buckets[1..], b.buckets[1..]);
    for (x, y) in a.checks.iter().zip(&b.checks) {
        assert_eq!(
            (x.admitted, x.used, x.remaining),
            (y.admitted, y.used, y.remaining)
        );
        assert!((x.reset_ms - y.reset_ms).abs() < 1_000, "{x:?} {y:?}");
    }
    // 4 + 4 fits, a third 4 does not, in any window: nothing of the third is counted.
    assert!(r.reserve(&charges(4)).await.unwrap().admitted);
    let no = r.reserve(&charges(4)).await.unwrap();
    assert!(!no.admitted);
    let calendar = &no.checks[3..];
    for c in calendar {
        assert_eq!((c.used, c.remaining), (8, 2));
        assert!(c.retry_ms > 0);
    }
    // Refund 6 of the day counter: now 2 + 8 fits there (but not in the others).
    r.settle(&[Adjust {
        counter: charges(0)[3].counter.clone(),
        bucket: no.buckets[3],
        delta: -6,
    }])
    .await
    .unwrap();
    let day = vec![Charge {
        amount: 8,
        ..charges(0)[3].clone()
    }];
    assert!(r.reserve(&day).await.unwrap().admitted);

    // Round-trip time of one 7-limit reservation, sequential (for the record).
    let big = charges(0)
        .into_iter()
        .map(|c| Charge {
            limit: u64::MAX / 4,
            amount: 1,
            ..c
        })
        .collect::<Vec<_>>();
    let t = std::time::Instant::now();
    for _ in 0..200 {
        assert!(r.reserve(&big).await.unwrap().admitted);
    }
    println!("redis reserve (7 limits): {:?} per call", t.elapsed() / 200);
}

/// Concurrent reservations are coalesced into batched calls: each one still gets its own
/// all-or-nothing answer, exactly `limit` are admitted, and batched refunds (summed per bucket)
/// give back exactly what they should.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coalesced_calls_stay_exact_under_concurrency() {
    let redis = Redis::start(false);
    let r = std::sync::Arc::new(RedisStore::connect(&redis.url(), Duration::from_secs(2)).unwrap());
    let charge = |limit: u64| {
        vec![
            Charge {
                counter: "test:v1:{q}:burst:requests:hour".into(),
                window: Window::Hour,
                limit,
                amount: 1,
            },
            Charge {
                counter: "test:v1:{q}:burst:tokens:day".into(),
                window: Window::Day,
                limit: 1_000_000,
                amount: 10,
            },
        ]
    };
    for _ in 0..100 {
        if r.reserve(&charge(1_000)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One request is already counted: 37 more fit under 38.
    let run = |r: std::sync::Arc<RedisStore>| async move {
        let calls: Vec<_> = (0..200)
            .map(|_| {
                let r = std::sync::Arc::clone(&r);
                tokio::spawn(async move { r.reserve(&charge(38)).await.unwrap() })
            })
            .collect();
        let mut admitted = Vec::new();
        for c in calls {
            let o = c.await.unwrap();
            if o.admitted {
                admitted.push(o);
            } else {
                // Nothing of a rejected reservation is counted, in either counter.
                assert!(!o.checks[0].admitted);
            }
        }
        admitted
    };
    let admitted = run(std::sync::Arc::clone(&r)).await;
    assert_eq!(admitted.len(), 37);
    // The day counter saw exactly 38 admitted requests of 10 tokens.
    let day = r.reserve(&[charge(0)[1].clone()]).await.unwrap();
    assert_eq!(day.checks[0].used, 38 * 10 + 10);
    // Refund every admitted request concurrently (coalesced into few calls): 37 fit again.
    let refunds: Vec<_> = admitted
        .iter()
        .map(|o| {
            let r = std::sync::Arc::clone(&r);
            let adjust = Adjust {
                counter: charge(0)[0].counter.clone(),
                bucket: o.buckets[0],
                delta: -1,
            };
            tokio::spawn(async move { r.settle(&[adjust]).await.unwrap() })
        })
        .collect();
    for f in refunds {
        f.await.unwrap();
    }
    assert_eq!(run(std::sync::Arc::clone(&r)).await.len(), 37);
}
