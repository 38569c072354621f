//! A location's preaccess and access settings ([`Access`]), and `allow` / `deny`
//! (`ngx_http_access_module`): address rules checked in order, the first
//! match deciding; no match allows. A level with any rule replaces its parent's rules.
//!
//! Owns: parsing `addr`, `addr/bits` and `all`, and matching a client address (an
//! IPv4-mapped IPv6 client is matched as IPv4, like nginx). It must not answer requests: the
//! access phase in `proxy` turns a denial into 403.

use std::net::IpAddr;
use std::sync::Arc;

use super::auth_basic::AuthBasic;
use super::{limit_conn, limit_req};

/// One `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// `None`: `all`.
    pub net: Option<(IpAddr, u8)>,
}

impl Rule {
    /// `addr`, `addr/bits` or `all`; `unix:` is refused (tollgate listens on TCP only).
    pub fn parse(allow: bool, text: &str) -> Result<Rule, String> {
        if text == "all" {
            return Ok(Rule { allow, net: None });
        }
        if text == "unix:" {
            return Err("\"unix:\" rules are not implemented yet (no unix sockets)".into());
        }
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid parameter \"{text}\""))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("invalid parameter \"{text}\""))?,
            None => max,
        };
        // nginx masks the address ("low address bits of ... are meaningless" is a warning).
        Ok(Rule {
            allow,
            net: Some((mask(ip, bits), bits)),
        })
    }

    fn matches(&self, ip: IpAddr) -> bool {
        match self.net {
            None => true,
            Some((net, bits)) => net.is_ipv4() == ip.is_ipv4() && mask(ip, bits) == net,
        }
    }
}

fn mask(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

/// Whether `rules` let `client` in (`None`: no address known, only `all` rules apply).
pub fn allowed(rules: &[Rule], client: Option<IpAddr>) -> bool {
    decide(rules, client) != Some(false)
}

/// The first matching rule's verdict; `None` when none matches (nginx's `NGX_DECLINED`,
/// which matters under `satisfy any`).
pub fn decide(rules: &[Rule], client: Option<IpAddr>) -> Option<bool> {
    let client = client.map(|ip| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    });
    for r in rules {
        let hit = match client {
            Some(ip) => r.matches(ip),
            None => r.net.is_none(),
        };
        if hit {
            return Some(r.allow);
        }
    }
    None
}

/// The preaccess and access phases of a location: limits, then address rules.
#[derive(Debug, Clone)]
pub struct Access {
    pub rules: Arc<[Rule]>,
    pub satisfy_any: bool,
    pub limit_req: Arc<[limit_req::Limit]>,
    pub limit_req_status: u16,
    pub limit_req_log_level: log::Level,
    pub limit_req_dry_run: bool,
    pub limit_conn: Arc<[limit_conn::Limit]>,
    pub limit_conn_status: u16,
    pub limit_conn_log_level: log::Level,
    pub limit_conn_dry_run: bool,
    /// Both `auth_basic` (not `off`) and `auth_basic_user_file` set.
    pub auth: Option<AuthBasic>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(bool, &str)]) -> Vec<Rule> {
        list.iter()
            .map(|(a, t)| Rule::parse(*a, t).unwrap())
            .collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn first_match_wins_and_no_match_allows() {
        let r = rules(&[(false, "10.0.0.1"), (true, "10.0.0.0/8"), (false, "all")]);
        assert!(!allowed(&r, ip("10.0.0.1")));
        assert!(allowed(&r, ip("10.9.9.9")));
        assert!(!allowed(&r, ip("192.168.0.1")));
        assert!(!allowed(&r, ip("::1")));
        assert!(allowed(&rules(&[(false, "10.0.0.0/8")]), ip("11.0.0.1")));
        assert!(allowed(&[], ip("1.2.3.4")));
    }

    #[test]
    fn cidr_masks_and_mapped_addresses() {
        let r = rules(&[
            (true, "127.0.0.1/24"),
            (true, "2001:db8::/32"),
            (false, "all"),
        ]);
        assert!(allowed(&r, ip("127.0.0.200")));
        assert!(allowed(&r, ip("::ffff:127.0.0.5")));
        assert!(allowed(&r, ip("2001:db8:1::1")));
        assert!(!allowed(&r, ip("2001:db9::1")));
        assert!(!allowed(&r, ip("127.0.1.1")));
        assert!(Rule::parse(true, "1.2.3.4/33").is_err());
        assert!(Rule::parse(true, "unix:").is_err());
    }
}
