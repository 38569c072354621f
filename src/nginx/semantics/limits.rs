//! `limit_req_zone`, `limit_req` and `limit_conn` checks (`ngx_http_limit_req_zone`,
//! `ngx_http_limit_req`, `ngx_http_limit_conn`).
//!
//! Owns: rates, zone sizes, burst/delay values, zone rebinding, zones used but never declared
//! (nginx reports those when it creates shared memory, after parsing), and one zone per
//! block. It must not model the limiting itself.

use super::{Diag, Directive, Frame, State};
use crate::nginx::units;

/// `limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m`.
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
        } else if let Some(rate) = p.strip_prefix("rate=") {
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
            "\"limit_req_zone\" must have \"zone\" parameter",
            line,
        ));
    };
    let key = d.args.first().map_or("", |w| w.text.as_str()).to_owned();
    match state.req_zones.iter_mut().find(|(n, _)| *n == name) {
        Some((_, Some(bound))) => Err(Diag::at(
            format!("limit_req_zone \"{name}\" is already bound to key \"{bound}\""),
            line,
        )),
        Some((_, slot)) => {
            *slot = Some(key);
            Ok(())
        }
        None => {
            state.req_zones.push((name, Some(key)));
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
    if !state.req_zones.iter().any(|(n, _)| *n == zone) {
        state.req_zones.push((zone, None));
    }
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
