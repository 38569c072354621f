//! The HTTP/1.1 server side: reads requests off a connection (keeping every framing detail so
//! that framing bugs can be reported), hands them to [`crate::openai`], applies the fault and
//! writes the reply.
//!
//! Everything here is generic over the byte stream: a `TcpStream` for plain HTTP, a
//! `tokio_rustls` server stream for [`crate::Options::tls`].
//!
//! Hand-written rather than hyper because hyper hides exactly what the mock must check (it
//! drops `content-length` when `transfer-encoding` is present, and turns a body that disagrees
//! with its `content-length` into a hang or a parse error of the *next* request).

use std::future::Future;
use std::io::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{sleep, timeout};

use crate::anthropic;
use crate::openai::{self, Reply, ReplyBody};
use crate::{Fault, RecordedRequest, Shared};

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 128;
/// Largest request body accepted.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Bodies at most this long are copied out of the read buffer (so a recorded request doesn't
/// keep the whole buffer alive); longer ones are split off without copying.
const COPY_BODY_MAX: usize = 16 * 1024;
/// A body that makes no progress for this long is reported as shorter than announced.
const BODY_STALL: Duration = Duration::from_secs(2);
/// How long a closing connection waits for the peer to finish sending (so that unread input
/// does not turn our FIN into a RST that destroys the response).
const LINGER: Duration = Duration::from_millis(500);
/// Pieces a non-stream body is cut into by [`Fault::SlowDrip`].
const DRIP_PIECES: usize = 4;

/// What the server knows about a connection besides its bytes.
pub(crate) struct Conn {
    /// Its number, see [`RecordedRequest::connection`].
    pub id: u64,
    /// The TLS server name the client sent, if any.
    pub sni: Option<String>,
}

/// A request as read off the wire.
pub(crate) struct Incoming {
    /// Empty if the head could not be parsed.
    pub method: String,
    /// The request target, query included.
    pub target: String,
    /// Header lines in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Bytes,
    /// HTTP framing problems found while reading (only these; routing and JSON problems are
    /// [`openai::handle`]'s).
    pub problems: Vec<String>,
}

impl Incoming {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What [`read_request`] produced.
struct Received {
    req: Incoming,
    http10: bool,
    /// The connection may carry another request after this one.
    keep_alive: bool,
}

/// How the reply is to be written.
#[derive(Clone, Copy)]
enum Delivery {
    /// Normally; `interval` between SSE events.
    Normal { interval: Duration },
    /// [`Fault::SlowDrip`]: `interval` before every event / body piece.
    Drip { interval: Duration },
    /// [`Fault::DisconnectAfter`].
    Cut { events: usize, interval: Duration },
}

/// Serves one connection until it closes (or the mock is dropped, which aborts this task).
pub(crate) async fn serve_connection<S>(shared: Arc<Shared>, mut stream: S, conn: Conn)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let validate = shared.opts.validate;
    loop {
        let Some(rx) = read_request(&mut stream, &mut buf, validate).await else {
            return;
        };
        let n = shared.next_request_number();
        let (reply, problems) = openai::handle(&shared.opts, n, &rx.req);
        let messages_api = anthropic::is_messages(&rx.req.target);
        let converse_api = crate::bedrock::route(openai::path_of(&rx.req.target)).is_some();
        let gemini_api = crate::gemini::is_gemini(&rx.req.target);
        if shared.recording() {
            let Incoming {
                method,
                target,
                headers,
                body,
                ..
            } = rx.req;
            shared.record(RecordedRequest {
                method,
                path: target,
                headers,
                body,
                problems,
                connection: conn.id,
                sni: conn.sni.clone(),
            });
        }

        let mut delivery = Delivery::Normal {
            interval: shared.opts.token_interval,
        };
        let reply = match shared.take_fault() {
            None => reply,
            Some(Fault::Status {
                status,
                headers,
                body,
            }) if messages_api => anthropic::status_reply(status, headers, body),
            Some(Fault::Status {
                status,
                headers,
                body,
            }) if converse_api => crate::bedrock::status_reply(status, headers, body),
            Some(Fault::Status {
                status,
                headers,
                body,
            }) if gemini_api => crate::gemini::status_reply(status, headers, body),
            Some(Fault::Status {
                status,
                headers,
                body,
            }) => openai::status_reply(status, headers, body),
            Some(Fault::DelayHeaders(d)) => {
                sleep(d).await;
                reply
            }
            Some(Fault::Hang) => {
                hang(&mut stream, &mut buf).await;
                return;
            }
            Some(Fault::DisconnectAfter { events }) => {
                delivery = Delivery::Cut {
                    events,
                    interval: shared.opts.token_interval,
                };
                reply
            }
            Some(Fault::SlowDrip { interval }) => {
                delivery = Delivery::Drip { interval };
                reply
            }
        };

        match write_reply(&mut stream, &reply, n, rx.http10, rx.keep_alive, delivery).await {
            Ok(true) => {}
            Ok(false) => {
                linger_close(&mut stream).await;
                return;
            }
            Err(_) => return,
        }
    }
}

