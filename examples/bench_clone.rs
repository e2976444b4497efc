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
//! - new-view fetch: the first fetch of a view no one fetched before, one
//!   plugin changed (a one-plugin marketplace granted beside the corpus is
//!   re-imported with new content before each run, untimed), which is what
//!   every member pays once after any change; http-backend has no cache,
//!   so its figure is its fetch of the same tree;
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
//! Then the CPU time per request kind (what Workers bills and limits):
//! ls-refs, warm, cold and new-view fetches, the ZIP, an import of the
//! corpus into a fresh marketplace and a Store upload (sync's is in
//! `bench-sync`), two ways: the isolate's busy time from CPU profiles
//! through `wrangler dev`'s inspector (`scripts/profile.mjs`; wall-time
//! samples, an upper bound on a busy machine), and `workerd`'s own CPU
//! clock from `/proc` (the isolate with the local D1 and R2 it runs
//! beside, also an upper bound), less what an empty request costs.
//!
//! Run: `cargo run --release --example bench-clone` (after `scripts/test.sh`
//! or `scripts/setup.sh && scripts/build-worker.sh`). `BENCH_CORPORA=small`
//! (or a comma list of small, medium, large) picks corpora; `BENCH_RUNS`
//! sets the runs per figure (default 7). `BENCH_BASE=https://…` with
//! `BENCH_ADMIN_TOKEN` (that deployment's `ADMIN_TOKEN` secret) measures a
//! deployed Worker instead of a local `wrangler dev` (it imports the
//! corpora there as `bench-*` marketplaces, and users and groups of those
//! names); the CPU table needs the local inspector, so it is left out.
//! `BENCH_ORIGIN=https://user:secret@git.example.com/bench/{corpus}.git`
//! makes the baseline an origin of the operator's choosing instead of
//! `git http-backend` here: each corpus's commit is pushed there (branch
//! `main`, forced; `{corpus}` becomes small, medium or large), then timed
//! with the same requests, its URL's credentials as HTTP Basic.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::Api;
use support::archives::zip_of;
use support::bench::{cpu_row, empty_request_cpu_ms};
use support::bench::{median_ms, picked_corpora};
use support::checks::{basic_auth, basic_userinfo, v2_request as v2_body};
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

/// A v2 fetch of `commit` at depth 1, as Claude Code's clone asks.
fn shallow_fetch(commit: &str) -> Vec<u8> {
    v2_body(
        "fetch",
        &[
            "thin-pack".into(),
            "ofs-delta".into(),
            "deepen 1".into(),
            format!("want {commit}"),
            "done".into(),
        ],
    )
}

/// One raw v2 POST to the server; checks it succeeded and returns its size.
fn v2_post(s: &Server, body: &[u8]) -> usize {
    v2_response(s, body).body.len()
}

/// One protocol v2 request's whole response.
fn v2_response(s: &Server, body: &[u8]) -> RawResponse {
    let mut headers = vec![
        ("Content-Type", "application/x-git-upload-pack-request"),
        ("Git-Protocol", "version=2"),
    ];
    if !s.auth.is_empty() {
        headers.push(("Authorization", s.auth.as_str()));
    }
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

/// `url` without the credentials in it, to print.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://…@{rest}"),
        _ => url.to_string(),
    }
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
        let (scheme, host) = base.split_once("://").expect("a base URL");
        let url = format!("{scheme}://x:{token}@{host}{repo}");
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

    /// A server at a full clone URL, credentials (if any) in it.
    fn at(url: &str, commit: &str) -> Server {
        let (scheme, rest) = url.split_once("://").expect("BENCH_ORIGIN: a URL");
        let (userinfo, hostpath) = match rest.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, path) = hostpath
            .split_once('/')
            .expect("BENCH_ORIGIN: a URL with a repository path");
        let pull_dir = TempDir::new("bench-pull");
        let head = git(pull_dir.path(), &["ls-remote", url, "HEAD"]);
        assert_eq!(
            head.split_whitespace().next().unwrap_or("(none)"),
            commit,
            "BENCH_ORIGIN's HEAD is not the branch main the benchmark pushed: make main the repository's default branch"
        );
        git(pull_dir.path(), &["clone", "-q", "--depth", "1", url, "w"]);
        Server {
            base: format!("{scheme}://{host}"),
            repo: format!("/{path}"),
            auth: userinfo.map(basic_userinfo).unwrap_or_default(),
            url: url.to_string(),
            pull_dir,
        }
    }

    fn pull(&self, config: &[&str]) {
        let mut args: Vec<&str> = config.iter().flat_map(|c| ["-c", c]).collect();
        args.extend(["pull", "-q", "origin", "HEAD"]);
        git(&self.pull_dir.path().join("w"), &args);
    }
}

