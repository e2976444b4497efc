//! Clone benchmark: prints figures side by side, asserts nothing about speed.
//!
//! Imports a generated marketplace of ~400 files / ~5 MB into the Worker
//! under `wrangler dev` (local D1 and R2), grants it to a user, then times,
//! with the real git CLI (protocol v2, `--depth 1`, as Claude Code clones):
//! - cold clone: the pack cache was purged, so the Worker assembles the pack
//!   from the pre-compressed entries in R2 and caches it;
//! - warm clone: the pack comes from the R2 cache;
//! - up-to-date `git pull origin HEAD`: only the ref advertisement;
//!
//! and the same clones and pull against `git http-backend` (run as CGI by a
//! small server in this program) serving a bare repository with the
//! identical commit. Run: `cargo run --release --example bench-clone`
//! (after `scripts/test.sh` or `scripts/setup.sh && scripts/build-worker.sh`).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::Api;
use support::archives::{zip_of, FileSpec};
use support::git_cli::{git, TempDir};
use support::wrangler::wrangler;

const RUNS: usize = 7;
const PLUGINS: usize = 10;
const FILES_PER_PLUGIN: usize = 40;

/// ~400 files / ~5 MB: markdown and JSON with some incompressible assets.
fn generated_marketplace() -> Vec<FileSpec> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words = [
        "plugin", "skill", "agent", "review", "the", "code", "test", "use", "when", "file", "run",
        "build",
    ];
    let plugins: Vec<String> = (0..PLUGINS).map(|i| format!("{{\"name\":\"p{i:02}\",\"source\":\"./plugins/p{i:02}\",\"description\":\"generated\"}}")).collect();
    let mut files: Vec<FileSpec> = vec![(
        ".claude-plugin/marketplace.json".into(),
        false,
        format!("{{\"name\":\"bench\",\"plugins\":[{}]}}", plugins.join(",")).into_bytes(),
    )];
    for p in 0..PLUGINS {
        files.push((
            format!("plugins/p{p:02}/.claude-plugin/plugin.json"),
            false,
            format!("{{\"name\":\"p{p:02}\",\"version\":\"1.0.0\"}}").into_bytes(),
        ));
        for f in 1..FILES_PER_PLUGIN {
            let size = 6_000 + (next() % 14_000) as usize;
            let content: Vec<u8> = if f % 8 == 0 {
                (0..size).map(|_| next() as u8).collect()
            } else {
                let mut t = Vec::with_capacity(size);
                while t.len() < size {
                    t.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
                    t.push(if next() % 10 == 0 { b'\n' } else { b' ' });
                }
                t
            };
            files.push((
                format!("plugins/p{p:02}/docs/f{f:02}.md"),
                f % 13 == 0,
                content,
            ));
        }
    }
    files
}

/// Serves `root` through `git http-backend` as CGI, one process per request.
fn serve_http_backend(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = cgi(conn, &root);
            });
        }
    });
    base
}

fn cgi(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let req = support::http_server::read_request(&stream, 64 << 20)?;
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
        .env("HTTP_GIT_PROTOCOL", header("git-protocol"))
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(&body)?;
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
    write!(
        s,
        "HTTP/1.1 {status}\r\n{resp_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )?;
    s.write_all(payload)?;
    s.flush()
}

/// Times `f` RUNS times, running the untimed `setup` before each run.
fn time_after(setup: impl Fn(), f: impl Fn()) -> Vec<Duration> {
    (0..RUNS)
        .map(|_| {
            setup();
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn time(f: impl Fn()) -> Vec<Duration> {
    time_after(|| {}, f)
}

fn clone_once(url: &str) {
    let tmp = TempDir::new("bench-clone");
    git(
        tmp.path(),
        &[
            "-c",
            "protocol.version=2",
            "clone",
            "-q",
            "--depth",
            "1",
            url,
            "w",
        ],
    );
}

fn fmt(samples: &[Duration]) -> String {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:>8.1} ms {:>8.1} ms", ms[ms.len() / 2], ms[0])
}

fn main() {
    let files = generated_marketplace();
    let bytes: usize = files.iter().map(|f| f.2.len()).sum();
    println!("generated marketplace: {} files, {:.1} MB; {RUNS} runs each, git clone --depth 1 over protocol v2\n", files.len(), bytes as f64 / 1e6);
    let api = Api::new(&wrangler().base);
    let r = api.import("bench", &zip_of(&files));
    assert_eq!(r.status, 200, "{}", r.text());
    let token = api.user_with_token("bench-user");
    api.group("bench-g", &["bench-user"]);
    for p in 0..PLUGINS {
        api.grant("bench-g", "bench", &format!("p{p:02}"), "available");
    }
    let url = api.git_url(&token);

    // The baseline: a bare repo with the identical commit behind git http-backend.
    let root = TempDir::new("bench-backend");
    let src = TempDir::new("bench-src");
    git(src.path(), &["clone", "-q", &url, "w"]);
    git(
        root.path(),
        &[
            "clone",
            "-q",
            "--bare",
            src.path().join("w").to_str().unwrap(),
            "m.git",
        ],
    );
    let backend = format!("{}/m.git", serve_http_backend(root.path().to_path_buf()));

    let purge = || {
        api.admin(
            "POST",
            "/api/admin/cache/purge",
            Some(&json!({"all": true})),
            200,
        );
    };
    let cold = time_after(purge, || clone_once(&url));
    let warm = time(|| clone_once(&url));
    let pull_dir = TempDir::new("bench-pull");
    git(pull_dir.path(), &["clone", "-q", "--depth", "1", &url, "w"]);
    let pull = time(|| {
        git(
            &pull_dir.path().join("w"),
            &["pull", "-q", "origin", "HEAD"],
        );
    });
    let b_clone = time(|| clone_once(&backend));
    let b_pull_dir = TempDir::new("bench-bpull");
    git(
        b_pull_dir.path(),
        &["clone", "-q", "--depth", "1", &backend, "w"],
    );
    let b_pull = time(|| {
        git(
            &b_pull_dir.path().join("w"),
            &["pull", "-q", "origin", "HEAD"],
        );
    });

    println!("{:<52} {:>11} {:>11}", "", "median", "best");
    println!(
        "{:<52} {}",
        "marketplace-edge, cold clone (pack built from R2)",
        fmt(&cold)
    );
    println!(
        "{:<52} {}",
        "marketplace-edge, warm clone (pack cached in R2)",
        fmt(&warm)
    );
    println!("{:<52} {}", "marketplace-edge, up-to-date pull", fmt(&pull));
    println!("{:<52} {}", "git http-backend (CGI), clone", fmt(&b_clone));
    println!(
        "{:<52} {}",
        "git http-backend (CGI), up-to-date pull",
        fmt(&b_pull)
    );
    println!(
        "\nwrangler dev (workerd, local D1/R2) and git http-backend on 127.0.0.1; {}",
        git(Path::new("."), &["--version"])
    );
}
