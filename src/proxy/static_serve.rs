//! The content phase of a location without `proxy_pass` (nginx's precontent and content
//! phases: `try_files`, then the index, static and "no handler" steps), and sending the
//! file: conditional requests, one byte range, HEAD, streamed in bounded chunks from
//! tokio's blocking-safe file API (never read whole into memory).
//!
//! Owns: the file-system I/O of static files and the response it writes. It must not hold
//! nginx's rules (`http::static_files` decides paths, ETags, conditions and ranges) nor
//! route (`http::Site::internal_redirect`, driven by `phases`).

use std::io::{ErrorKind, SeekFrom};
use std::time::UNIX_EPOCH;

use bytes::BytesMut;
use http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderName};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::reply::{add_headers, standard_headers, write_reply_with};
use crate::http::conf::LocConf;
use crate::http::error_page::Target;
use crate::http::script::Reply;
use crate::http::static_files::{
    self, escapes, Condition, Fallback, Files, Ranged, TryFiles, Validators,
};
use crate::http::vars::{Request, Vars};

/// Bytes read from the file per body write.
const CHUNK: usize = 64 * 1024;

/// An opened regular file.
#[derive(Debug)]
pub struct Hit {
    file: tokio::fs::File,
    size: u64,
    /// Seconds since the epoch.
    mtime: i64,
}

/// What the content phase decided.
#[derive(Debug)]
pub enum Content {
    File(Hit),
    Reply(Reply),
    /// `index` or `try_files`' last argument: an internal redirect, method kept.
    Redirect(Target),
}

fn reply(status: u16) -> Content {
    Content::Reply(Reply {
        status,
        location: None,
        body: None,
    })
}

/// nginx's `r->method & (GET|HEAD|POST)`.
fn readable_method(m: &str) -> bool {
    matches!(m, "GET" | "HEAD" | "POST")
}

/// Runs `try_files`, then index or static for `req.uri` in `conf`'s location.
pub async fn content(conf: &LocConf, req: &mut Request, headers: &HeaderMap) -> Content {
    let files = &conf.files;
    let mut add_uri = false;
    if let Some(tf) = &files.try_files {
        match try_files(files, tf, req, headers).await {
            Ok(add) => add_uri = add,
            Err(done) => return done,
        }
    }
    let base = files.base(files.root_template().eval(&Vars { req, headers }));
    if req.uri.ends_with('/') {
        index(files, &base, req, headers, add_uri).await
    } else {
        file(files, &base, req, add_uri).await
    }
}

/// `ngx_http_try_files_handler`: the first value naming an existing file (or directory,
/// for a value written with a trailing `/`) becomes the URI; else the fallback.
async fn try_files(
    files: &Files,
    tf: &TryFiles,
    req: &mut Request,
    headers: &HeaderMap,
) -> std::result::Result<bool, Content> {
    let base = files.base(files.root_template().eval(&Vars { req, headers }));
    for (template, dir) in &tf.tests {
        let value = template.eval(&Vars { req, headers });
        let path = files.try_path(&base, &req.uri, &value);
        if escapes(&path) {
            continue;
        }
        // `stat` follows symbolic links (`disable_symlinks off`).
        let Ok(meta) = tokio::fs::metadata(&path).await else {
            continue;
        };
        if meta.is_dir() != *dir {
            continue;
        }
        let (uri, add) = files.tried_uri(&req.uri, &value, *dir);
        if let Some(uri) = uri {
            req.uri = uri;
        }
        return Ok(add);
    }
    match &tf.fallback {
        Fallback::Code(code) => Err(reply(*code)),
        Fallback::Uri(t) => {
            let v = t.eval(&Vars { req, headers });
            Err(Content::Redirect(if v.starts_with('@') {
                Target::Named(v)
            } else {
                // Without `?` the arguments are dropped (`ngx_http_split_args`).
                Target::Uri(v)
            }))
        }
    }
}

/// The status nginx answers for a failed open (`ngx_http_static_handler`).
fn open_error_status(e: &std::io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc_errno::ENOENT | libc_errno::ENOTDIR | libc_errno::ENAMETOOLONG) => 404,
        Some(libc_errno::EACCES | libc_errno::ELOOP | libc_errno::EMLINK) => 403,
        _ if e.kind() == ErrorKind::NotFound => 404,
        _ if e.kind() == ErrorKind::InvalidInput => 404,
        _ => 500,
    }
}

