//! The nginx configuration front end: read an existing `nginx.conf` the way nginx 1.22 does
//! and report what `nginx -t` would report.
//!
//! Owns: the lexer ([`lexer`]), the parser with `include` ([`parser`]), the table of nginx's
//! directives and its dispatch checks ([`directives`]), the handler checks ([`semantics`]),
//! `listen` addresses ([`listen`]), certificates ([`tls`]), variables ([`variables`]),
//! common regex mistakes ([`regex`]), nginx's diagnostic texts ([`diag`]), value syntax ([`units`]), the file-system seam
//! ([`fs`]), the `-T` dump ([`dump`]) and what tollgate can do with each directive
//! ([`support`]). It must not serve traffic, touch pingora, or print: the CLI prints.
//!
//! Tollgate tests nginx configurations (same verdict and first error as nginx 1.22 for
//! everything listed in the README); serving them is `crate::http`'s job.

pub mod diag;
pub mod directives;
pub mod fs;
pub mod lexer;
pub mod listen;
pub mod parser;
pub mod regex;
pub mod semantics;
pub mod support;
pub mod tls;
pub mod units;
pub mod variables;

pub use diag::{Diag, Level, Location};
pub use fs::{ConfFs, MemFs, RealFs};
pub use parser::{parse, Config, Directive, Options};

/// The `-T` dump, exactly as nginx prints it: each file read (once, in the order it was first
/// opened) under `# configuration file PATH:`, followed by its bytes and a newline.
pub fn dump(config: &Config) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in &config.files {
        if !seen.insert(file.path.as_str()) {
            continue;
        }
        out.extend_from_slice(format!("# configuration file {}:\n", file.path).as_bytes());
        out.extend_from_slice(&file.content);
        out.push(b'\n');
    }
    out
}

/// Whether a configuration file is in nginx's format rather than tollgate's YAML: a `.conf`
/// name, or (for other names) content whose first statement is an nginx directive.
pub fn looks_like_nginx(path: &str, content: &[u8]) -> bool {
    if path.ends_with(".conf") {
        return true;
    }
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        return false;
    }
    let mut lexer = lexer::Lexer::new(content, lexer::Source::File);
    match lexer.next_statement() {
        Ok(lexer::Statement::Simple { words, .. } | lexer::Statement::BlockStart { words, .. }) => {
            words
                .first()
                .is_some_and(|w| !w.text.ends_with(':') && directives::is_known(&w.text))
        }
        _ => false,
    }
}
