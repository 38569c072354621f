//! Differential tests of static files (static.conf): the same tree, written by the test
//! into the prefix directory, served by nginx and by tollgate. Compared on top of the usual
//! observation: the whole body (nginx's signature in generated pages normalised),
//! Content-Length, Last-Modified, ETag, Accept-Ranges and Content-Range.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::harness::{send, Proc, Req, Resp};
use super::{differential, differential_by, get, observe, setup, wait_port_free, Observed};

/// What is compared for a static response.
#[derive(Debug, PartialEq)]
struct Seen {
    base: Observed,
    body: String,
    file_headers: Vec<(&'static str, Option<String>)>,
}

/// Generated error pages carry the server's name (and so their length differs).
fn observe_file(r: &Resp) -> Seen {
    let generated = r.body.contains("<hr><center>");
    let body = r
        .body
        .replace("<center>nginx/1.22.1</center>", "<center>tollgate</center>");
    let mut names = vec!["last-modified", "etag", "accept-ranges", "content-range"];
    if !generated {
        names.push("content-length");
    }
    Seen {
        base: observe(r),
        body,
        file_headers: names
            .into_iter()
            .map(|n| (n, r.header(n).map(str::to_owned)))
            .collect(),
    }
}

fn write(dir: &Path, name: &str, body: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// The tree static.conf serves; returns the Last-Modified and ETag of html/a.txt.
fn tree(dir: &Path) -> (String, String) {
    write(dir, "html/a.txt", b"hello world\n");
    write(dir, "html/page.html", b"<p>page</p>\n");
    write(dir, "html/data.json", b"{\"k\":1}\n");
    write(dir, "html/UPPER.HTML", b"upper\n");
    write(dir, "html/noext", b"no extension\n");
    write(dir, "html/dir/index.html", b"<p>dir index</p>\n");
    write(dir, "html/errors/404.html", b"custom 404\n");
    let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    write(dir, "html/big.txt", &big);
    std::fs::create_dir_all(dir.join("html/empty")).unwrap();
    write(dir, "outside/secret.txt", b"outside the root\n");
    symlink(dir.join("outside/secret.txt"), dir.join("html/link.txt")).unwrap();
    symlink(dir.join("html/loop"), dir.join("html/loop")).unwrap();
    symlink(dir.join("site"), dir.join("html/dirlink")).unwrap();
    write(dir, "store/x.txt", b"store x\n");
    write(dir, "store/sub/y.txt", b"store sub y\n");
    write(dir, "store/sub/index.html", b"store sub index\n");
    write(dir, "site/second.html", b"second\n");
    write(dir, "site/tf/x.txt", b"tf x\n");
    write(dir, "site/tf/d/index.html", b"tf d index\n");
    write(dir, "typed/a.cst", b"custom\n");
    write(dir, "typed/noext", b"default\n");
    write(dir, "typed/b.txt", b"not in the block\n");
    for d in ["noetag", "before", "noranges", "hdr"] {
        write(dir, &format!("{d}/f.txt"), b"0123456789\n");
    }
    let meta = std::fs::metadata(dir.join("html/a.txt")).unwrap();
    let mtime = meta.modified().unwrap();
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (
        httpdate::fmt_http_date(mtime),
        format!("\"{secs:x}-{:x}\"", meta.len()),
    )
}

fn method(m: &'static str, t: &str) -> Req {
    Req {
        method: m,
        ..get(t)
    }
}

#[test]
fn static_files_are_served_like_nginx() {
    let s = setup("static.conf");
    let (lm, etag) = tree(s.dir.path());
    let range = |spec: &str| get("/a.txt").header("Range", spec);
    let reqs = vec![
        get("/a.txt"),
        method("HEAD", "/a.txt"),
        get("/page.html"),
        get("/data.json"),
        get("/UPPER.HTML"),
        get("/noext"),
        get("/big.txt"),
        get("/big.txt").header("Range", "bytes=100000-"),
        get("/dir"),
        get("/dir?x=1"),
        get("/dir/"),
        get("/empty/"),
        get("/missing"),
        get("/missing/"),
        get("/a.txt/"),
        range("bytes=2-4"),
        range("bytes=-5"),
        range("bytes=7-"),
        range("bytes=0-0"),
        range("bytes= 1 - 2 "),
        range("bytes=50-60"),
        range("bytes=5-3"),
        range("bytes=abc"),
        range("items=0-1"),
        range("bytes=0-1").header("If-Range", &etag),
        range("bytes=0-1").header("If-Range", "\"other\""),
        range("bytes=0-1").header("If-Range", &lm),
        method("HEAD", "/a.txt").header("Range", "bytes=1-3"),
        get("/a.txt").header("If-Modified-Since", &lm),
        get("/a.txt").header("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"),
        get("/a.txt").header("If-None-Match", &etag),
        get("/a.txt").header("If-None-Match", &format!("\"x\", W/{etag}")),
        get("/a.txt").header("If-None-Match", "*"),
        get("/a.txt").header("If-None-Match", "\"x\""),
        get("/a.txt").header("If-Match", "\"x\""),
        get("/a.txt").header("If-Match", &etag),
        get("/a.txt").header("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"),
        range("bytes=1-2").header("If-Modified-Since", &lm),
        get("/noetag/f.txt"),
        get("/before/f.txt").header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        get("/noranges/f.txt").header("Range", "bytes=1-2"),
        get("/hdr/f.txt"),
        get("/link.txt"),
        get("/loop"),
        get("/dirlink"),
        get("/dirlink/second.html"),
        get("/%2e%2e/outside/secret.txt"),
        get("/dir/%2e%2e/a.txt"),
        get("/dir/..%2Fa.txt"),
        get("/files/x.txt"),
        get("/files/sub"),
        get("/files/sub/"),
        get("/files/sub/y.txt"),
        get("/re/sub/y.txt"),
        get("/re/nope.txt"),
        get("/site/"),
        get("/site/?q=1"),
        get("/absidx/"),
        get("/tf/x.txt"),
        get("/tf/d"),
        get("/tf/d/"),
        get("/tf/nope"),
        get("/tfuri/nope?z=1"),
        get("/tfcode/nope"),
        get("/typed/a.cst"),
        get("/typed/noext"),
        get("/typed/b.txt"),
        get("/ep/nope"),
        get("/epcode/nope"),
        method("PUT", "/a.txt"),
        method("DELETE", "/dir/"),
        get("/a.txt").post("x"),
        get("/missing").post("x"),
        get("/dir").post("x"),
    ];
    let nginx = differential_by(&s, &reqs, observe_file);
    let statuses: Vec<u16> = nginx.iter().map(|r| r.status).collect();
    // The oracle answered what this test means to cover.
    assert_eq!(&statuses[..8], [200, 200, 200, 200, 200, 200, 200, 206]);
    assert!(statuses.contains(&304) && statuses.contains(&412) && statuses.contains(&416));
    assert!(statuses.contains(&301) && statuses.contains(&403) && statuses.contains(&405));
    assert_eq!(nginx[6].body.len(), 200_000);
}

#[test]
fn try_files_falls_back_to_a_named_location_like_nginx() {
    let s = setup("static.conf");
    tree(s.dir.path());
    let nginx = differential(&s, &[get("/tfnamed/nope?a=1"), get("/tfnamed/")]);
    assert!(nginx[0].body.contains("/tfnamed/nope?a=1"));
}

/// Deliberately unlike nginx: `location /trap { alias .../store/; }` lets nginx serve
/// `/trap../outside/secret.txt` from outside the alias; tollgate answers 404.
#[test]
fn an_alias_without_trailing_slash_does_not_leak_files_unlike_nginx() {
    let s = setup("static.conf");
    tree(s.dir.path());
    let req = get("/trap../outside/secret.txt");
    let nginx = {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        send(s.port, &req)
    };
    assert_eq!(
        (nginx.status, nginx.body.as_str()),
        (200, "outside the root\n")
    );
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    let ours = send(s.port, &req);
    assert_eq!(ours.status, 404);
    assert!(!ours.body.contains("outside the root"));
    assert_eq!(send(s.port, &get("/trap/x.txt")).body, "store x\n");
}
