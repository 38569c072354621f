//! Reload by hand-over (SIGHUP, `-s reload`, when an in-process reload cannot apply the new
//! configuration because its listening sockets differ: reload_in_process.rs): the running
//! server tests the configuration in a child process (`-t`), and only if it passes starts a
//! successor with `--upgrade`. pingora
//! then passes the listening sockets to the successor over a Unix socket, and this process
//! stops accepting and drains: requests and streams in flight finish here, new connections
//! go to the successor, and no connection is refused in between (the listening sockets never
//! close).
//!
//! Owns: the successor's command line, the config test before it, waiting until the successor
//! is ready to take the sockets, and the hand-over socket's path. Must not: touch pingora's
//! server or signals (server.rs does), or parse configurations itself (the child does).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The hidden flag a successor is started with.
pub const UPGRADE_FLAG: &str = "--upgrade";

/// How long the successor may take to start listening for the hand-over.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts successors of this process.
#[derive(Debug, Clone)]
pub struct Reloader {
    exe: PathBuf,
    /// This process's arguments, without the hand-over flag.
    args: Vec<OsString>,
    sock: PathBuf,
}

impl Reloader {
    /// A reloader re-running this executable with this process's arguments.
    pub fn for_this_process(sock: PathBuf) -> std::io::Result<Reloader> {
        let args = std::env::args_os()
            .skip(1)
            .filter(|a| a != UPGRADE_FLAG)
            .collect();
        Ok(Reloader {
            exe: std::env::current_exe()?,
            args,
            sock,
        })
    }

    /// Tests the configuration as it is on disk now; the error is what `-t` printed.
    pub fn check(&self) -> Result<(), String> {
        let out = Command::new(&self.exe)
            .args(&self.args)
            .arg("-t")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Starts the successor and waits until it listens for the sockets. An error means no
    /// hand-over may happen: the successor exited or never got ready (it is killed then).
    pub fn start_successor(&self) -> Result<Child, String> {
        // A stale socket file from an earlier hand-over must not look like readiness.
        let _ = std::fs::remove_file(&self.sock);
        let mut child = Command::new(&self.exe)
            .args(&self.args)
            .arg(UPGRADE_FLAG)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let until = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("the new process exited early ({status})"));
            }
            if self.sock.exists() {
                return Ok(child);
            }
            if Instant::now() >= until {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the new process did not get ready in time".to_owned());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The hand-over socket for a configuration file: the same for a server and its successors
/// (both are started with the same `-c`), different for servers of other configurations.
pub fn upgrade_sock_for(config: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_owned());
    let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let name = format!("tollgate-upgrade-{}.sock", &hex::encode(digest)[..16]);
    std::env::temp_dir().join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sock_path_is_stable_per_config_and_distinct_between_configs() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        assert_eq!(upgrade_sock_for(&a), upgrade_sock_for(&a));
        // Two spellings of one file agree.
        let dotted = dir.path().join(".").join("a.yaml");
        assert_eq!(upgrade_sock_for(&dotted), upgrade_sock_for(&a));
        assert_ne!(upgrade_sock_for(&a), upgrade_sock_for(&b));
    }

    fn reloader(exe: &str, args: &[&str], sock: PathBuf) -> Reloader {
        Reloader {
            exe: PathBuf::from(exe),
            args: args.iter().map(OsString::from).collect(),
            sock,
        }
    }

    #[test]
    fn a_failing_check_reports_what_the_child_printed() {
        let dir = tempfile::tempdir().unwrap();
        // `sh -c SCRIPT -t`: the script sees -t as $0 and fails with a message.
        let r = reloader(
            "/bin/sh",
            &["-c", "echo 'bad config' >&2; exit 1"],
            dir.path().join("s"),
        );
        assert_eq!(r.check(), Err("bad config".to_owned()));
        let ok = reloader("/bin/sh", &["-c", "exit 0"], dir.path().join("s"));
        assert_eq!(ok.check(), Ok(()));
    }

    #[test]
    fn successor_that_exits_early_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let r = reloader("/bin/sh", &["-c", "exit 3"], dir.path().join("s"));
        let e = r.start_successor().unwrap_err();
        assert!(e.contains("exited early"), "{e}");
    }

    #[test]
    fn successor_is_ready_once_its_socket_exists() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        // The "successor" creates the socket file, then lingers like a server would.
        let script = format!("touch {}; sleep 5", sock.display());
        let r = reloader("/bin/sh", &["-c", &script], sock);
        let mut child = r.start_successor().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
