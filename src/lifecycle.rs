//! The process around the server: how it is started (fresh, or as the successor of a reload),
//! its pid file, and what each signal does.
//!
//! Signals: SIGTERM and SIGQUIT stop gracefully (stop accepting, let requests and streams in
//! flight finish within the grace period, exit as soon as none is left); SIGINT stops at once;
//! SIGHUP reloads: in this process when the listening sockets allow it (reload_in_process.rs),
//! else by hand-over to a new process (reload.rs); either way a bad configuration is logged
//! and changes nothing; SIGUSR1 reopens log files. `-s stop|quit|reload|reopen` sends
//! SIGTERM, SIGQUIT, SIGHUP, SIGUSR1 through the pid file (control.rs).
//!
//! Owns: pingora's `ServerConf`/`Opt` parts that concern the process (threads, grace, the
//! hand-over socket, `upgrade`), the pid file's life, the signal loop. Must not: build
//! services or handle requests (server.rs and proxy/ do).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{Server, ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{signal, SignalKind};

use crate::control::PidFile;
use crate::reload::{self, Reloader};
use crate::reload_in_process::{self as in_process, Outcome};

/// How this process was started and where it reports its pid.
#[derive(Debug, Clone, Default)]
pub struct Process {
    /// The configuration file (`-c`): it names the hand-over socket of reloads.
    pub config_path: PathBuf,
    /// Where to write the pid, if anywhere.
    pub pid_file: Option<PidTarget>,
    /// Started by a reload (`--upgrade`): take the listening sockets over from the running
    /// server instead of binding them.
    pub upgrade: bool,
}

/// A pid file and whether failing to write it is fatal (an explicitly configured one) or only
/// worth a warning (nginx's default path, whose directory may not exist).
#[derive(Debug, Clone)]
pub struct PidTarget {
    pub path: PathBuf,
    pub required: bool,
}

/// Hook called on SIGUSR1 (reopen log files).
pub type Reopen = Arc<dyn Fn() + Send + Sync>;

/// The pid file this process wrote, removed when it exits (if still ours).
static PID_FILE: OnceLock<PidFile> = OnceLock::new();

/// A pingora server for this process: `threads` workers, `grace` for in-flight work at
/// shutdown, and (for a successor) the listening sockets of its predecessor.
pub fn new_server(process: &Process, threads: usize, grace: Duration) -> Result<Server, String> {
    let mut conf = ServerConf::new().ok_or("pingora server defaults")?;
    conf.threads = threads;
    conf.grace_period_seconds = Some(grace.as_secs().max(1));
    conf.graceful_shutdown_timeout_seconds = Some(1);
    conf.upgrade_sock = reload::upgrade_sock_for(&process.config_path)
        .display()
        .to_string();
    let opt = Opt {
        upgrade: process.upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    // A successor blocks here until its predecessor has passed the listening sockets.
    server.bootstrap();
    Ok(server)
}

/// Writes the pid file (once the listeners are ours) and returns the signal handler to run
/// the server with; `in_process` is tried first on SIGHUP.
pub fn start(
    process: &Process,
    reopen: Reopen,
    in_process: in_process::Reload,
) -> Result<Signals, String> {
    if let Some(target) = &process.pid_file {
        match PidFile::write(&target.path, std::process::id()) {
            Ok(p) => {
                let _ = PID_FILE.set(p);
            }
            Err(e) if target.required => {
                return Err(format!("open() \"{}\" failed ({e})", target.path.display()));
            }
            Err(e) => log::warn!(
                "cannot write the pid file {} ({e}); -s will not find this process",
                target.path.display()
            ),
        }
    }
    let sock = reload::upgrade_sock_for(&process.config_path);
    let reloader = match Reloader::for_this_process(sock) {
        Ok(r) => Some(r),
        Err(e) => {
            log::warn!("reload by SIGHUP is unavailable: {e}");
            None
        }
    };
    Ok(Signals {
        reloader,
        reopen,
        in_process,
    })
}

/// Removes the pid file if it still names this process (call before exiting).
pub fn finish() {
    if let Some(p) = PID_FILE.get() {
        p.remove_if_ours();
    }
}

/// pingora's shutdown-signal source, extended with SIGHUP (reload) and SIGUSR1 (reopen).
pub struct Signals {
    reloader: Option<Reloader>,
    reopen: Reopen,
    in_process: in_process::Reload,
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut quit), Ok(mut int), Ok(mut hup), Ok(mut usr1)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::quit()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined1()),
        ) else {
            log::error!("cannot install signal handlers; shutting down");
            return ShutdownSignal::FastShutdown;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return ShutdownSignal::GracefulTerminate,
                _ = quit.recv() => return ShutdownSignal::GracefulTerminate,
                _ = int.recv() => return ShutdownSignal::FastShutdown,
                _ = hup.recv() => {
                    if self.reload().await {
                        return ShutdownSignal::GracefulUpgrade;
                    }
                }
                _ = usr1.recv() => {
                    log::info!("SIGUSR1: reopening log files");
                    (self.reopen)();
                }
            }
        }
    }
}

impl Signals {
    /// Applies the configuration in this process if it can; otherwise tests it and starts
    /// the successor. True when the hand-over may go ahead. Runs off the async workers
    /// (parsing, resolving and waiting for child processes block).
    async fn reload(&self) -> bool {
        log::info!("SIGHUP: reading the configuration again");
        let apply = Arc::clone(&self.in_process);
        let why = match tokio::task::spawn_blocking(move || apply()).await {
            Ok(Outcome::Applied) => {
                log::info!("reload: configuration applied in-process");
                return false;
            }
            Ok(Outcome::Refused(e)) => {
                log::error!("reload refused, still serving the previous configuration: {e}");
                return false;
            }
            Ok(Outcome::HandOver(why)) => why,
            Err(e) => {
                log::error!("reload failed: {e}");
                return false;
            }
        };
        let Some(r) = self.reloader.clone() else {
            log::error!("reload needs a new process ({why}), which is unavailable here");
            return false;
        };
        log::info!("reload: needs a new process ({why}); testing the configuration");
        let started = tokio::task::spawn_blocking(move || {
            r.check()?;
            r.start_successor()
        })
        .await;
        match started {
            Ok(Ok(_successor)) => {
                log::info!("reload: new process started; handing the listeners over");
                true
            }
            Ok(Err(e)) => {
                log::error!("reload refused, still serving the previous configuration: {e}");
                false
            }
            Err(e) => {
                log::error!("reload failed: {e}");
                false
            }
        }
    }
}
