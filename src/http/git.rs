//! Smart HTTP adapter: turns a Worker request into a `GitRequest`, lets the
//! pure `smart_http` answer it, and writes the answer (and any pack) back.

use worker::{Headers, Method, Request, Response, Result};

use super::error::ApiError;
use crate::git::body::MAX_REQUEST_BYTES;
use crate::git::repo::{ObjectStore, Repository};
use crate::git::smart_http::{self, GitBody, GitRequest};
use crate::git::upload_pack::{write_pack_response, Server};

/// Serves the repository mounted at `prefix`.
pub async fn serve<R: Repository + ObjectStore>(
    mut req: Request,
    prefix: &str,
    repo: &R,
) -> Result<Response> {
    let path = req.path();
    let rel = path.strip_prefix(prefix).unwrap_or("");
    let query = req.url()?.query().map(str::to_owned);
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (git_protocol, content_type, content_encoding) = (
        header("Git-Protocol"),
        header("Content-Type"),
        header("Content-Encoding"),
    );
    let declared_len = header("Content-Length").and_then(|l| l.parse::<usize>().ok());
    if declared_len.is_some_and(|l| l > MAX_REQUEST_BYTES) {
        return text(
            413,
            &format!("request body is larger than {MAX_REQUEST_BYTES} bytes"),
        );
    }
    let method = req.method();
    let body = if method == Method::Post {
        req.bytes().await?
    } else {
        Vec::new()
    };
    let greq = GitRequest {
        method: method.as_ref(),
        path: rel,
        query: query.as_deref(),
        git_protocol: git_protocol.as_deref(),
        content_type: content_type.as_deref(),
        content_encoding: content_encoding.as_deref(),
        body: &body,
    };
    let resp = smart_http::handle(
        &greq,
        repo,
        &Server {
            agent: crate::AGENT,
        },
    );
    let bytes = match resp.body {
        GitBody::Bytes(b) => b,
        GitBody::Pack(p) => match write_pack_response(&p, repo, Vec::new()) {
            Ok(b) => b,
            Err(e) => {
                return ApiError::internal(format!("building the pack failed: {e}")).into_response()
            }
        },
    };
    let headers = Headers::new();
    headers.set("Content-Type", resp.content_type)?;
    if resp.no_cache {
        headers.set("Cache-Control", "no-cache, max-age=0, must-revalidate")?;
    }
    Ok(Response::from_bytes(bytes)?
        .with_status(resp.status)
        .with_headers(headers))
}

fn text(status: u16, msg: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    Ok(Response::from_bytes(format!("{msg}\n").into_bytes())?
        .with_status(status)
        .with_headers(headers))
}
