//! Load program (issue 10): prints requests per second and p50 / p99 per
//! kind of request, and every failure; asserts nothing about speed.
//!
//! Under `wrangler dev` (local D1 and R2), `LOAD_CLIENTS` threads (32 by
//! default) run `git clone --depth 1`, `git pull`, `ls-refs`, ZIP downloads
//! and Store listings for four users with different views, for
//! `LOAD_SECONDS` (30 by default), while an admin changes their views about
//! once a second: a grant, an opt-out, a Store install and a re-import, in
//! turn. Every clone and pull passes `fsck --strict` and sits at a commit
//! that was the user's view during the request; see `tests/support/load.rs`.
//! Exits non-zero if any request or check failed.
//!
//! Run: `cargo run --release --example load` (after `scripts/test.sh` or
//! `scripts/setup.sh && scripts/build-worker.sh`).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::path::Path;
use std::time::Duration;

use support::git_cli::git;
use support::wrangler::wrangler;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::var_os("TMPDIR").is_none() && Path::new("/dev/shm").is_dir() {
        std::env::set_var("TMPDIR", "/dev/shm");
    }
    let clients = env_or("LOAD_CLIENTS", 32) as usize;
    let seconds = env_or("LOAD_SECONDS", 30);
    let report = support::load::run(wrangler(), clients, Duration::from_secs(seconds));
    println!(
        "wrangler dev (workerd, local D1 and R2) on 127.0.0.1; {}\n",
        git(Path::new("."), &["--version"]).trim()
    );
    print!("{}", report.table());
    for f in &report.failures {
        println!("  {f}");
    }
    if !report.failures.is_empty() {
        std::process::exit(1);
    }
}
