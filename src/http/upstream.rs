//! `upstream` groups and nginx's round-robin balancer (`ngx_http_upstream_round_robin.c`):
//! smooth weighted round robin over the live primaries, passive health (`max_fails` within
//! `fail_timeout`, `effective_weight` backing off and recovering), `down`, and backup
//! servers used only when no primary can be tried. A single-server group is never marked
//! down. `least_conn`, `ip_hash` and `hash KEY [consistent]` choose among the same peers
//! (`ngx_http_upstream_least_conn_module.c`, `_ip_hash_`, `_hash_`), falling back to round
//! robin after 20 unusable picks like nginx.
//!
//! Owns: the group model and the per-group selection state. Time is passed in; it must not
//! do I/O (host names are resolved by the caller before [`Balancer::new`]).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One `server` line of an `upstream` block (or the host of a `proxy_pass`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub host: String,
    pub port: u16,
    pub weight: u32,
    pub max_fails: u32,
    pub fail_timeout: Duration,
    pub backup: bool,
    pub down: bool,
}

impl ServerSpec {
    pub fn new(host: &str, port: u16) -> Self {
        ServerSpec {
            host: host.to_owned(),
            port,
            weight: 1,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            backup: false,
            down: false,
        }
    }
}

/// A group's balancing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    RoundRobin,
    LeastConn,
    IpHash,
    /// `hash KEY [consistent]` (the key is [`Group::key`]).
    Hash {
        consistent: bool,
    },
}

/// An upstream group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub servers: Vec<ServerSpec>,
    pub method: Method,
    /// The `hash` key.
    pub key: Option<super::vars::Template>,
    /// Where it was defined (for "host not found" messages).
    pub file: String,
    pub line: usize,
}

/// A resolved server.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// Index of its `server` line (peers of one host name share it).
    server: usize,
    weight: i64,
    max_fails: u32,
    fail_timeout: Duration,
    down: bool,
}

#[derive(Debug, Clone)]
struct PeerState {
    current: i64,
    effective: i64,
    fails: u32,
    checked: Option<Instant>,
    accessed: Option<Instant>,
    conns: u32,
}

#[derive(Debug)]
struct Tier {
    peers: Vec<Peer>,
    state: Mutex<Vec<PeerState>>,
}

/// Which peer a request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub backup: bool,
    pub index: usize,
}

/// The peers a request has tried (nginx's `rrp->tried`) and its hash state.
#[derive(Debug, Clone, Default)]
pub struct Tried {
    primary: Vec<bool>,
    backup: Vec<bool>,
    /// `ip_hash`: the address bytes hashed; `hash`: the key.
    key: Vec<u8>,
    hash: u64,
    rehash: u32,
    tries: u32,
}

/// The selection state of one group.
#[derive(Debug)]
pub struct Balancer {
    primary: Tier,
    backup: Tier,
    method: Method,
    /// `hash ... consistent`: (point, server index), sorted, deduplicated.
    points: Vec<(u32, usize)>,
}

