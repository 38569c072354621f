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
            let mut tried = b.tried();
            let pick = b.get(&mut tried, now).unwrap();
            b.free(pick, false, now);
            b.peer(pick).addr.port()
        })
        .collect()
}

#[test]
fn smooth_weighted_round_robin_interleaves_like_nginx() {
    let b = Balancer::new(&[spec(1, 5), spec(2, 1), spec(3, 1)]);
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
    let b = Balancer::new(&[spec(1, 1), spec(2, 1), backup]);
    let now = Instant::now();
    let mut tried = b.tried();
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
    let b = Balancer::new(&[spec(1, 1), down]);
    assert_eq!(sequence(&b, 3, Instant::now()), [1, 1, 1]);
    let single = Balancer::new(&[spec(7, 1)]);
    let now = Instant::now();
    let mut tried = single.tried();
    let pick = single.get(&mut tried, now).unwrap();
    single.free(pick, true, now);
    assert!(
        single.get(&mut tried, now).is_none(),
        "tried once per request"
    );
    assert_eq!(sequence(&single, 2, now), [7, 7]);
}
