//! Location matching exactly as `ngx_http_core_find_location` does it: at each level the
//! longest prefix (an `=` match stops everything), then the locations nested in that prefix,
//! then — unless the prefix is `^~` — the level's regexes in configuration order, each regex
//! winner searching its own nested locations. Plus the `auto_redirect` of proxied locations
//! ending in `/`.
//!
//! Owns: the location tree of one server and the search. It must not know what a location
//! does (its configuration is an opaque `Arc<LocConf>`).

use std::sync::Arc;

use super::conf::LocConf;
use super::vars::Captures;

/// How a location matches.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `= /path`
    Exact(String),
    /// `/path` (`noregex` for `^~`)
    Prefix { path: String, noregex: bool },
    /// `~ re` / `~* re`
    Regex(regex::Regex),
    /// `@name`
    Named(String),
}

/// One location block.
#[derive(Debug, Clone)]
pub struct Location {
    pub matcher: Matcher,
    pub nested: Level,
    pub conf: Arc<LocConf>,
    /// A `301` to `uri/` is due for a request naming this location without its final `/`.
    pub auto_redirect: bool,
}

impl Location {
    /// The location's name as nginx prints it (`clcf->name`).
    pub fn name(&self) -> &str {
        match &self.matcher {
            Matcher::Exact(p) | Matcher::Prefix { path: p, .. } | Matcher::Named(p) => p,
            Matcher::Regex(re) => re.as_str(),
        }
    }
}

/// The locations at one level (server or inside a location).
#[derive(Debug, Clone, Default)]
pub struct Level {
    /// Exact and prefix locations.
    pub statics: Vec<Location>,
    /// Regex locations, in configuration order.
    pub regexes: Vec<Location>,
    /// `@name` locations: never searched, reached by name (`error_page`).
    pub named: Vec<Location>,
}

/// The outcome of a search.
#[derive(Debug)]
pub enum Found<'a> {
    Location(&'a Location),
    /// `auto_redirect`: answer 301 to the location's name.
    Redirect(&'a Location),
    /// No location matched: the server's own configuration applies.
    None,
}

enum Rc<'a> {
    /// An exact match or a regex match (stop).
    Ok(&'a Location),
    Done(&'a Location),
    /// A prefix match (possibly deeper), keep trying regexes.
    Again(&'a Location),
    Declined,
}

impl Level {
    /// Searches `uri`; regex captures of the winning regex are recorded in `captures`.
    pub fn find<'a>(&'a self, uri: &str, captures: &mut Captures) -> Found<'a> {
        match self.search(uri, captures) {
            Rc::Ok(l) | Rc::Again(l) => Found::Location(l),
            Rc::Done(l) => Found::Redirect(l),
            Rc::Declined => Found::None,
        }
    }

    fn find_static(&self, uri: &str) -> Rc<'_> {
        let mut best: Option<&Location> = None;
        let mut redirect = None;
        for loc in &self.statics {
            match &loc.matcher {
                Matcher::Exact(p) if p == uri => return Rc::Ok(loc),
                Matcher::Prefix { path, .. }
                    if uri.starts_with(path.as_str())
                        && best.is_none_or(|b| b.name().len() < path.len()) =>
                {
                    best = Some(loc);
                }
                _ => {}
            }
            let name = loc.name();
            if loc.auto_redirect && name.len() == uri.len() + 1 && name.starts_with(uri) {
                redirect = Some(loc);
            }
        }
        // The exact check above covers "= uri"; a redirect is due only when nothing exact
        // matched, and it wins over any shorter prefix (nginx's tree descends to it last).
        match (redirect, best) {
            (Some(r), _) => Rc::Done(r),
            (None, Some(b)) => Rc::Again(b),
            (None, None) => Rc::Declined,
        }
    }

    fn search<'a>(&'a self, uri: &str, captures: &mut Captures) -> Rc<'a> {
        let mut rc = self.find_static(uri);
        let mut noregex = false;
        if let Rc::Again(prefix) = rc {
            if let Matcher::Prefix { noregex: nr, .. } = prefix.matcher {
                noregex = nr;
            }
            rc = match prefix.nested.search(uri, captures) {
                Rc::Declined => Rc::Again(prefix),
                other => other,
            };
        }
        if matches!(rc, Rc::Ok(_) | Rc::Done(_)) {
            return rc;
        }
        if !noregex {
            for loc in &self.regexes {
                if let Matcher::Regex(re) = &loc.matcher {
                    if captures.record(re, uri) {
                        return match loc.nested.search(uri, captures) {
                            Rc::Declined => Rc::Ok(loc),
                            // nginx returns NGX_OK whatever the nested search found.
                            Rc::Ok(l) | Rc::Again(l) | Rc::Done(l) => Rc::Ok(l),
                        };
                    }
                }
            }
        }
        rc
    }

    pub fn is_empty(&self) -> bool {
        self.statics.is_empty() && self.regexes.is_empty()
    }
}