/// [`Fault::Hang`]: reads (and discards) until the client goes away.
async fn hang<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) {
    loop {
        buf.clear();
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Half-closes, then drains input briefly so the close is a FIN, not a RST.
async fn linger_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let _ = stream.shutdown().await;
    let mut scratch = [0u8; 4096];
    let _ = timeout(LINGER, async {
        loop {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    http10: bool,
    headers: Vec<(String, String)>,
    /// Bytes of the buffer it took.
    len: usize,
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let headers = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            Ok(Some(Head {
                method: req.method.unwrap_or_default().to_owned(),
                target: req.path.unwrap_or_default().to_owned(),
                http10: req.version == Some(0),
                headers,
                len,
            }))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(format!("malformed request head: {e}")),
    }
}

/// A request whose head could not be read: answered with 400, then the connection closes.
fn malformed(problem: String) -> Received {
    Received {
        req: Incoming {
            method: String::new(),
            target: String::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            problems: vec![problem],
        },
        http10: false,
        keep_alive: false,
    }
}

/// How the body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    /// Can't tell: no body is read and the connection closes after the reply.
    Unknown,
}

/// Reads the next request; `None` when the peer closed the connection between requests.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    validate: bool,
) -> Option<Received> {
    let head = loop {
        if !buf.is_empty() {
            match parse_head(buf) {
                Ok(Some(head)) => break head,
                Ok(None) if buf.len() > MAX_HEAD => {
                    return Some(malformed(format!(
                        "request head larger than {} KiB",
                        MAX_HEAD / 1024
                    )))
                }
                Ok(None) => {}
                Err(e) => return Some(malformed(e)),
            }
        }
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) if buf.is_empty() => return None,
            Ok(0) | Err(_) => {
                return Some(malformed(
                    "connection closed in the middle of a request head".into(),
                ))
            }
            Ok(_) => {}
        }
    };
    buf.advance(head.len);

    let Head {
        method,
        target,
        http10,
        headers,
        ..
    } = head;
    let mut problems = Vec::new();
    let mut keep_alive = keep_alive_requested(&headers, http10);

    if validate && !http10 && !headers.iter().any(|(k, _)| k == "host") {
        problems.push("HTTP/1.1 request without a host header".to_owned());
    }

    let te: Vec<&str> = header_values(&headers, "transfer-encoding").collect();
    let cl: Vec<&str> = header_values(&headers, "content-length").collect();
    let framing = if !te.is_empty() {
        let te = te.join(", ");
        if http10 {
            problems.push(format!("transfer-encoding ({te}) in an HTTP/1.0 request"));
        }
        if !cl.is_empty() {
            problems.push(format!(
                "both transfer-encoding ({te}) and content-length ({}) are present",
                cl.join(", ")
            ));
            keep_alive = false;
        }
        let last = te.rsplit(',').next().unwrap_or_default().trim();
        if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked
        } else {
            problems.push(format!(
                "transfer-encoding ({te}) does not end in chunked: the body can't be delimited"
            ));
            Framing::Unknown
        }
    } else if !cl.is_empty() {
        match parse_content_length(&cl) {
            Some(n) if n <= MAX_BODY => Framing::Length(n),
            Some(n) => {
                problems.push(format!(
                    "content-length {n} is over the mock's limit of {MAX_BODY} bytes"
                ));
                Framing::Unknown
            }
            None => {
                problems.push(format!("invalid content-length ({})", cl.join(", ")));
                Framing::Unknown
            }
        }
    } else {
        Framing::Length(0)
    };
    if matches!(framing, Framing::Unknown) {
        keep_alive = false;
    }

    // `expect: 100-continue` (curl sends it for bodies over 1 KiB).
    let wants_body = match framing {
        Framing::Length(n) => buf.len() < n,
        Framing::Chunked => true,
        Framing::Unknown => false,
    };
    let expects_continue =
        header_values(&headers, "expect").any(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    if wants_body && expects_continue && !http10 {
        let _ = send(stream, b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }

    let body = match framing {
        Framing::Unknown => Bytes::new(),
        Framing::Length(n) => match read_exact_body(stream, buf, n).await {
            Ok(body) => {
                if validate {
                    // Bytes after the body that don't start a request mean the content-length
                    // was too small. Only what has already arrived can be checked.
                    if buf.is_empty() {
                        read_ready(stream, buf).await;
                    }
                    if !buf.is_empty() && !looks_like_request_start(buf) {
                        problems.push(format!(
                            "content-length is {n} but {} more bytes followed the body",
                            buf.len()
                        ));
                        keep_alive = false;
                        buf.clear();
                    }
                }
                body
            }
            Err((partial, err)) => {
                problems.push(format!(
                    "content-length is {n} but only {} body bytes arrived ({})",
                    partial.len(),
                    err.describe()
                ));
                keep_alive = false;
                partial
            }
        },
        Framing::Chunked => match read_chunked_body(stream, buf).await {
            Ok(body) => body,
            Err((partial, err)) => {
                problems.push(format!(
                    "chunked body broken after {} bytes: {}",
                    partial.len(),
                    err.describe()
                ));
                keep_alive = false;
                partial
            }
        },
    };

    Some(Received {
        req: Incoming {
            method,
            target,
            headers,
            body,
            problems,
        },
        http10,
        keep_alive,
    })
}

fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn keep_alive_requested(headers: &[(String, String)], http10: bool) -> bool {
    let mut close = false;
    let mut keep = false;
    for v in header_values(headers, "connection") {
        for token in v.split(',') {
            let token = token.trim();
            close |= token.eq_ignore_ascii_case("close");
            keep |= token.eq_ignore_ascii_case("keep-alive");
        }
    }
    !close && (keep || !http10)
}

/// All content-length values (each possibly a comma list) must be the same number.
fn parse_content_length(values: &[&str]) -> Option<usize> {
    let mut found = None;
    for v in values.iter().flat_map(|v| v.split(',')) {
        let v = v.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = v.parse().ok()?;
        if found.is_some_and(|f| f != n) {
            return None;
        }
        found = Some(n);
    }
    found
}

/// Could these bytes be the start of another (pipelined) request? A method token in capitals
/// followed by a space, or a prefix of one; leading empty lines are allowed.
fn looks_like_request_start(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let probe = &buf[start..buf.len().min(start + 24)];
    match probe.iter().position(|&b| b == b' ') {
        Some(0) => false,
        Some(i) => probe[..i].iter().all(u8::is_ascii_uppercase),
        None => probe.len() < 24 && probe.iter().all(u8::is_ascii_uppercase),
    }
}

/// Why a body could not be read whole.
enum BodyError {
    /// The connection ended.
    Eof,
    /// Nothing arrived for [`BODY_STALL`].
    Stalled,
    /// Chunked framing is wrong.
    Malformed(String),
}

impl BodyError {
    fn describe(&self) -> String {
        match self {
            BodyError::Eof => "the connection ended".into(),
            BodyError::Stalled => format!("then nothing for {}s", BODY_STALL.as_secs()),
            BodyError::Malformed(m) => m.clone(),
        }
    }
}

/// Reads into `buf` what can be read without waiting (nothing if no bytes are ready): the
/// stream-generic `TcpStream::try_read_buf`. For TLS that is whatever whole records arrived.
async fn read_ready<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) {
    let mut read = pin!(stream.read_buf(buf));
    std::future::poll_fn(|cx| match read.as_mut().poll(cx) {
        Poll::Ready(_) | Poll::Pending => Poll::Ready(()),
    })
    .await;
}

