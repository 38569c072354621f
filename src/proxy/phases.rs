//! The phases between routing and content on the generic path: preaccess/access (`limits`)
//! on the routed location, the static content phase (`static_serve`, with its internal
//! redirects), then `error_page` for an intercepted generated status — an
//! internal redirect that routes again and runs the access phase of its new location, once
//! (`recursive_error_pages off`).
//!
//! Owns: that order and the final status of an intercepted request. It must not write
//! responses (`generic`/`reply` do) nor hold nginx rules (`http::error_page`, `http::site`).

use std::sync::Arc;

use http::HeaderMap;

use super::limits::{self, Held};
use super::static_serve::{self, Content, Hit};
use crate::http::conf::LocConf;
use crate::http::error_page::{self, ErrorPage};
use crate::http::script::Reply;
use crate::http::vars::{Request, Vars};
use crate::http::{Action, Decision, Runtime};

/// Where a request ends up after the access phase and error pages.
pub struct Routed {
    pub conf: Arc<LocConf>,
    pub action: Action,
    /// The realm of a 401 challenge.
    pub realm: Option<String>,
    /// The status to send instead of the upstream's or the file's (an error page).
    pub status: Option<u16>,
    /// The file the content phase opened (`action` is then `Action::Static`).
    pub file: Option<Hit>,
}

/// nginx's limit on URI changes, shared here by the content phase's internal redirects.
const MAX_REDIRECTS: usize = 10;

/// The content phase of a location without a handler: `try_files`/index/static, following
/// their internal redirects (access phase again, limits not: nginx runs them once).
async fn content(
    rt: &Runtime,
    server: usize,
    mut conf: Arc<LocConf>,
    mut action: Action,
    req: &mut Request,
    headers: &HeaderMap,
) -> (Arc<LocConf>, Action, Option<String>, Option<Hit>) {
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(action, Action::Static) {
            return (conf, action, None, None);
        }
        let target = match static_serve::content(&conf, req, headers).await {
            Content::File(hit) => return (conf, Action::Static, None, Some(hit)),
            Content::Reply(r) => return (conf, Action::Reply(r), None, None),
            Content::Redirect(target) => target,
        };
        let next = rt
            .site
            .internal_redirect(server, req, headers, target, &conf);
        conf = next.conf;
        action = next.action;
        if next.access {
            if let Some(denial) = limits::check_access(&conf, req, headers).await {
                return (conf, reply(denial.status), denial.realm, None);
            }
        }
    }
    log::error!(
        "rewrite or internal redirection cycle while internally redirecting to \"{}\"",
        req.uri
    );
    (conf, reply(500), None, None)
}

fn reply(status: u16) -> Action {
    Action::Reply(Reply {
        status,
        location: None,
        body: None,
    })
}

async fn access(
    rt: &Runtime,
    d: Decision,
    req: &Request,
    headers: &HeaderMap,
    held: &mut Held,
) -> (Arc<LocConf>, Action, Option<String>) {
    if d.access {
        if let Some(denial) = limits::check(rt, &d.conf, req, headers, held).await {
            return (d.conf, reply(denial.status), denial.realm);
        }
    }
    (d.conf, d.action, None)
}

/// Runs the phases for a routed request.
pub async fn run(
    rt: &Runtime,
    decision: Decision,
    req: &mut Request,
    headers: &HeaderMap,
    held: &mut Held,
) -> Routed {
    let server = decision.server;
    let (conf, action, realm) = access(rt, decision, req, headers, held).await;
    let (conf, action, realm2, file) = content(rt, server, conf, action, req, headers).await;
    let realm = realm2.or(realm);
    let intercepted = match &action {
        // Generated statuses only: a `return` with a text or a redirect is sent as is.
        Action::Reply(r) if r.status >= 400 && r.body.is_none() && r.location.is_none() => {
            error_page::find(&conf.error_pages, r.status).map(|p| (p.clone(), r.status))
        }
        _ => None,
    };
    let Some((page, status)) = intercepted else {
        return Routed {
            conf,
            action,
            realm,
            status: None,
            file,
        };
    };
    let mut routed = error_page(rt, server, &conf, &page, status, req, headers, held).await;
    // The challenge of the first 401 stays on the page nginx sends for it.
    routed.realm = routed.realm.or(realm);
    routed
}

/// `error_page`'s internal redirect for `status` intercepted in location `conf` of server
/// `server` (before proxying, or after it failed): the target's access and content phases
/// run, once (`recursive_error_pages off`).
#[allow(clippy::too_many_arguments)]
pub async fn error_page(
    rt: &Runtime,
    server: usize,
    conf: &Arc<LocConf>,
    page: &ErrorPage,
    status: u16,
    req: &mut Request,
    headers: &HeaderMap,
    held: &mut Held,
) -> Routed {
    let target = page.target(page.target.eval(&Vars { req, headers }));
    let next = rt.site.error_redirect(server, req, headers, target, conf);
    let (conf, action, realm) = access(rt, next, req, headers, held).await;
    let (conf, action, realm2, file) = content(rt, server, conf, action, req, headers).await;
    let (action, status) = match action {
        // An error or redirect generated by the target itself (external pages included) is
        // sent as such: nginx sets `err_status` again and does not intercept twice. Anything
        // else carries the page's status.
        Action::Reply(r) if r.location.is_some() || (r.status >= 400 && r.body.is_none()) => {
            (Action::Reply(r), None)
        }
        Action::Reply(mut r) => {
            r.status = page.status(status, r.status);
            (Action::Reply(r), None)
        }
        // A file served as the page: the intercepted status unless `=` (200 then).
        Action::Static => (Action::Static, Some(page.status(status, 200))),
        proxy => {
            let forced = match page.overwrite {
                error_page::Overwrite::Target => None,
                _ => Some(page.status(status, 0)),
            };
            (proxy, forced)
        }
    };
    Routed {
        conf,
        action,
        realm: realm2.or(realm),
        status,
        file,
    }
}
