//! `error_page` (`ngx_http_core_error_page`, `ngx_http_send_error_page`): which statuses a
//! level intercepts, where they go (an internal redirect to a URI, a named location, or an
//! external redirect) and which status the client finally sees.
//!
//! Owns: the directive's model and its refusals. It must not route (`site` re-runs the
//! location search) nor answer. Statuses tollgate generates (`return`, rewrites' errors,
//! limits, access, static files, failed or timed-out upstreams, bodies over the limit) and,
//! with `proxy_intercept_errors on`, the upstream's own statuses are intercepted, once
//! (`recursive_error_pages off`).

use super::vars::{Template, UserVars};

/// What status the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// No `=`: the intercepted status.
    Keep,
    /// `=`: whatever the target answers.
    Target,
    /// `=code`.
    Code(u16),
}

/// One `error_page codes... [=[code]] target`.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub codes: Vec<u16>,
    pub overwrite: Overwrite,
    pub target: Template,
    /// Where the directive is written (index into the configuration's files, line).
    pub file: usize,
    pub line: usize,
}

/// Where an intercepted response goes, the target evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An internal redirect (`/path?args`): the location search runs again.
    Uri(String),
    /// `@name`.
    Named(String),
    /// Anything else: a redirect with this status and Location.
    External(u16, String),
}

impl ErrorPage {
    pub fn parse(words: &[&str], users: &UserVars) -> Result<ErrorPage, String> {
        let (target, rest) = words.split_last().ok_or("invalid number of arguments")?;
        let (overwrite, codes) = match rest.split_last() {
            Some((w, codes)) if w.starts_with('=') => {
                let o = match &w[1..] {
                    "" => Overwrite::Target,
                    c => Overwrite::Code(c.parse().map_err(|_| format!("invalid value \"{w}\""))?),
                };
                (o, codes)
            }
            _ => (Overwrite::Keep, rest),
        };
        let mut list = Vec::new();
        for c in codes {
            let code: u16 = c.parse().map_err(|_| format!("invalid value \"{c}\""))?;
            if code < 400 {
                return Err(format!(
                    "\"error_page {code}\" is not implemented yet (only 4xx and 5xx statuses)"
                ));
            }
            list.push(code);
        }
        Ok(ErrorPage {
            codes: list,
            overwrite,
            target: Template::parse(target, users)?,
            file: 0,
            line: 0,
        })
    }

    /// The target, once evaluated: `/...` redirects internally, `@...` names a location.
    pub fn target(&self, evaluated: String) -> Target {
        if evaluated.starts_with('/') {
            Target::Uri(evaluated)
        } else if evaluated.starts_with('@') {
            Target::Named(evaluated)
        } else {
            let status = match self.overwrite {
                Overwrite::Code(c @ (301 | 302 | 303 | 307 | 308)) => c,
                _ => 302,
            };
            Target::External(status, evaluated)
        }
    }

    /// The status sent when the target answered `target_status` for intercepted `status`.
    pub fn status(&self, status: u16, target_status: u16) -> u16 {
        match self.overwrite {
            Overwrite::Keep => status,
            Overwrite::Target => target_status,
            Overwrite::Code(c) => c,
        }
    }
}

/// The page for `status` among a level's `error_page`s.
pub fn find(pages: &[ErrorPage], status: u16) -> Option<&ErrorPage> {
    pages.iter().find(|p| p.codes.contains(&status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(words: &[&str]) -> Result<ErrorPage, String> {
        ErrorPage::parse(words, &UserVars::default())
    }

    #[test]
    fn forms_and_statuses() {
        let p = page(&["404", "403", "/err?x=1"]).unwrap();
        assert_eq!(p.codes, [404, 403]);
        assert_eq!(p.target("/err?x=1".into()), Target::Uri("/err?x=1".into()));
        assert_eq!(p.status(404, 200), 404);
        let p = page(&["404", "=", "@fallback"]).unwrap();
        assert_eq!(
            p.target("@fallback".into()),
            Target::Named("@fallback".into())
        );
        assert_eq!(p.status(404, 200), 200);
        let p = page(&["429", "=200", "/x"]).unwrap();
        assert_eq!(p.status(429, 503), 200);
        let p = page(&["403", "http://e.test/f"]).unwrap();
        assert_eq!(
            p.target("http://e.test/f".into()),
            Target::External(302, "http://e.test/f".into())
        );
        let p = page(&["403", "=301", "http://e.test/f"]).unwrap();
        assert_eq!(
            p.target("http://e.test/f".into()),
            Target::External(301, "http://e.test/f".into())
        );
        assert!(find(&[page(&["401", "/a"]).unwrap()], 401).is_some());
        assert!(find(&[page(&["401", "/a"]).unwrap()], 403).is_none());
    }

    #[test]
    fn statuses_after_proxying_are_accepted_redirects_are_not() {
        for c in ["500", "502", "504", "413"] {
            assert_eq!(page(&[c, "/x"]).unwrap().codes, [c.parse::<u16>().unwrap()]);
        }
        assert!(page(&["301", "/x"])
            .unwrap_err()
            .contains("not implemented"));
    }
}
