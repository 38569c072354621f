//! Request-target handling the way nginx does it: splitting the target, decoding and
//! normalising the path before location matching (`ngx_http_parse_complex_uri`), escaping a
//! changed URI again before it is proxied (`ngx_escape_uri` with `NGX_ESCAPE_URI`), and
//! reading one argument (`ngx_http_arg`).
//!
//! Owns: byte-level URI rules only. It must not know about locations or proxying.

/// Why a request target is rejected (nginx answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("the path does not start with \"/\"")]
    NotAbsolute,
    #[error("\"..\" goes above the root")]
    AboveRoot,
    #[error("invalid percent-encoding")]
    BadEscape,
}

/// Splits `path?args` (the query is `None` without a `?`).
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, args)) => (path, Some(args)),
        None => (target, None),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX`, merges slashes and resolves `.` and `..` segments. Decoding comes first, so
/// `%2e%2e` is a `..` and `%2F` a separator, as in nginx.
pub fn normalize(path: &str) -> Result<String, UriError> {
    let raw = path.as_bytes();
    if raw.first() != Some(&b'/') {
        return Err(UriError::NotAbsolute);
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = raw.get(i + 1).copied().and_then(hex);
            let lo = raw.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => decoded.push(h * 16 + l),
                _ => return Err(UriError::BadEscape),
            }
            i += 3;
        } else {
            decoded.push(raw[i]);
            i += 1;
        }
    }
    let mut out: Vec<&[u8]> = Vec::new();
    let segments: Vec<&[u8]> = decoded.split(|b| *b == b'/').collect();
    let last = segments.len() - 1;
    let mut trailing = false;
    for (n, seg) in segments.iter().enumerate().skip(1) {
        match *seg {
            b"" => trailing = n == last,
            b"." => trailing = true,
            b".." => {
                if out.pop().is_none() {
                    return Err(UriError::AboveRoot);
                }
                trailing = true;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut result = Vec::with_capacity(decoded.len());
    for seg in &out {
        result.push(b'/');
        result.extend_from_slice(seg);
    }
    if trailing || out.is_empty() {
        result.push(b'/');
    }
    Ok(String::from_utf8_lossy(&result).into_owned())
}

/// `ngx_escape_uri(.., NGX_ESCAPE_URI)`: space, `#`, `%`, `?`, control bytes and bytes
/// above 0x7e are escaped; everything else is kept.
pub fn escape_into(uri: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in uri.as_bytes() {
        let escape = b <= 0x20 || b >= 0x7f || matches!(b, b'#' | b'%' | b'?');
        if escape {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push(b as char);
        }
    }
}

/// `ngx_http_arg`: the value of the first argument called `name` (names compare without
/// regard to case), or `None`.
pub fn arg<'a>(args: &'a str, name: &str) -> Option<&'a str> {
    args.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.eq_ignore_ascii_case(name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_matches_nginx() {
        let table = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/", "/a/"),
            ("//documents//doc.html", "/documents/doc.html"),
            ("/a/%2e%2e/documents/x", "/documents/x"),
            ("/a/../a/./x//y", "/a/x/y"),
            ("/c/%7Efoo", "/c/~foo"),
            ("/a/foo%20bar", "/a/foo bar"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
        ];
        for (input, want) in table {
            assert_eq!(normalize(input).as_deref(), Ok(want), "{input}");
        }
        assert_eq!(normalize("/.."), Err(UriError::AboveRoot));
        assert_eq!(normalize("/%zz"), Err(UriError::BadEscape));
        assert_eq!(normalize("x"), Err(UriError::NotAbsolute));
    }

    #[test]
    fn escape_keeps_safe_bytes() {
        let mut out = String::new();
        escape_into("/x/foo bar?#%~\"", &mut out);
        assert_eq!(out, "/x/foo%20bar%3F%23%25~\"");
    }

    #[test]
    fn arg_is_first_match_case_insensitive() {
        assert_eq!(arg("a=1&B=2&b=3", "b"), Some("2"));
        assert_eq!(arg("a=1", "c"), None);
        assert_eq!(split_target("/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("/p"), ("/p", None));
    }
}
