//! `git http-backend` as a real git server on 127.0.0.1 (CGI, one process
//! per request, as web servers run it), optionally behind HTTP Basic, and
//! counting the requests it answers: the baseline of the clone benchmark
//! and the upstream of the sync tests.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A running server: its base URL and how many requests it has answered.
pub struct Backend {
    pub base: String,
    requests: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

impl Backend {
    /// Requests answered so far (refused ones included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests that arrived on a connection the server then closed
    /// without answering (see `serve_http_backend_closing`).
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// How the server treats a connection after its first answer.
#[derive(Clone, Copy, PartialEq)]
enum Close {
    /// Says `Connection: close` and closes: no client reuses it.
    Announced,
    /// Says nothing (as if keeping it alive), then closes it when the next
    /// request arrives on it, unanswered: the race a server that closes
    /// each connection after answering (CGI setups, HTTP/1.0 servers) runs
    /// with a client that reuses connections, made certain to be lost.
    Unannounced,
}

/// Serves the repositories under `root`; with `basic`, only to requests
/// whose `Authorization` is exactly that value (else 401 with a challenge).
pub fn serve_http_backend(root: PathBuf, basic: Option<String>) -> Backend {
    serve(root, basic, true, Close::Announced)
}

/// Like `serve_http_backend`, but every connection is closed after one
/// answer without saying so: a request sent on it again is lost.
pub fn serve_http_backend_closing(root: PathBuf) -> Backend {
    serve(root, None, true, Close::Unannounced)
}

/// Like `serve_http_backend`, but as a server that only speaks protocol v0
/// (it never passes the client's `Git-Protocol` on to git).
pub fn serve_http_backend_v0(root: PathBuf) -> Backend {
    serve(root, None, false, Close::Announced)
}

fn serve(root: PathBuf, basic: Option<String>, v2: bool, close: Close) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (counter, lost) = (Arc::clone(&requests), Arc::clone(&dropped));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (root, basic) = (root.clone(), basic.clone());
            let (counter, lost) = (Arc::clone(&counter), Arc::clone(&lost));
            std::thread::spawn(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(kept) = conn.try_clone() else { return };
                let _ = cgi(conn, &root, basic.as_deref(), v2, close);
                if close == Close::Unannounced && next_request_arrives(&kept) {
                    lost.fetch_add(1, Ordering::SeqCst);
                }
                // Dropping `kept` closes the connection.
            });
        }
    });
    Backend {
        base,
        requests,
        dropped,
    }
}

/// Whether another request starts on `conn` within two seconds.
fn next_request_arrives(conn: &TcpStream) -> bool {
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let mut byte = [0u8; 1];
    matches!(conn.peek(&mut byte), Ok(n) if n > 0)
}

fn cgi(
    stream: TcpStream,
    root: &Path,
    basic: Option<&str>,
    v2: bool,
    close: Close,
) -> std::io::Result<()> {
    let req = super::http_server::read_request(&stream, 64 << 20)?;
    if let Some(expected) = basic {
        if req.header("authorization") != Some(expected) {
            let mut s = stream;
            write!(s, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return s.flush();
        }
    }
    let header = |n: &str| req.header(n).unwrap_or_default().to_string();
    let (path, query) = req.path_and_query();
    let (method, body, query) = (
        req.method.clone(),
        req.body.clone(),
        query.unwrap_or_default(),
    );
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_GIT_PROTOCOL",
            if v2 {
                header("git-protocol")
            } else {
                String::new()
            },
        )
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    // http-backend may answer and exit before it reads the whole body (a
    // web server in front of it ignores that too): what it wrote is still
    // the answer.
    if let Err(e) = child.stdin.take().unwrap().write_all(&body) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e);
        }
    }
    let out = child.wait_with_output()?;
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        })
        .unwrap_or((0, 0));
    let head = String::from_utf8_lossy(&out.stdout[..split.0]).to_string();
    let payload = &out.stdout[split.0 + split.1..];
    let mut status = "200 OK".to_string();
    let mut s = stream;
    let mut resp_headers = String::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => resp_headers.push_str(&format!("{}\r\n", h.trim_end())),
            None => {}
        }
    }
    let connection = match close {
        Close::Announced => "Connection: close\r\n",
        Close::Unannounced => "",
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\n{resp_headers}Content-Length: {}\r\n{connection}\r\n",
        payload.len()
    )?;
    s.write_all(payload)?;
    s.flush()
}

/// A server that answers every request with `302` to the same path under
/// `to_base` (another origin): a repository that moved.
pub fn serve_redirect(to_base: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let to = to_base.clone();
            std::thread::spawn(move || {
                let Ok(req) = super::http_server::read_request(&conn, 1 << 20) else {
                    return;
                };
                let (path, query) = req.path_and_query();
                let q = query.map(|q| format!("?{q}")).unwrap_or_default();
                let mut s = conn;
                let _ = write!(
                    s,
                    "HTTP/1.1 302 Found\r\nLocation: {to}{path}{q}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            });
        }
    });
    base
}
