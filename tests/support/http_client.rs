//! A raw HTTP/1.1 client over `TcpStream`, for requests git would never send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A parsed response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `base` (e.g. `http://127.0.0.1:8787`) and reads the
/// response. It reads exactly the framed body rather than to EOF, because
/// `wrangler dev` keeps connections open despite `Connection: close`.
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    send(base, method, path, headers, Body::Sized(body), 60)
}

/// Like `request`, but waits up to `secs` for the answer (a request known
/// to take long under wrangler dev on a loaded machine).
pub fn request_waiting(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    secs: u64,
) -> RawResponse {
    send(base, method, path, headers, Body::Sized(body), secs)
}

/// Like `request`, but sends `len` bytes of `fill` with
/// `Transfer-Encoding: chunked` (no `Content-Length`), 64 KiB a chunk,
/// stopping early if the server stops reading.
pub fn request_chunked(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    fill: u8,
    len: usize,
) -> RawResponse {
    send(base, method, path, headers, Body::Chunked { fill, len }, 60)
}

enum Body<'a> {
    Sized(&'a [u8]),
    Chunked { fill: u8, len: usize },
}

fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
    wait_secs: u64,
) -> RawResponse {
    if base.starts_with("https://") {
        let Body::Sized(bytes) = body else {
            panic!("chunked bodies go to local http:// servers only")
        };
        return over_tls(base, method, path, headers, bytes, wait_secs);
    }
    let host = base.strip_prefix("http://").expect("http base URL");
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(wait_secs)))
        .unwrap();
    // A server that answered early may stop reading: give up sending then.
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // A bodiless GET or HEAD says nothing of a body, as browsers, curl and
    // git send it: wrangler dev's proxy retries such a request when its
    // local runtime reloads under it, but not one that declares a body
    // (even `Content-Length: 0`), which then fails with a 500 of its own.
    let framing = match &body {
        Body::Sized(b) if b.is_empty() && matches!(method, "GET" | "HEAD") => String::new(),
        Body::Sized(b) => format!("Content-Length: {}\r\n", b.len()),
        Body::Chunked { .. } => "Transfer-Encoding: chunked\r\n".to_string(),
    };
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{framing}");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (413) and stop reading before the body is sent.
    match body {
        Body::Sized(b) => {
            let _ = s.write_all(b);
        }
        Body::Chunked { fill, len } => {
            let chunk = vec![fill; 64 << 10];
            let mut sent = 0;
            while sent < len {
                let n = chunk.len().min(len - sent);
                let mut frame = format!("{n:x}\r\n").into_bytes();
                frame.extend_from_slice(&chunk[..n]);
                frame.extend_from_slice(b"\r\n");
                if s.write_all(&frame).is_err() {
                    break;
                }
                sent += n;
            }
            let _ = s.write_all(b"0\r\n\r\n");
        }
    }
    let mut r = BufReader::new(s);
    let mut status_line = String::new();
    r.read_line(&mut status_line).expect("read status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).expect("read header") == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || status == 204 || status == 304 {
        return resp;
    }
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        resp.body = read_chunked(&mut r);
    } else if let Some(len) = resp
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).expect("read body");
    } else {
        r.read_to_end(&mut resp.body).expect("read body to close");
    }
    resp
}

fn read_chunked(r: &mut impl BufRead) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut size_line = String::new();
        r.read_line(&mut size_line).expect("chunk size");
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .expect("hex chunk size");
        let mut chunk = vec![0; size + 2];
        r.read_exact(&mut chunk).expect("chunk");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&chunk[..size]);
    }
}

/// One request to an `https://` base (a deployed Worker, for the
/// benchmark's `BENCH_BASE`) through the curl CLI, which brings TLS; the
/// response parsed as `send` parses its own.
fn over_tls(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait_secs: u64,
) -> RawResponse {
    use std::process::{Command, Stdio};
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-i",
        "--http1.1",
        "--max-time",
        &wait_secs.to_string(),
        "-X",
        method,
    ]);
    for (k, v) in headers {
        c.args(["-H", &format!("{k}: {v}")]);
    }
    if !body.is_empty() {
        c.args(["--data-binary", "@-"]);
    }
    c.arg(format!("{base}{path}"));
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run curl (install it: apt-get install curl)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body)
        .expect("send the body to curl");
    let out = child.wait_with_output().expect("wait for curl");
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("curl {method} {base}{path}: no response"));
    let head = String::from_utf8_lossy(&out.stdout[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: out.stdout[split + 4..].to_vec(),
    }
}
