use super::*;
use crate::http::conf::Settings;
use crate::http::vars::{Template, UserVars};

#[test]
fn upstream_headers_put_configured_first_and_drop_empty() {
    let users = UserVars::default();
    let s = Settings {
        set_headers: Some(vec![
            (
                "X-Real-IP".into(),
                Template::parse("$remote_addr", &users).unwrap(),
            ),
            ("Accept-Encoding".into(), Template::literal("")),
        ]),
        ..Settings::default()
    };
    let conf = LocConf::finish(&s, "/", None, vec![]).unwrap();
    let req = Request {
        remote: Some("10.1.2.3:9".parse().unwrap()),
        proxy_host: "backend".into(),
        ..Request::default()
    };
    let mut client = HeaderMap::new();
    for (k, v) in [
        ("host", "front"),
        ("accept-encoding", "gzip"),
        ("connection", "keep-alive"),
        ("upgrade", "x"),
        ("x-app", "1"),
    ] {
        client.append(k, v.parse().unwrap());
    }
    let out = upstream_headers(&conf, &req, &client);
    let got: Vec<(&str, &str)> = out
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("x-real-ip", "10.1.2.3"),
            ("host", "backend"),
            ("connection", "close"),
            ("x-app", "1")
        ]
    );
}

#[test]
fn response_side_rules() {
    assert!(add_header_applies(302, false) && !add_header_applies(404, false));
    assert!(add_header_applies(502, true));
    assert_eq!(absolute("/x", "h", 80), "http://h/x");
    assert_eq!(absolute("/x", "h", 8080), "http://h:8080/x");
    assert_eq!(absolute("https://o/", "h", 8080), "https://o/");
    assert!(error_page(502)
        .unwrap()
        .contains("<title>502 Bad Gateway</title>"));
}
