use super::*;

fn req() -> Request {
    Request {
        method: "GET".into(),
        request_uri: "/a?x=1&y=2".into(),
        uri: "/a".into(),
        args: "x=1&y=2".into(),
        host: "example.org".into(),
        remote: Some("10.0.0.1:5555".parse().unwrap()),
        local: Some("127.0.0.1:8080".parse().unwrap()),
        ..Request::default()
    }
}

#[test]
fn templates_parse_and_evaluate() {
    let mut users = UserVars::default();
    let slot = users.declare("who");
    let mut r = req();
    r.user = vec![None; users.len()];
    r.user[slot] = Some("me".into());
    let mut h = HeaderMap::new();
    h.append("x-forwarded-for", "1.1.1.1".parse().unwrap());
    h.append("x-forwarded-for", "2.2.2.2".parse().unwrap());
    h.append("x-thing", "a".parse().unwrap());
    h.append("x-thing", "b".parse().unwrap());
    let v = Vars {
        req: &r,
        headers: &h,
    };
    let t = |s: &str| Template::parse(s, &users).unwrap().eval(&v);
    assert_eq!(
        t("$scheme://$host${uri}x$is_args$args"),
        "http://example.org/ax?x=1&y=2"
    );
    assert_eq!(t("$arg_Y|$who|$server_port"), "2|me|8080");
    assert_eq!(
        t("$proxy_add_x_forwarded_for"),
        "1.1.1.1, 2.2.2.2, 10.0.0.1"
    );
    assert_eq!(t("$http_x_thing"), "a");
    assert_eq!(t("$12"), "2");
    assert!(Template::parse("$request_time", &users).is_err());
    assert!(Template::parse("${uri", &users).is_err());
    assert_eq!(
        Template::parse("abc", &users)
            .unwrap()
            .as_literal()
            .unwrap(),
        "abc"
    );
}

#[test]
fn request_id_is_32_hex_digits_drawn_once_per_request() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let a = request_id_from(&mut rng);
    assert_eq!(a.len(), 32);
    assert!(a
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_ne!(a, request_id_from(&mut rng));
    let mut again = rand::rngs::StdRng::seed_from_u64(7);
    assert_eq!(a, request_id_from(&mut again));
    // One value per request however often it is read; a preset one is kept.
    let t = Template::parse("$request_id/$request_id", &UserVars::default()).unwrap();
    let r = req();
    let h = HeaderMap::new();
    let v = Vars {
        req: &r,
        headers: &h,
    };
    let (first, second) = t
        .eval(&v)
        .split_once('/')
        .map(|(x, y)| (x.to_owned(), y.to_owned()))
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(first.len(), 32);
    let other = req();
    assert_ne!(
        t.eval(&Vars {
            req: &other,
            headers: &h
        }),
        t.eval(&v)
    );
    let preset = Request {
        request_id: std::sync::OnceLock::from(a.clone()),
        ..req()
    };
    assert_eq!(
        t.eval(&Vars {
            req: &preset,
            headers: &h
        }),
        format!("{a}/{a}")
    );
}
