use super::*;
use crate::config::Window;

fn limit(name: &str, subject: Subject, measure: Measure, amount: u64) -> Limit {
    Limit {
        name: name.into(),
        subject,
        measure,
        window: Window::Hour,
        amount,
    }
}

fn quotas(limits: Vec<Limit>, gold: Vec<Limit>) -> Quotas {
    let settings = QuotaSettings {
        store: QuotaStoreSettings::Memory,
        limits,
        tiers: [("gold".to_string(), gold)].into_iter().collect(),
        default_max_tokens: 100,
        reserve_output: true,
    };
    let prices = [(
        "m".to_string(),
        Price {
            input: 2.0,
            output: 10.0,
        },
    )]
    .into_iter()
    .collect();
    let store = Arc::new(MemoryStore::new(system_clock()));
    Quotas::new(settings, prices, store, Arc::new(Metrics::new().unwrap()))
}

fn key(name: &str, tier: Option<&str>, team: Option<&str>) -> VirtualKey {
    VirtualKey {
        name: name.into(),
        sha256: [0; 32],
        models: None,
        tier: tier.map(Into::into),
        team: team.map(Into::into),
    }
}

#[tokio::test]
async fn subjects_tiers_and_cost() {
    let q = quotas(
        vec![
            limit("team", Subject::Team, Measure::Tokens, 1_000),
            limit("ip", Subject::ClientIp, Measure::Requests, 10),
            limit(
                "hdr",
                Subject::Header(HeaderName::from_static("x-user")),
                Measure::Requests,
                1,
            ),
        ],
        vec![limit("gold.cost", Subject::Key, Measure::Cost, 3_000)],
    );
    let headers = HeaderMap::new();
    let k = key("a", Some("gold"), Some("ml"));
    let f = Facts {
        key: &k,
        model: "m",
        client_ip: Some("10.0.0.1".parse().unwrap()),
        headers: &headers,
    };
    // team tokens, ip requests, gold cost; no x-user header -> that limit does not apply.
    assert_eq!(q.applicable(&f).len(), 3);
    // Cost: 100 input * 2 + 100 output * 10 = 1200 micro-dollars; the third does not fit.
    let est = Estimate {
        prompt: 100,
        output: 100,
    };
    let (t1, h) = q.reserve(&f, est).await.unwrap();
    assert!(h
        .iter()
        .any(|(n, v)| n == "x-ratelimit-remaining-cost" && v == "0.001800"));
    let (_t2, _) = q.reserve(&f, est).await.unwrap();
    let (e, _) = q.reserve(&f, est).await.unwrap_err();
    assert_eq!(e.status(), 429);
    assert!(matches!(e, GatewayError::QuotaExceeded { ref limit, .. } if limit == "gold.cost"));
    // A refund makes room: the first used only 10 in / 10 out = 120.
    q.settle(
        t1,
        Usage {
            input: 10,
            output: 10,
            source: crate::usage::Source::Provider,
        },
    )
    .await;
    assert!(q.reserve(&f, est).await.is_ok());
}

#[test]
fn header_formats() {
    assert_eq!(openai_duration(20), "20ms");
    assert_eq!(openai_duration(1_000), "1s");
    assert_eq!(openai_duration(360_000), "6m0s");
    assert_eq!(openai_duration(3_723_000), "1h2m3s");
    assert_eq!(micro_usd(1_500_000), "1.500000");
    assert_eq!(retry_after_secs(1), 1);
    assert_eq!(retry_after_secs(2_001), 3);
}

#[test]
fn output_reserve_follows_the_settings() {
    let mut q = quotas(Vec::new(), Vec::new());
    assert_eq!(q.output_reserve(Some(7)), 7);
    assert_eq!(q.output_reserve(None), 100);
    q.settings.reserve_output = false;
    assert_eq!(q.output_reserve(Some(7)), 0);
}

#[tokio::test]
async fn unlimited_requests_get_no_ticket_and_no_headers() {
    let q = quotas(Vec::new(), Vec::new());
    let headers = HeaderMap::new();
    let k = key("a", None, None);
    let f = Facts {
        key: &k,
        model: "m",
        client_ip: None,
        headers: &headers,
    };
    let est = Estimate {
        prompt: 1,
        output: 1,
    };
    let (t, h) = q.reserve(&f, est).await.unwrap();
    assert!(h.is_empty() && t.store.is_none());
}
