//! Talking to an upstream git server over smart HTTP (the Worker as a git
//! client): its refs (protocol v2 `ls-refs`, else the v0 advertisement)
//! and a depth-1 pack of one commit. The protocol bytes are `git::client`'s.
//!
//! Invariants: every request carries a `User-Agent`; redirects are followed
//! by hand, at most `MAX_REDIRECTS`, and never to another origin while
//! credentials are configured; every answer is read with a size limit, so
//! a hostile server cannot exhaust the isolate's memory; a pack goes to R2
//! as it arrives, so the isolate holds one part of it (`PART_BYTES`), not
//! the pack.

use futures_util::StreamExt;
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use super::error::ApiError;
use crate::catalog::archive::IMPORT_LIMITS;
use crate::git::client::{
    fetch_request_v0, fetch_request_v2, is_v2_advertisement, ls_refs_request, parse_ls_refs,
    parse_v0_advertisement, ClientError, FetchAnswer, FetchReader, RemoteRefs,
};
use crate::git::unpack::TrailerCheck;
use crate::git::ObjectId;
use crate::storage::uploads::Staged;
use crate::storage::Storage;

/// Redirects followed per request.
const MAX_REDIRECTS: usize = 5;
/// Largest ref advertisement read.
const MAX_REFS_BYTES: usize = 8 << 20;
/// Largest pack fetched: as large as an import's files may be in all (it
/// is staged in R2 and read back by windows, never held whole).
pub const MAX_PACK_BYTES: usize = IMPORT_LIMITS.max_total_bytes;

/// Which protocol the server speaks, learned from its advertisement.
pub enum Protocol {
    V2,
    /// v0, with the capabilities it offered.
    V0(Vec<String>),
}

/// An upstream repository.
pub struct Remote {
    /// The repository URL without a trailing slash.
    base: String,
    /// `Authorization` to send, if the source names a secret.
    auth: Option<String>,
}

fn unreachable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        502,
        "upstream_unreachable",
        format!("the upstream repository could not be reached: {e}"),
    )
}

/// The upstream's `what` (answer, pack) is over `limit` bytes.
fn too_large(what: &str, limit: usize) -> ApiError {
    ApiError::new(
        502,
        "upstream_too_large",
        format!("the upstream's {what} is larger than {limit} bytes"),
    )
}

fn protocol(e: ClientError) -> ApiError {
    match e {
        ClientError::Remote(msg) => ApiError::new(
            502,
            "upstream_refused",
            format!("the upstream server refused: {msg}"),
        ),
        e => ApiError::new(
            502,
            "upstream_protocol",
            format!("the upstream server's answer is unusable: {e}"),
        ),
    }
}

