//! nginx's upstream list and the handlers that feed it: `upstream`, `server` inside it, and
//! `proxy_pass` (`ngx_http_upstream_add`, `ngx_http_upstream_server`, `ngx_http_proxy_pass`,
//! and the host resolution of `ngx_http_upstream_init_round_robin`).
//!
//! Owns: upstream names (explicit and implicit), URL and address syntax, `may not have port`,
//! server parameters, host names that do not resolve. It must not do I/O except through
//! [`ConfFs::resolves`].

use super::{Context, Diag, Directive, Frame, Location, State};
use crate::nginx::fs::ConfFs;
use crate::nginx::units;

/// One entry of nginx's upstream list (`ngx_http_upstream_srv_conf_t`, the fields
/// `ngx_http_upstream_add` compares).
#[derive(Debug, Clone)]
pub(super) struct Upstream {
    host: String,
    port: u32,
    no_port: bool,
    explicit: bool,
    path: String,
    line: usize,
}

/// `upstream NAME {`: nginx's `ngx_http_upstream_add` with `NGX_HTTP_UPSTREAM_CREATE`.
pub(super) fn check_upstream(d: &Directive, line: usize, state: &mut State) -> Result<(), Diag> {
    let name = d.args.first().map_or("", |w| w.text.as_str());
    let new = Upstream {
        host: name.to_owned(),
        port: 0,
        no_port: true,
        explicit: true,
        path: state.current_file.clone(),
        line,
    };
    upstream_add(new, line, state)
}

/// `ngx_http_upstream_add`: the first entry with the same host (case-insensitive) decides.
pub(super) fn upstream_add(new: Upstream, line: usize, state: &mut State) -> Result<(), Diag> {
    for up in state.upstreams.iter_mut() {
        if !up.host.eq_ignore_ascii_case(&new.host) {
            continue;
        }
        if new.explicit && up.explicit {
            return Err(Diag::at(
                format!("duplicate upstream \"{}\"", new.host),
                line,
            ));
        }
        if up.explicit && !new.no_port {
            let msg = format!("upstream \"{}\" may not have port {}", new.host, new.port);
            return Err(Diag::at(msg, line));
        }
        if new.explicit && !up.no_port {
            return Err(Diag {
                location: Location::File {
                    path: up.path.clone(),
                    line: up.line,
                },
                ..Diag::nowhere(format!(
                    "upstream \"{}\" may not have port {}",
                    new.host, up.port
                ))
            });
        }
        if up.port != 0 && new.port != 0 && up.port != new.port {
            continue;
        }
        if new.explicit {
            up.explicit = true;
            up.port = 0;
        }
        return Ok(());
    }
    state.upstreams.push(new);
    Ok(())
}

/// `ngx_http_proxy_pass`: URLs with variables are checked at run time; others need an
/// `http://`/`https://` prefix, a host and a valid port, may carry no URI part where the
/// location has no usable prefix, and join nginx's upstream list.
pub(super) fn check_proxy_pass(
    d: &Directive,
    line: usize,
    frame: &Frame,
    state: &mut State,
) -> Result<(), Diag> {
    let url = d.args.first().map_or("", |w| w.text.as_str());
    if url.contains('$') {
        return Ok(());
    }
    let lower = url.to_ascii_lowercase();
    let (rest, default_port) = if lower.starts_with("http://") {
        (&url[7..], 80)
    } else if lower.starts_with("https://") {
        (&url[8..], 443)
    } else {
        return Err(Diag::at("invalid URL prefix", line));
    };
    let parsed = parse_url(rest, default_port)
        .map_err(|err| Diag::at(format!("{err} in upstream \"{rest}\""), line))?;
    let loc = frame.location.as_ref();
    let noname = matches!(frame.context, Context::LocationIf | Context::LimitExcept);
    if parsed.has_uri && (noname || loc.is_some_and(|l| l.regex || l.named)) {
        return Err(Diag::at(
            "\"proxy_pass\" cannot have URI part in location given by regular expression, \
             or inside named location, or inside \"if\" statement, \
             or inside \"limit_except\" block",
            line,
        ));
    }
    if let Some((host, port, no_port)) = parsed.inet {
        let new = Upstream {
            host,
            port,
            no_port,
            explicit: false,
            path: state.current_file.clone(),
            line,
        };
        upstream_add(new, line, state)?;
    }
    Ok(())
}

