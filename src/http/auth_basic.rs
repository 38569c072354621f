//! `auth_basic` (`ngx_http_auth_basic_module`): the client's Basic credentials, the
//! htpasswd lookup (`user:hash[:comment]`, `#` comments) and password checks for the
//! schemes nginx accepts: `{PLAIN}`, `{SHA}`, `{SSHA}`, `$apr1$` and `$1$` (MD5-crypt),
//! `$5$` / `$6$` (SHA-crypt).
//!
//! Owns: those formats. It must not read the file (the proxy re-reads it per request, like
//! nginx) nor answer; crypt(3) DES and bcrypt are refused with an error, never accepted.

use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;

use super::vars::Template;

/// A level's `auth_basic` with its `auth_basic_user_file` (both set, realm not `off`).
#[derive(Debug, Clone)]
pub struct AuthBasic {
    pub realm: Template,
    /// Absolute path.
    pub file: String,
}

/// A hash tollgate cannot check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "password hash scheme of user \"{0}\" is not supported by tollgate (crypt(3) DES or bcrypt)"
)]
pub struct Unsupported(pub String);

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `(user, password)` of an `Authorization: Basic ...` value.
pub fn credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = B64.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// The hash of `user` in an htpasswd file's text.
pub fn lookup<'a>(file: &'a str, user: &str) -> Option<&'a str> {
    file.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (u, rest) = l.split_once(':')?;
        (u == user).then(|| rest.split(':').next().unwrap_or("").trim_end_matches('\r'))
    })
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `password` matches `hash`.
pub fn verify(user: &str, hash: &str, password: &str) -> Result<bool, Unsupported> {
    if let Some(p) = hash.strip_prefix("{PLAIN}") {
        return Ok(same(p.as_bytes(), password.as_bytes()));
    }
    if let Some(h) = hash.strip_prefix("{SHA}") {
        let digest = Sha1::digest(password.as_bytes());
        return Ok(same(h.as_bytes(), B64.encode(digest).as_bytes()));
    }
    if let Some(h) = hash.strip_prefix("{SSHA}") {
        let Ok(raw) = B64.decode(h) else {
            return Ok(false);
        };
        if raw.len() < 20 {
            return Ok(false);
        }
        let (digest, salt) = raw.split_at(20);
        let mut s = Sha1::new();
        s.update(password.as_bytes());
        s.update(salt);
        return Ok(same(digest, &s.finalize()));
    }
    for magic in ["$apr1$", "$1$"] {
        if let Some(rest) = hash.strip_prefix(magic) {
            let salt = rest.split('$').next().unwrap_or("");
            let want = md5_crypt(password.as_bytes(), salt.as_bytes(), magic);
            return Ok(same(want.as_bytes(), hash.as_bytes()));
        }
    }
    if hash.starts_with("$5$") {
        return Ok(sha_crypt::sha256_check(password, hash).is_ok());
    }
    if hash.starts_with("$6$") {
        return Ok(sha_crypt::sha512_check(password, hash).is_ok());
    }
    Err(Unsupported(user.to_owned()))
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(ITOA64[(v & 0x3f) as usize] as char);
        v >>= 6;
    }
}

/// Poul-Henning Kamp's MD5-crypt, as `ngx_crypt_apr1` (and glibc for `$1$`) computes it.
fn md5_crypt(pw: &[u8], salt: &[u8], magic: &str) -> String {
    let salt = &salt[..salt.len().min(8)];
    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(magic.as_bytes());
    ctx.update(salt);
    let alt = Md5::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize();
    let mut n = pw.len();
    while n > 0 {
        ctx.update(&alt[..n.min(16)]);
        n = n.saturating_sub(16);
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for i in 0..1000 {
        let mut c = Md5::new();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    let f = |i: usize| u32::from(fin[i]);
    let mut out = format!("{magic}{}$", String::from_utf8_lossy(salt));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(&mut out, (f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    to64(&mut out, f(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_nginx_accepts() {
        // Generated with `openssl passwd -apr1 -salt saltsalt secret`, `-1`, `-5`, `-6`.
        let apr1 = "$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0";
        assert_eq!(verify("u", apr1, "secret"), Ok(true));
        assert_eq!(verify("u", apr1, "Secret"), Ok(false));
        let md5 = "$1$saltsalt$9xy1btjgzLYfb7hivXtC//";
        assert_eq!(verify("u", md5, "secret"), Ok(true));
        let sha256 = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        assert_eq!(verify("u", sha256, "secret"), Ok(true));
        let sha512 = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        assert_eq!(verify("u", sha512, "secret"), Ok(true));
        assert_eq!(verify("u", sha512, "nope"), Ok(false));
        // {SHA}: base64(sha1("secret")).
        assert_eq!(
            verify("u", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret"),
            Ok(true)
        );
        assert_eq!(verify("u", "{PLAIN}secret", "secret"), Ok(true));
        assert_eq!(verify("u", "{PLAIN}secret", "secre"), Ok(false));
        let mut ssha = Sha1::new();
        ssha.update(b"secret");
        ssha.update(b"NaCl");
        let mut raw = ssha.finalize().to_vec();
        raw.extend_from_slice(b"NaCl");
        let ssha = format!("{{SSHA}}{}", B64.encode(raw));
        assert_eq!(verify("u", &ssha, "secret"), Ok(true));
        assert_eq!(verify("u", &ssha, "salt"), Ok(false));
        assert!(verify("u", "abJnggxhB/yWI", "secret").is_err());
        assert!(verify("u", "$2y$05$abc", "secret").is_err());
    }

    #[test]
    fn file_lookup_and_credentials() {
        let file = "# comment\nalice:{PLAIN}a:Alice\r\nbob:{PLAIN}b\n";
        assert_eq!(lookup(file, "alice"), Some("{PLAIN}a"));
        assert_eq!(lookup(file, "bob"), Some("{PLAIN}b"));
        assert_eq!(lookup(file, "# comment"), None);
        assert_eq!(lookup(file, "carol"), None);
        assert_eq!(
            credentials("Basic YWxpY2U6cDpx"),
            Some(("alice".into(), "p:q".into()))
        );
        assert_eq!(credentials("Bearer x"), None);
        assert_eq!(credentials("Basic !!"), None);
    }
}