/// The errno values nginx distinguishes (Linux).
mod libc_errno {
    pub const ENOENT: i32 = 2;
    pub const EACCES: i32 = 13;
    pub const ENOTDIR: i32 = 20;
    pub const EMLINK: i32 = 31;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ELOOP: i32 = 40;
}

fn log_open_error(files: &Files, status: u16, path: &str, e: &std::io::Error) {
    if status != 404 || files.log_not_found {
        log::error!("open() \"{path}\" failed ({e})");
    }
}

/// `ngx_http_index_handler`: the first index file that exists is an internal redirect;
/// none is 403 (no handler for a directory URI), a missing directory 404.
async fn index(
    files: &Files,
    base: &str,
    req: &Request,
    headers: &HeaderMap,
    add_uri: bool,
) -> Content {
    if !readable_method(&req.method) {
        // The index module declines, the static one refuses the method.
        return reply(405);
    }
    let dir = files.map(base, &req.uri, add_uri).path;
    if escapes(&dir) {
        return reply(404);
    }
    let mut dir_tested = false;
    for t in &files.index {
        let name = t.eval(&Vars { req, headers });
        let target = if name.starts_with('/') {
            name
        } else {
            let path = format!("{dir}{name}");
            match tokio::fs::metadata(&path).await {
                Ok(_) => format!("{}{name}", req.uri),
                Err(e) if e.raw_os_error() == Some(libc_errno::ENOENT) => {
                    if !dir_tested {
                        if let Some(status) = test_dir(files, &dir).await {
                            return reply(status);
                        }
                        dir_tested = true;
                    }
                    continue;
                }
                Err(e) => {
                    let status = open_error_status(&e);
                    log_open_error(files, status, &path, &e);
                    return reply(status);
                }
            }
        };
        let with_args = match req.args.is_empty() {
            true => target,
            false => format!("{target}?{}", req.args),
        };
        return Content::Redirect(Target::Uri(with_args));
    }
    log::error!("directory index of \"{dir}\" is forbidden");
    reply(403)
}

/// `ngx_http_index_test_dir`: `None` when the directory exists.
async fn test_dir(files: &Files, dir: &str) -> Option<u16> {
    match tokio::fs::metadata(dir).await {
        Ok(m) if m.is_dir() => None,
        Ok(_) => {
            log::error!("\"{dir}\" is not a directory");
            Some(500)
        }
        Err(e) => {
            let status = if e.raw_os_error() == Some(libc_errno::EACCES) {
                403
            } else {
                404
            };
            if status == 403 || files.log_not_found {
                log::error!("\"{dir}\" is not found ({e})");
            }
            Some(status)
        }
    }
}

/// `ngx_http_static_handler` for a URI not ending in `/`.
async fn file(files: &Files, base: &str, req: &Request, add_uri: bool) -> Content {
    if !readable_method(&req.method) {
        return reply(405);
    }
    let path = files.map(base, &req.uri, add_uri).path;
    if escapes(&path) {
        log::error!("\"{path}\" leaves its root through \"..\": refused");
        return reply(404);
    }
    // O_NONBLOCK as nginx: opening a FIFO must not wait for a writer.
    let opened = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(&path)
        .await;
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            let status = open_error_status(&e);
            log_open_error(files, status, &path, &e);
            return reply(status);
        }
    };
    let meta = match file.metadata().await {
        Ok(m) => m,
        Err(e) => {
            log::error!("fstat() \"{path}\" failed ({e})");
            return reply(500);
        }
    };
    if meta.is_dir() {
        let mut location = format!("{}/", req.uri);
        if !req.args.is_empty() {
            location.push('?');
            location.push_str(&req.args);
        }
        return Content::Reply(Reply {
            status: 301,
            location: Some(location),
            body: None,
        });
    }
    if !meta.is_file() {
        log::error!("\"{path}\" is not a regular file");
        return reply(404);
    }
    if req.method == "POST" {
        return reply(405);
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Content::File(Hit {
        file,
        size: meta.len(),
        mtime,
    })
}

/// Linux's `O_NONBLOCK`.
const O_NONBLOCK: i32 = 0o4000;

