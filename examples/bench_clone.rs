//! Clone benchmark: prints figures side by side, asserts nothing about speed.
//!
//! For each corpus (a generated marketplace of about 5 MB / 400 files,
//! 25 MB / 4,000 files and 100 MB / 10,000 files), imports it into the
//! Worker under `wrangler dev` (local D1 and R2), grants all of it to a
//! user, and serves the identical commit from a bare repository through
//! `git http-backend` (as CGI, one process per request, as web servers run
//! it) behind the same HTTP Basic credentials, as a private git server
//! would be. Then times, against both, in one run:
//! - `ls-refs`: one protocol v2 request, as a raw HTTP POST;
//! - warm fetch: the pack of a `want` + `deepen 1` fetch, as a raw POST,
//!   with the pack already cached (Worker);
//! - cold fetch: the same after purging the pack cache;
//! - warm and cold clone: `git clone --depth 1` over protocol v2, as Claude
//!   Code clones;
//! - up-to-date `git pull origin HEAD`; git first sends each request
//!   without credentials and repeats it after the server's 401, so the pull
//!   is also timed with `http.proactiveAuth=basic`, which sends them at once.
//!
//! Runs alternate between the two servers (Worker first on even runs,
//! http-backend first on odd ones), so drift on a shared machine lands on
//! both; clones and pulls write to `/dev/shm` when it exists, so disk
//! writeback of earlier clones does not land on later ones. After each
//! corpus it prints the client's own share: `git clone --depth 1` of the
//! same bare repository over `file://`, with no HTTP server at all.
//!
//! Run: `cargo run --release --example bench-clone` (after `scripts/test.sh`
//! or `scripts/setup.sh && scripts/build-worker.sh`). `BENCH_CORPORA=small`
//! (or a comma list of small, medium, large) picks corpora; `BENCH_RUNS`
//! sets the runs per figure (default 7).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::Api;
use support::archives::zip_of;
use support::bench::{median_ms, picked_corpora};
use support::checks::{basic_auth, v2_request as v2_body};
use support::git_cli::{git, shallow_clone, TempDir};
use support::http_backend::serve_http_backend;
use support::http_client::{request, RawResponse};
use support::wrangler::wrangler;

/// Runs per figure unless `BENCH_RUNS` says otherwise.
fn runs() -> usize {
    support::bench::runs(7)
}

