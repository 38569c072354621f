use proptest::prelude::{any, prop, prop_assert, prop_assert_eq, proptest};
use proptest::strategy::Strategy as Gen;

use super::*;

fn cand(priority: u32, weight: u32) -> Candidate {
    Candidate {
        priority,
        weight,
        eligible: true,
        in_flight: 0,
        latency: 0.0,
    }
}

const ALL: [Strategy; 5] = [
    Strategy::Weighted,
    Strategy::RoundRobin,
    Strategy::Random,
    Strategy::LeastInFlight,
    Strategy::Latency,
];

#[test]
fn smooth_weighted_matches_nginx() {
    let cands = [cand(0, 5), cand(0, 1), cand(0, 1)];
    let mut s = Selector::new(Strategy::Weighted, 3);
    let mut rng = Rng::seeded(1);
    let seq: Vec<usize> = (0..7).map(|_| s.pick(&cands, &mut rng).unwrap()).collect();
    assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn round_robin_rotates_over_the_tier() {
    let cands = [cand(0, 1), cand(1, 1), cand(0, 9)];
    let mut s = Selector::new(Strategy::RoundRobin, 3);
    let mut rng = Rng::seeded(1);
    let seq: Vec<usize> = (0..4).map(|_| s.pick(&cands, &mut rng).unwrap()).collect();
    assert_eq!(seq, [0, 2, 0, 2]);
}

#[test]
fn least_in_flight_prefers_the_idle_target() {
    let mut cands = [cand(0, 1), cand(0, 1), cand(0, 1)];
    cands[0].in_flight = 3;
    cands[1].in_flight = 1;
    cands[2].in_flight = 2;
    let mut s = Selector::new(Strategy::LeastInFlight, 3);
    let mut rng = Rng::seeded(1);
    for _ in 0..5 {
        assert_eq!(s.pick(&cands, &mut rng), Some(1));
    }
}

#[test]
fn latency_prefers_the_fast_target() {
    let mut cands = [cand(0, 1), cand(0, 1)];
    cands[0].latency = 2.0;
    cands[1].latency = 0.1;
    let mut s = Selector::new(Strategy::Latency, 2);
    let mut rng = Rng::seeded(3);
    // With two targets both are always compared.
    for _ in 0..20 {
        assert_eq!(s.pick(&cands, &mut rng), Some(1));
    }
    // Load shifts the choice: 0.1 × 30 > 2.0 × 1.
    cands[1].in_flight = 29;
    assert_eq!(s.pick(&cands, &mut rng), Some(0));
}

/// Statistical check: picks follow the weights within ±15 % of each expected count.
#[test]
fn weights_are_respected_statistically() {
    let cands = [cand(0, 1), cand(0, 3), cand(0, 6)];
    for strategy in [Strategy::Weighted, Strategy::Random] {
        let mut s = Selector::new(strategy, 3);
        let mut rng = Rng::seeded(42);
        let mut counts = [0u32; 3];
        let n = 10_000;
        for _ in 0..n {
            counts[s.pick(&cands, &mut rng).unwrap()] += 1;
        }
        for (i, c) in cands.iter().enumerate() {
            let want = f64::from(n) * f64::from(c.weight) / 10.0;
            let got = f64::from(counts[i]);
            assert!(
                (got - want).abs() <= want * 0.15,
                "{strategy:?}: target {i} got {got}, want {want} ± 15% ({counts:?})"
            );
        }
    }
}

fn arb_cands() -> impl Gen<Value = Vec<Candidate>> {
    prop::collection::vec(
        (0u32..3, 0u32..4, any::<bool>(), 0u32..5, 0.0f64..3.0).prop_map(
            |(priority, weight, eligible, in_flight, latency)| Candidate {
                priority,
                weight,
                eligible,
                in_flight,
                latency,
            },
        ),
        1..8,
    )
}

proptest! {
    /// Never an ineligible (open, unhealthy, full, tried) or zero-weight target; always the
    /// best tier that has a usable target; `None` only when nothing is usable.
    #[test]
    fn picks_only_usable_targets_from_the_best_tier(
        cands in arb_cands(),
        strategy in 0usize..5,
        seed in any::<u64>(),
        rounds in 1usize..20,
    ) {
        let strategy = ALL[strategy];
        let mut s = Selector::new(strategy, cands.len());
        let mut rng = Rng::seeded(seed);
        let best = cands.iter().filter(|c| c.eligible && c.weight > 0).map(|c| c.priority).min();
        for _ in 0..rounds {
            match (s.pick(&cands, &mut rng), best) {
                (Some(i), Some(tier)) => {
                    prop_assert!(cands[i].eligible);
                    prop_assert!(cands[i].weight > 0);
                    prop_assert_eq!(cands[i].priority, tier);
                }
                (None, None) => {}
                (got, want) => prop_assert!(false, "picked {:?}, best tier {:?}", got, want),
            }
        }
    }

    /// Weighted round robin is exact over one full cycle: each target is picked `weight` times.
    #[test]
    fn smooth_weighted_is_exact_per_cycle(weights in prop::collection::vec(0u32..6, 1..6)) {
        let cands: Vec<Candidate> = weights.iter().map(|&w| cand(0, w)).collect();
        let total: u32 = weights.iter().sum();
        let mut s = Selector::new(Strategy::Weighted, cands.len());
        let mut rng = Rng::seeded(0);
        let mut counts = vec![0u32; cands.len()];
        for _ in 0..total {
            counts[s.pick(&cands, &mut rng).unwrap()] += 1;
        }
        prop_assert_eq!(counts, weights);
    }
}
