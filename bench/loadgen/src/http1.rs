//! A minimal HTTP/1.1 keep-alive client for load generation.
//!
//! Owns: writing one prebuilt request, reading the response (Content-Length or chunked), and
//! timing SSE events as their bytes arrive. Must not: allocate per request beyond its buffers
//! (the generator must not be the bottleneck) or follow redirects, TLS, h2.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The fixed request every worker sends.
pub struct Target {
    addr: String,
    request: Vec<u8>,
}

impl Target {
    pub fn new(
        url: &str,
        body: Option<&std::path::Path>,
        headers: &[String],
    ) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("only http:// URLs are supported")?;
        let (addr, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let body = match body {
            Some(p) => std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
            None => Vec::new(),
        };
        let method = if body.is_empty() { "GET" } else { "POST" };
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
        for h in headers {
            req.push_str(h);
            req.push_str("\r\n");
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
            if !headers
                .iter()
                .any(|h| h.to_ascii_lowercase().starts_with("content-type:"))
            {
                req.push_str("Content-Type: application/json\r\n");
            }
        }
        req.push_str("\r\n");
        let mut request = req.into_bytes();
        request.extend_from_slice(&body);
        Ok(Target {
            addr: addr.to_owned(),
            request,
        })
    }
}

/// What one request measured.
pub struct Sample {
    pub status: u16,
    /// From the scheduled start to the last byte.
    pub latency: Duration,
    /// From the scheduled start to the first SSE `data:` event, for streams.
    pub ttft: Option<Duration>,
    /// Gaps between reads that carried events, for streams.
    pub gaps: Vec<Duration>,
    pub events: u64,
}

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn connect(t: &Target) -> Result<Conn, String> {
        let stream = TcpStream::connect(&t.addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    async fn fill(&mut self) -> Result<usize, String> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self
            .stream
            .read(&mut tmp)
            .await
            .map_err(|e| e.to_string())?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// Sends the request and reads the whole response; `bool` = the connection is reusable.
    pub async fn request(&mut self, t: &Target, sched: Instant) -> Result<(Sample, bool), String> {
        self.stream
            .write_all(&t.request)
            .await
            .map_err(|e| e.to_string())?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill().await? == 0 {
                return Err("closed before response".into());
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        self.buf.drain(..head_end);
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("bad status line")?;
        let reusable = !head.contains("\r\nconnection: close");
        let mut sample = Sample {
            status,
            latency: Duration::ZERO,
            ttft: None,
            gaps: Vec::new(),
            events: 0,
        };
        if head.contains("\r\ntransfer-encoding: chunked") {
            self.read_chunked(sched, &mut sample).await?;
        } else {
            let len: usize = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while self.buf.len() < len {
                if self.fill().await? == 0 {
                    return Err("closed mid-body".into());
                }
            }
            self.buf.drain(..len);
        }
        sample.latency = sched.elapsed();
        Ok((sample, reusable))
    }

    async fn read_chunked(&mut self, sched: Instant, s: &mut Sample) -> Result<(), String> {
        let mut last_event: Option<Instant> = None;
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                if self.fill().await? == 0 {
                    return Err("closed mid-chunk".into());
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err("closed mid-chunk".into());
                }
            }
            if size == 0 {
                self.buf.drain(..2);
                return Ok(());
            }
            let events = count_events(&self.buf[..size]);
            if events > 0 {
                let now = Instant::now();
                match last_event {
                    None => s.ttft = Some(now - sched),
                    Some(prev) => s.gaps.push(now - prev),
                }
                last_event = Some(now);
                s.events += events;
            }
            self.buf.drain(..size + 2);
        }
    }
}

/// `data:` events other than `[DONE]` in a chunk.
fn count_events(chunk: &[u8]) -> u64 {
    let mut n = 0;
    let mut at = 0;
    while let Some(i) = find(&chunk[at..], b"data:") {
        let pos = at + i;
        let start = pos + 5;
        // Only at a line start: JSON strings cannot hold a raw newline, so "\ndata:" is a
        // field, while "data:" inside a content string is not.
        let line_start = pos == 0 || chunk[pos - 1] == b'\n' || chunk[pos - 1] == b'\r';
        let rest = &chunk[start..];
        let trimmed = rest.strip_prefix(b" ").unwrap_or(rest);
        if line_start && !trimmed.starts_with(b"[DONE]") {
            n += 1;
        }
        at = start;
    }
    n
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_but_not_done() {
        assert_eq!(
            count_events(b"data: {\"a\":1}\n\ndata: {}\n\ndata: [DONE]\n\n"),
            2
        );
        assert_eq!(count_events(b": ping\n\n"), 0);
        assert_eq!(count_events(b"data: {\"c\":\"data: x\"}\n\n"), 1);
    }

    #[test]
    fn builds_requests() {
        let t = Target::new("http://127.0.0.1:9/v1/x", None, &["A: b".into()]).unwrap();
        let r = String::from_utf8(t.request).unwrap();
        assert!(r.starts_with("GET /v1/x HTTP/1.1\r\nHost: 127.0.0.1:9\r\nA: b\r\n\r\n"));
        assert!(Target::new("https://x", None, &[]).is_err());
    }
}
