//! Git smart HTTP as pure request → response mapping, shared by the Worker
//! and the native test server so both speak exactly the same protocol.
//!
//! Paths are relative to the repository root (`/info/refs`,
//! `/git-upload-pack`). Invariants: push (`git-receive-pack`) is always 403,
//! dumb HTTP is never served, and every refusal carries a plain-text message.

use super::body::{decode_body, MAX_REQUEST_BYTES};
use super::oid::ObjectId;
use super::pktline::{Packet, PktReader};
use super::repo::Repository;
use super::upload_pack::{
    self, advertise_v0, advertise_v2, PackResponse, ProtocolVersion, Response, Server,
};

/// The parts of an HTTP request smart HTTP looks at.
#[derive(Debug, Clone, Copy)]
pub struct GitRequest<'a> {
    pub method: &'a str,
    /// Path below the repository root, e.g. `/info/refs`.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub git_protocol: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub body: &'a [u8],
}

/// The body of a response.
#[derive(Debug, Clone)]
pub enum GitBody {
    Bytes(Vec<u8>),
    /// Negotiation bytes, a pack to write, and a tail (see `upload_pack`).
    Pack(PackResponse),
}

/// A response ready to be sent by any HTTP layer.
#[derive(Debug, Clone)]
pub struct GitResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: GitBody,
}

impl GitResponse {
    fn text(status: u16, msg: impl Into<String>) -> Self {
        let mut body = msg.into().into_bytes();
        body.push(b'\n');
        GitResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: GitBody::Bytes(body),
        }
    }

    fn git(content_type: &'static str, body: GitBody) -> Self {
        GitResponse {
            status: 200,
            content_type,
            body,
        }
    }
}

const ADVERTISEMENT: &str = "application/x-git-upload-pack-advertisement";
const RESULT: &str = "application/x-git-upload-pack-result";
const REQUEST: &str = "application/x-git-upload-pack-request";

fn query_service(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("service="))
}

/// Answers one smart-HTTP request against `repo`.
pub fn handle(req: &GitRequest<'_>, repo: &impl Repository, server: &Server<'_>) -> GitResponse {
    let version = ProtocolVersion::from_header(req.git_protocol);
    match (req.method, req.path) {
        ("GET" | "HEAD", "/info/refs") => match query_service(req.query) {
            Some("git-upload-pack") => {
                let body = match version {
                    ProtocolVersion::V0 => advertise_v0(repo.refs(), server),
                    ProtocolVersion::V2 => advertise_v2(server),
                };
                GitResponse::git(ADVERTISEMENT, GitBody::Bytes(body))
            }
            Some("git-receive-pack") => GitResponse::text(403, "push is not supported: this marketplace is read-only"),
            Some(other) => GitResponse::text(403, format!("unknown git service `{other}`")),
            None => GitResponse::text(403, "dumb HTTP is not served; use a git client that speaks smart HTTP (git 1.6.6 or newer)"),
        },
        ("POST", "/git-upload-pack") => upload_pack_post(req, repo, server, version),
        ("POST", "/git-receive-pack") => GitResponse::text(403, "push is not supported: this marketplace is read-only"),
        (_, "/info/refs" | "/git-upload-pack" | "/git-receive-pack") => GitResponse::text(405, format!("method {} is not allowed here", req.method)),
        _ => GitResponse::text(404, "not found; clone the repository URL itself"),
    }
}

/// The commits an upload-pack POST wants, in request order (v0 and v2
/// alike); empty for any other request or a body that cannot be read, which
/// `handle` then refuses with the reason.
pub fn wants(req: &GitRequest<'_>) -> Vec<ObjectId> {
    if (req.method, req.path) != ("POST", "/git-upload-pack") {
        return Vec::new();
    }
    let Ok(body) = decode_body(req.body, req.content_encoding, MAX_REQUEST_BYTES) else {
        return Vec::new();
    };
    let mut reader = PktReader::new(&body);
    let mut out = Vec::new();
    while let Ok(Some(packet)) = reader.next_packet() {
        let Some(line) = Packet::text(&packet) else {
            continue;
        };
        if let Some(id) = line
            .strip_prefix(b"want ")
            .and_then(|arg| arg.get(..40))
            .and_then(|hex| ObjectId::from_hex(hex).ok())
        {
            out.push(id);
        }
    }
    out
}

fn upload_pack_post(
    req: &GitRequest<'_>,
    repo: &impl Repository,
    server: &Server<'_>,
    version: ProtocolVersion,
) -> GitResponse {
    let content_type = req
        .content_type
        .map(|c| c.split(';').next().unwrap_or("").trim());
    if content_type != Some(REQUEST) {
        return GitResponse::text(415, format!("expected Content-Type {REQUEST}"));
    }
    let body = match decode_body(req.body, req.content_encoding, MAX_REQUEST_BYTES) {
        Ok(b) => b,
        Err(e @ super::body::BodyError::TooLarge { .. }) => {
            return GitResponse::text(413, e.to_string())
        }
        Err(e @ super::body::BodyError::UnsupportedEncoding(_)) => {
            return GitResponse::text(415, e.to_string())
        }
        Err(e) => return GitResponse::text(400, e.to_string()),
    };
    match upload_pack::serve(version, &body, repo, server) {
        Ok(Response::Bytes(b)) => GitResponse::git(RESULT, GitBody::Bytes(b)),
        Ok(Response::Pack(p)) => GitResponse::git(RESULT, GitBody::Pack(p)),
        Err(e) => GitResponse::text(400, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::pktline::{write_delim, write_flush, write_line};

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn post(body: &[u8]) -> GitRequest<'_> {
        GitRequest {
            method: "POST",
            path: "/git-upload-pack",
            query: None,
            git_protocol: None,
            content_type: Some(REQUEST),
            content_encoding: None,
            body,
        }
    }

    fn ids(hex: &[&str]) -> Vec<ObjectId> {
        hex.iter()
            .map(|h| ObjectId::from_hex(h.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn wants_reads_v2_and_v0_requests_in_order() {
        let mut v2 = Vec::new();
        write_line(&mut v2, "command=fetch");
        write_delim(&mut v2);
        write_line(&mut v2, "deepen 1");
        write_line(&mut v2, &format!("want {B}"));
        write_line(&mut v2, &format!("want {A}"));
        write_line(&mut v2, &format!("have {A}"));
        write_line(&mut v2, "done");
        write_flush(&mut v2);
        assert_eq!(wants(&post(&v2)), ids(&[B, A]));

        let mut v0 = Vec::new();
        write_line(&mut v0, &format!("want {A} multi_ack side-band-64k"));
        write_flush(&mut v0);
        write_line(&mut v0, "done");
        assert_eq!(wants(&post(&v0)), ids(&[A]));
    }

    #[test]
    fn wants_is_empty_for_other_requests_and_unreadable_bodies() {
        let mut body = Vec::new();
        write_line(&mut body, &format!("want {A}"));
        let get = GitRequest {
            method: "GET",
            path: "/info/refs",
            ..post(&body)
        };
        assert!(wants(&get).is_empty());
        assert!(wants(&post(b"zzzz")).is_empty());
        let mut short = Vec::new();
        write_line(&mut short, "want 1234");
        assert!(wants(&post(&short)).is_empty());
        let gzip_claimed = GitRequest {
            content_encoding: Some("gzip"),
            ..post(&body)
        };
        assert!(wants(&gzip_claimed).is_empty());
    }
}
