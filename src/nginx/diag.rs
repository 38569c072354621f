//! nginx's configuration diagnostics: the message texts and where they point.
//!
//! Owns: the [`Diag`] value (level, message, location) and its rendering, which is exactly
//! what nginx 1.22 prints after `[emerg]`: `MESSAGE in FILE:LINE`, `MESSAGE in command line`
//! (for `-g`), or a bare `MESSAGE` for the few checks nginx runs after parsing. Constructors
//! here hold nginx's wording so the rest of the front end never spells a message twice. It
//! must not print anything: the CLI decides how a diagnostic reaches the user.

use std::fmt;

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A line of a configuration file (absolute path as nginx prints it).
    File { path: String, line: usize },
    /// A line not yet attached to its file (the lexer does not know file names).
    Line(usize),
    /// The `-g` parameter.
    CommandLine,
    /// Checks run after parsing that nginx reports without a place.
    Nowhere,
}

/// nginx's log levels that the configuration check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Emerg,
    Warn,
}

/// One diagnostic, rendered like nginx's `ngx_conf_log_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diag {
    pub level: Level,
    pub message: String,
    pub location: Location,
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { path, line } => write!(f, "{} in {path}:{line}", self.message),
            Location::Line(line) => write!(f, "{} in line {line}", self.message),
            Location::CommandLine => write!(f, "{} in command line", self.message),
            Location::Nowhere => f.write_str(&self.message),
        }
    }
}

impl Level {
    /// The bracketed tag nginx prints: `emerg`, `warn`.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Emerg => "emerg",
            Level::Warn => "warn",
        }
    }
}

impl Diag {
    /// An `[emerg]` at a line of the file being read (the parser attaches the file).
    pub fn at(message: impl Into<String>, line: usize) -> Self {
        Diag {
            level: Level::Emerg,
            message: message.into(),
            location: Location::Line(line),
        }
    }

    /// An `[emerg]` without a place (nginx's post-parse checks).
    pub fn nowhere(message: impl Into<String>) -> Self {
        Diag {
            level: Level::Emerg,
            message: message.into(),
            location: Location::Nowhere,
        }
    }

    /// Attaches the file (or the command line) to a diagnostic that only knows its line.
    pub fn in_file(mut self, file: &FileName) -> Self {
        if let Location::Line(line) = self.location {
            self.location = match file {
                FileName::Path(path) => Location::File {
                    path: path.clone(),
                    line,
                },
                FileName::CommandLine => Location::CommandLine,
            };
        }
        self
    }

    /// `unknown directive "x"`.
    pub fn unknown_directive(name: &str, line: usize) -> Self {
        Self::at(format!("unknown directive \"{name}\""), line)
    }

    /// `"x" directive is not allowed here`.
    pub fn not_allowed_here(name: &str, line: usize) -> Self {
        Self::at(format!("\"{name}\" directive is not allowed here"), line)
    }

    /// `invalid number of arguments in "x" directive`.
    pub fn invalid_arg_count(name: &str, line: usize) -> Self {
        Self::at(
            format!("invalid number of arguments in \"{name}\" directive"),
            line,
        )
    }

    /// `directive "x" is not terminated by ";"`.
    pub fn not_terminated(name: &str, line: usize) -> Self {
        Self::at(
            format!("directive \"{name}\" is not terminated by \";\""),
            line,
        )
    }

    /// `directive "x" has no opening "{"`.
    pub fn no_opening_brace(name: &str, line: usize) -> Self {
        Self::at(format!("directive \"{name}\" has no opening \"{{\""), line)
    }

    /// `"x" directive REASON`: what a setter returns (`is duplicate`, `invalid value`, ...).
    pub fn directive(name: &str, reason: &str, line: usize) -> Self {
        Self::at(format!("\"{name}\" directive {reason}"), line)
    }

    /// `open() "FILE" failed (2: No such file or directory)`.
    pub fn open_failed(path: &str, err: &std::io::Error, line: usize) -> Self {
        Self::at(
            format!("open() \"{path}\" failed ({})", errno_text(err)),
            line,
        )
    }
}

/// The name a file is reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    Path(String),
    CommandLine,
}

/// `N: strerror` as nginx's `ngx_log_errno` prints it.
pub fn errno_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    // std renders OS errors as "No such file or directory (os error 2)"; nginx as "2: ...".
    let bare = match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    match err.raw_os_error() {
        Some(code) => format!("{code}: {bare}"),
        None => bare,
    }
}
