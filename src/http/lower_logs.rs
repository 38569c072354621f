//! Lowering of `log_format`, `access_log` and `error_log` (part of `lower`).
//!
//! Owns: resolving log names against the prefix, format lookup (`combined` is built in) and
//! the forms tollgate refuses (syslog/memory targets, variables in paths, `gzip=`,
//! `error_log` below the `http` level). It must not open files: `proxy::logs` does.

use std::sync::Arc;

use super::super::conf::Settings;
use super::super::log_format::{AccessLog, LogFormat};
use super::super::vars::Template;
use super::{arg, Lower, LowerError};
use crate::nginx::Directive;

/// Debian nginx 1.22's `--http-log-path`.
pub(crate) const DEFAULT_ACCESS_LOG: &str = "/var/log/nginx/access.log";

/// nginx's error log levels, mapped onto the `log` crate's (notice → info, crit and above →
/// error).
fn level(name: &str) -> Option<log::LevelFilter> {
    use log::LevelFilter as L;
    Some(match name {
        "debug" => L::Debug,
        "info" | "notice" => L::Info,
        "warn" => L::Warn,
        "error" | "crit" | "alert" | "emerg" => L::Error,
        _ => return None,
    })
}

impl Lower<'_> {
    /// A file name as nginx resolves it: absolute, or relative to the prefix.
    fn log_path(&self, d: &Directive, name: &str) -> Result<String, LowerError> {
        if name.starts_with("syslog:") || name.starts_with("memory:") {
            return Err(self.err(
                d,
                format!(
                    "\"{}\" to \"{name}\" is not implemented yet (files and stderr only)",
                    d.name
                ),
            ));
        }
        if name.contains('$') {
            return Err(self.err(
                d,
                format!(
                    "\"{}\" with variables in the file name is not implemented yet",
                    d.name
                ),
            ));
        }
        if name.starts_with('/') {
            Ok(name.to_owned())
        } else {
            Ok(format!("{}{name}", self.config.prefix))
        }
    }

    /// Compiles the `http` level's `log_format`s (nginx allows them only there).
    pub(super) fn log_formats(&mut self, http: &Directive) -> Result<(), LowerError> {
        let combined = LogFormat::combined().map_err(|m| self.err(http, m))?;
        self.formats.insert("combined".into(), Arc::new(combined));
        let body = http.block.as_deref().unwrap_or(&[]);
        for d in body.iter().filter(|d| d.name == "log_format") {
            let args: Vec<&str> = d.args.iter().skip(1).map(|w| w.text.as_str()).collect();
            let f = LogFormat::parse(arg(d, 0), &args, &self.users).map_err(|m| self.err(d, m))?;
            self.formats
                .insert(arg(d, 0).to_ascii_lowercase(), Arc::new(f));
        }
        Ok(())
    }

    /// `access_log off | path [format [buffer=] [flush=] [if=]]`.
    pub(super) fn access_log(&self, d: &Directive, s: &mut Settings) -> Result<(), LowerError> {
        let logs = s.access_logs.get_or_insert_with(Vec::new);
        if arg(d, 0) == "off" {
            logs.clear();
            return Ok(());
        }
        let path = self.log_path(d, arg(d, 0))?;
        let name = match d.args.get(1) {
            Some(w) => w.text.to_ascii_lowercase(),
            None => "combined".into(),
        };
        let format = self
            .formats
            .get(&name)
            .cloned()
            .ok_or_else(|| self.err(d, format!("unknown log format \"{name}\"")))?;
        let mut cond = None;
        for w in d.args.iter().skip(2) {
            let t = w.text.as_str();
            if let Some(c) = t.strip_prefix("if=") {
                cond = Some(Template::parse(c, &self.users).map_err(|m| self.err(d, m))?);
            } else if t.starts_with("buffer=") || t.starts_with("flush=") {
                // Lines are written by a background thread in batches anyway; these only tune
                // how long nginx keeps them in memory.
            } else {
                return Err(self.err(
                    d,
                    format!("access_log parameter \"{t}\" is not implemented yet"),
                ));
            }
        }
        let file = self.logs.borrow_mut().file(path);
        logs.push(AccessLog { file, format, cond });
        Ok(())
    }

    /// Without any `access_log` at the `http` level, nginx logs `combined` to its compiled-in
    /// path: Debian's build (the one tollgate matches, see `-V`) uses
    /// /var/log/nginx/access.log whatever the prefix, so a config nginx starts with, tollgate
    /// starts with too. Levels with their own `access_log` replace it as usual.
    pub(super) fn default_access_log(&self, s: &mut Settings) {
        if s.access_logs.is_some() {
            return;
        }
        let Some(format) = self.formats.get("combined").cloned() else {
            return;
        };
        let path = DEFAULT_ACCESS_LOG.to_owned();
        let file = self.logs.borrow_mut().file(path);
        s.access_logs = Some(vec![AccessLog {
            file,
            format,
            cond: None,
        }]);
    }

    /// `error_log file [level]` at the main or `http` level: tollgate's own log lines.
    pub(super) fn error_log(&self, d: &Directive) -> Result<(), LowerError> {
        let path = match arg(d, 0) {
            "stderr" => "stderr".to_owned(),
            other => self.log_path(d, other)?,
        };
        let lvl = match d.args.get(1) {
            None => log::LevelFilter::Error,
            Some(w) => level(&w.text)
                .ok_or_else(|| self.err(d, format!("invalid log level \"{}\"", w.text)))?,
        };
        let mut logs = self.logs.borrow_mut();
        match &logs.error {
            Some((p, _)) if *p != path => Err(self.err(
                d,
                "several \"error_log\" files are not implemented yet (one file per configuration)"
                    .into(),
            )),
            _ => {
                logs.error = Some((path, lvl));
                Ok(())
            }
        }
    }

    /// `error_log` inside `server` or `location`: per-request error logs are not kept apart.
    pub(super) fn error_log_below_http(&self, d: &Directive) -> LowerError {
        self.err(
            d,
            "\"error_log\" inside \"server\" or \"location\" is not implemented yet (main and http levels only)".into(),
        )
    }
}
