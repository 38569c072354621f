use super::*;

fn spec(port: u16, weight: u32) -> (ServerSpec, Vec<SocketAddr>) {
    let mut s = ServerSpec::new("127.0.0.1", port);
    s.weight = weight;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    (s, vec![addr])
}

fn sequence(b: &Balancer, n: usize, now: Instant) -> Vec<u16> {
    (0..n)
        .map(|_| {
            let mut tried = b.tried(None, "");
            let pick = b.get(&mut tried, now).unwrap();
            b.free(pick, false, now);
            b.peer(pick).addr.port()
        })
        .collect()
}

#[test]
fn smooth_weighted_round_robin_interleaves_like_nginx() {
    let b = Balancer::new(&[spec(1, 5), spec(2, 1), spec(3, 1)], Method::RoundRobin);
    let now = Instant::now();
    assert_eq!(
        sequence(&b, 14, now),
        [1, 1, 2, 1, 3, 1, 1, 1, 1, 2, 1, 3, 1, 1]
    );
}

#[test]
fn backup_only_when_primaries_are_tried_or_failed() {
    let mut backup = spec(9, 1);
    backup.0.backup = true;
    let b = Balancer::new(&[spec(1, 1), spec(2, 1), backup], Method::RoundRobin);
    let now = Instant::now();
    let mut tried = b.tried(None, "");
    let first = b.get(&mut tried, now).unwrap();
    b.free(first, true, now);
    let second = b.get(&mut tried, now).unwrap();
    b.free(second, true, now);
    let third = b.get(&mut tried, now).unwrap();
    assert!(third.backup);
    assert_eq!(b.peer(third).addr.port(), 9);
    assert!(b.get(&mut tried, now).is_none());
    // Both primaries failed once (max_fails=1): the next request goes to the backup too.
    assert_eq!(sequence(&b, 2, now), [9, 9]);
    // After fail_timeout they are probed again.
    let later = now + Duration::from_secs(11);
    assert_ne!(sequence(&b, 1, later)[0], 9);
}

#[test]
fn down_servers_are_skipped_and_single_server_never_fails() {
    let mut down = spec(2, 1);
    down.0.down = true;
    let b = Balancer::new(&[spec(1, 1), down], Method::RoundRobin);
    assert_eq!(sequence(&b, 3, Instant::now()), [1, 1, 1]);
    let single = Balancer::new(&[spec(7, 1)], Method::RoundRobin);
    let now = Instant::now();
    let mut tried = single.tried(None, "");
    let pick = single.get(&mut tried, now).unwrap();
    single.free(pick, true, now);
    assert!(
        single.get(&mut tried, now).is_none(),
        "tried once per request"
    );
    assert_eq!(sequence(&single, 2, now), [7, 7]);
}

fn picks(b: &Balancer, n: usize, client: &str, key: &str) -> Vec<u16> {
    let now = Instant::now();
    (0..n)
        .map(|_| {
            let ip = client.parse().ok();
            let mut tried = b.tried(ip, key);
            let pick = b.get(&mut tried, now).unwrap();
            b.free(pick, false, now);
            b.peer(pick).addr.port()
        })
        .collect()
}

#[test]
fn least_conn_prefers_idle_peers_and_breaks_ties_by_weight() {
    let b = Balancer::new(&[spec(1, 1), spec(2, 1)], Method::LeastConn);
    let now = Instant::now();
    let mut t1 = b.tried(None, "");
    let busy = b.get(&mut t1, now).unwrap();
    // While the first request holds its peer, the next ones go to the other.
    let other = picks(&b, 3, "", "");
    assert!(
        other.iter().all(|p| *p != b.peer(busy).addr.port()),
        "{other:?}"
    );
    b.free(busy, false, now);
    // Idle group: every peer ties, so smooth weighted round robin decides.
    let idle = Balancer::new(&[spec(1, 2), spec(2, 1)], Method::LeastConn);
    assert_eq!(picks(&idle, 6, "", ""), [1, 2, 1, 1, 2, 1]);
}

#[test]
fn ip_hash_uses_the_first_three_octets() {
    let b = Balancer::new(&[spec(1, 1), spec(2, 1), spec(3, 1)], Method::IpHash);
    let a = picks(&b, 3, "10.0.0.1", "");
    assert!(a.iter().all(|p| *p == a[0]));
    assert_eq!(picks(&b, 1, "10.0.0.200", "")[0], a[0]);
}

#[test]
fn hash_is_stable_per_key_and_spreads_keys() {
    for consistent in [false, true] {
        let b = Balancer::new(
            &[spec(1, 1), spec(2, 1), spec(3, 1)],
            Method::Hash { consistent },
        );
        let mut seen = std::collections::HashSet::new();
        for k in 0..30 {
            let key = format!("/k{k}");
            let p = picks(&b, 2, "", &key);
            assert_eq!(p[0], p[1], "{key}");
            seen.insert(p[0]);
        }
        assert_eq!(seen.len(), 3, "consistent={consistent}");
    }
}
