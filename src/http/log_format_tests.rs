use std::time::{Duration, UNIX_EPOCH};

use http::HeaderMap;

use super::*;
use crate::http::vars::Request;

fn req() -> Request {
    Request {
        method: "GET".into(),
        uri: "/a b".into(),
        args: "q=1".into(),
        request_uri: "/a%20b?q=1".into(),
        remote: Some("10.0.0.7:5555".parse().unwrap()),
        ..Request::default()
    }
}

fn render(fmt: &LogFormat, headers: &HeaderMap, f: &Facts<'_>) -> String {
    let r = req();
    let mut out = String::new();
    fmt.render(&Vars { req: &r, headers }, f, &mut out);
    out
}

fn facts(upstreams: &[Attempt]) -> Facts<'_> {
    // 2026-11-22 06:37:14.250 UTC.
    let t = UNIX_EPOCH + Duration::from_millis(1_795_329_434_250);
    Facts {
        status: 200,
        body_bytes_sent: 12,
        bytes_sent: 150,
        request_length: 77,
        request_line: "GET /a%20b?q=1 HTTP/1.1",
        remote_user: None,
        upstreams,
        start: Some(t),
        elapsed: Duration::from_millis(1234),
        now: Some(t + Duration::from_millis(1234)),
    }
}

#[test]
fn combined_marks_missing_values_with_a_dash() {
    let mut h = HeaderMap::new();
    h.insert("user-agent", "curl/8 \"x\"".parse().unwrap());
    let line = render(&LogFormat::combined().unwrap(), &h, &facts(&[]));
    assert_eq!(
        line,
        "10.0.0.7 - - [22/Nov/2026:06:37:14 +0000] \"GET /a%20b?q=1 HTTP/1.1\" 200 12 \"-\" \"curl/8 \\x22x\\x22\""
    );
}

#[test]
fn upstream_and_time_variables() {
    let ups = [
        Attempt {
            addr: "127.0.0.1:81".parse().unwrap(),
            status: None,
            time: Duration::from_millis(5),
        },
        Attempt {
            addr: "127.0.0.1:82".parse().unwrap(),
            status: Some(200),
            time: Duration::from_millis(1010),
        },
    ];
    let f = LogFormat::parse(
        "t",
        &["$upstream_addr|$upstream_status|", "$upstream_response_time|$request_time|$msec|$time_iso8601|${request_length}b|$bytes_sent"],
        &UserVars::default(),
    )
    .unwrap();
    assert_eq!(
        render(&f, &HeaderMap::new(), &facts(&ups)),
        "127.0.0.1:81, 127.0.0.1:82|-, 200|0.005, 1.010|1.234|1795329435.484|2026-11-22T06:37:14+00:00|77b|150"
    );
    // No upstream: not found.
    assert_eq!(
        render(&f, &HeaderMap::new(), &facts(&[])),
        "-|-|-|1.234|1795329435.484|2026-11-22T06:37:14+00:00|77b|150"
    );
}

#[test]
fn json_escaping_and_empty_for_missing() {
    let f = LogFormat::parse(
        "j",
        &[
            "escape=json",
            "{\"ua\":\"$http_user_agent\",\"ref\":\"$http_referer\",\"args\":\"$args\"}",
        ],
        &UserVars::default(),
    )
    .unwrap();
    let mut h = HeaderMap::new();
    h.insert("user-agent", http::HeaderValue::from_static("a\"b\\c\t"));
    assert_eq!(
        render(&f, &h, &facts(&[])),
        "{\"ua\":\"a\\\"b\\\\c\\t\",\"ref\":\"\",\"args\":\"q=1\"}"
    );
    let none = LogFormat::parse(
        "n",
        &["escape=none", "$http_user_agent"],
        &UserVars::default(),
    )
    .unwrap();
    assert_eq!(render(&none, &h, &facts(&[])), "a\"b\\c\t");
}

#[test]
fn unknown_variable_and_escaping_are_refused() {
    let users = UserVars::default();
    assert!(LogFormat::parse("x", &["$nope"], &users)
        .unwrap_err()
        .contains("$nope"));
    assert!(LogFormat::parse("x", &["escape=url", "$status"], &users).is_err());
}

#[test]
fn if_condition_is_false_for_empty_and_zero() {
    let users = UserVars::default();
    let log = |cond: &str| AccessLog {
        file: 0,
        format: std::sync::Arc::new(LogFormat::combined().unwrap()),
        cond: Some(Template::parse(cond, &users).unwrap()),
    };
    let r = req();
    let h = HeaderMap::new();
    let v = Vars {
        req: &r,
        headers: &h,
    };
    assert!(log("$arg_q").applies(&v));
    assert!(!log("$arg_missing").applies(&v));
    assert!(!log("0").applies(&v));
}
