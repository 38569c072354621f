use super::*;
use crate::http::vars::UserVars;

fn rewrite(re: &str, repl: &str, flag: Flag, add_args: bool) -> Op {
    Op::Rewrite {
        re: regex::Regex::new(re).unwrap(),
        replacement: Template::parse(repl, &UserVars::default()).unwrap(),
        flag,
        add_args,
        external: false,
    }
}

fn req(uri: &str, args: &str) -> Request {
    Request {
        uri: uri.into(),
        args: args.into(),
        ..Request::default()
    }
}

#[test]
fn rewrite_arguments_follow_nginx() {
    let h = HeaderMap::new();
    let mut st = State::default();
    let mut r = req("/a/b", "x=1");
    run(
        &[rewrite("^/a/(.*)$", "/n/$1?y=2", Flag::Break, true)],
        &mut r,
        &h,
        &mut st,
    );
    assert_eq!((r.uri.as_str(), r.args.as_str()), ("/n/b", "y=2&x=1"));
    let mut r = req("/a/b", "x=1");
    run(
        &[rewrite("^/a/(.*)$", "/n/$1", Flag::Break, false)],
        &mut r,
        &h,
        &mut st,
    );
    assert_eq!((r.uri.as_str(), r.args.as_str()), ("/n/b", ""));
}

#[test]
fn flags_decide_the_flow() {
    let h = HeaderMap::new();
    let mut st = State::default();
    let mut r = req("/a", "");
    let ops = [
        rewrite("^/a$", "/b", Flag::None, true),
        rewrite("^/b$", "/c", Flag::Last, true),
        Op::Return {
            code: 404,
            text: None,
        },
    ];
    assert_eq!(run(&ops, &mut r, &h, &mut st), Flow::Last);
    assert_eq!(r.uri, "/c");
    let mut st = State::default();
    let mut r = req("/a", "");
    let ops = [rewrite("^/a$", "/b", Flag::None, true), Op::Break];
    assert_eq!(run(&ops, &mut r, &h, &mut st), Flow::Done);
    assert!(!st.uri_changed && st.location_invalid);
}

#[test]
fn if_conditions() {
    let users = UserVars::default();
    let t = |s: &str| Template::parse(s, &users).unwrap();
    let h = HeaderMap::new();
    let ops = [Op::If {
        cond: Cond::Eq(t("$request_method"), t("OPTIONS"), false),
        body: vec![Op::Return {
            code: 204,
            text: None,
        }],
    }];
    let mut st = State::default();
    let mut r = Request {
        method: "OPTIONS".into(),
        ..Request::default()
    };
    assert!(matches!(
        run(&ops, &mut r, &h, &mut st),
        Flow::Reply(Reply { status: 204, .. })
    ));
    r.method = "GET".into();
    assert_eq!(run(&ops, &mut r, &h, &mut st), Flow::Done);
    let ops = [Op::If {
        cond: Cond::Match(t("$uri"), regex::Regex::new("^/u/(\\d+)").unwrap(), false),
        body: vec![Op::Return {
            code: 200,
            text: Some(t("id=$1")),
        }],
    }];
    let mut r = req("/u/42", "");
    let Flow::Reply(reply) = run(&ops, &mut r, &h, &mut st) else {
        panic!()
    };
    assert_eq!(reply.body.as_deref(), Some("id=42"));
}