/// Reads until `buf` holds at least `need` bytes.
async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    need: usize,
) -> Result<(), BodyError> {
    if buf.len() < need {
        buf.reserve(need - buf.len());
    }
    while buf.len() < need {
        match timeout(BODY_STALL, stream.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(BodyError::Eof),
            Err(_) => return Err(BodyError::Stalled),
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}

fn take(buf: &mut BytesMut, n: usize) -> Bytes {
    if n <= COPY_BODY_MAX {
        let body = Bytes::copy_from_slice(&buf[..n]);
        buf.advance(n);
        body
    } else {
        buf.split_to(n).freeze()
    }
}

async fn read_exact_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    n: usize,
) -> Result<Bytes, (Bytes, BodyError)> {
    match fill(stream, buf, n).await {
        Ok(()) => Ok(take(buf, n)),
        Err(e) => {
            let len = buf.len();
            Err((take(buf, len), e))
        }
    }
}

/// Reads one CRLF-terminated line (without the CRLF).
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<String, BodyError> {
    loop {
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            if i == 0 || buf[i - 1] != b'\r' {
                return Err(BodyError::Malformed(
                    "chunk line not terminated by CRLF".into(),
                ));
            }
            let line = String::from_utf8_lossy(&buf[..i - 1]).into_owned();
            buf.advance(i + 1);
            return Ok(line);
        }
        if buf.len() > 4096 {
            return Err(BodyError::Malformed("chunk line longer than 4 KiB".into()));
        }
        let need = buf.len() + 1;
        fill(stream, buf, need).await?;
    }
}