impl Tier {
    fn new(peers: Vec<Peer>) -> Tier {
        let state = peers
            .iter()
            .map(|p| PeerState {
                current: 0,
                effective: p.weight,
                fails: 0,
                checked: None,
                accessed: None,
                conns: 0,
            })
            .collect();
        Tier {
            peers,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PeerState>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Neither tried, `down`, nor failed `max_fails` times within `fail_timeout`.
    fn usable(&self, st: &[PeerState], tried: &[bool], i: usize, now: Instant) -> bool {
        let (p, s) = (&self.peers[i], &st[i]);
        let failed = p.max_fails > 0
            && s.fails >= p.max_fails
            && s.checked
                .is_some_and(|c| now.duration_since(c) <= p.fail_timeout);
        !(tried[i] || p.down || failed)
    }

    /// Marks `b` chosen (nginx's bookkeeping after any method's pick).
    fn chosen(&self, st: &mut [PeerState], tried: &mut [bool], b: usize, now: Instant) -> usize {
        tried[b] = true;
        st[b].conns += 1;
        let p = &self.peers[b];
        if st[b]
            .checked
            .is_none_or(|c| now.duration_since(c) > p.fail_timeout)
        {
            st[b].checked = Some(now);
        }
        b
    }

    /// `ngx_http_upstream_get_peer`, over the peers `among` allows.
    fn get(
        &self,
        tried: &mut [bool],
        now: Instant,
        among: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut st = self.lock();
        let mut best: Option<(usize, i64)> = None;
        let mut total = 0;
        for (i, p) in self.peers.iter().enumerate() {
            if !self.usable(&st, tried, i, now) || !among(i) {
                continue;
            }
            let s = &mut st[i];
            s.current += s.effective;
            total += s.effective;
            if s.effective < p.weight {
                s.effective += 1;
            }
            if best.is_none_or(|(_, current)| s.current > current) {
                best = Some((i, s.current));
            }
        }
        let (b, _) = best?;
        st[b].current -= total;
        Some(self.chosen(&mut st, tried, b, now))
    }

    /// `ngx_http_upstream_get_least_conn_peer`: fewest connections per weight, ties broken
    /// by smooth weighted round robin among the tied peers.
    fn least_conn(&self, tried: &mut [bool], now: Instant) -> Option<usize> {
        let st = self.lock();
        let ratio = |i: usize, j: usize| {
            // conns_i / weight_i compared with conns_j / weight_j, without division.
            (i64::from(st[i].conns) * self.peers[j].weight)
                .cmp(&(i64::from(st[j].conns) * self.peers[i].weight))
        };
        let mut best: Option<usize> = None;
        for i in 0..self.peers.len() {
            if self.usable(&st, tried, i, now) && best.is_none_or(|b| ratio(i, b).is_lt()) {
                best = Some(i);
            }
        }
        let b = best?;
        let tied: Vec<bool> = (0..self.peers.len())
            .map(|i| i >= b && ratio(i, b).is_eq())
            .collect();
        drop(st);
        self.get(tried, now, |i| tied[i])
    }
}

impl Balancer {
    /// `servers` pairs each spec with its resolved addresses (one peer per address).
    pub fn new(servers: &[(ServerSpec, Vec<SocketAddr>)], method: Method) -> Balancer {
        let peers = |backup: bool| -> Vec<Peer> {
            servers
                .iter()
                .filter(|(s, _)| s.backup == backup)
                .enumerate()
                .flat_map(|(server, (s, addrs))| {
                    addrs.iter().map(move |a| Peer {
                        addr: *a,
                        server,
                        weight: i64::from(s.weight),
                        max_fails: s.max_fails,
                        fail_timeout: s.fail_timeout,
                        down: s.down,
                    })
                })
                .collect()
        };
        let points = match method {
            Method::Hash { consistent: true } => hash::points(servers),
            _ => Vec::new(),
        };
        Balancer {
            primary: Tier::new(peers(false)),
            backup: Tier::new(peers(true)),
            method,
            points,
        }
    }

    /// A fresh per-request state; `client` feeds `ip_hash`, `key` the `hash` key.
    pub fn tried(&self, client: Option<std::net::IpAddr>, key: &str) -> Tried {
        let mut t = Tried {
            primary: vec![false; self.primary.peers.len()],
            backup: vec![false; self.backup.peers.len()],
            ..Tried::default()
        };
        match self.method {
            Method::IpHash => {
                t.hash = 89;
                t.key = match client {
                    Some(std::net::IpAddr::V4(a)) => a.octets()[..3].to_vec(),
                    Some(std::net::IpAddr::V6(a)) => a.octets().to_vec(),
                    None => Vec::new(),
                };
            }
            Method::Hash { consistent } => {
                t.key = key.as_bytes().to_vec();
                if consistent {
                    t.hash = hash::find_point(&self.points, hash::crc32(&t.key));
                }
            }
            _ => {}
        }
        t
    }

    /// How many attempts nginx allows (`ngx_http_upstream_tries`): every server, backups too.
    pub fn tries(&self) -> usize {
        self.primary.peers.len() + self.backup.peers.len()
    }

    fn single(&self) -> bool {
        self.primary.peers.len() == 1 && self.backup.peers.is_empty()
    }

    /// `ngx_http_upstream_get_round_robin_peer`.
    pub fn get(&self, tried: &mut Tried, now: Instant) -> Option<Pick> {
        if self.single() {
            // A single server is never marked down by failures.
            let down = self.primary.peers[0].down || tried.primary[0];
            tried.primary[0] = true;
            return (!down).then_some(Pick {
                backup: false,
                index: 0,
            });
        }
        let picked = match self.method {
            Method::RoundRobin => self.primary.get(&mut tried.primary, now, |_| true),
            Method::LeastConn => self.primary.least_conn(&mut tried.primary, now),
            Method::IpHash | Method::Hash { consistent: false } => self.hashed(tried, now),
            Method::Hash { consistent: true } => self.chash(tried, now),
        };
        if let Some(index) = picked {
            return Some(Pick {
                backup: false,
                index,
            });
        }
        let backup = match self.method {
            Method::LeastConn => self.backup.least_conn(&mut tried.backup, now),
            _ => self.backup.get(&mut tried.backup, now, |_| true),
        };
        backup.map(|index| Pick {
            backup: true,
            index,
        })
    }

    pub fn peer(&self, pick: Pick) -> &Peer {
        let tier = if pick.backup {
            &self.backup
        } else {
            &self.primary
        };
        &tier.peers[pick.index]
    }

    /// `ngx_http_upstream_free_round_robin_peer`, when the request is done with the peer:
    /// `failed` counts against `max_fails`.
    pub fn free(&self, pick: Pick, failed: bool, now: Instant) {
        let tier = if pick.backup {
            &self.backup
        } else {
            &self.primary
        };
        let p = &tier.peers[pick.index];
        let mut st = tier.lock();
        let s = &mut st[pick.index];
        s.conns = s.conns.saturating_sub(1);
        if self.single() {
            return;
        }
        if failed {
            s.fails += 1;
            s.accessed = Some(now);
            s.checked = Some(now);
            if p.max_fails > 0 {
                s.effective -= p.weight / i64::from(p.max_fails);
            }
            s.effective = s.effective.max(0);
        } else if s.accessed < s.checked {
            s.fails = 0;
        }
    }
}

#[path = "upstream_hash.rs"]
mod hash;

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
