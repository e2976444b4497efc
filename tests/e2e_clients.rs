//! Independent git clients against the Worker: dulwich (Python, over v0
//! and v2) and isomorphic-git (JavaScript, v0), shallow and full; each
//! checkout must equal the real git's, byte for byte with exec bits.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::api::Api;
use support::checks::{clone_view, ExpectedFiles};
use support::git_cli::TempDir;
use support::wrangler::wrangler;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files under `dir` (without `.git`): path → (exec, content).
fn files_in(dir: &Path) -> ExpectedFiles {
    let mut out = ExpectedFiles::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                use std::os::unix::fs::PermissionsExt;
                let exec = std::fs::metadata(&p).unwrap().permissions().mode() & 0o100 != 0;
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                out.insert(rel, (exec, std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run ({e}); run scripts/test.sh (or scripts/setup.sh) to install it")
    });
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dulwich_and_isomorphic_git_check_out_what_git_does() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("clients", &[("alpha", "available"), ("beta", "required")]);
    let url = api.git_url(&token);
    let expected = clone_view(&url, 2, true).files;
    assert!(
        expected.keys().any(|p| p.ends_with("run.sh")),
        "an executable file is part of the check"
    );

    let python = root().join("target/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (it installs dulwich)",
        python.display()
    );
    // Each client's clone is a miss (the pack assembled from the plugins'
    // segments) rather than the copy git's clone cached.
    let purge = || {
        api.admin(
            "POST",
            "/api/admin/cache/purge",
            Some(&serde_json::json!({"all": true})),
            200,
        );
    };
    for (protocol, depth) in [(0, 1), (2, 1), (0, 0), (2, 0)] {
        purge();
        let tmp = TempDir::new("dulwich");
        let dir = tmp.path().join("w");
        run(
            Command::new(&python)
                .arg(root().join("tests/clients/dulwich_clone.py"))
                .arg(&url)
                .arg(&dir)
                .arg(protocol.to_string())
                .arg(depth.to_string()),
            &format!("dulwich clone (v{protocol}, depth {depth})"),
        );
        assert_eq!(
            files_in(&dir),
            expected,
            "dulwich v{protocol} depth {depth}"
        );
    }

    let script = root().join("tests/clients/iso_clone.mjs");
    assert!(
        root().join("node_modules/isomorphic-git").exists(),
        "node_modules/isomorphic-git is missing: run scripts/setup.sh (npm ci)"
    );
    let plain_url = format!("{}/marketplace.git", api.base);
    for depth in [1, 0] {
        purge();
        let tmp = TempDir::new("isogit");
        let dir = tmp.path().join("w");
        run(
            support::toolchain::node_tool("node")
                .arg(&script)
                .arg(&plain_url)
                .arg(&dir)
                .arg(&token)
                .arg(depth.to_string())
                .current_dir(root()),
            &format!("isomorphic-git clone (depth {depth})"),
        );
        assert_eq!(files_in(&dir), expected, "isomorphic-git depth {depth}");
    }
    // Every one of those clones (git's, four dulwich, two isomorphic-git)
    // was a miss answered from pack segments, by the request log.
    let log = std::fs::read_to_string(&wrangler().log).unwrap_or_default();
    let assembled = log.matches("\"cache\":\"segments\"").count();
    assert!(assembled >= 7, "{assembled} fetches from segments");
}
