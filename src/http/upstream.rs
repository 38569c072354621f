//! `upstream` groups and nginx's round-robin balancer (`ngx_http_upstream_round_robin.c`):
//! smooth weighted round robin over the live primaries, passive health (`max_fails` within
//! `fail_timeout`, `effective_weight` backing off and recovering), `down`, and backup
//! servers used only when no primary can be tried. A single-server group is never marked
//! down.
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

/// An upstream group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub servers: Vec<ServerSpec>,
    /// Where it was defined (for "host not found" messages).
    pub file: String,
    pub line: usize,
}

/// A resolved server.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
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

/// The peers a request has tried (nginx's `rrp->tried`).
#[derive(Debug, Clone, Default)]
pub struct Tried {
    primary: Vec<bool>,
    backup: Vec<bool>,
}

/// The selection state of one group.
#[derive(Debug)]
pub struct Balancer {
    primary: Tier,
    backup: Tier,
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

    /// `ngx_http_upstream_get_peer`.
    fn get(&self, tried: &mut [bool], now: Instant) -> Option<usize> {
        let mut st = self.lock();
        let mut best: Option<(usize, i64)> = None;
        let mut total = 0;
        for (i, p) in self.peers.iter().enumerate() {
            let s = &st[i];
            let failed = p.max_fails > 0
                && s.fails >= p.max_fails
                && s.checked
                    .is_some_and(|c| now.duration_since(c) <= p.fail_timeout);
            if tried[i] || p.down || failed {
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
        tried[b] = true;
        st[b].current -= total;
        let p = &self.peers[b];
        if st[b]
            .checked
            .is_none_or(|c| now.duration_since(c) > p.fail_timeout)
        {
            st[b].checked = Some(now);
        }
        Some(b)
    }
}

impl Balancer {
    /// `servers` pairs each spec with its resolved addresses (one peer per address).
    pub fn new(servers: &[(ServerSpec, Vec<SocketAddr>)]) -> Balancer {
        let peers = |backup: bool| -> Vec<Peer> {
            servers
                .iter()
                .filter(|(s, _)| s.backup == backup)
                .flat_map(|(s, addrs)| {
                    addrs.iter().map(|a| Peer {
                        addr: *a,
                        weight: i64::from(s.weight),
                        max_fails: s.max_fails,
                        fail_timeout: s.fail_timeout,
                        down: s.down,
                    })
                })
                .collect()
        };
        Balancer {
            primary: Tier::new(peers(false)),
            backup: Tier::new(peers(true)),
        }
    }

    /// A fresh per-request tried set.
    pub fn tried(&self) -> Tried {
        Tried {
            primary: vec![false; self.primary.peers.len()],
            backup: vec![false; self.backup.peers.len()],
        }
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
        if let Some(index) = self.primary.get(&mut tried.primary, now) {
            return Some(Pick {
                backup: false,
                index,
            });
        }
        self.backup.get(&mut tried.backup, now).map(|index| Pick {
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

    /// `ngx_http_upstream_free_round_robin_peer`: `failed` counts against `max_fails`.
    pub fn free(&self, pick: Pick, failed: bool, now: Instant) {
        if self.single() {
            return;
        }
        let tier = if pick.backup {
            &self.backup
        } else {
            &self.primary
        };
        let p = &tier.peers[pick.index];
        let mut st = tier.lock();
        let s = &mut st[pick.index];
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

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