/// A one-plugin marketplace `<slug>-extra`, granted with the corpus, whose
/// every `change` makes a view no one has fetched.
struct ExtraPlugin {
    slug: String,
    counter: std::cell::Cell<u32>,
    dir: TempDir,
}

impl ExtraPlugin {
    fn new(api: &Api, corpus_slug: &str) -> ExtraPlugin {
        let extra = ExtraPlugin {
            slug: format!("{corpus_slug}-extra"),
            counter: std::cell::Cell::new(0),
            dir: TempDir::new("bench-extra"),
        };
        let r = api.import(&extra.slug, &extra.zip(0));
        assert_eq!(r.status, 200, "{}", r.text());
        api.admin(
            "PUT",
            &format!("/api/admin/groups/{corpus_slug}-g/grants/{}", extra.slug),
            Some(&json!({"requirement": "available"})),
            200,
        );
        extra
    }

    fn zip(&self, n: u32) -> Vec<u8> {
        let f = |p: &str, c: String| (p.to_string(), false, c.into_bytes());
        zip_of(&[
            f(
                ".claude-plugin/marketplace.json",
                format!(
                    r#"{{"name":"{0}","plugins":[{{"name":"{0}","source":"./plugins/x"}}]}}"#,
                    self.slug
                ),
            ),
            f(
                "plugins/x/.claude-plugin/plugin.json",
                format!(r#"{{"name":"{}","version":"1.0.0"}}"#, self.slug),
            ),
            f("plugins/x/commands/go.md", format!("run {n}\n")),
        ])
    }

    /// Re-imports it with new content; the member's new commit.
    fn change(&self, api: &Api, token: &str) -> String {
        self.counter.set(self.counter.get() + 1);
        let r = api.import(&self.slug, &self.zip(self.counter.get()));
        assert_eq!(r.status, 200, "{}", r.text());
        api.info(token)["commit"].as_str().unwrap().to_string()
    }

    /// A shell command that changes it (as `change`) and writes the fetch
    /// request for the new commit to `fetch-new.bin` in its folder.
    fn change_command(&self, api: &Api, token: &str) -> String {
        let dir = self.dir.path().display();
        // Contents no `change` above used, cycled through.
        for i in 1..=64 {
            std::fs::write(format!("{dir}/extra-{i}.zip"), self.zip(1000 + i)).unwrap();
        }
        format!(
            "n=$(( $(cat {dir}/n 2>/dev/null || echo 0) % 64 + 1 )); echo $n > {dir}/n; \
             curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer {admin}' --data-binary @{dir}/extra-$n.zip {base}/api/admin/marketplaces/{slug} && \
             c=$(curl -sf -H 'Authorization: Bearer {token}' {base}/marketplace/info | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"commit\"])') && \
             printf '0012command=fetch\\n0017object-format=sha1\\n0001000ethin-pack\\n000eofs-delta\\n000ddeepen 1\\n0032want %s\\n0009done\\n0000' $c > {dir}/fetch-new.bin",
            admin = api.admin_token,
            base = api.base,
            slug = self.slug,
        )
    }
}

/// The isolate's CPU time per request kind against the Worker, for the
/// corpus `label` (see the module doc). Each figure is the busy time of a
/// profile around one request, per run.
#[allow(clippy::too_many_arguments)]
fn cpu_table(
    label: &str,
    api: &Api,
    worker: &Server,
    extra: &ExtraPlugin,
    token: &str,
    corpus_zip: &[u8],
    fetch: &[u8],
    ls_refs: &[u8],
) {
    let dir = TempDir::new("bench-cpu");
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("fetch.bin"), fetch).unwrap();
    std::fs::write(dir.path().join("ls-refs.bin"), ls_refs).unwrap();
    std::fs::write(dir.path().join("corpus.zip"), corpus_zip).unwrap();
    std::fs::write(
        dir.path().join("skill.zip"),
        support::store::skill_zip("cpu-skill"),
    )
    .unwrap();
    let admin = &api.admin_token;
    let base = &api.base;
    let v2 = |file: &str| {
        format!(
            "curl -sf -o /dev/null -X POST -H 'Authorization: {}' -H 'Git-Protocol: version=2' \
             -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @{file} {base}/marketplace.git/git-upload-pack",
            worker.auth
        )
    };
    let purge = format!(
        "curl -sf -o /dev/null -X POST -H 'Authorization: Bearer {admin}' -H 'Content-Type: application/json' -d '{{\"all\":true}}' {base}/api/admin/cache/purge"
    );
    let fetch_cmd = v2(&format!("{d}/fetch.bin"));
    // Warm the pack and the ZIP before the warm figures (twice: a view's
    // first miss from pack segments caches nothing, its second does).
    let zip_cmd =
        format!("curl -sf -o /dev/null -H 'Authorization: Bearer {token}' {base}/marketplace.zip");
    let _ = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("{fetch_cmd}; sleep 1; {fetch_cmd}; {zip_cmd}"),
        ])
        .status();
    // Each kind with the runs `workerd`'s clock takes: many for the cheap
    // ones (its 10 ms ticks spread over them), few for the heavy ones.
    let kinds: Vec<(&str, String, String, usize)> = vec![
        ("ls-refs", String::new(), v2(&format!("{d}/ls-refs.bin")), 50),
        ("warm fetch", String::new(), fetch_cmd.clone(), 30),
        ("cold fetch", purge.clone(), fetch_cmd.clone(), 5),
        (
            "new-view fetch",
            extra.change_command(api, token),
            v2(&format!("{}/fetch-new.bin", extra.dir.path().display())),
            5,
        ),
        ("warm ZIP", String::new(), zip_cmd.clone(), 20),
        ("cold ZIP", purge, zip_cmd, 5),
        (
            "import (fresh marketplace)",
            String::new(),
            format!(
                "curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer {admin}' --data-binary @{d}/corpus.zip {base}/api/admin/marketplaces/cpu-$(date +%s%N)"
            ),
            3,
        ),
        (
            "Store upload (a skill)",
            String::new(),
            format!(
                "n=cpu-$(date +%s%N); curl -sf -o /dev/null -H 'Authorization: Bearer {token}' -F type=skill -F name=$n -F title=T -F tagline=t \
                 -F description=d -F category=c -F file=@{d}/skill.zip {base}/api/store/entities"
            ),
            10,
        ),
    ];
    let empty = empty_request_cpu_ms();
    println!("{label:<28} CPU an empty request (GET /healthz): workerd {empty:.1} ms");
    for (what, before, command, proc_runs) in kinds {
        cpu_row(
            label,
            what,
            (&before, &command),
            (runs().min(5), proc_runs),
            empty,
        );
    }
}

