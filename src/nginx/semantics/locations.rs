//! `location` classification and the location checks nginx makes: modifiers and nesting
//! while reading (`ngx_http_core_location`), duplicates when `http` ends
//! (`ngx_http_init_static_location_trees`).
//!
//! Owns: [`Loc`] and those messages. It must not match requests to locations.

use super::{Diag, Directive, Frame, Location, State};
use crate::nginx::regex;

/// A location as nginx's `ngx_http_core_location` classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Loc {
    pub(super) name: String,
    pub(super) exact: bool,
    pub(super) regex: bool,
    pub(super) named: bool,
    /// Where nginx reports a duplicate of it: its file and the line of its `{`.
    pub(super) path: String,
    pub(super) line: usize,
    pub(super) children: Vec<Loc>,
}

/// `ngx_http_core_location`: the modifier, then the nesting rules.
pub(super) fn location(
    d: &Directive,
    line: usize,
    parent: &Frame,
    state: &State,
) -> Result<Loc, Diag> {
    let mut loc = Loc {
        name: String::new(),
        exact: false,
        regex: false,
        named: false,
        path: state.current_file.clone(),
        line,
        children: Vec::new(),
    };
    let arg = |i: usize| d.args.get(i).map_or("", |w| w.text.as_str());
    if d.args.len() == 2 {
        loc.name = arg(1).to_owned();
        match arg(0) {
            "=" => loc.exact = true,
            "^~" => {}
            "~" | "~*" => loc.regex = true,
            m => return Err(Diag::at(format!("invalid location modifier \"{m}\""), line)),
        }
    } else {
        let name = arg(0);
        if let Some(rest) = name.strip_prefix('=') {
            loc.name = rest.to_owned();
            loc.exact = true;
        } else if let Some(rest) = name.strip_prefix("^~") {
            loc.name = rest.to_owned();
        } else if let Some(rest) = name.strip_prefix('~') {
            loc.name = rest.strip_prefix('*').unwrap_or(rest).to_owned();
            loc.regex = true;
        } else {
            loc.name = name.to_owned();
            loc.named = name.starts_with('@');
        }
    }
    if loc.regex {
        regex::check(&loc.name).map_err(|e| Diag::at(e, line))?;
    }
    if let Some(p) = &parent.location {
        check_nesting(&loc, p, line)?;
    }
    Ok(loc)
}

pub(super) fn check_nesting(loc: &Loc, parent: &Loc, line: usize) -> Result<(), Diag> {
    let (name, pname) = (&loc.name, &parent.name);
    let msg = if parent.exact {
        format!("location \"{name}\" cannot be inside the exact location \"{pname}\"")
    } else if parent.named {
        format!("location \"{name}\" cannot be inside the named location \"{pname}\"")
    } else if loc.named {
        format!("named location \"{name}\" can be on the server level only")
    } else if !loc.regex && !name.as_bytes().starts_with(pname.as_bytes()) {
        format!("location \"{name}\" is outside location \"{pname}\"")
    } else {
        return Ok(());
    };
    Err(Diag::at(msg, line))
}

/// `ngx_http_init_static_location_trees`: nested levels first, then this level, whose
/// static locations are sorted by name (an exact one before an inclusive one of the same
/// name); two neighbours with the same name and kind are a duplicate, reported at the
/// second.
pub(super) fn check_duplicate_locations(level: &[Loc]) -> Result<(), Diag> {
    for loc in level {
        check_duplicate_locations(&loc.children)?;
    }
    let mut statics: Vec<&Loc> = level.iter().filter(|l| !l.regex && !l.named).collect();
    statics.sort_by(|a, b| {
        a.name
            .as_bytes()
            .cmp(b.name.as_bytes())
            .then(b.exact.cmp(&a.exact))
    });
    for pair in statics.windows(2) {
        let (q, x) = (pair[0], pair[1]);
        if q.name == x.name && q.exact == x.exact {
            return Err(Diag {
                location: Location::File {
                    path: x.path.clone(),
                    line: x.line,
                },
                ..Diag::nowhere(format!("duplicate location \"{}\"", x.name))
            });
        }
    }
    Ok(())
}