/// The scheme, host and port of `url`.
fn origin(url: &str) -> Option<String> {
    let u = worker::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

impl Remote {
    /// The repository at `url` (http or https), with `auth` if any.
    pub fn new(url: &str, auth: Option<String>) -> Result<Remote, ApiError> {
        let parsed = worker::Url::parse(url).map_err(|e| {
            ApiError::bad_request("bad_source_url", format!("`{url}` is not a URL: {e}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ApiError::bad_request(
                "bad_source_url",
                "the source must be an http(s) URL of a git repository",
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ApiError::bad_request(
                "bad_source_url",
                "put credentials in a Worker secret named by `auth_secret`, not in the URL",
            ));
        }
        Ok(Remote {
            base: url.trim_end_matches('/').to_string(),
            auth,
        })
    }

    /// The remote's refs and the protocol it speaks.
    pub async fn refs(&mut self) -> Result<(RemoteRefs, Protocol), ApiError> {
        let adv = self
            .call(
                Method::Get,
                "/info/refs?service=git-upload-pack",
                None,
                MAX_REFS_BYTES,
            )
            .await?;
        if is_v2_advertisement(&adv) {
            let body = self
                .call(
                    Method::Post,
                    "/git-upload-pack",
                    Some(ls_refs_request()),
                    MAX_REFS_BYTES,
                )
                .await?;
            Ok((parse_ls_refs(&body).map_err(protocol)?, Protocol::V2))
        } else {
            let (refs, caps) = parse_v0_advertisement(&adv).map_err(protocol)?;
            if !caps.iter().any(|c| c == "shallow") {
                return Err(ApiError::new(
                    502,
                    "upstream_protocol",
                    "the upstream server offers neither protocol v2 nor shallow fetches",
                ));
            }
            Ok((refs, Protocol::V0(caps)))
        }
    }

    /// Fetches the pack of `commit` at depth 1 into R2 as it arrives
    /// (side-band demultiplexed on the way, its trailer checked, never
    /// held whole past one part); the staged pack.
    pub async fn fetch_staged(
        &mut self,
        storage: &Storage,
        proto: &Protocol,
        commit: &ObjectId,
    ) -> Result<StagedPack, ApiError> {
        let (request, answer) = match proto {
            Protocol::V2 => (fetch_request_v2(commit), FetchAnswer::V2),
            Protocol::V0(caps) => (fetch_request_v0(commit, caps), FetchAnswer::V0),
        };
        let mut resp = self
            .open(Method::Post, "/git-upload-pack", Some(request))
            .await?;
        let mut chunks = resp.stream().map_err(unreachable)?;
        let mut reader = FetchReader::new(answer);
        let mut trailer = TrailerCheck::default();
        let mut staged = storage.begin_staged();
        let copied = async {
            let mut pack = Vec::new();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(unreachable)?;
                pack.clear();
                reader.push(&chunk, &mut pack).map_err(protocol)?;
                if staged.taken() + pack.len() > MAX_PACK_BYTES {
                    return Err(too_large("pack", MAX_PACK_BYTES));
                }
                trailer.push(&pack);
                staged.write(storage, &pack).await?;
            }
            reader.finish().map_err(protocol)?;
            let len = trailer
                .finish()
                .map_err(crate::catalog::upstream::UpstreamError::from)?;
            Ok(len)
        }
        .await;
        match copied {
            Ok(len) => Ok(StagedPack {
                staged: staged.finish(storage).await?,
                len,
            }),
            Err(e) => {
                staged.abort(storage).await;
                Err(e)
            }
        }
    }

    /// Sends one request to `url`, without following redirects.
    async fn send(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> worker::Result<worker::Response> {
        let headers = Headers::new();
        headers.set("User-Agent", crate::git::AGENT)?;
        headers.set("Git-Protocol", "version=2")?;
        if let Some(a) = &self.auth {
            headers.set("Authorization", a)?;
        }
        if body.is_some() {
            headers.set("Content-Type", "application/x-git-upload-pack-request")?;
            headers.set("Accept", "application/x-git-upload-pack-result")?;
        }
        let mut init = RequestInit::new();
        init.with_method(method.clone())
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        if let Some(b) = body {
            init.with_body(Some(worker::js_sys::Uint8Array::from(b).into()));
        }
        let req = Request::new_with_init(url, &init)?;
        Fetch::Request(req).send().await
    }

    /// One request to `base + path`, following redirects by hand; the body,
    /// read up to `limit` bytes.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<u8>, ApiError> {
        let mut resp = self.open(method, path, body).await?;
        let mut out = Vec::new();
        let mut chunks = resp.stream().map_err(unreachable)?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(unreachable)?;
            if out.len() + chunk.len() > limit {
                return Err(too_large("answer", limit));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// One request to `base + path`, following redirects by hand; the
    /// answer, once it is a success (its body not read yet).
    async fn open(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<worker::Response, ApiError> {
        let mut url = format!("{}{path}", self.base);
        for _ in 0..=MAX_REDIRECTS {
            // Both requests are idempotent (an advertisement, an
            // upload-pack exchange). A server that closes each connection
            // after answering (HTTP/1.0, CGI setups) races the runtime's
            // reuse of that connection and the request fails with
            // "Network connection lost" before any answer: such a request
            // is sent once more, on a new connection, as curl does.
            let resp = match self.send(&method, &url, body.as_deref()).await {
                Ok(resp) => resp,
                Err(first) => self
                    .send(&method, &url, body.as_deref())
                    .await
                    .map_err(|e| unreachable(format!("{e} (the first attempt: {first})")))?,
            };
            let status = resp.status_code();
            if (300..400).contains(&status) {
                let to = resp
                    .headers()
                    .get("Location")?
                    .ok_or_else(|| unreachable("a redirect without a Location"))?;
                let next = worker::Url::parse(&url)
                    .and_then(|u| u.join(&to))
                    .map_err(|e| unreachable(format!("a redirect to `{to}`: {e}")))?
                    .to_string();
                if origin(&next) != origin(&url) && self.auth.is_some() {
                    return Err(ApiError::new(
                        502,
                        "upstream_redirect",
                        format!("the upstream redirects to another origin ({next}); credentials are never sent there, so set the source URL to it directly"),
                    ));
                }
                // Later requests go to the repository's new home.
                if let Some(new_base) = next.strip_suffix(path) {
                    self.base = new_base.to_string();
                }
                url = next;
                continue;
            }
            if status == 401 || status == 403 {
                return Err(ApiError::new(
                    502,
                    "upstream_unauthorized",
                    format!("the upstream answered {status}: check the source's auth_secret"),
                ));
            }
            if !(200..300).contains(&status) {
                return Err(ApiError::new(
                    502,
                    "upstream_status",
                    format!("the upstream answered {status} to {path}"),
                ));
            }
            return Ok(resp);
        }
        Err(unreachable(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// A fetched pack, its trailer checked: in R2 (`uploads/<random>`), or
/// kept in memory when it is smaller than one part of a staged write.
pub struct StagedPack {
    pub staged: Staged,
    pub len: usize,
}
