//! Process control the nginx way: the pid file a running server writes, and `-s
//! reload|stop|quit|reopen`, which reads it and signals that process.
//!
//! Owns: the command names and their signals (nginx's: reload = SIGHUP, stop = SIGTERM,
//! quit = SIGQUIT, reopen = SIGUSR1), reading and writing pid files, and nginx's messages for
//! each failure. Must not: decide what a signal does inside the server (server.rs does), or
//! print (the CLI prints the error it returns).

use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A `-s` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Reload,
    Stop,
    Quit,
    Reopen,
}

impl Command {
    /// Parses the argument of `-s`; `None` for anything nginx would refuse.
    pub fn parse(s: &str) -> Option<Command> {
        match s {
            "reload" => Some(Command::Reload),
            "stop" => Some(Command::Stop),
            "quit" => Some(Command::Quit),
            "reopen" => Some(Command::Reopen),
            _ => None,
        }
    }

    pub fn signal(self) -> Signal {
        match self {
            Command::Reload => Signal::SIGHUP,
            Command::Stop => Signal::SIGTERM,
            Command::Quit => Signal::SIGQUIT,
            Command::Reopen => Signal::SIGUSR1,
        }
    }
}

/// Why a `-s` command failed; messages are nginx's, with its log level.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    #[error("[error] open() \"{path}\" failed ({errno}: {reason})")]
    Open {
        path: String,
        errno: i32,
        reason: String,
    },
    #[error("[error] invalid PID number \"{value}\" in \"{path}\"")]
    InvalidPid { value: String, path: String },
    #[error("[alert] kill({pid}, {signal}) failed ({errno}: {reason})")]
    Kill {
        pid: i32,
        signal: i32,
        errno: i32,
        reason: String,
    },
}

/// Reads the pid file and sends `cmd`'s signal to that process.
pub fn send(pid_file: &Path, cmd: Command) -> Result<i32, ControlError> {
    let pid = read_pid(pid_file)?;
    let sig = cmd.signal();
    kill(Pid::from_raw(pid), sig).map_err(|e| ControlError::Kill {
        pid,
        signal: sig as i32,
        errno: e as i32,
        reason: strerror(e as i32),
    })?;
    Ok(pid)
}

/// The pid in `path`, as nginx reads it: the file's text up to the first newline.
pub fn read_pid(path: &Path) -> Result<i32, ControlError> {
    let display = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| {
        let errno = e.raw_os_error().unwrap_or(0);
        ControlError::Open {
            path: display.clone(),
            errno,
            reason: strerror(errno),
        }
    })?;
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let value = String::from_utf8_lossy(line).into_owned();
    value
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or(ControlError::InvalidPid {
            value,
            path: display,
        })
}

/// A pid file this process owns: written at start, removed at exit only while it still names
/// this process (after a reload hand-over the new process has rewritten it).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    /// Writes `pid` followed by a newline, like nginx.
    pub fn write(path: &Path, pid: u32) -> std::io::Result<PidFile> {
        std::fs::write(path, format!("{pid}\n"))?;
        Ok(PidFile {
            path: path.to_owned(),
            pid,
        })
    }

    /// Removes the file if it still holds this process's pid.
    pub fn remove_if_ours(&self) {
        if read_pid(&self.path).ok() == i32::try_from(self.pid).ok() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The C library's text for `errno` (as nginx prints it), without the " (os error N)" suffix
/// std adds.
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_signals() {
        assert_eq!(
            Command::parse("reload").map(Command::signal),
            Some(Signal::SIGHUP)
        );
        assert_eq!(
            Command::parse("stop").map(Command::signal),
            Some(Signal::SIGTERM)
        );
        assert_eq!(
            Command::parse("quit").map(Command::signal),
            Some(Signal::SIGQUIT)
        );
        assert_eq!(
            Command::parse("reopen").map(Command::signal),
            Some(Signal::SIGUSR1)
        );
        assert_eq!(Command::parse("restart"), None);
        assert_eq!(Command::parse("RELOAD"), None);
    }

    #[test]
    fn nginx_messages_for_bad_pid_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pid");
        assert_eq!(
            read_pid(&missing).unwrap_err().to_string(),
            format!(
                "[error] open() \"{}\" failed (2: No such file or directory)",
                missing.display()
            )
        );
        let empty = dir.path().join("empty.pid");
        std::fs::write(&empty, "\n").unwrap();
        assert_eq!(
            read_pid(&empty).unwrap_err().to_string(),
            format!("[error] invalid PID number \"\" in \"{}\"", empty.display())
        );
        let junk = dir.path().join("junk.pid");
        std::fs::write(&junk, "abc\n").unwrap();
        assert!(matches!(
            read_pid(&junk),
            Err(ControlError::InvalidPid { value, .. }) if value == "abc"
        ));
    }

    #[test]
    fn kill_of_a_dead_pid_is_nginx_alert() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("dead.pid");
        // Above the kernel's pid_max (4194304 at most), so no such process can exist.
        std::fs::write(&f, "99999999\n").unwrap();
        assert_eq!(
            send(&f, Command::Reload).unwrap_err().to_string(),
            "[alert] kill(99999999, 1) failed (3: No such process)"
        );
    }

    #[test]
    fn pid_file_is_removed_only_while_ours() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.pid");
        let ours = PidFile::write(&f, 4242).unwrap();
        assert_eq!(read_pid(&f), Ok(4242));
        // A new process took over and rewrote it: leave it alone.
        std::fs::write(&f, "4343\n").unwrap();
        ours.remove_if_ours();
        assert_eq!(read_pid(&f), Ok(4343));
        std::fs::write(&f, "4242\n").unwrap();
        ours.remove_if_ours();
        assert!(!f.exists());
    }

    #[test]
    fn signal_reaches_a_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("self.pid");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&f, format!("{}\n", child.id())).unwrap();
        assert_eq!(send(&f, Command::Stop), Ok(child.id() as i32));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::SIGTERM as i32));
    }
}
