//! What a `listen` address serves besides plain HTTP/1.x: TLS with a certificate per
//! server (chosen by SNI), and HTTP/2 (`listen … http2`, nginx 1.22's syntax).
//!
//! nginx's rules (`ngx_http_add_listen`, `ngx_http_ssl_servername`): `ssl` and `http2` are
//! options of the address, so one `listen … ssl` makes the address TLS for every server on
//! it; each server on a TLS address offers its own `ssl_certificate` when the client's SNI
//! selects it (the same server_name lookup as for Host), and the default server's
//! certificate otherwise (no SNI, an unknown name, or a server without a certificate). Only
//! the default server must have one. The request is then routed by its Host as usual.
//!
//! Owns: the lowered per-address TLS and HTTP/2 model. Must not: load certificates or name
//! pingora/rustls types (`crate::tls_listen` does).

use std::net::SocketAddr;

/// A certificate file and its key file (absolute paths).
pub type CertPair = (String, String);

/// One `listen` directive of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenParams {
    pub addr: SocketAddr,
    pub default: bool,
    pub ssl: bool,
    pub http2: bool,
}

/// The certificates of a TLS address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenTls {
    /// The default server's certificate.
    pub default: CertPair,
    /// (server index, certificate) of every server on the address that has one.
    pub by_server: Vec<(usize, CertPair)>,
}

impl ListenTls {
    /// The certificates of `servers` (indexes into `certs`, one per server of the site);
    /// `None` when the default server has none (nginx's "no ssl_certificate" error).
    pub fn new(servers: &[usize], default: usize, certs: &[Option<CertPair>]) -> Option<Self> {
        let default = certs.get(default)?.clone()?;
        let by_server = servers
            .iter()
            .filter_map(|&s| Some((s, certs.get(s)?.clone()?)))
            .collect();
        Some(ListenTls { default, by_server })
    }

    /// The certificate offered when SNI selects `server` (`None`: no SNI match).
    pub fn for_server(&self, server: Option<usize>) -> &CertPair {
        server
            .and_then(|s| self.by_server.iter().find(|(i, _)| *i == s))
            .map_or(&self.default, |(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(n: &str) -> Option<CertPair> {
        Some((format!("/{n}.pem"), format!("/{n}.key")))
    }

    #[test]
    fn servers_without_a_certificate_fall_back_to_the_default_servers() {
        let certs = [pair("a"), None, pair("c")];
        let t = ListenTls::new(&[0, 1, 2], 0, &certs).unwrap();
        assert_eq!(t.for_server(Some(2)).0, "/c.pem");
        assert_eq!(t.for_server(Some(1)).0, "/a.pem");
        assert_eq!(t.for_server(None).0, "/a.pem");
        assert!(ListenTls::new(&[0, 1], 1, &certs).is_none());
    }
}
