//! The echo upstream of the differential harness: a small blocking HTTP/1.x server on
//! loopback that answers every request with a JSON record of what it received (server name,
//! method, target, version, headers in order, body), then closes the connection.
//!
//! It answers in the request's HTTP version (as many backends do), so a proxy relaying an
//! upstream's HTTP/1.0 status line shows. Request headers steer the answer, so one server
//! covers every test: `X-Echo-Status: N` sets the status, `X-Echo-Header: Name: value` adds a response header, a target
//! containing `/sse` streams three events 300 ms apart with `text/event-stream`, and
//! `X-Echo-Delay: NAME=MS` / `X-Echo-Close: NAME` make only the server called NAME wait
//! before answering / close the connection without answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A running echo server; stops accepting when dropped.
pub struct Echo {
    stop: Arc<AtomicBool>,
}

impl Echo {
    pub fn start(name: &str, port: u16) -> Echo {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind echo");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let name = name.to_owned();
        thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let name = name.clone();
                        thread::spawn(move || {
                            let _ = serve(&name, s);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Echo { stop }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn serve(name: &str, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    serve_stream(name, &mut stream, "").map(|_| ())
}

/// Answers one request read from `stream`; `extra` is appended to the JSON record (the TLS
/// echo's `,"sni":...` fields). `Ok(true)`: the request asked to keep the connection open
/// (`X-Echo-Keepalive`, answered with `Connection: keep-alive`).
pub fn serve_stream<S: Read + Write>(name: &str, stream: S, extra: &str) -> std::io::Result<bool> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.trim_end().splitn(3, ' ');
    let (method, target, version) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let get = |n: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let mut body = Vec::new();
    if let Some(len) = get("content-length")
        .first()
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if get("transfer-encoding")
        .iter()
        .any(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let out = reader.get_mut();
    if get("x-echo-close").iter().any(|v| v == name) {
        return Ok(false);
    }
    let keepalive = !get("x-echo-keepalive").is_empty();
    for v in get("x-echo-delay") {
        if let Some(ms) = v
            .strip_prefix(&format!("{name}="))
            .and_then(|m| m.parse().ok())
        {
            thread::sleep(Duration::from_millis(ms));
        }
    }
    if target.contains("/sse") {
        out.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
        )?;
        for i in 0..3 {
            write!(out, "data: {name}-{i}\n\n")?;
            out.flush()?;
            thread::sleep(Duration::from_millis(300));
        }
        return Ok(false);
    }
    let status = get("x-echo-status")
        .first()
        .cloned()
        .unwrap_or_else(|| "200".into());
    let hdrs: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("[{},{}]", json_str(k), json_str(v)))
        .collect();
    let record = format!(
        "{{\"server\":{},\"method\":{},\"target\":{},\"version\":{},\"headers\":[{}],\"body\":{}{extra}}}",
        json_str(name),
        json_str(&method),
        json_str(&target),
        json_str(&version),
        hdrs.join(","),
        json_str(&String::from_utf8_lossy(&body)),
    );
    let mut head = format!(
        "{version} {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\nServer: echo\r\nX-Pad: pad\r\n",
        record.len(),
        if keepalive { "keep-alive" } else { "close" },
    );
    for extra in get("x-echo-header") {
        head.push_str(&extra);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(record.as_bytes())?;
    out.flush()?;
    Ok(keepalive)
}
