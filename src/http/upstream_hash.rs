//! The hashing balancers (part of `upstream`): `ip_hash` (first three octets of IPv4, the
//! whole IPv6 address, nginx's `hash * 113 + byte mod 6271`), `hash KEY` (Cache::Memcached's
//! `crc32(REHASH KEY) >> 16` walk) and `hash KEY consistent` (ketama points: `160 * weight`
//! per server, `crc32(HOST \0 PORT PREV_HASH)`), each retrying up to 20 times before falling
//! back to round robin, as nginx does.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Balancer, Method, ServerSpec, Tried};

const CRC_POLY: u32 = 0xedb8_8320;

/// CRC-32 (IEEE) state update without the final inversion (`ngx_crc32_update`).
fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ CRC_POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// `ngx_crc32_long`.
pub(super) fn crc32(data: &[u8]) -> u32 {
    !crc32_update(0xffff_ffff, data)
}

/// `ngx_http_upstream_update_chash`'s points, sorted and deduplicated.
pub(super) fn points(servers: &[(ServerSpec, Vec<SocketAddr>)]) -> Vec<(u32, usize)> {
    let mut points = Vec::new();
    for (i, (s, _)) in servers.iter().enumerate().filter(|(_, (s, _))| !s.backup) {
        let mut base = crc32_update(0xffff_ffff, s.host.as_bytes());
        base = crc32_update(base, &[0]);
        base = crc32_update(base, s.port.to_string().as_bytes());
        let mut prev: u32 = 0;
        for _ in 0..s.weight * 160 {
            let hash = !crc32_update(base, &prev.to_le_bytes());
            points.push((hash, i));
            prev = hash;
        }
    }
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    points
}

/// `ngx_http_upstream_find_chash_point`: the first point at or after `hash`.
pub(super) fn find_point(points: &[(u32, usize)], hash: u32) -> u64 {
    points.partition_point(|p| p.0 < hash) as u64
}

impl Balancer {
    fn round_robin(&self, tried: &mut Tried, now: Instant) -> Option<usize> {
        self.primary.get(&mut tried.primary, now, |_| true)
    }

    /// `ip_hash` and `hash KEY`.
    pub(super) fn hashed(&self, tried: &mut Tried, now: Instant) -> Option<usize> {
        let peers = &self.primary.peers;
        let total: i64 = peers.iter().map(|p| p.weight).sum();
        if tried.tries > 20 || peers.len() < 2 || tried.key.is_empty() || total <= 0 {
            return self.round_robin(tried, now);
        }
        let mut st = self.primary.lock();
        loop {
            let w = if self.method == Method::IpHash {
                for &b in &tried.key {
                    tried.hash = (tried.hash * 113 + u64::from(b)) % 6271;
                }
                tried.hash % total as u64
            } else {
                let mut crc = 0xffff_ffff;
                if tried.rehash > 0 {
                    crc = crc32_update(crc, tried.rehash.to_string().as_bytes());
                }
                crc = !crc32_update(crc, &tried.key);
                tried.hash += u64::from((crc >> 16) & 0x7fff);
                tried.rehash += 1;
                tried.hash % total as u64
            };
            let mut w = w as i64;
            let mut p = 0;
            while p + 1 < peers.len() && w >= peers[p].weight {
                w -= peers[p].weight;
                p += 1;
            }
            if self.primary.usable(&st, &tried.primary, p, now) {
                return Some(self.primary.chosen(&mut st, &mut tried.primary, p, now));
            }
            tried.tries += 1;
            if tried.tries > 20 {
                drop(st);
                return self.round_robin(tried, now);
            }
        }
    }

    /// `hash KEY consistent`.
    pub(super) fn chash(&self, tried: &mut Tried, now: Instant) -> Option<usize> {
        if tried.tries > 20
            || self.primary.peers.len() < 2
            || tried.key.is_empty()
            || self.points.is_empty()
        {
            return self.round_robin(tried, now);
        }
        loop {
            let server = self.points[(tried.hash % self.points.len() as u64) as usize].1;
            let peers = &self.primary.peers;
            let found = self
                .primary
                .get(&mut tried.primary, now, |i| peers[i].server == server);
            if found.is_some() {
                return found;
            }
            tried.hash += 1;
            tried.tries += 1;
            if tried.tries > 20 {
                return self.round_robin(tried, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
