use http::{HeaderMap, HeaderValue};

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn file(size: u64) -> Validators {
    Validators {
        mtime: 1_700_000_000,
        size,
        etag: Some(etag(1_700_000_000, size)),
    }
}

const LM: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

#[test]
fn etag_is_hex_mtime_and_size() {
    assert_eq!(etag(0x6b02a793, 12), "\"6b02a793-c\"");
}

fn ranged(spec: &str, size: u64) -> Ranged {
    range(&file(size), None, &headers(&[("range", spec)]))
}

#[test]
fn single_ranges_follow_ngx_http_range_parse() {
    assert_eq!(ranged("bytes=2-4", 12), Ranged::Part { start: 2, end: 5 });
    assert_eq!(ranged("bytes=-5", 12), Ranged::Part { start: 7, end: 12 });
    assert_eq!(ranged("bytes=-50", 12), Ranged::Part { start: 0, end: 12 });
    assert_eq!(ranged("bytes=7-", 12), Ranged::Part { start: 7, end: 12 });
    assert_eq!(
        ranged("bytes=3-100", 12),
        Ranged::Part { start: 3, end: 12 }
    );
    assert_eq!(
        ranged("BYTES= 1 - 2 ", 12),
        Ranged::Part { start: 1, end: 3 }
    );
    // The whole file from 0 is declined (200), past the end or reversed is 416.
    let whole = Ranged::Whole { accept: true };
    assert_eq!(ranged("bytes=0-", 12), Ranged::Part { start: 0, end: 12 });
    assert_eq!(ranged("bytes=0-0", 0), whole);
    assert_eq!(ranged("bytes=50-60", 12), Ranged::Unsatisfiable);
    assert_eq!(ranged("bytes=5-3", 12), Ranged::Unsatisfiable);
    assert_eq!(ranged("bytes=-0", 12), Ranged::Unsatisfiable);
    assert_eq!(ranged("bytes=abc", 12), Ranged::Unsatisfiable);
    assert_eq!(ranged("bytes=1-2x", 12), Ranged::Unsatisfiable);
    assert_eq!(
        ranged("bytes=99999999999999999999-", 12),
        Ranged::Unsatisfiable
    );
    assert_eq!(ranged("items=0-1", 12), whole);
    assert_eq!(ranged("bytes=", 12), whole);
    assert_eq!(ranged("bytes=0-1,3-4", 12), Ranged::Several);
    // Overlapping ranges larger than the file are declined.
    assert_eq!(ranged("bytes=0-10,0-10", 12), whole);
}

#[test]
fn max_ranges_and_if_range() {
    let v = file(12);
    let h = headers(&[("range", "bytes=0-1,3-4")]);
    assert_eq!(range(&v, Some(1), &h), Ranged::Whole { accept: true });
    assert_eq!(range(&v, Some(0), &h), Ranged::Whole { accept: false });
    let etag = v.etag.clone().unwrap();
    let h = headers(&[("range", "bytes=0-1"), ("if-range", &etag)]);
    assert_eq!(range(&v, None, &h), Ranged::Part { start: 0, end: 2 });
    let h = headers(&[("range", "bytes=0-1"), ("if-range", "\"x\"")]);
    assert_eq!(range(&v, None, &h), Ranged::Whole { accept: true });
    let h = headers(&[("range", "bytes=0-1"), ("if-range", LM)]);
    assert_eq!(range(&v, None, &h), Ranged::Part { start: 0, end: 2 });
}

