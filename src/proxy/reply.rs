//! Responses the generic path writes itself (`return`, redirects, error statuses with
//! nginx's pages, 401 challenges, 416's range): status, `Server`/`Date`, Content-Type by the URI,
//! Content-Length, Location made absolute, `add_header`.
//!
//! Owns: writing those to the session. It must not decide statuses (`http` and the phases
//! do).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;

use crate::http::conf::LocConf;
use crate::http::forward::{self, absolute_in};
use crate::http::script::Reply;
use crate::http::vars::{Request, Vars};

/// Writes a response the generic path decided itself (return, redirects, errors).
pub async fn write_reply(
    session: &mut Session,
    conf: &LocConf,
    req: &Request,
    r: &Reply,
) -> Result<()> {
    write_reply_with(session, conf, req, r, None).await
}

/// [`write_reply`] with one more header: a `WWW-Authenticate` challenge (401 from
/// `auth_basic`), a `Content-Range` (416).
pub async fn write_reply_with(
    session: &mut Session,
    conf: &LocConf,
    req: &Request,
    r: &Reply,
    extra: Option<(http::HeaderName, &str)>,
) -> Result<()> {
    let (body, content_type) = match (&r.body, forward::error_page(r.status)) {
        (Some(text), _) => (text.clone(), conf.content_type(&req.uri)),
        (None, Some(page)) if r.status >= 300 => (page, "text/html"),
        _ => (String::new(), ""),
    };
    let mut resp = ResponseHeader::build(r.status, Some(8))?;
    standard_headers(&mut resp)?;
    if !content_type.is_empty() {
        resp.insert_header(CONTENT_TYPE, content_type)?;
    }
    resp.insert_header(CONTENT_LENGTH, body.len().to_string())?;
    if let Some(l) = &r.location {
        resp.insert_header(
            LOCATION,
            absolute_in(l, &req.host, local_port(req), req.https),
        )?;
    }
    if let Some((name, value)) = extra {
        resp.insert_header(name, value)?;
    }
    add_headers(&mut resp, conf, req, &session.req_header().headers)?;
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only || body.is_empty())
        .await?;
    if !head_only && !body.is_empty() {
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
    }
    Ok(())
}

pub(super) fn local_port(req: &Request) -> u16 {
    req.local.map_or(80, |a| a.port())
}

/// `Server` and `Date`, unless the upstream's were passed (`proxy_pass_header`).
pub(super) fn standard_headers(resp: &mut ResponseHeader) -> Result<()> {
    if !resp.headers.contains_key(http::header::SERVER) {
        resp.insert_header(http::header::SERVER, "tollgate")?;
    }
    if !resp.headers.contains_key(http::header::DATE) {
        let now = super::date::http_date(std::time::SystemTime::now());
        resp.insert_header(http::header::DATE, now)?;
    }
    Ok(())
}

pub(super) fn add_headers(
    resp: &mut ResponseHeader,
    conf: &LocConf,
    req: &Request,
    client: &http::HeaderMap,
) -> Result<()> {
    let status = resp.status.as_u16();
    let vars = Vars {
        req,
        headers: client,
    };
    for h in conf.add_headers.iter() {
        if !forward::add_header_applies(status, h.always) {
            continue;
        }
        let v = h.value.eval(&vars);
        if !v.is_empty() {
            resp.append_header(h.name.clone(), v)?;
        }
    }
    Ok(())
}