/// What `ngx_parse_url` (with `uri_part`) finds in a proxy_pass URL after its scheme.
pub(super) struct ParsedUrl {
    has_uri: bool,
    /// (host, port, no_port) for network addresses; `None` for `unix:` sockets.
    inet: Option<(String, u32, bool)>,
}

pub(super) fn parse_url(rest: &str, default_port: u32) -> Result<ParsedUrl, &'static str> {
    if let Some(path) = rest.strip_prefix("unix:") {
        // unix:/path[:/uri]
        let has_uri = path.find(':').is_some_and(|i| i + 1 < path.len());
        return Ok(ParsedUrl {
            has_uri,
            inet: None,
        });
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, uri) = rest.split_at(end);
    let (host, port) = split_port(authority);
    if host.is_empty() {
        return Err("no host");
    }
    let (port, no_port) = match port {
        None => (default_port, true),
        Some(p) => match super::units::atoi(p) {
            Some(n @ 1..=65535) => (n as u32, false),
            _ => return Err("invalid port"),
        },
    };
    Ok(ParsedUrl {
        has_uri: !uri.is_empty(),
        inet: Some((host.to_owned(), port, no_port)),
    })
}

/// `host:port`, `[v6]:port`, `host`.
pub(super) fn split_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => (&authority[..=i], authority[i + 1..].strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rfind(':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    }
}

/// `server ADDRESS [PARAMETERS]` in an `upstream` (`ngx_http_upstream_server`): parameters
/// first, then the address, whose host name must resolve.
pub(super) fn check_upstream_server(
    d: &Directive,
    line: usize,
    frame: &Frame,
    fs: &dyn ConfFs,
) -> Result<(), Diag> {
    for w in d.args.iter().skip(1) {
        let p = w.text.as_str();
        let valid = if let Some(v) = p.strip_prefix("weight=") {
            units::atoi(v).is_some_and(|n| n != 0)
        } else if let Some(v) = p
            .strip_prefix("max_conns=")
            .or(p.strip_prefix("max_fails="))
        {
            units::atoi(v).is_some()
        } else if let Some(v) = p.strip_prefix("fail_timeout=") {
            units::parse_time(v, true).is_some()
        } else if p == "backup" && frame.no_backup {
            let msg = format!("balancing method does not support parameter \"{p}\"");
            return Err(Diag::at(msg, line));
        } else {
            p == "backup" || p == "down"
        };
        if !valid {
            return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
        }
    }
    let addr = d.args.first().map_or("", |w| w.text.as_str());
    if addr.starts_with("unix:") || addr.starts_with('[') {
        return Ok(());
    }
    let (host, port) = split_port(addr);
    let err = if port.is_some_and(|p| !matches!(units::atoi(p), Some(1..=65535))) {
        "invalid port"
    } else if host.is_empty() {
        "no host"
    } else if host.parse::<std::net::Ipv4Addr>().is_err() && !fs.resolves(host) {
        "host not found"
    } else {
        return Ok(());
    };
    Err(Diag::at(format!("{err} in upstream \"{addr}\""), line))
}

/// `ngx_http_upstream_init_round_robin` for the groups `proxy_pass` created with a host name:
/// nginx resolves them when the `http` block ends.
pub(super) fn resolve_implicit_upstreams(state: &State, fs: &dyn ConfFs) -> Result<(), Diag> {
    for up in state.upstreams.iter().filter(|u| !u.explicit) {
        let literal = up.host.starts_with('[') || up.host.parse::<std::net::Ipv4Addr>().is_ok();
        if literal || fs.resolves(&up.host) {
            continue;
        }
        return Err(Diag {
            location: Location::File {
                path: up.path.clone(),
                line: up.line,
            },
            ..Diag::nowhere(format!("host not found in upstream \"{}\"", up.host))
        });
    }
    Ok(())
}
