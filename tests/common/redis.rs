//! A `redis-server` of the test's own on a free loopback port (never the machine's shared
//! one), with its data in a temp dir. Dropping it kills the server.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    persist: bool,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a server; with `persist`, every write is appended and fsynced (AOF) so a
    /// restart (even after SIGKILL) loses nothing.
    pub fn start(persist: bool) -> Redis {
        let mut r = Redis {
            child: None,
            port: super::free_port(),
            persist,
            dir: tempfile::tempdir().expect("redis dir"),
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open, answers stop.
    pub fn freeze(&self, frozen: bool) {
        if let Some(c) = &self.child {
            let sig = if frozen { "-STOP" } else { "-CONT" };
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }

    /// (Re)starts the server on the same port and data dir, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = spawn(self.port, self.dir.path(), self.persist);
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(port: u16, dir: &Path, persist: bool) -> Child {
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .arg("--dir")
    .arg(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if persist {
        cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        cmd.args(["--appendonly", "no"]);
    }
    cmd.spawn()
        .expect("redis-server must be installed (make test installs it)")
}
