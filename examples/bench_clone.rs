//! Clone benchmark: prints figures side by side, asserts nothing about speed.
//!
//! For each corpus (a generated marketplace of about 5 MB / 400 files,
//! 25 MB / 4,000 files and 100 MB / 10,000 files), imports it into the
//! Worker under `wrangler dev` (local D1 and R2), grants all of it to a
//! user, and serves the identical commit from a bare repository through
//! `git http-backend` (as CGI, one process per request, as web servers run
//! it). Then times, against both, in one run:
//! - `ls-refs`: one protocol v2 request, as a raw HTTP POST;
//! - warm fetch: the pack of a `want` + `deepen 1` fetch, as a raw POST,
//!   with the pack already cached (Worker);
//! - cold fetch: the same after purging the pack cache;
//! - warm and cold clone: `git clone --depth 1` over protocol v2, as Claude
//!   Code clones;
//! - up-to-date `git pull origin HEAD`; git first sends each request
//!   without credentials and repeats it after the Worker's 401 (a third
//!   request http-backend, which asks for none, never sees), so the pull is
//!   also timed with `http.proactiveAuth=basic`, which sends them at once.
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
use support::bench::median_ms;
use support::checks::{basic_auth, v2_request as v2_body};
use support::corpus::{generated_marketplace, CORPORA};
use support::git_cli::{git, TempDir};
use support::http_backend::serve_http_backend;
use support::http_client::request;
use support::wrangler::wrangler;

/// Runs per figure unless `BENCH_RUNS` says otherwise.
fn runs() -> usize {
    support::bench::runs(7)
}

/// Times `f` once per run, running the untimed `setup` before each.
fn time_after(setup: impl Fn(), f: impl Fn()) -> Vec<Duration> {
    (0..runs())
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

/// One raw v2 POST to `base` + `repo`; checks it succeeded and returns its size.
fn v2_post(base: &str, repo: &str, auth: Option<&str>, body: &[u8]) -> usize {
    let mut headers = vec![
        ("Content-Type", "application/x-git-upload-pack-request"),
        ("Git-Protocol", "version=2"),
    ];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    let r = request(
        base,
        "POST",
        &format!("{repo}/git-upload-pack"),
        &headers,
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.body.len()
}

/// A git server under test: where it is and how to reach it.
struct Server<'a> {
    base: String,
    repo: &'a str,
    auth: Option<String>,
    url: String,
}

/// The medians of one corpus on one server.
struct Figures {
    ls_refs: f64,
    warm_fetch: f64,
    cold_fetch: Option<f64>,
    warm_clone: f64,
    cold_clone: Option<f64>,
    pull: f64,
    /// The same with `http.proactiveAuth=basic`: no 401 round trip first
    /// (for a server that asks for credentials).
    pull_proactive: Option<f64>,
}

fn measure(s: &Server, commit: &str, purge: Option<&dyn Fn()>) -> Figures {
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
    let auth = s.auth.as_deref();
    let post = |body: &[u8]| {
        v2_post(&s.base, s.repo, auth, body);
    };
    // Warm the cache, and check the answer is a whole pack.
    let size = v2_post(&s.base, s.repo, auth, &fetch);
    println!(
        "  ({} answers the fetch with {:.1} MB)",
        s.repo,
        size as f64 / 1e6
    );
    let pull_dir = TempDir::new("bench-pull");
    git(
        pull_dir.path(),
        &["clone", "-q", "--depth", "1", &s.url, "w"],
    );
    let nothing = || {};
    let purge_or_nothing: &dyn Fn() = purge.unwrap_or(&nothing);
    Figures {
        ls_refs: median_ms(&time(|| post(&ls_refs))),
        warm_fetch: median_ms(&time(|| post(&fetch))),
        cold_fetch: purge.map(|_| median_ms(&time_after(purge_or_nothing, || post(&fetch)))),
        warm_clone: median_ms(&time(|| clone_once(&s.url))),
        cold_clone: purge.map(|_| median_ms(&time_after(purge_or_nothing, || clone_once(&s.url)))),
        pull: median_ms(&time(|| {
            git(
                &pull_dir.path().join("w"),
                &["pull", "-q", "origin", "HEAD"],
            );
        })),
        pull_proactive: auth.map(|_| {
            median_ms(&time(|| {
                git(
                    &pull_dir.path().join("w"),
                    &[
                        "-c",
                        "http.proactiveAuth=basic",
                        "pull",
                        "-q",
                        "origin",
                        "HEAD",
                    ],
                );
            }))
        }),
    }
}

fn main() {
    let picked: Vec<String> = std::env::var("BENCH_CORPORA")
        .unwrap_or_else(|_| "small,medium,large".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let api = Api::new(&wrangler().base);
    println!("{} runs per figure; medians; protocol v2; wrangler dev (workerd, local D1 and R2) and git http-backend (CGI) on 127.0.0.1\n", runs());
    println!(
        "{:<28} {:<22} {:>10} {:>13} {:>7}",
        "corpus", "request", "Worker", "http-backend", "ratio"
    );
    for c in CORPORA
        .iter()
        .filter(|c| picked.iter().any(|p| p == c.name))
    {
        let files = generated_marketplace(c);
        let bytes: usize = files.iter().map(|f| f.2.len()).sum();
        let label = format!(
            "{}: {} files, {:.0} MB",
            c.name,
            files.len(),
            bytes as f64 / 1e6
        );
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
        let worker = Server {
            base: api.base.clone(),
            repo: "/marketplace.git",
            auth: Some(basic_auth(&token)),
            url: api.git_url(&token),
        };
        let commit = api.info(&token)["commit"].as_str().unwrap().to_string();
        // The baseline: a bare repo with the identical commit.
        let root = TempDir::new("bench-backend");
        let src = TempDir::new("bench-src");
        git(src.path(), &["clone", "-q", &worker.url, "w"]);
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
        let backend_base = serve_http_backend(root.path().to_path_buf(), None).base;
        let backend = Server {
            url: format!("{backend_base}/m.git"),
            base: backend_base,
            repo: "/m.git",
            auth: None,
        };
        let purge = || {
            api.admin(
                "POST",
                "/api/admin/cache/purge",
                Some(&json!({"all": true})),
                200,
            );
        };
        let w = measure(&worker, &commit, Some(&purge));
        let b = measure(&backend, &commit, None);
        let row = |what: &str, worker_ms: f64, backend_ms: f64| {
            println!(
                "{label:<28} {what:<22} {worker_ms:>7.1} ms {backend_ms:>10.1} ms {:>6.2}x",
                worker_ms / backend_ms
            );
        };
        row("ls-refs", w.ls_refs, b.ls_refs);
        row("warm fetch (pack)", w.warm_fetch, b.warm_fetch);
        row("cold fetch (pack)", w.cold_fetch.unwrap(), b.warm_fetch);
        row("warm clone", w.warm_clone, b.warm_clone);
        row("cold clone", w.cold_clone.unwrap(), b.warm_clone);
        row("up-to-date pull", w.pull, b.pull);
        // http-backend asks for no credentials: its pull is already that.
        row("pull, proactive auth", w.pull_proactive.unwrap(), b.pull);
    }
    println!("\n{}", git(Path::new("."), &["--version"]).trim());
}
