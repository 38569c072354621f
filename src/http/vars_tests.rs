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
    assert!(Template::parse("$request_id", &users).is_err());
    assert!(Template::parse("${uri", &users).is_err());
    assert_eq!(
        Template::parse("abc", &users)
            .unwrap()
            .as_literal()
            .unwrap(),
        "abc"
    );
}