/// Sends `hit` with `status` (an error page's status) or 200 with nginx's conditional and
/// range filters; returns the status sent.
pub async fn send(
    session: &mut Session,
    conf: &LocConf,
    req: &Request,
    mut hit: Hit,
    status: Option<u16>,
) -> Result<u16> {
    let files = &conf.files;
    let v = Validators {
        mtime: hit.mtime,
        size: hit.size,
        etag: files.etag.then(|| static_files::etag(hit.mtime, hit.size)),
    };
    let client = &session.req_header().headers;
    let status = status.unwrap_or(200);
    let ok = status == 200;
    if ok {
        match static_files::condition(&v, files.ims, client) {
            Condition::Send => {}
            Condition::Failed => return error(session, conf, req, 412, None).await,
            Condition::NotModified => {
                let mut resp = ResponseHeader::build(304, Some(4))?;
                standard_headers(&mut resp)?;
                validators(&mut resp, &v, true)?;
                add_headers(&mut resp, conf, req, &session.req_header().headers)?;
                session.write_response_header(Box::new(resp), true).await?;
                return Ok(304);
            }
        }
    }
    let ranged = match ok {
        true => static_files::range(&v, files.max_ranges, client),
        false => Ranged::Whole { accept: false },
    };
    let (code, start, len) = match ranged {
        Ranged::Unsatisfiable => {
            let range = format!("bytes */{}", hit.size);
            let extra = (http::header::CONTENT_RANGE, range.as_str());
            return error(session, conf, req, 416, Some(extra)).await;
        }
        Ranged::Part { start, end } => (206, start, end - start),
        Ranged::Whole { .. } | Ranged::Several => (status, 0, hit.size),
    };
    let mut resp = ResponseHeader::build(code, Some(8))?;
    standard_headers(&mut resp)?;
    resp.insert_header(CONTENT_TYPE, conf.content_type(&req.uri))?;
    resp.insert_header(CONTENT_LENGTH, len.to_string())?;
    validators(&mut resp, &v, ok)?;
    match ranged {
        Ranged::Part { start, end } => {
            let value = format!("bytes {start}-{}/{}", end - 1, hit.size);
            resp.insert_header(http::header::CONTENT_RANGE, value)?;
        }
        Ranged::Whole { accept: true } | Ranged::Several => {
            resp.insert_header(ACCEPT_RANGES, "bytes")?;
        }
        _ => {}
    }
    add_headers(&mut resp, conf, req, &session.req_header().headers)?;
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only || len == 0)
        .await?;
    if !head_only && len > 0 {
        stream(session, &mut hit, start, len).await?;
    }
    Ok(code)
}

/// Last-Modified (only on 200/206/304, as nginx's header filter) and ETag.
fn validators(resp: &mut ResponseHeader, v: &Validators, modified: bool) -> Result<()> {
    if modified {
        let secs = u64::try_from(v.mtime).unwrap_or(0);
        let t = UNIX_EPOCH + std::time::Duration::from_secs(secs);
        resp.insert_header(LAST_MODIFIED, httpdate::fmt_http_date(t))?;
    }
    if let Some(e) = &v.etag {
        resp.insert_header(ETAG, e.as_str())?;
    }
    Ok(())
}

async fn error(
    session: &mut Session,
    conf: &LocConf,
    req: &Request,
    status: u16,
    extra: Option<(HeaderName, &str)>,
) -> Result<u16> {
    let r = Reply {
        status,
        location: None,
        body: None,
    };
    write_reply_with(session, conf, req, &r, extra).await?;
    Ok(status)
}

/// Writes `len` bytes from `start`, one bounded chunk at a time.
async fn stream(session: &mut Session, hit: &mut Hit, start: u64, len: u64) -> Result<()> {
    let io = |e: std::io::Error| {
        pingora::Error::because(pingora::ErrorType::ReadError, "reading a static file", e)
    };
    if start > 0 {
        hit.file.seek(SeekFrom::Start(start)).await.map_err(io)?;
    }
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = BytesMut::zeroed(want);
        let n = hit.file.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            // The file shrank since it was opened: the promised length cannot be kept.
            return Err(pingora::Error::explain(
                pingora::ErrorType::ReadError,
                "static file truncated while sending",
            ));
        }
        buf.truncate(n);
        left -= n as u64;
        session
            .write_response_body(Some(buf.freeze()), left == 0)
            .await?;
    }
    Ok(())
}
