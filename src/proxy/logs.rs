//! The nginx path's log files: access log lines and tollgate's own log records (the
//! `error_log`) written by one background thread per configuration, fed through a bounded
//! channel, and reopened on demand ([`reopen_logs`], which the server calls on SIGUSR1).
//!
//! Owns: opening the files at start-up (failing like nginx, `open() "x" failed`), the writer
//! thread, and the process-wide `log` logger when an `error_log` is configured. It must not
//! block a request: a full channel drops the line and counts it, and it must not format
//! access lines (`http::log_format` does).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use crate::http::log_format::{time_error_log, LogSink, LogTargets};

/// Lines waiting for the writer; beyond this they are dropped rather than blocking.
const QUEUE: usize = 64 * 1024;
/// The writer flushes at least this often, and whenever its queue runs empty.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

enum Msg {
    Line(usize, String),
    Wake,
}

/// The log files of one configuration; dropping the last handle stops its writer.
#[derive(Debug)]
pub struct Logs {
    tx: SyncSender<Msg>,
    reopen: Arc<AtomicBool>,
    /// Lines dropped because the writer could not keep up.
    pub dropped: AtomicU64,
    /// The error log's index in the writer's files, if it is a file.
    error_file: Option<usize>,
}

/// Every live [`Logs`], for [`reopen_logs`].
static LIVE: Mutex<Vec<Weak<Logs>>> = Mutex::new(Vec::new());

/// Reopens every log file of every live configuration (SIGUSR1, `-s reopen`): after a
/// rotation (`mv access.log access.log.1`) lines go to a new file under the old name.
pub fn reopen_logs() {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.retain(|w| w.strong_count() > 0);
    for logs in live.iter().filter_map(Weak::upgrade) {
        logs.reopen.store(true, Ordering::Release);
        // A full queue will be drained soon; the flag is seen then.
        let _ = logs.tx.try_send(Msg::Wake);
    }
}

fn open_file(path: &str) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            let code = e.raw_os_error().unwrap_or(0);
            format!("open() \"{path}\" failed ({code}: {e})")
        })
}

impl Logs {
    /// Opens the access logs and the error log file of `targets` and starts the writer.
    pub fn open(targets: &LogTargets) -> Result<Arc<Logs>, String> {
        let mut paths = targets.access.clone();
        let error_file = match &targets.error {
            Some((p, _)) if p != "stderr" => Some(paths.len()).inspect(|_| paths.push(p.clone())),
            _ => None,
        };
        let mut files = Vec::with_capacity(paths.len());
        for p in &paths {
            files.push(BufWriter::new(open_file(p)?));
        }
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let reopen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&reopen);
        std::thread::Builder::new()
            .name("tollgate-logs".into())
            .spawn(move || writer(rx, paths, files, &flag))
            .map_err(|e| format!("log writer thread: {e}"))?;
        let logs = Arc::new(Logs {
            tx,
            reopen,
            dropped: AtomicU64::new(0),
            error_file,
        });
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&logs));
        Ok(logs)
    }
}

impl LogSink for Logs {
    fn line(&self, file: usize, mut line: String) {
        line.push('\n');
        match self.tx.try_send(Msg::Line(file, line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn writer(
    rx: mpsc::Receiver<Msg>,
    paths: Vec<String>,
    mut files: Vec<BufWriter<File>>,
    reopen: &AtomicBool,
) {
    loop {
        let first = match rx.recv_timeout(FLUSH_EVERY) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Drain what is queued before flushing: one write per batch under load.
        for m in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            if let Msg::Line(i, line) = m {
                if let Some(f) = files.get_mut(i) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
        for f in &mut files {
            let _ = f.flush();
        }
        if reopen.swap(false, Ordering::AcqRel) {
            for (f, p) in files.iter_mut().zip(&paths) {
                // Keep writing to the old file if the new one cannot be opened (nginx too).
                if let Ok(new) = open_file(p) {
                    *f = BufWriter::new(new);
                }
            }
        }
    }
    for f in &mut files {
        let _ = f.flush();
    }
}

/// Where tollgate's own records go when an `error_log` is configured.
struct ErrorLogger {
    target: RwLock<Option<(Arc<Logs>, log::LevelFilter)>>,
}

static ERROR_LOGGER: ErrorLogger = ErrorLogger {
    target: RwLock::new(None),
};

impl log::Log for ErrorLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let t = self.target.read().unwrap_or_else(|p| p.into_inner());
        t.as_ref().is_some_and(|(_, lvl)| m.level() <= *lvl)
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let t = self.target.read().unwrap_or_else(|p| p.into_inner());
        let Some((logs, _)) = t.as_ref() else { return };
        // nginx's shape: `2026/11/22 06:37:14 [error] 123#0: message`.
        let mut line = String::with_capacity(96);
        time_error_log(SystemTime::now(), &mut line);
        let level = r.level().as_str().to_ascii_lowercase();
        let pid = std::process::id();
        line.push_str(&format!(" [{level}] {pid}#0: {}", r.args()));
        match logs.error_file {
            Some(i) => logs.line(i, line),
            None => eprintln!("{line}"),
        }
    }

    fn flush(&self) {}
}

/// Sends tollgate's log records to the configured `error_log` (file or stderr) at its
/// level; without one, `RUST_LOG` and stderr as before. Called again after a reload, it
/// switches the target.
pub fn init_error_log(logs: &Arc<Logs>, targets: &LogTargets) {
    let Some((_, level)) = &targets.error else {
        let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
            .try_init();
        return;
    };
    *ERROR_LOGGER
        .target
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Some((Arc::clone(logs), *level));
    if log::set_logger(&ERROR_LOGGER).is_ok() || log::max_level() < *level {
        log::set_max_level(*level);
    }
}

/// Opens `runtime`'s log files, points the `log` crate at its `error_log` and attaches the
/// access log sink: what starting (or reloading) an nginx configuration must do before
/// serving it.
pub fn attach(runtime: &mut crate::http::Runtime) -> Result<(), String> {
    let logs = Logs::open(&runtime.site.logs)?;
    init_error_log(&logs, &runtime.site.logs);
    runtime.log_sink = Some(logs);
    Ok(())
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;
