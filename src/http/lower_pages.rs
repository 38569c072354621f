//! The load-time check of `error_page`s that can fire after proxying (part of `lower`):
//! serving such a page from another proxied location would need a second upstream exchange
//! from pingora's failure path, which is not implemented, so a literal target that the
//! location search sends to a proxied location is refused with the directive's file:line.

use super::super::error_page::ErrorPage;
use super::super::location::{Found, Level, Location};
use super::super::vars::Captures;
use super::{Lower, LowerError};

/// Statuses that arise once proxying started.
const AFTER_PROXYING: &[u16] = &[413, 500, 502, 503, 504];

impl Lower<'_> {
    /// Checks every proxied location of a server.
    pub(super) fn check_error_pages(&self, top: &Level) -> Result<(), LowerError> {
        self.walk(top, top)
    }

    fn walk(&self, top: &Level, level: &Level) -> Result<(), LowerError> {
        let all = level
            .statics
            .iter()
            .chain(&level.regexes)
            .chain(&level.named);
        for loc in all {
            if loc.conf.proxy.is_some() {
                for page in loc.conf.error_pages.iter() {
                    self.check_page(top, loc, page)?;
                }
            }
            self.walk(top, &loc.nested)?;
        }
        Ok(())
    }

    fn check_page(&self, top: &Level, loc: &Location, page: &ErrorPage) -> Result<(), LowerError> {
        let fires =
            loc.conf.intercept_errors || page.codes.iter().any(|c| AFTER_PROXYING.contains(c));
        let Some(target) = page.target.as_literal() else {
            return Ok(());
        };
        if !fires {
            return Ok(());
        }
        let proxied = if target.starts_with('@') {
            top.named
                .iter()
                .find(|l| l.name() == target)
                .is_some_and(|l| l.conf.proxy.is_some())
        } else if target.starts_with('/') {
            let path = target.split('?').next().unwrap_or("");
            match top.find(path, &mut Captures::default()) {
                Found::Location(l) => l.conf.proxy.is_some(),
                _ => false,
            }
        } else {
            false
        };
        if !proxied {
            return Ok(());
        }
        Err(LowerError {
            message: format!(
                "\"error_page\" to \"{target}\", a proxied location, for a status that arises after proxying is not implemented yet (a static file, \"return\" or a named location with \"return\" works)"
            ),
            file: self
                .config
                .files
                .get(page.file)
                .map_or(String::new(), |f| f.path.clone()),
            line: page.line,
        })
    }
}
