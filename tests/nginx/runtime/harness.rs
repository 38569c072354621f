//! The differential harness's processes and client: real nginx and tollgate started on the
//! same rendered configuration (one after the other, on the same port, killed on drop), and
//! a raw HTTP/1.1 client that sends targets byte for byte (no URL normalisation) and reads
//! the whole response, every wait bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const NGINX: &str = "/usr/sbin/nginx";
const START_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A server process (nginx or tollgate), stopped and reaped on drop.
pub struct Proc {
    child: Child,
    stderr: std::path::PathBuf,
}

fn wait_listening(port: u16, child: &mut Child, what: &str, stderr: &Path) {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status}: {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        if TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(100))
            .is_ok()
        {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on {port}");
}

impl Proc {
    /// nginx 1.22 in the foreground, one process, logs under `dir`.
    pub fn nginx(dir: &Path, conf: &Path, port: u16) -> Proc {
        let d = dir.display();
        let globals =
            format!("daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;");
        let stderr = dir.join("nginx.stderr");
        let mut child = Command::new(NGINX)
            .args([
                "-p",
                &format!("{d}/"),
                "-c",
                &conf.display().to_string(),
                "-g",
                &globals,
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start nginx");
        wait_listening(port, &mut child, "nginx", &stderr);
        Proc { child, stderr }
    }

    pub fn tollgate(dir: &Path, conf: &Path, port: u16) -> Proc {
        let stderr = dir.join("tollgate.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args([
                "-p",
                &format!("{}/", dir.display()),
                "-c",
                &conf.display().to_string(),
            ])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tollgate");
        wait_listening(port, &mut child, "tollgate", &stderr);
        Proc { child, stderr }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request of a test's list.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub target: String,
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Send the body with `Transfer-Encoding: chunked` instead of Content-Length.
    pub chunked: bool,
}

impl Req {
    pub fn get(target: &str) -> Req {
        Req {
            method: "GET",
            target: target.to_owned(),
            host: Some("localhost".into()),
            headers: Vec::new(),
            body: String::new(),
            chunked: false,
        }
    }

    pub fn post_chunked(mut self, body: &str) -> Req {
        self.chunked = true;
        self.post(body)
    }

    pub fn host(mut self, host: Option<&str>) -> Req {
        self.host = host.map(str::to_owned);
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn post(mut self, body: &str) -> Req {
        self.method = "POST";
        self.body = body.to_owned();
        self
    }

    /// Without a Host header the request is HTTP/1.0 (HTTP/1.1 requires one).
    fn wire(&self) -> String {
        let version = if self.host.is_some() {
            "HTTP/1.1"
        } else {
            "HTTP/1.0"
        };
        let mut s = format!("{} {} {version}\r\n", self.method, self.target);
        if let Some(h) = &self.host {
            s.push_str(&format!("Host: {h}\r\n"));
        }
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        if self.chunked {
            s.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
            s.push_str(&format!(
                "{:x}\r\n{}\r\n0\r\n\r\n",
                self.body.len(),
                self.body
            ));
            return s;
        }
        if self.method == "POST" {
            s.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        s.push_str("Connection: close\r\n\r\n");
        s.push_str(&self.body);
        s
    }
}

/// A response as read from the wire.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status line's protocol version.
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[end + 2..end + 2 + size]);
        rest = &rest[(end + 4 + size).min(rest.len())..];
    }
    out
}

/// Sends `req` to 127.0.0.1:`port` and reads the response until the server closes.
pub fn send(port: u16, req: &Req) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(req.wire().as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no response head for {req:?}: {:?}",
                String::from_utf8_lossy(&raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let version = status_line.split(' ').next().unwrap_or("").to_owned();
    let status = Some(status_line)
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        version,
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Reads a streamed response and returns each body read with the time it arrived.
pub fn stream_timings(port: u16, req: &Req) -> Vec<(Duration, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(req.wire().as_bytes()).unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push((
                start.elapsed(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            )),
        }
    }
    out
}