/// Times `f` after the untimed `setup`.
fn timed(setup: impl Fn(), f: impl Fn()) -> Duration {
    setup();
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Medians of `worker` and `backend`, run alternately, each first on
/// every other run.
fn pair(worker: impl Fn() -> Duration, backend: impl Fn() -> Duration) -> (f64, f64) {
    let (mut w, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs() {
        if i % 2 == 0 {
            w.push(worker());
            b.push(backend());
        } else {
            b.push(backend());
            w.push(worker());
        }
    }
    (median_ms(&w), median_ms(&b))
}

fn clone_once(url: &str) {
    let tmp = TempDir::new("bench-clone");
    let out = shallow_clone(tmp.path(), url);
    assert!(
        out.status.success(),
        "clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One raw v2 POST to the server; checks it succeeded and returns its size.
fn v2_post(s: &Server, body: &[u8]) -> usize {
    v2_response(s, body).body.len()
}

/// One protocol v2 request's whole response.
fn v2_response(s: &Server, body: &[u8]) -> RawResponse {
    let headers = vec![
        ("Content-Type", "application/x-git-upload-pack-request"),
        ("Git-Protocol", "version=2"),
        ("Authorization", s.auth.as_str()),
    ];
    let r = request(
        &s.base,
        "POST",
        &format!("{}/git-upload-pack", s.repo),
        &headers,
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// A git server under test: where it is and how to reach it.
struct Server {
    base: String,
    repo: String,
    auth: String,
    /// The clone URL, credentials included.
    url: String,
    /// A shallow clone to pull into.
    pull_dir: TempDir,
}

impl Server {
    fn new(base: String, repo: &str, token: &str) -> Server {
        let url = format!(
            "http://x:{token}@{}{repo}",
            base.trim_start_matches("http://")
        );
        let pull_dir = TempDir::new("bench-pull");
        git(pull_dir.path(), &["clone", "-q", "--depth", "1", &url, "w"]);
        Server {
            base,
            repo: repo.to_string(),
            auth: basic_auth(token),
            url,
            pull_dir,
        }
    }

    fn pull(&self, config: &[&str]) {
        let mut args: Vec<&str> = config.iter().flat_map(|c| ["-c", c]).collect();
        args.extend(["pull", "-q", "origin", "HEAD"]);
        git(&self.pull_dir.path().join("w"), &args);
    }
}

fn main() {
    // Before any thread starts: clones and pulls go to tmpfs.
    if std::env::var_os("TMPDIR").is_none() && Path::new("/dev/shm").is_dir() {
        std::env::set_var("TMPDIR", "/dev/shm");
    }
    let api = Api::new(&wrangler().base);
    println!(
        "{} runs per figure, alternating servers; medians; protocol v2; wrangler dev (workerd, local D1 and R2) \
         and git http-backend (CGI) behind the same Basic credentials, on 127.0.0.1; clones in {}\n",
        runs(),
        std::env::temp_dir().display()
    );
    println!(
        "{:<28} {:<22} {:>10} {:>13} {:>7}",
        "corpus", "request", "Worker", "http-backend", "ratio"
    );
    for (c, files, label) in picked_corpora() {
        let slug = format!("bench-{}", c.name);
        let r = api.import(&slug, &zip_of(&files));
        if r.status != 200 {
            println!("{label:<28} import refused: {}", r.text());
            continue;
        }
        let user = format!("{slug}-user");
        let token = api.user_with_token(&user);
        api.group(&format!("{slug}-g"), &[&user]);
        api.admin(
            "PUT",
            &format!("/api/admin/groups/{slug}-g/grants/{slug}"),
            Some(&json!({"requirement": "available"})),
            200,
        );
        let commit = api.info(&token)["commit"].as_str().unwrap().to_string();
        let worker = Server::new(api.base.clone(), "/marketplace.git", &token);
        // The baseline: a bare repo with the identical commit.
        let root = TempDir::new("bench-backend");
        git(
            root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                worker.pull_dir.path().join("w").to_str().unwrap(),
                "m.git",
            ],
        );
        let backend_base =
            serve_http_backend(root.path().to_path_buf(), Some(basic_auth(&token))).base;
        let backend = Server::new(backend_base, "/m.git", &token);

        let ls_refs = v2_body(
            "ls-refs",
            &[
                "symrefs".into(),
                "ref-prefix HEAD".into(),
                "ref-prefix refs/heads/".into(),
            ],
        );
        let fetch = v2_body(
            "fetch",
            &[
                "thin-pack".into(),
                "ofs-delta".into(),
                "deepen 1".into(),
                format!("want {commit}"),
                "done".into(),
            ],
        );
        // Warm the Worker's cache, and check both answer with a whole pack.
        for s in [&worker, &backend] {
            let size = v2_post(s, &fetch);
            println!(
                "  ({} answers the fetch with {:.1} MB)",
                s.repo,
                size as f64 / 1e6
            );
        }
        let purge = || {
            api.admin(
                "POST",
                "/api/admin/cache/purge",
                Some(&json!({"all": true})),
                200,
            );
        };
        // Where the Worker's time goes, by its own account.
        purge();
        for what in ["cold", "warm"] {
            let r = v2_response(&worker, &fetch);
            println!(
                "  (a {what} fetch's Server-Timing: {})",
                r.header("server-timing").unwrap_or("none")
            );
        }
        let row = |what: &str, (worker_ms, backend_ms): (f64, f64)| {
            println!(
                "{label:<28} {what:<22} {worker_ms:>7.1} ms {backend_ms:>10.1} ms {:>6.2}x",
                worker_ms / backend_ms
            );
        };
        let post = |s: &Server, body: &[u8]| timed(|| {}, || _ = v2_post(s, body));
        let clone = |s: &Server| timed(|| {}, || clone_once(&s.url));
        row(
            "ls-refs",
            pair(|| post(&worker, &ls_refs), || post(&backend, &ls_refs)),
        );
        row(
            "warm fetch (pack)",
            pair(|| post(&worker, &fetch), || post(&backend, &fetch)),
        );
        row(
            "cold fetch (pack)",
            pair(
                || timed(purge, || _ = v2_post(&worker, &fetch)),
                || post(&backend, &fetch),
            ),
        );
        let warm_clone = pair(|| clone(&worker), || clone(&backend));
        row("warm clone", warm_clone);
        row(
            "cold clone",
            pair(
                || timed(purge, || clone_once(&worker.url)),
                || clone(&backend),
            ),
        );
        let pull = |s: &Server, config: &'static [&'static str]| timed(|| {}, || s.pull(config));
        row(
            "up-to-date pull",
            pair(|| pull(&worker, &[]), || pull(&backend, &[])),
        );
        const PROACTIVE: &[&str] = &["http.proactiveAuth=basic"];
        row(
            "pull, proactive auth",
            pair(|| pull(&worker, PROACTIVE), || pull(&backend, PROACTIVE)),
        );
        let local = format!("file://{}", root.path().join("m.git").display());
        let floor: Vec<Duration> = (0..runs())
            .map(|_| timed(|| {}, || clone_once(&local)))
            .collect();
        // No server makes a clone cheaper than the client's own work, so
        // this is the lowest warm clone ratio any server could reach here.
        println!(
            "  (the client's share: git clone --depth 1 over file://, no HTTP, {:.1} ms = {:.2}x the http-backend warm clone)",
            median_ms(&floor),
            median_ms(&floor) / warm_clone.1
        );
        let bare: Vec<Duration> = (0..runs())
            .map(|_| {
                timed(
                    || {},
                    || _ = request(&api.base, "GET", "/healthz", &[], b""),
                )
            })
            .collect();
        println!(
            "  (wrangler dev's own cost per request, GET /healthz, which reads no storage: {:.1} ms; a pull makes three requests)",
            median_ms(&bare)
        );
    }
    println!("\n{}", git(Path::new("."), &["--version"]).trim());
}
