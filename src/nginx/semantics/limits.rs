//! `limit_req_zone`, `limit_req`, `limit_conn_zone` and `limit_conn` checks
//! (`ngx_http_limit_req_zone`, `ngx_http_limit_req`, `ngx_http_limit_conn_zone`,
//! `ngx_http_limit_conn`).
//!
//! Owns: rates, zone sizes, burst/delay values, connection counts, zone rebinding, zones used
//! but never declared
//! (nginx reports those when it creates shared memory, after parsing), and one zone per
//! block. It must not model the limiting itself.

use super::{Diag, Directive, Frame, State};

/// A shared memory zone of `limit_req` or `limit_conn`: declared (with its key) by
/// `*_zone`, or only used so far.
#[derive(Debug, Clone)]
pub(super) struct Zone {
    pub(super) module: &'static str,
    pub(super) name: String,
    pub(super) key: Option<String>,
}

/// Notes that `module` uses zone `name` (nginx's `ngx_shared_memory_add` with size 0).
fn use_zone(state: &mut State, module: &'static str, name: &str) {
    if !state
        .zones
        .iter()
        .any(|z| z.module == module && z.name == name)
    {
        state.zones.push(Zone {
            module,
            name: name.to_owned(),
            key: None,
        });
    }
}

/// `limit_conn ZONE NUMBER`: the zone is registered, repeated zones are refused, then the
/// number is checked.
pub(super) fn check_limit_conn(
    d: &Directive,
    line: usize,
    frame: &mut Frame,
    state: &mut State,
) -> Result<(), Diag> {
    let zone = d.args.first().map_or("", |w| w.text.as_str());
    use_zone(state, "limit_conn", zone);
    check_zone(d, line, frame)?;
    let number = d.args.get(1).map_or("", |w| w.text.as_str());
    match units::atoi(number) {
        Some(n) if n > 65535 => Err(Diag::at("connection limit must be less 65536", line)),
        Some(n) if n > 0 => Ok(()),
        _ => Err(Diag::at(
            format!("invalid number of connections \"{number}\""),
            line,
        )),
    }
}
use crate::nginx::units;

/// `limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m` and `limit_conn_zone KEY
/// zone=NAME:SIZE` (no rate).
pub(super) fn check_limit_req_zone(
    d: &Directive,
    line: usize,
    state: &mut State,
) -> Result<(), Diag> {
    let mut name = None;
    for w in d.args.iter().skip(1) {
        let p = w.text.as_str();
        if let Some(zone) = p.strip_prefix("zone=") {
            let bad_size = || Diag::at(format!("invalid zone size \"{p}\""), line);
            let (zone_name, size) = zone.split_once(':').ok_or_else(bad_size)?;
            let size = units::parse_size(size).ok_or_else(bad_size)?;
            // 8 pages of 4 KiB, nginx's minimum for a slab zone.
            if size < 8 * 4096 {
                return Err(Diag::at(format!("zone \"{p}\" is too small"), line));
            }
            name = Some(zone_name.to_owned());
        } else if let Some(rate) = p
            .strip_prefix("rate=")
            .filter(|_| d.name == "limit_req_zone")
        {
            let digits = rate
                .strip_suffix("r/s")
                .or_else(|| rate.strip_suffix("r/m"))
                .unwrap_or(rate);
            if units::atoi(digits).is_none_or(|n| n <= 0) {
                return Err(Diag::at(format!("invalid rate \"{p}\""), line));
            }
        } else {
            return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(Diag::at(
            format!("\"{}\" must have \"zone\" parameter", d.name),
            line,
        ));
    };
    let key = d.args.first().map_or("", |w| w.text.as_str()).to_owned();
    let module = d.name.trim_end_matches("_zone");
    match state
        .zones
        .iter_mut()
        .find(|z| z.module == module && z.name == name)
    {
        Some(Zone {
            key: Some(bound), ..
        }) => Err(Diag::at(
            format!("{} \"{name}\" is already bound to key \"{bound}\"", d.name),
            line,
        )),
        Some(zone) => {
            zone.key = Some(key);
            Ok(())
        }
        None => {
            state.zones.push(Zone {
                module: if module == "limit_req" {
                    "limit_req"
                } else {
                    "limit_conn"
                },
                name,
                key: Some(key),
            });
            Ok(())
        }
    }
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
pub(super) fn check_limit_req(d: &Directive, line: usize, state: &mut State) -> Result<(), Diag> {
    let mut zone = None;
    for w in &d.args {
        let p = w.text.as_str();
        let positive = |v: &str| units::atoi(v).is_some_and(|n| n > 0);
        if let Some(z) = p.strip_prefix("zone=") {
            zone = Some(z.to_owned());
        } else if let Some(v) = p.strip_prefix("burst=") {
            if !positive(v) {
                return Err(Diag::at(format!("invalid burst value \"{p}\""), line));
            }
        } else if let Some(v) = p.strip_prefix("delay=") {
            if !positive(v) {
                return Err(Diag::at(format!("invalid delay value \"{p}\""), line));
            }
        } else if p != "nodelay" {
            return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
        }
    }
    let Some(zone) = zone else {
        return Err(Diag::at("\"limit_req\" must have \"zone\" parameter", line));
    };
    use_zone(state, "limit_req", &zone);
    Ok(())
}

/// `limit_req zone=z ...` / `limit_conn z N`: the same zone twice in one block.
pub(super) fn check_zone(d: &Directive, line: usize, frame: &mut Frame) -> Result<(), Diag> {
    let zone = if d.name == "limit_req" {
        d.args
            .iter()
            .find_map(|w| w.text.strip_prefix("zone="))
            .unwrap_or("")
    } else {
        d.args.first().map_or("", |w| w.text.as_str())
    };
    if !frame.zones.insert((d.name.clone(), zone.to_owned())) {
        return Err(Diag::directive(&d.name, "is duplicate", line));
    }
    Ok(())
}
