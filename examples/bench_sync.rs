//! Sync benchmark: prints figures side by side, asserts nothing about speed.
//!
//! For each corpus (the clone benchmark's generated marketplaces), builds an
//! upstream repository, serves it with `git http-backend` on 127.0.0.1 and,
//! in one run, times:
//! - a first sync by the Worker under `wrangler dev` (refs, depth-1 fetch,
//!   reading the pack, ingesting every file, one D1 batch), against
//!   `git clone --depth 1 --bare` of the same commit by the git CLI from the
//!   same server (the baseline: fetching and indexing the same pack);
//! - a sync with the upstream unchanged (refs only), against
//!   `git ls-remote`.
//!
//! It also reports the isolate's WebAssembly memory afterwards, and the
//! isolate's CPU time for a first sync and an unchanged one, from CPU
//! profiles through `wrangler dev`'s inspector (`scripts/profile.mjs`, as
//! bench-clone's CPU table: busy time, an upper bound on a shared machine).
//!
//! Run: `cargo run --release --example bench-sync` (after `scripts/test.sh`
//! or `scripts/setup.sh && scripts/build-worker.sh`). `BENCH_CORPORA`
//! (small, medium, large) and `BENCH_RUNS` (default 3) as for bench-clone.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::time::Instant;

use serde_json::json;
use support::api::{Api, ADMIN_TOKEN};
use support::bench::{cpu_row, empty_request_cpu_ms, median_ms, picked_corpora};
use support::git_cli::{git, TempDir};
use support::http_backend::serve_http_backend;
use support::wrangler::wrangler;

/// Runs per figure unless `BENCH_RUNS` says otherwise.
fn runs() -> usize {
    support::bench::runs(3)
}

/// The isolate's CPU per sync: a first one (the marketplace deleted and
/// its source set again, outside the profile) and one of an unchanged
/// upstream.
fn cpu_rows(api: &Api, label: &str, corpus: &str, url: &str) {
    let (base, admin) = (&api.base, &api.admin_token);
    let slug = format!("bench-sync-cpu-{corpus}");
    let curl = |method: &str, path: &str, body: &str| {
        format!(
            "curl -sf -o /dev/null -X {method} -H 'Authorization: Bearer {admin}' -H 'Content-Type: application/json' {body} {base}{path}"
        )
    };
    let sync = curl("POST", &format!("/api/admin/marketplaces/{slug}/sync"), "");
    let fresh = format!(
        "{}; {}",
        curl("DELETE", &format!("/api/admin/marketplaces/{slug}"), ""),
        curl(
            "PUT",
            &format!("/api/admin/marketplaces/{slug}/source"),
            &format!("-d '{{\"url\":\"{url}\"}}'")
        )
    );
    let empty = empty_request_cpu_ms();
    for (what, before, proc_runs) in [
        ("first sync", fresh.as_str(), 3),
        ("unchanged sync", "", 20),
    ] {
        cpu_row(
            label,
            what,
            (before, &sync),
            (runs().min(5), proc_runs),
            empty,
        );
    }
}

fn main() {
    let api = Api::new(&wrangler().base);
    println!(
        "{} runs per figure; medians; wrangler dev (workerd, local D1 and R2) and git http-backend (CGI) on 127.0.0.1\n",
        runs()
    );
    println!(
        "{:<28} {:<26} {:>11} {:>13} {:>7}",
        "corpus", "request", "Worker", "git CLI", "ratio"
    );
    for (c, files, label) in picked_corpora() {
        // The upstream: one commit of the corpus, packed by gc.
        let (root, work) = (TempDir::new("bench-up-root"), TempDir::new("bench-up-work"));
        git(work.path(), &["init", "-q", "-b", "main", "."]);
        for (path, exec, content) in &files {
            let p = work.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            if *exec {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        git(work.path(), &["add", "-A"]);
        git(work.path(), &["commit", "-q", "-m", "corpus"]);
        git(
            root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                work.path().to_str().unwrap(),
                "up.git",
            ],
        );
        git(&root.path().join("up.git"), &["gc", "-q"]);
        let server = serve_http_backend(root.path().to_path_buf(), None);
        let url = format!("{}/up.git", server.base);

        let (mut first, mut unchanged, mut clone, mut ls_remote) = (vec![], vec![], vec![], vec![]);
        let mut failed = None;
        for run in 0..runs() {
            let slug = format!("bench-sync-{}-{run}", c.name);
            api.admin(
                "PUT",
                &format!("/api/admin/marketplaces/{slug}/source"),
                Some(&json!({ "url": url })),
                200,
            );
            let sync = || {
                api.call(
                    ADMIN_TOKEN,
                    "POST",
                    &format!("/api/admin/marketplaces/{slug}/sync"),
                    None,
                )
            };
            let t = Instant::now();
            let r = sync();
            first.push(t.elapsed());
            if r.status != 200 {
                failed = Some(r.text());
                break;
            }
            let t = Instant::now();
            assert_eq!(sync().status, 200);
            unchanged.push(t.elapsed());
            let dest = TempDir::new("bench-sync-clone");
            let t = Instant::now();
            git(
                dest.path(),
                &["clone", "-q", "--depth", "1", "--bare", &url, "c.git"],
            );
            clone.push(t.elapsed());
            let t = Instant::now();
            git(dest.path(), &["ls-remote", &url]);
            ls_remote.push(t.elapsed());
        }
        if let Some(why) = failed {
            println!("{label:<28} sync refused: {why}");
            continue;
        }
        let row = |what: &str, w: f64, g: f64| {
            println!(
                "{label:<28} {what:<26} {w:>8.1} ms {g:>10.1} ms {:>6.2}x",
                w / g
            );
        };
        row(
            "first sync (fetch+ingest)",
            median_ms(&first),
            median_ms(&clone),
        );
        row(
            "unchanged upstream",
            median_ms(&unchanged),
            median_ms(&ls_remote),
        );
        cpu_rows(&api, &label, c.name, &url);
        let mem = api.admin("GET", "/api/admin/runtime", None, 200)["wasm_memory_bytes"]
            .as_u64()
            .unwrap_or(0);
        println!(
            "{label:<28} wasm memory after: {:.1} MiB",
            mem as f64 / 1048576.0
        );
    }
    println!(
        "\n{}",
        git(std::path::Path::new("."), &["--version"]).trim()
    );
}
