//! Lowering of the access-phase directives (part of `lower`): `allow`/`deny`, `satisfy`,
//! `auth_basic`/`auth_basic_user_file`,
//! `limit_req_zone`/`limit_req*`, `limit_conn_zone`/`limit_conn*`.
//!
//! Owns: zone declarations (sizes turned into key capacities, rates into nginx's
//! milli-requests) and each level's limits. It must not hold zone state: `Runtime` does.

use super::super::access::Rule;
use super::super::conf::Settings;
use super::super::vars::Template;
use super::super::{limit_conn, limit_req};
use super::{arg, Lower, LowerError};
use crate::nginx::{units, Directive};

/// nginx's cost of one key in a zone (its docs: 1m holds about 16 thousand 64-byte states).
const STATE_BYTES: usize = 64;

fn status(d: &Directive) -> Result<u16, String> {
    arg(d, 0)
        .parse::<u16>()
        .ok()
        .filter(|c| (400..=599).contains(c))
        .ok_or_else(|| "value must be between 400 and 599".to_owned())
}

fn log_level(d: &Directive) -> Result<log::Level, String> {
    Ok(match arg(d, 0) {
        "info" | "notice" => log::Level::Info,
        "warn" => log::Level::Warn,
        "error" => log::Level::Error,
        other => return Err(format!("invalid value \"{other}\"")),
    })
}

impl Lower<'_> {
    /// `zone=name:size` of a zone directive: (name, capacity in keys).
    fn zone_param(&self, d: &Directive) -> Result<(String, usize), LowerError> {
        let z = d
            .args
            .iter()
            .find_map(|w| w.text.strip_prefix("zone="))
            .ok_or_else(|| self.err(d, format!("\"{}\" must have \"zone\" parameter", d.name)))?;
        let (name, size) = z
            .split_once(':')
            .ok_or_else(|| self.err(d, format!("invalid zone size \"zone={z}\"")))?;
        let bytes = units::parse_size(size)
            .and_then(|b| usize::try_from(b).ok())
            .ok_or_else(|| self.err(d, format!("invalid zone size \"zone={z}\"")))?;
        Ok((name.to_owned(), (bytes / STATE_BYTES).max(1)))
    }

    /// The `http` level's `limit_req_zone`s and `limit_conn_zone`s, wherever they are written.
    pub(super) fn limit_zones(&mut self, body: &[Directive]) -> Result<(), LowerError> {
        for d in body {
            match d.name.as_str() {
                "limit_req_zone" => {
                    let (name, capacity) = self.zone_param(d)?;
                    let key =
                        Template::parse(arg(d, 0), &self.users).map_err(|m| self.err(d, m))?;
                    let rate = d
                        .args
                        .iter()
                        .find_map(|w| w.text.strip_prefix("rate="))
                        .and_then(|r| {
                            let (n, per) = r.split_once("r/")?;
                            let n: u64 = n.parse().ok()?;
                            match per {
                                "s" => Some(n * 1000),
                                "m" => Some(n * 1000 / 60),
                                _ => None,
                            }
                        })
                        .ok_or_else(|| self.err(d, "invalid rate".into()))?;
                    self.req_zones.push(limit_req::ZoneSpec {
                        name,
                        key,
                        rate,
                        capacity,
                    });
                }
                "limit_conn_zone" => {
                    let (name, capacity) = self.zone_param(d)?;
                    let key =
                        Template::parse(arg(d, 0), &self.users).map_err(|m| self.err(d, m))?;
                    self.conn_zones.push(limit_conn::ZoneSpec {
                        name,
                        key,
                        capacity,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// An access-phase directive of a level; `Ok(false)` when `d` is not one.
    pub(super) fn access_setting(
        &self,
        d: &Directive,
        s: &mut Settings,
    ) -> Result<bool, LowerError> {
        let e = |m: String| self.err(d, m);
        match d.name.as_str() {
            "allow" | "deny" => {
                let rule = Rule::parse(d.name == "allow", arg(d, 0)).map_err(e)?;
                s.access_rules.get_or_insert_with(Vec::new).push(rule);
            }
            "satisfy" => s.satisfy_any = Some(arg(d, 0) == "any"),
            "limit_req" => {
                let limit = self.limit_req(d)?;
                s.limit_req.get_or_insert_with(Vec::new).push(limit);
            }
            "limit_req_status" => s.limit_req_status = Some(status(d).map_err(e)?),
            "limit_req_log_level" => s.limit_req_log_level = Some(log_level(d).map_err(e)?),
            "limit_req_dry_run" => s.limit_req_dry_run = Some(arg(d, 0) == "on"),
            "limit_conn" => {
                let zone = self
                    .conn_zones
                    .iter()
                    .position(|z| z.name == arg(d, 0))
                    .ok_or_else(|| e(format!("zero size shared memory zone \"{}\"", arg(d, 0))))?;
                let max = arg(d, 1)
                    .parse()
                    .map_err(|_| e(format!("invalid number of connections \"{}\"", arg(d, 1))))?;
                s.limit_conn
                    .get_or_insert_with(Vec::new)
                    .push(limit_conn::Limit { zone, max });
            }
            "limit_conn_status" => s.limit_conn_status = Some(status(d).map_err(e)?),
            "limit_conn_log_level" => s.limit_conn_log_level = Some(log_level(d).map_err(e)?),
            "limit_conn_dry_run" => s.limit_conn_dry_run = Some(arg(d, 0) == "on"),
            "auth_basic" => {
                s.auth_realm = Some(match arg(d, 0) {
                    "off" => None,
                    realm => Some(Template::parse(realm, &self.users).map_err(e)?),
                })
            }
            "auth_basic_user_file" => s.auth_file = Some(self.user_file(d)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `auth_basic_user_file`: relative names start at the configuration's directory.
    fn user_file(&self, d: &Directive) -> Result<String, LowerError> {
        let name = arg(d, 0);
        if name.contains('$') {
            return Err(self.err(
                d,
                "\"auth_basic_user_file\" with variables is not implemented yet".into(),
            ));
        }
        if name.starts_with('/') {
            return Ok(name.to_owned());
        }
        let main = self.config.files.first().map_or("", |f| f.path.as_str());
        let dir = main.rsplit_once('/').map_or("", |(d, _)| d);
        Ok(format!("{dir}/{name}"))
    }

    /// `limit_req zone=name [burst=N] [nodelay | delay=N]`.
    fn limit_req(&self, d: &Directive) -> Result<limit_req::Limit, LowerError> {
        let (mut zone, mut burst, mut delay) = (None, 0u64, 0u64);
        for w in &d.args {
            let t = w.text.as_str();
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| self.err(d, format!("invalid parameter \"{t}\"")))
            };
            if let Some(z) = t.strip_prefix("zone=") {
                let ix = self.req_zones.iter().position(|s| s.name == z);
                zone =
                    Some(ix.ok_or_else(|| {
                        self.err(d, format!("zero size shared memory zone \"{z}\""))
                    })?);
            } else if let Some(b) = t.strip_prefix("burst=") {
                burst = num(b)? * 1000;
            } else if let Some(v) = t.strip_prefix("delay=") {
                delay = num(v)? * 1000;
            } else if t == "nodelay" {
                delay = u64::MAX;
            } else {
                return Err(self.err(d, format!("invalid parameter \"{t}\"")));
            }
        }
        let zone =
            zone.ok_or_else(|| self.err(d, "\"limit_req\" must have \"zone\" parameter".into()))?;
        Ok(limit_req::Limit { zone, burst, delay })
    }
}
