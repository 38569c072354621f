//! The log phase of the generic path: gathers what nginx's log variables read from the
//! finished session (status, byte counts, the request line, `$remote_user`, upstream
//! attempts, times) and hands each applicable `access_log` line to the site's sink.
//!
//! Owns: measuring a request for the log. It must not write files (`logs` does) nor render
//! formats (`http::log_format` does).

use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;

use crate::http::conf::LocConf;
use crate::http::log_format::{Attempt, Facts};
use crate::http::vars::{Request, Vars};
use crate::http::Runtime;

/// Per-request log bookkeeping (kept only when the request's location logs).
#[derive(Debug, Clone)]
pub struct Timing {
    pub started: Instant,
    pub wall: SystemTime,
    pub attempts: Vec<Attempt>,
    attempt_started: Instant,
    /// The status to log when none was sent (444).
    pub status: Option<u16>,
}

impl Timing {
    pub fn new() -> Timing {
        let now = Instant::now();
        Timing {
            started: now,
            wall: SystemTime::now(),
            attempts: Vec::new(),
            attempt_started: now,
            status: None,
        }
    }

    /// A peer was chosen.
    pub fn attempt(&mut self, addr: std::net::SocketAddr) {
        self.attempt_started = Instant::now();
        self.attempts.push(Attempt {
            addr,
            status: None,
            time: Duration::ZERO,
        });
    }

    /// The current attempt ended: with the peer's status, or nginx's 502/504 for it.
    pub fn attempt_done(&mut self, status: u16) {
        if let Some(a) = self.attempts.last_mut() {
            if a.status.is_none() {
                a.status = Some(status);
                a.time = self.attempt_started.elapsed();
            }
        }
    }
}

/// `name: value\r\n` lines plus the empty line.
fn header_block_len<'a>(headers: impl Iterator<Item = (&'a str, usize)>) -> u64 {
    headers.map(|(n, v)| (n.len() + v + 4) as u64).sum::<u64>() + 2
}

fn request_len(h: &RequestHeader) -> u64 {
    // Request line: method, target, "HTTP/1.x" and the spaces and CRLF.
    let line = h.method.as_str().len() + h.raw_path().len() + 8 + 4;
    line as u64 + header_block_len(h.headers.iter().map(|(n, v)| (n.as_str(), v.len())))
}

fn response_head_len(r: &ResponseHeader) -> u64 {
    let reason = r.status.canonical_reason().unwrap_or("").len();
    // "HTTP/1.1 200 " + reason + CRLF.
    (13 + reason + 2) as u64
        + header_block_len(r.headers.iter().map(|(n, v)| (n.as_str(), v.len())))
}

/// The user name of a Basic `Authorization` header (`$remote_user`).
pub fn basic_user(h: &http::HeaderMap) -> Option<String> {
    let v = h.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    crate::http::auth_basic::credentials(v).map(|(u, _)| u)
}

/// Writes the request's access log lines, if its location has any.
pub fn log(rt: &Runtime, session: &Session, req: &Request, conf: &LocConf, t: &Timing) {
    let Some(sink) = rt.log_sink.as_ref() else {
        return;
    };
    if conf.access_logs.is_empty() {
        return;
    }
    let h = session.req_header();
    let resp = session.response_written();
    let body_sent = session.body_bytes_sent() as u64;
    let mut request_line = String::with_capacity(h.raw_path().len() + 16);
    let _ = write!(
        request_line,
        "{} {} {:?}",
        h.method,
        String::from_utf8_lossy(h.raw_path()),
        h.version
    );
    let user = basic_user(&h.headers);
    let facts = Facts {
        status: resp.map_or(t.status.unwrap_or(0), |r| r.status.as_u16()),
        body_bytes_sent: body_sent,
        bytes_sent: resp.map_or(0, response_head_len) + body_sent,
        request_length: request_len(h) + session.body_bytes_read() as u64,
        request_line: &request_line,
        remote_user: user.as_deref(),
        upstreams: &t.attempts,
        start: Some(t.wall),
        elapsed: t.started.elapsed(),
        now: Some(SystemTime::now()),
    };
    let vars = Vars {
        req,
        headers: &h.headers,
    };
    for log in conf.access_logs.iter() {
        if log.applies(&vars) {
            let mut line = String::with_capacity(256);
            log.format.render(&vars, &facts, &mut line);
            sink.line(log.file, line);
        }
    }
}
