//! What goes upstream and what comes back: the upstream request target
//! (`ngx_http_proxy_create_request`'s URI rules), the upstream header list, and the
//! response-side rules (`proxy_redirect default`, `add_header` status filter, relative
//! `Location` made absolute, nginx's error pages).
//!
//! Owns: those pure transformations. It must not choose servers or locations.

use http::{HeaderMap, HeaderValue};

use super::conf::{LocConf, ProxyPass};
use super::script::State;
use super::uri::escape_into;
use super::vars::{Request, Vars};

/// The request target sent upstream:
/// - URI with variables: the evaluated value, as is;
/// - no URI part and an unchanged URI: the client's target, raw;
/// - otherwise the normalised URI, escaped again, with the location's prefix replaced by the
///   URI part (not after `rewrite ... break`), plus the arguments.
pub fn upstream_target(
    conf: &LocConf,
    pp: &ProxyPass,
    req: &Request,
    headers: &HeaderMap,
    state: &State,
) -> String {
    if let Some(t) = &pp.uri_vars {
        let mut v = t.eval(&Vars { req, headers });
        if v.starts_with('?') {
            v.insert(0, '/');
        }
        if !v.is_empty() {
            return v;
        }
    }
    if pp.uri.is_none() && !state.uri_rewritten {
        return req.request_uri.clone();
    }
    // After `rewrite ... break` the URI part is ignored and the changed URI sent whole.
    let (part, loc_len) = match pp.uri.as_deref() {
        Some(part) if !state.location_invalid => (part, conf.name.len()),
        _ => ("", 0),
    };
    let mut out = String::with_capacity(part.len() + req.uri.len() + req.args.len() + 1);
    out.push_str(part);
    escape_into(req.uri.get(loc_len..).unwrap_or(""), &mut out);
    if !req.args.is_empty() {
        out.push('?');
        out.push_str(&req.args);
    }
    out
}

/// The headers sent upstream: the configured ones and nginx's defaults (empty values
/// dropped), then the client's headers that none of those name.
pub fn upstream_headers(conf: &LocConf, req: &Request, client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len() + conf.set_headers.len());
    let vars = Vars {
        req,
        headers: client,
    };
    let mut value = String::new();
    for h in conf.set_headers.iter() {
        value.clear();
        h.value.eval_into(&vars, &mut value);
        if value.is_empty() {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.append(h.name.clone(), v);
        }
    }
    for (name, v) in client {
        // Content-Length and Transfer-Encoding describe the body, which is relayed as is.
        if !conf.overrides(name) {
            out.append(name.clone(), v.clone());
        }
    }
    out
}

/// Statuses `add_header` applies to without `always`.
pub fn add_header_applies(status: u16, always: bool) -> bool {
    always
        || matches!(
            status,
            200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
        )
}

/// `proxy_redirect default`: a `Location` starting with the proxied URL gets the location's
/// prefix instead (`None` when it does not apply).
pub fn rewrite_redirect(conf: &LocConf, location: &str) -> Option<String> {
    let (from, to) = conf.redirect.as_ref()?;
    let rest = location.strip_prefix(from.as_str())?;
    Some(format!("{to}{rest}"))
}

/// A relative `Location` made absolute the way nginx's header filter does it (scheme, the
/// request's host, the listen port unless 80).
pub fn absolute(location: &str, host: &str, port: u16) -> String {
    absolute_in(location, host, port, false)
}

/// [`absolute`] for a request received over TLS or not (default ports 443 and 80).
pub fn absolute_in(location: &str, host: &str, port: u16, https: bool) -> String {
    if !location.starts_with('/') {
        return location.to_owned();
    }
    let (scheme, default) = if https { ("https", 443) } else { ("http", 80) };
    if port == default {
        format!("{scheme}://{host}{location}")
    } else {
        format!("{scheme}://{host}:{port}{location}")
    }
}

/// nginx's reason phrases for the statuses it generates pages for.
pub fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Authorization Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Not Allowed",
        408 => "Request Time-out",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        416 => "Requested Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => "",
    }
}

/// nginx's built-in error page for `status` (`None` for statuses nginx sends without one).
pub fn error_page(status: u16) -> Option<String> {
    let reason = reason(status);
    if reason.is_empty() {
        return None;
    }
    Some(format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {reason}</h1></center>\r\n<hr><center>tollgate</center>\r\n\
         </body>\r\n</html>\r\n"
    ))
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
