//! Smart HTTP plumbing for `/marketplace.git`: reading
//! a Worker request into a `GitRequest` and writing git responses.

use worker::{Headers, Method, Request, Response};

use super::error::{ApiError, ApiResult};
use crate::git::body::MAX_REQUEST_BYTES;
use crate::git::smart_http::GitRequest;
use crate::git::upload_pack::{ProtocolVersion, Server};

/// The server identity every git response carries.
pub const SERVER: Server<'static> = Server {
    agent: crate::git::AGENT,
};

/// The parts of a Worker request that smart HTTP reads, owned.
pub struct IncomingGit {
    pub method: Method,
    /// Path below the repository root, e.g. `/info/refs`.
    pub rel: String,
    pub query: Option<String>,
    pub git_protocol: Option<String>,
    content_type: Option<String>,
    content_encoding: Option<String>,
    body: Vec<u8>,
}

impl IncomingGit {
    /// Reads `req` (mounted so that `rel` is its path below the repository),
    /// refusing bodies over the upload-pack limit (see `read_body`).
    pub async fn read(req: &mut Request, rel: &str) -> Result<IncomingGit, ApiError> {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let (git_protocol, content_type, content_encoding) = (
            header("Git-Protocol"),
            header("Content-Type"),
            header("Content-Encoding"),
        );
        let method = req.method();
        let body = if method == Method::Post {
            super::read_body(req, MAX_REQUEST_BYTES).await?
        } else {
            Vec::new()
        };
        Ok(IncomingGit {
            method,
            rel: rel.to_string(),
            query: req.url()?.query().map(str::to_owned),
            git_protocol,
            content_type,
            content_encoding,
            body,
        })
    }

    /// The borrowed view the pure layer takes.
    pub fn request(&self) -> GitRequest<'_> {
        GitRequest {
            method: self.method.as_ref(),
            path: &self.rel,
            query: self.query.as_deref(),
            git_protocol: self.git_protocol.as_deref(),
            content_type: self.content_type.as_deref(),
            content_encoding: self.content_encoding.as_deref(),
            body: &self.body,
        }
    }

    /// Whether this is a v2 capability advertisement, which lists no refs.
    pub fn is_v2_advertisement(&self) -> bool {
        self.method == Method::Get
            && self.rel == "/info/refs"
            && ProtocolVersion::from_header(self.git_protocol.as_deref()) == ProtocolVersion::V2
    }
}

/// Headers of a git response: its type, and never cached.
pub fn git_headers(content_type: &str) -> worker::Result<Headers> {
    let headers = Headers::new();
    headers.set("Content-Type", content_type)?;
    headers.set("Cache-Control", "no-cache, max-age=0, must-revalidate")?;
    Ok(headers)
}

/// A git response body.
pub fn git_bytes(status: u16, content_type: &str, bytes: Vec<u8>) -> ApiResult {
    Ok(Response::from_bytes(bytes)?
        .with_status(status)
        .with_headers(git_headers(content_type)?))
}

/// A plain-text response (git prints these bodies on errors).
pub fn text(status: u16, msg: &str) -> ApiResult {
    let headers = Headers::new();
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    Ok(Response::from_bytes(format!("{msg}\n").into_bytes())?
        .with_status(status)
        .with_headers(headers))
}
