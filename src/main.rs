//! The `tollgate` binary: nginx-style CLI → detect the format → load config → run.

mod nginx_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tollgate::control::{self, Command};
use tollgate::lifecycle::{PidTarget, Process};

/// tollgate: AI gateway and nginx-compatible reverse proxy.
#[derive(Parser, Debug)]
#[command(name = "tollgate", disable_version_flag = true)]
struct Cli {
    /// Configuration file.
    #[arg(short = 'c', value_name = "FILE", default_value = "conf/tollgate.yaml")]
    conf: PathBuf,
    /// Test the configuration and exit.
    #[arg(short = 't')]
    test: bool,
    /// Test the configuration, dump the effective configuration and exit.
    #[arg(short = 'T')]
    dump: bool,
    /// Show the version and exit.
    #[arg(short = 'v')]
    version: bool,
    /// Show the version and build configuration and exit.
    #[arg(short = 'V')]
    build_info: bool,
    /// Quiet (nginx configs): no "syntax is ok" / "test is successful" lines with -t.
    #[arg(short = 'q')]
    quiet: bool,
    /// Prefix path (nginx configs): a relative -c is taken from here.
    #[arg(short = 'p', value_name = "PREFIX")]
    prefix: Option<String>,
    /// Global directives set before the configuration file (nginx configs).
    #[arg(short = 'g', value_name = "DIRECTIVES")]
    globals: Option<String>,
    /// Error log file (nginx configs); accepted for nginx compatibility, diagnostics go to
    /// stderr.
    #[arg(short = 'e', value_name = "FILE")]
    error_log: Option<String>,
    /// Configuration format; by default a `.conf` file (or nginx-looking content) is nginx.
    #[arg(long = "format", value_enum)]
    format: Option<Format>,
    /// Send a signal to the running server through its pid file: stop (SIGTERM), quit
    /// (SIGQUIT), reload (SIGHUP), reopen (SIGUSR1).
    #[arg(short = 's', value_name = "SIGNAL")]
    signal: Option<String>,
    /// Internal: started by a reload, take the listening sockets over from the running server.
    #[arg(long = "upgrade", hide = true)]
    upgrade: bool,
}

/// The configuration formats tollgate reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Nginx,
    Yaml,
}

impl Cli {
    /// The format asked for, or guessed from the file name and content.
    fn format(&self) -> Format {
        if let Some(f) = self.format {
            return f;
        }
        let path = self.conf.display().to_string();
        let content = std::fs::read(&self.conf).unwrap_or_default();
        if tollgate::nginx::looks_like_nginx(&path, &content) {
            Format::Nginx
        } else {
            Format::Yaml
        }
    }
}

// glibc malloc showed ~10% of the gateway's CPU under load (bench/README.md); mimalloc's
// thread-local free lists suit pingora's many small per-request allocations.
// `system-alloc` (benchmarks only): the C allocator, so heap profilers (valgrind massif) see
// every allocation site.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version || cli.build_info {
        eprintln!("tollgate version: tollgate/{VERSION}");
        if cli.build_info {
            eprintln!("built with pingora 0.9.1 (features: proxy, lb, rustls)");
            eprintln!("config formats: yaml, nginx (-t, -T, and serving: see README for the directives served)");
            eprintln!("providers: openai (and OpenAI-compatible servers), mock (built in)");
        }
        return ExitCode::SUCCESS;
    }
    let signal = match cli.signal.as_deref().map(|s| (s, Command::parse(s))) {
        None => None,
        Some((_, Some(c))) => Some(c),
        Some((s, None)) => {
            // nginx's wording and exit status for an unknown -s argument.
            eprintln!("tollgate: invalid option: \"-s {s}\"");
            return ExitCode::FAILURE;
        }
    };
    if cli.format() == Format::Nginx {
        let conf = cli.conf.display().to_string();
        return nginx_cli::run(&nginx_cli::Request {
            conf: &conf,
            prefix: cli.prefix.as_deref(),
            globals: cli.globals.clone(),
            test: cli.test,
            dump: cli.dump,
            quiet: cli.quiet,
            signal,
            upgrade: cli.upgrade,
        });
    }
    if cli.globals.is_some() || cli.prefix.is_some() {
        eprintln!("tollgate: [emerg] -p and -g apply to nginx configurations only");
        return ExitCode::FAILURE;
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let file = cli.conf.display().to_string();
    let config = match tollgate::config::load(&cli.conf) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("tollgate: [emerg] {e}");
            }
            if cli.test || cli.dump {
                eprintln!("tollgate: configuration file {file} test failed");
            }
            return ExitCode::FAILURE;
        }
    };
    if let Some(cmd) = signal {
        let Some(path) = &config.server.pid_file else {
            eprintln!("tollgate: [emerg] -s needs a pid file: set server.pid_file in {file}");
            return ExitCode::FAILURE;
        };
        return send_signal(path, cmd);
    }
    if cli.test || cli.dump {
        eprintln!("tollgate: the configuration file {file} syntax is ok");
        eprintln!("tollgate: configuration file {file} test is successful");
        if cli.dump {
            let dump = tollgate::config::dump(&config);
            print!("{dump}");
            if !dump.ends_with('\n') {
                println!();
            }
        }
        return ExitCode::SUCCESS;
    }
    let process = Process {
        config_path: cli.conf.clone(),
        pid_file: config.server.pid_file.clone().map(|path| PidTarget {
            path,
            required: true,
        }),
        upgrade: cli.upgrade,
    };
    match tollgate::server::run(config, &process) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: [emerg] {e}");
            ExitCode::FAILURE
        }
    }
}

/// `-s`: signals the process named by the pid file, printing nginx's messages.
pub(crate) fn send_signal(pid_file: &std::path::Path, cmd: Command) -> ExitCode {
    eprintln!("tollgate: [notice] signal process started");
    match control::send(pid_file, cmd) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::FAILURE
        }
    }
}
