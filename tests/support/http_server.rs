//! A small std HTTP/1.1 server that mounts a `MemoryRepo` at `/repo.git`
//! through the same pure `smart_http::handle` the Worker uses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use marketplace_edge::git::body::MAX_REQUEST_BYTES;
use marketplace_edge::git::memory::MemoryRepo;
use marketplace_edge::git::pack::{PackError, PackWriter};
use marketplace_edge::git::repo::ObjectStore;
use marketplace_edge::git::smart_http::{handle, GitBody, GitRequest};
use marketplace_edge::git::upload_pack::{write_framed, PackResponse, Server};
use marketplace_edge::git::ObjectId;

/// A running server; it lives until the test process exits.
pub struct TestServer {
    pub base: String,
}

impl TestServer {
    /// The clone URL of the mounted repository.
    pub fn repo_url(&self) -> String {
        format!("{}/repo.git", self.base)
    }
}

/// Starts a server for `repo` on an ephemeral loopback port.
pub fn serve(repo: MemoryRepo) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let repo = Arc::new(repo);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let repo = Arc::clone(&repo);
            std::thread::spawn(move || {
                let _ = handle_conn(conn, &repo);
            });
        }
    });
    TestServer { base }
}

/// A parsed HTTP/1.1 request.
pub struct RawRequest {
    pub method: String,
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A header's value by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The target split into path and query.
    pub fn path_and_query(&self) -> (String, Option<String>) {
        match self.target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (self.target.clone(), None),
        }
    }
}

/// Reads one request, its body by Content-Length or chunked, at most
/// `max_body` bytes (more is cut, and the handler sees an oversize body).
pub fn read_request(stream: &TcpStream, max_body: usize) -> std::io::Result<RawRequest> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut req = RawRequest {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    req.body = if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(&mut reader, max_body)?
    } else {
        let len: usize = req
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut b = Vec::new();
        reader
            .by_ref()
            .take(len.min(max_body + 1) as u64)
            .read_to_end(&mut b)?;
        b
    };
    Ok(req)
}

fn handle_conn(stream: TcpStream, repo: &MemoryRepo) -> std::io::Result<()> {
    let req = read_request(&stream, MAX_REQUEST_BYTES)?;
    let (path, query) = req.path_and_query();
    let (status, ctype, out) = match path.strip_prefix("/repo.git") {
        Some(rel) => {
            let greq = GitRequest {
                method: &req.method,
                path: rel,
                query: query.as_deref(),
                git_protocol: req.header("git-protocol"),
                content_type: req.header("content-type"),
                content_encoding: req.header("content-encoding"),
                body: &req.body,
            };
            let resp = handle(
                &greq,
                repo,
                &Server {
                    agent: marketplace_edge::git::AGENT,
                },
            );
            let out = match resp.body {
                GitBody::Bytes(b) => b,
                GitBody::Pack(p) => write_pack_response(&p, repo, Vec::new()).expect("pack"),
            };
            (resp.status, resp.content_type, out)
        }
        None => (404, "text/plain", b"not found\n".to_vec()),
    };
    let mut s = stream;
    write!(s, "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", out.len())?;
    s.write_all(&out)?;
    s.flush()
}

fn read_chunked(r: &mut impl BufRead, max_body: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut size_line = String::new();
        r.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .unwrap_or(0);
        if size == 0 {
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
            return Ok(out);
        }
        if out.len() + size > max_body + 1 {
            return Ok(out); // the handler will answer 413 for the oversize body
        }
        let mut chunk = vec![0; size + 2];
        r.read_exact(&mut chunk)?;
        out.extend_from_slice(&chunk[..size]);
    }
}

/// Writes a whole pack response synchronously from an `ObjectStore`
/// (the Worker streams its packs instead; see `http/pack_stream.rs`).
fn write_pack_response<W: Write>(
    resp: &PackResponse,
    store: &impl ObjectStore,
    sink: W,
) -> Result<W, PackError> {
    write_framed(resp, sink, |w| {
        write_objects(&resp.objects, store, w).map(|_| ())
    })
}

fn write_objects<W: Write>(
    ids: &[ObjectId],
    store: &impl ObjectStore,
    sink: W,
) -> Result<W, PackError> {
    let count = u32::try_from(ids.len()).map_err(|_| PackError::TooLarge)?;
    let mut pack = PackWriter::new(sink, count)?;
    for id in ids {
        let (kind, body) = store.object(id).ok_or(PackError::MissingObject(*id))?;
        pack.write_object(kind, &body)?;
    }
    Ok(pack.finish()?.0)
}