fn main() {
    // Before any thread starts: clones and pulls go to tmpfs.
    if std::env::var_os("TMPDIR").is_none() && Path::new("/dev/shm").is_dir() {
        std::env::set_var("TMPDIR", "/dev/shm");
    }
    let remote = std::env::var("BENCH_BASE").ok();
    let api = match &remote {
        Some(base) => Api::with_admin(
            base.trim_end_matches('/'),
            &std::env::var("BENCH_ADMIN_TOKEN")
                .expect("BENCH_ADMIN_TOKEN must hold the deployment's ADMIN_TOKEN secret"),
        ),
        None => Api::new(&wrangler().base),
    };
    let origin = std::env::var("BENCH_ORIGIN").ok();
    let baseline_is = match &origin {
        Some(template) => format!(
            "the origin {} (BENCH_ORIGIN; its column is headed http-backend)",
            redact(template)
        ),
        None => "git http-backend (CGI) on 127.0.0.1, behind the same Basic credentials".into(),
    };
    let worker_is = match &remote {
        Some(base) => format!("the Worker at {base}"),
        None => "wrangler dev (workerd, local D1 and R2) on 127.0.0.1".into(),
    };
    println!(
        "{} runs per figure, alternating servers; medians; protocol v2; {worker_is} \
         and {baseline_is}; clones in {}\n",
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
        let (backend, backend_fetch) = match &origin {
            Some(template) => {
                let url = template.replace("{corpus}", c.name);
                // The same tree in a commit of its own: the view's commit
                // has a parent this shallow copy lacks, which no origin
                // takes in a push.
                let bare = root.path().join("m.git");
                let own = git(&bare, &["commit-tree", "-m", "bench", "HEAD^{tree}"]);
                git(
                    &bare,
                    // One sized POST: not every server takes a chunked one.
                    &[
                        "-c",
                        "http.postBuffer=1073741824",
                        "push",
                        "-q",
                        "--force",
                        &url,
                        &format!("{}:refs/heads/main", own.trim()),
                    ],
                );
                (Server::at(&url, own.trim()), shallow_fetch(own.trim()))
            }
            None => {
                let base =
                    serve_http_backend(root.path().to_path_buf(), Some(basic_auth(&token))).base;
                (Server::new(base, "/m.git", &token), shallow_fetch(&commit))
            }
        };

        let ls_refs = v2_body(
            "ls-refs",
            &[
                "symrefs".into(),
                "ref-prefix HEAD".into(),
                "ref-prefix refs/heads/".into(),
            ],
        );
        let fetch = shallow_fetch(&commit);
        // Warm the Worker's cache (a view's first miss from pack segments
        // caches nothing, its second does), and check both answer with a
        // whole pack.
        v2_post(&worker, &fetch);
        std::thread::sleep(Duration::from_secs(1));
        for (s, fetch) in [(&worker, &fetch), (&backend, &backend_fetch)] {
            let size = v2_post(s, fetch);
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
            pair(|| post(&worker, &fetch), || post(&backend, &backend_fetch)),
        );
        row(
            "cold fetch (pack)",
            pair(
                || timed(purge, || _ = v2_post(&worker, &fetch)),
                || post(&backend, &backend_fetch),
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
        // A new view each run: the extra marketplace changes, the corpus
        // stays; the fetch wants the commit that change made.
        let extra = ExtraPlugin::new(&api, &slug);
        let new_view_fetch = || shallow_fetch(&extra.change(&api, &token));
        println!(
            "  (a new view's fetch's Server-Timing: {})",
            v2_response(&worker, &new_view_fetch())
                .header("server-timing")
                .unwrap_or("none")
        );
        row(
            "new-view fetch (pack)",
            pair(
                || {
                    let body = new_view_fetch();
                    timed(|| {}, || _ = v2_post(&worker, &body))
                },
                || post(&backend, &backend_fetch),
            ),
        );
        if remote.is_none() {
            cpu_table(
                &label,
                &api,
                &worker,
                &extra,
                &token,
                &zip_of(&files),
                &fetch,
                &ls_refs,
            );
        } else {
            println!("  (CPU per request needs the local inspector: on a deployment, read CPU time in the Workers dashboard)");
        }
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
            "  (the Worker's own cost per request, GET /healthz, which reads no storage: {:.1} ms; a pull makes three requests)",
            median_ms(&bare)
        );
    }
    println!("\n{}", git(Path::new("."), &["--version"]).trim());
}
