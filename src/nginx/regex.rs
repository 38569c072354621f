//! A conservative check of PCRE patterns for the mistakes people make most (unbalanced
//! parentheses, an unterminated character class), worded like nginx's `pcre2_compile()`
//! errors.
//!
//! Owns: only those errors. It must never refuse a pattern PCRE accepts, so patterns using
//! constructs it does not follow (`\Q...\E`, extended mode, verbs, comments) are not
//! checked at all.

/// nginx's message for a pattern PCRE2 refuses, or `None` when the pattern looks fine.
pub fn error(pattern: &str) -> Option<String> {
    if ["\\Q", "(?x", "(*", "(?#"]
        .iter()
        .any(|s| pattern.contains(s))
    {
        return None;
    }
    let (msg, offset) = scan(pattern.as_bytes())?;
    let at = if offset < pattern.len() {
        format!(" at \"{}\"", &pattern[offset..])
    } else {
        String::new()
    };
    Some(format!(
        "pcre2_compile() failed: {msg} in \"{pattern}\"{at}"
    ))
}

/// Walks the pattern; returns PCRE2's message and error offset.
fn scan(b: &[u8]) -> Option<(&'static str, usize)> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => i = class_end(b, i)?,
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' if depth == 0 => return Some(("unmatched closing parenthesis", i)),
            b')' => {
                depth -= 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    if depth > 0 {
        return Some(("missing closing parenthesis", b.len()));
    }
    None
}

/// The index after the `]` closing the class opened at `start`, or `None` (with the error
/// reported by the caller) when the class never ends.
fn class_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if b.get(i) == Some(&b'^') {
        i += 1;
    }
    // A `]` right at the start is a member.
    if b.get(i) == Some(&b']') {
        i += 1;
    }
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' if b.get(i + 1) == Some(&b':') => {
                // POSIX class [:name:]
                match b[i + 2..].windows(2).position(|w| w == b":]") {
                    Some(p) => i += p + 4,
                    None => i += 1,
                }
            }
            b']' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// [`error`], with the unterminated class reported like PCRE2.
pub fn check(pattern: &str) -> Result<(), String> {
    if let Some(e) = error(pattern) {
        return Err(e);
    }
    if ["\\Q", "(?x", "(*", "(?#"]
        .iter()
        .any(|s| pattern.contains(s))
    {
        return Ok(());
    }
    if unterminated_class(pattern.as_bytes()) {
        return Err(format!(
            "pcre2_compile() failed: missing terminating ] for character class in \"{pattern}\""
        ));
    }
    Ok(())
}

fn unterminated_class(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => match class_end(b, i) {
                Some(end) => i = end,
                None => return true,
            },
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_what_pcre2_reports() {
        assert_eq!(
            check("^/(a").unwrap_err(),
            "pcre2_compile() failed: missing closing parenthesis in \"^/(a\""
        );
        assert_eq!(
            check("^/a)x").unwrap_err(),
            "pcre2_compile() failed: unmatched closing parenthesis in \"^/a)x\" at \")x\""
        );
        assert_eq!(
            check("^/[a").unwrap_err(),
            "pcre2_compile() failed: missing terminating ] for character class in \"^/[a\""
        );
        for ok in [
            "^/(?<n>a)$",
            r"\.(gif|jpg)$",
            "[]a]",
            "[^]a]",
            "[(]",
            r"\(",
            "[[:alpha:]]+",
            r"\Q(\E",
            "^/a{2}$",
            "(?i)x",
            r"[\]]",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }
}
