//! The `tollgate` CLI for nginx configurations: `-t`, `-T`, `-p`, `-g` with nginx's output.
//!
//! Owns: turning the nginx front end's result into what nginx prints (on stderr, prefixed
//! `tollgate:` where nginx says `nginx:`), the `-T` dump on stdout, and the exit status.
//! Serving nginx configurations is not built yet: without `-t`/`-T` it refuses with an
//! `[emerg]` naming the first directive it cannot serve. It must not parse anything itself.

use std::io::Write;
use std::process::ExitCode;

use tollgate::nginx::{self, support, Diag, Options, RealFs};

/// What the CLI asked for.
pub struct Request<'a> {
    pub conf: &'a str,
    pub prefix: Option<&'a str>,
    pub globals: Option<String>,
    pub test: bool,
    pub dump: bool,
    /// nginx's `-q`: only errors while testing.
    pub quiet: bool,
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
    refuse_to_serve(&config);
    ExitCode::FAILURE
}

/// Running an nginx config must never silently do nothing: name what is missing.
fn refuse_to_serve(config: &nginx::Config) {
    const WHY: &str = "tollgate can test nginx configurations (-t, -T) but cannot serve them yet";
    match support::first_not_implemented(&config.root) {
        Some(d) => {
            let path = config.files.get(d.file).map_or("", |f| f.path.as_str());
            let diag = Diag {
                location: nginx::Location::File {
                    path: path.to_owned(),
                    line: d.line,
                },
                ..Diag::nowhere(format!(
                    "\"{}\" directive is not implemented yet ({WHY})",
                    d.name
                ))
            };
            emerg(&diag.to_string());
        }
        None => emerg(&format!(
            "serving nginx configurations is not implemented yet ({WHY})"
        )),
    }
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