#[test]
fn conditions_follow_the_not_modified_filter() {
    let v = file(12);
    let etag = v.etag.clone().unwrap();
    let c = |pairs: &[(&'static str, &str)], ims| condition(&v, ims, &headers(pairs));
    assert_eq!(c(&[], Ims::Exact), Condition::Send);
    assert_eq!(
        c(&[("if-modified-since", LM)], Ims::Exact),
        Condition::NotModified
    );
    let later = "Wed, 15 Nov 2023 00:00:00 GMT";
    assert_eq!(
        c(&[("if-modified-since", later)], Ims::Exact),
        Condition::Send
    );
    assert_eq!(
        c(&[("if-modified-since", later)], Ims::Before),
        Condition::NotModified
    );
    assert_eq!(c(&[("if-modified-since", LM)], Ims::Off), Condition::Send);
    assert_eq!(
        c(&[("if-none-match", &etag)], Ims::Exact),
        Condition::NotModified
    );
    let listed = format!("\"a\", W/{etag}");
    assert_eq!(
        c(&[("if-none-match", &listed)], Ims::Exact),
        Condition::NotModified
    );
    assert_eq!(
        c(&[("if-none-match", "*")], Ims::Exact),
        Condition::NotModified
    );
    assert_eq!(
        c(&[("if-none-match", "\"a\"")], Ims::Exact),
        Condition::Send
    );
    // Both present: both must say "not modified".
    let both = [("if-none-match", "\"a\""), ("if-modified-since", LM)];
    assert_eq!(c(&both, Ims::Exact), Condition::Send);
    assert_eq!(c(&[("if-match", "\"a\"")], Ims::Exact), Condition::Failed);
    assert_eq!(c(&[("if-match", &etag)], Ims::Exact), Condition::Send);
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    assert_eq!(
        c(&[("if-unmodified-since", old)], Ims::Exact),
        Condition::Failed
    );
    assert_eq!(
        c(&[("if-unmodified-since", LM)], Ims::Exact),
        Condition::Send
    );
    let no_etag = Validators {
        etag: None,
        ..v.clone()
    };
    let h = headers(&[("if-none-match", "\"a\"")]);
    assert_eq!(condition(&no_etag, Ims::Exact, &h), Condition::Send);
}

fn files(root: Root) -> Files {
    let mut s = StaticSettings {
        root: Some(root),
        prefix: Some("/prefix/".into()),
        ..StaticSettings::default()
    };
    s.inherit(&StaticSettings::default());
    s.finish()
}

#[test]
fn root_and_alias_map_uris_like_ngx_http_map_uri_to_path() {
    let f = files(Root::Root(Template::literal("html")));
    let base = f.base("html".into());
    assert_eq!(base, "/prefix/html");
    assert_eq!(f.map(&base, "/a/b.txt", false).path, "/prefix/html/a/b.txt");
    let f = files(Root::Alias {
        path: Template::literal("/data/"),
        strip: "/img/".len(),
    });
    assert_eq!(f.map("/data/", "/img/x.png", false).path, "/data/x.png");
    assert_eq!(
        f.try_path("/data/", "/img/x.png", "/img/x.png"),
        "/data/x.png"
    );
    assert_eq!(
        f.tried_uri("/img/x.png", "/img/y.png", false),
        (Some("/img/y.png".into()), false)
    );
    let f = files(Root::RegexAlias(Template::literal("/data/f")));
    assert_eq!(f.map("/data/f", "/re/f", false).path, "/data/f");
    assert_eq!(f.map("/data/f", "/re/f", true).path, "/data/f/re/f");
    // nginx's try_files appends the value to a regex location's alias.
    assert_eq!(f.try_path("/data/f", "/re/f", "/re/f"), "/data/f/re/f");
}

#[test]
fn an_alias_without_trailing_slash_cannot_climb_out() {
    assert!(escapes("/data/../etc/passwd"));
    assert!(!escapes("/data/..x/a"));
    assert!(!escapes("/data/x../a"));
}

fn directive(name: &str, args: &[&str]) -> Directive {
    let word = |t: &&str| crate::nginx::lexer::Word {
        text: (*t).to_owned(),
        quoted: false,
        line: 1,
    };
    Directive {
        name: name.into(),
        args: args.iter().map(word).collect(),
        file: 0,
        line: 1,
        block: None,
    }
}

#[test]
fn directives_and_refusals() {
    let users = UserVars::default();
    let mut s = StaticSettings::default();
    let set = |s: &mut StaticSettings, d: Directive| setting(&d, s, &users);
    assert_eq!(set(&mut s, directive("etag", &["off"])), Ok(true));
    assert_eq!(s.etag, Some(false));
    assert_eq!(set(&mut s, directive("autoindex", &["off"])), Ok(true));
    let e = set(&mut s, directive("autoindex", &["on"])).unwrap_err();
    assert!(e.contains("not implemented"), "{e}");
    let e = set(&mut s, directive("disable_symlinks", &["on"])).unwrap_err();
    assert!(e.contains("not implemented"), "{e}");
    assert_eq!(
        set(&mut s, directive("proxy_pass", &["http://x"])),
        Ok(false)
    );
    set(&mut s, directive("try_files", &["$uri", "$uri/", "=404"])).unwrap();
    let tf = s.try_files.clone().unwrap();
    assert_eq!(tf.tests.len(), 2);
    assert!(!tf.tests[0].1 && tf.tests[1].1);
    assert!(matches!(tf.fallback, Fallback::Code(404)));
    set(&mut s, directive("alias", &["/d/"])).unwrap();
    s.bind_alias(5, false);
    assert!(matches!(s.root, Some(Root::Alias { strip: 5, .. })));
    // try_files is not inherited, the rest is.
    let mut child = StaticSettings::default();
    child.inherit(&s);
    assert!(child.try_files.is_none() && child.etag == Some(false));
    assert!(matches!(child.root, Some(Root::Alias { strip: 5, .. })));
}
