//! Parsing a provider's `base_url` into `model::BaseUrl`.
//!
//! Owns: the accepted URL shape - `http(s)://host[:port][/path]`, IPv6 literals in brackets -
//! and the messages for everything else (query, fragment, user info, bad port, ...).
//! Must not: resolve names or percent-decode; the path prefix is kept as written.

use std::net::Ipv6Addr;

use super::model::BaseUrl;

const SHAPE: &str = "expected http://host[:port][/path] or https://host[:port][/path]";

pub(crate) fn parse_base_url(text: &str) -> Result<BaseUrl, String> {
    let bad = |why: &str| format!("invalid base_url {text:?}: {why}");
    let (scheme, rest) = text.trim().split_once("://").ok_or_else(|| bad(SHAPE))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return Err(bad(&format!("unsupported scheme `{scheme}`; {SHAPE}"))),
    };
    if rest.contains('?') {
        return Err(bad("a query (`?...`) is not allowed"));
    }
    if rest.contains('#') {
        return Err(bad("a fragment (`#...`) is not allowed"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(bad(
            "user info (`user@`) is not allowed; use `api_key` or `headers` for credentials",
        ));
    }
    let (host, port) = split_host_port(authority).map_err(|why| bad(&why))?;
    let default_port = if tls { 443 } else { 80 };
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad(&format!("invalid port `{p}` (expected 1-65535)"))),
        },
    };
    if path.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(bad(
            "the path must be ASCII without spaces (percent-encode other characters)",
        ));
    }
    Ok(BaseUrl {
        tls,
        host,
        port,
        path: path.trim_end_matches('/').to_string(),
    })
}

/// "host", "host:port", "[v6]", "[v6]:port" -> (host without brackets, port text).
fn split_host_port(authority: &str) -> Result<(String, Option<&str>), String> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| "missing `]` after an IPv6 address".to_string())?;
        let ip: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected `{after}` after the IPv6 address"))?,
            ),
        };
        return Ok((ip.to_string(), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err("IPv6 addresses must be written in brackets, e.g. http://[::1]:8000".into());
    }
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(format!("invalid host `{host}`"));
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(tls: bool, host: &str, port: u16, path: &str) -> BaseUrl {
        BaseUrl {
            tls,
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn accepted_urls() {
        let cases = [
            (
                "https://api.openai.com/v1",
                url(true, "api.openai.com", 443, "/v1"),
            ),
            (
                "http://127.0.0.1:8000/v1/",
                url(false, "127.0.0.1", 8000, "/v1"),
            ),
            ("http://localhost", url(false, "localhost", 80, "")),
            (
                "HTTPS://Example.COM:8443/",
                url(true, "example.com", 8443, ""),
            ),
            ("http://[::1]:8000/v1", url(false, "::1", 8000, "/v1")),
            (
                "https://[2001:db8::1]/openai/v1",
                url(true, "2001:db8::1", 443, "/openai/v1"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_base_url(text).as_ref(), Ok(&want), "{text}");
        }
        let v6 = parse_base_url("http://[::1]:8000/v1").unwrap();
        assert_eq!(v6.host_header(), "[::1]:8000");
        assert_eq!(v6.to_string(), "http://[::1]:8000/v1");
    }

    #[test]
    fn refused_urls_say_why() {
        let cases = [
            ("api.openai.com/v1", "expected http://"),
            ("ftp://x/v1", "unsupported scheme"),
            ("https://x/v1?a=b", "query"),
            ("https://x/v1#frag", "fragment"),
            ("https://user:pw@x/v1", "user info"),
            ("https:///v1", "host is missing"),
            ("https://x:0/v1", "invalid port"),
            ("https://x:99999", "invalid port"),
            ("https://x:/v1", "invalid port"),
            ("http://::1:8000/v1", "brackets"),
            ("http://[::1/v1", "missing `]`"),
            ("http://[nope]:80", "not an IPv6"),
            ("http://exa mple.com", "invalid host"),
            ("http://x/a b", "ASCII without spaces"),
        ];
        for (text, want) in cases {
            let err = parse_base_url(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