async fn read_chunked_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<Bytes, (Bytes, BodyError)> {
    let mut body = BytesMut::new();
    loop {
        let line = match read_line(stream, buf).await {
            Ok(line) => line,
            Err(e) => return Err((body.freeze(), e)),
        };
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = if !size_text.is_empty()
            && size_text.len() <= 15
            && size_text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            usize::from_str_radix(size_text, 16).ok()
        } else {
            None
        };
        let Some(size) = size else {
            let e = BodyError::Malformed(format!("malformed chunk size line {line:?}"));
            return Err((body.freeze(), e));
        };
        if size == 0 {
            // Trailer fields, up to the empty line.
            loop {
                match read_line(stream, buf).await {
                    Ok(line) if line.is_empty() => return Ok(body.freeze()),
                    Ok(_) => {}
                    Err(e) => return Err((body.freeze(), e)),
                }
            }
        }
        if body.len() + size > MAX_BODY {
            let e = BodyError::Malformed(format!("body over the mock's limit of {MAX_BODY} bytes"));
            return Err((body.freeze(), e));
        }
        if let Err(e) = fill(stream, buf, size + 2).await {
            let len = buf.len().min(size);
            body.extend_from_slice(&buf[..len]);
            return Err((body.freeze(), e));
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            buf.advance(size);
            let e = BodyError::Malformed("chunk data not followed by CRLF".into());
            return Err((body.freeze(), e));
        }
        buf.advance(size + 2);
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `bytes` and flushes them (a no-op for TCP; TLS may otherwise keep the last record
/// buffered while the writer sleeps between events).
async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Writes `reply`; `Ok(false)` when the connection must close afterwards.
async fn write_reply<S: AsyncWrite + Unpin>(
    stream: &mut S,
    reply: &Reply,
    n: u64,
    http10: bool,
    keep_alive: bool,
    delivery: Delivery,
) -> std::io::Result<bool> {
    let user_length = reply
        .extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    let streaming = matches!(reply.body, ReplyBody::Events(_));
    let close = !keep_alive
        || reply.close
        || user_length
        || (streaming && http10)
        || matches!(delivery, Delivery::Cut { .. });

    let mut head = Vec::with_capacity(256);
    let reason = http::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let _ = write!(head, "HTTP/1.1 {} {reason}\r\n", reply.status);
    if !reply.content_type.is_empty() {
        let _ = write!(head, "content-type: {}\r\n", reply.content_type);
    }
    let _ = write!(head, "x-request-id: req_{n}\r\n");
    for (k, v) in &reply.extra {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    match &reply.body {
        ReplyBody::Full(body) if !user_length => {
            let _ = write!(head, "content-length: {}\r\n", body.len());
        }
        ReplyBody::Full(_) => {}
        ReplyBody::Events(_) => {
            head.extend_from_slice(b"cache-control: no-cache\r\n");
            if !http10 {
                head.extend_from_slice(b"transfer-encoding: chunked\r\n");
            }
        }
    }
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    } else if http10 {
        head.extend_from_slice(b"connection: keep-alive\r\n");
    }
    head.extend_from_slice(b"\r\n");

    match &reply.body {
        ReplyBody::Full(body) => match delivery {
            Delivery::Normal { .. } => {
                head.extend_from_slice(body);
                send(stream, &head).await?;
            }
            Delivery::Cut { .. } => {
                head.extend_from_slice(&body[..body.len() / 2]);
                send(stream, &head).await?;
            }
            Delivery::Drip { interval } => {
                send(stream, &head).await?;
                let piece = body.len().div_ceil(DRIP_PIECES).max(1);
                for part in body.chunks(piece) {
                    sleep(interval).await;
                    send(stream, part).await?;
                }
            }
        },
        ReplyBody::Events(events) => {
            send(stream, &head).await?;
            let (count, interval, before_first) = match delivery {
                Delivery::Normal { interval } => (events.len(), interval, false),
                Delivery::Drip { interval } => (events.len(), interval, true),
                // Never the last event ([DONE]).
                Delivery::Cut {
                    events: k,
                    interval,
                } => (k.min(events.len().saturating_sub(1)), interval, false),
            };
            let mut frame = Vec::with_capacity(512);
            for (i, event) in events[..count].iter().enumerate() {
                if !interval.is_zero() && (i > 0 || before_first) {
                    sleep(interval).await;
                }
                frame.clear();
                if !http10 {
                    let _ = write!(frame, "{:x}\r\n", event.len());
                }
                frame.extend_from_slice(event);
                if !http10 {
                    frame.extend_from_slice(b"\r\n");
                }
                send(stream, &frame).await?;
            }
            if !matches!(delivery, Delivery::Cut { .. }) && !http10 {
                send(stream, b"0\r\n\r\n").await?;
            }
        }
    }
    Ok(!close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(&["12"]), Some(12));
        assert_eq!(parse_content_length(&["12", "12"]), Some(12));
        assert_eq!(parse_content_length(&["12, 12"]), Some(12));
        assert_eq!(parse_content_length(&["12", "13"]), None);
        assert_eq!(parse_content_length(&["-1"]), None);
        assert_eq!(parse_content_length(&["+1"]), None);
        assert_eq!(parse_content_length(&[""]), None);
    }

    #[test]
    fn request_start_probe() {
        assert!(looks_like_request_start(
            b"POST /v1/chat/completions HTTP/1.1\r\n"
        ));
        assert!(looks_like_request_start(b"\r\nGET / HTTP/1.1"));
        assert!(looks_like_request_start(b"PO"));
        assert!(!looks_like_request_start(b"}"));
        assert!(!looks_like_request_start(b"\"x\": 1}"));
        assert!(!looks_like_request_start(b" GET"));
    }

    #[test]
    fn connection_header() {
        let h = |v: &str| vec![("connection".to_owned(), v.to_owned())];
        assert!(keep_alive_requested(&[], false));
        assert!(!keep_alive_requested(&[], true));
        assert!(!keep_alive_requested(&h("close"), false));
        assert!(keep_alive_requested(&h("Keep-Alive"), true));
        assert!(!keep_alive_requested(&h("keep-alive, close"), false));
    }
}
