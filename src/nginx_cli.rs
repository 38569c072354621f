//! The `tollgate` CLI for nginx configurations: `-t`, `-T`, `-p`, `-g` with nginx's output.
//!
//! Owns: turning the nginx front end's result into what nginx prints (on stderr, prefixed
//! `tollgate:` where nginx says `nginx:`), the `-T` dump on stdout, and the exit status.
//! Without `-t`/`-T` it serves the configuration (lowered by `tollgate::http`), or refuses
//! with an `[emerg]` naming the first directive it cannot serve and its file:line. It must
//! not parse anything itself.

use std::io::Write;
use std::process::ExitCode;

use tollgate::control::Command;
use tollgate::lifecycle::{PidTarget, Process};
use tollgate::nginx::{self, support, Diag, Options, RealFs};
use tollgate::reload_in_process::{NginxLoaded, NginxLoader};
use tollgate::{http, server};

/// What the CLI asked for.
pub struct Request<'a> {
    pub conf: &'a str,
    pub prefix: Option<&'a str>,
    pub globals: Option<String>,
    pub test: bool,
    pub dump: bool,
    /// nginx's `-q`: only errors while testing.
    pub quiet: bool,
    /// nginx's `-s`: signal the running server through the `pid` file.
    pub signal: Option<Command>,
    /// Started by a reload: take the listening sockets over.
    pub upgrade: bool,
}

/// Runs the request and returns the process exit status.
pub fn run(req: &Request<'_>) -> ExitCode {
    let opts = Options::new(req.conf, &prefix(req.prefix), req.globals.clone());
    let file = opts.conf_file.clone();
    let checking = req.test || req.dump;
    let config = match nginx::parse(&RealFs, &opts) {
        Ok(config) => config,
        Err(diag) => {
            emerg(&diag.to_string());
            if checking {
                eprintln!("tollgate: configuration file {file} test failed");
            }
            return ExitCode::FAILURE;
        }
    };
    if let Some(cmd) = req.signal {
        return crate::send_signal(&pid_target(&config, &opts).path, cmd);
    }
    if checking {
        if !req.quiet {
            eprintln!("tollgate: the configuration file {file} syntax is ok");
            eprintln!("tollgate: configuration file {file} test is successful");
        }
        if req.dump {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(&nginx::dump(&config))
                .and_then(|()| out.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let process = Process {
        config_path: std::path::PathBuf::from(&file),
        pid_file: Some(pid_target(&config, &opts)),
        upgrade: req.upgrade,
    };
    match serve(&config, opts, &process) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            emerg(&message);
            ExitCode::FAILURE
        }
    }
}

/// Serves `config`; `opts` are kept to read it again on reload.
fn serve(config: &nginx::Config, opts: Options, process: &Process) -> Result<(), String> {
    let loaded = load(config, &opts)?;
    let mut runtime = loaded.runtime;
    tollgate::proxy::logs::attach(&mut runtime)?;
    let reopen = std::sync::Arc::new(tollgate::proxy::logs::reopen_logs);
    let reload: NginxLoader = std::sync::Arc::new(move || {
        let config = nginx::parse(&RealFs, &opts).map_err(|diag| diag.to_string())?;
        load(&config, &opts)
    });
    server::run_nginx(runtime, loaded.llm, reload, process, reopen)
}

/// What serving `config` needs, its log files not opened yet; running an nginx config must
/// never silently ignore a directive, so anything not implemented is refused with its
/// file:line first.
fn load(config: &nginx::Config, opts: &Options) -> Result<NginxLoaded, String> {
    if let Some(d) = support::first_not_implemented(&config.root) {
        let path = config.files.get(d.file).map_or("", |f| f.path.as_str());
        let diag = Diag {
            location: nginx::Location::File {
                path: path.to_owned(),
                line: d.line,
            },
            ..Diag::nowhere(format!("\"{}\" directive is not implemented yet", d.name))
        };
        return Err(diag.to_string());
    }
    let site = http::lower(config).map_err(|e| e.to_string())?;
    let mut llm = Vec::with_capacity(site.llm_gateways.len());
    for path in &site.llm_gateways {
        let loaded = tollgate::config::load(path).map_err(|errors| {
            let lines: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
            format!("llm_gateway {}: {}", path.display(), lines.join("; "))
        })?;
        llm.push(loaded);
    }
    let runtime = http::Runtime::new(site, resolve).map_err(|e| e.to_string())?;
    Ok(NginxLoaded {
        runtime,
        llm,
        pid: pid_target(config, opts).path,
    })
}

/// nginx resolves upstream host names once, at load time.
fn resolve(host: &str, port: u16) -> Option<Vec<std::net::SocketAddr>> {
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok().map(Iterator::collect)
}

/// The `pid` directive (relative to the prefix), or nginx's default `logs/nginx.pid`, which
/// is only written when its directory exists (nginx would refuse to start).
fn pid_target(config: &nginx::Config, opts: &Options) -> PidTarget {
    let explicit = config
        .root
        .iter()
        .find(|d| d.name == "pid")
        .and_then(|d| d.args.first())
        .map(|w| w.text.clone());
    let required = explicit.is_some();
    let name = explicit.unwrap_or_else(|| "logs/nginx.pid".to_owned());
    let path = if name.starts_with('/') {
        std::path::PathBuf::from(name)
    } else {
        std::path::Path::new(&opts.prefix).join(name)
    };
    PidTarget { path, required }
}

fn emerg(message: &str) {
    eprintln!("tollgate: [emerg] {message}");
}

/// nginx's `-p`: a trailing `/` is added. Without `-p`, relative names are taken from the
/// current directory (nginx would use its compiled-in prefix, which tollgate does not have).
fn prefix(given: Option<&str>) -> String {
    match given {
        Some(p) if p.ends_with('/') => p.to_owned(),
        Some(p) => format!("{p}/"),
        None => std::env::current_dir()
            .map(|d| format!("{}/", d.display()))
            .unwrap_or_default(),
    }
}
