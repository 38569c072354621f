//! Responses the generic path writes itself (`return`, redirects, error statuses with
//! nginx's pages, 401 challenges): status, `Server`/`Date`, Content-Type by the URI,
//! Content-Length, Location made absolute, `add_header`.
//!
//! Owns: writing those to the session. It must not decide statuses (`http` and the phases
//! do).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;

use super::generic::{add_headers, local_port, standard_headers};
use crate::http::conf::LocConf;
use crate::http::forward::{self, absolute};
use crate::http::script::Reply;
use crate::http::vars::Request;

/// Writes a response the generic path decided itself (return, redirects, errors).
pub async fn write_reply(
    session: &mut Session,
    conf: &LocConf,
    req: &Request,
    r: &Reply,
) -> Result<()> {
    write_reply_with(session, conf, req, r, None).await
}

/// [`write_reply`] with a `WWW-Authenticate` challenge (401 from `auth_basic`).
pub async fn write_reply_with(
    session: &mut Session,
    conf: &LocConf,
    req: &Request,
    r: &Reply,
    challenge: Option<&str>,
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
        resp.insert_header(LOCATION, absolute(l, &req.host, local_port(req)))?;
    }
    if let Some(c) = challenge {
        resp.insert_header(http::header::WWW_AUTHENTICATE, c)?;
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
