//! Runs the real `git`. A missing `git` fails the test with install advice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh empty directory under the target dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "me-test-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `git` command with a clean, reproducible environment.
pub fn git_cmd(cwd: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "marketplace-edge")
        .env("GIT_AUTHOR_EMAIL", "noreply@marketplace-edge.invalid")
        .env("GIT_AUTHOR_DATE", "@0 +0000")
        .env("GIT_COMMITTER_NAME", "marketplace-edge")
        .env("GIT_COMMITTER_EMAIL", "noreply@marketplace-edge.invalid")
        .env("GIT_COMMITTER_DATE", "@0 +0000")
        .env_remove("GIT_DIR")
        .env_remove("GIT_PROTOCOL");
    c
}

fn run_output(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            panic!("cannot run `git` ({e}); install git (apt-get install git) to run these tests")
        }
    };
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write git stdin");
    }
    child.wait_with_output().expect("wait for git")
}

/// Runs git and returns its output, whether or not it succeeded.
pub fn git_raw(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = git_cmd(cwd);
    cmd.args(args);
    run_output(cmd, stdin)
}

/// `git clone --depth 1` of `url` into `<cwd>/w` over protocol v2, as
/// Claude Code clones; the output, success or not.
pub fn shallow_clone(cwd: &Path, url: &str) -> Output {
    git_raw(
        cwd,
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
        None,
    )
}

/// Runs git, panicking with its stderr on failure; returns trimmed stdout.
pub fn git(cwd: &Path, args: &[&str]) -> String {
    git_in(cwd, args, None)
}

/// Like `git`, feeding `stdin`.
pub fn git_in(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = git_raw(cwd, args, stdin);
    assert!(
        out.status.success(),
        "git {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A new bare repository.
pub fn init_bare(dir: &Path) {
    git(dir, &["init", "-q", "--bare", "-b", "main", "."]);
}

/// Indexes `pack` into the bare repo at `repo` with `--strict`, points main
/// at `head`, and runs `git fsck --strict`.
pub fn index_and_fsck(repo: &Path, pack: &[u8], head: &str) {
    let pack_path = repo.join("objects/pack/incoming.pack");
    std::fs::write(&pack_path, pack).expect("write pack");
    git(
        repo,
        &["index-pack", "--strict", pack_path.to_str().unwrap()],
    );
    git(repo, &["update-ref", "refs/heads/main", head]);
    git(repo, &["fsck", "--strict", "--no-dangling"]);
}

/// Commits, on top of `branch` in `repo`, its tree plus a directory
/// `bomb/` that names one subtree twice at each of `levels` levels, with an
/// empty tree at the bottom: 2^levels paths and not one file, a few dozen
/// objects. Returns the new commit.
pub fn commit_subtree_bomb(repo: &Path, branch: &str, levels: usize) -> String {
    let mut tree = git_in(repo, &["mktree"], Some(b""));
    for _ in 0..levels {
        let listing = format!("040000 tree {tree}\ta\n040000 tree {tree}\tb\n");
        tree = git_in(repo, &["mktree"], Some(listing.as_bytes()));
    }
    let mut root = git(repo, &["ls-tree", branch]);
    root.push_str(&format!("\n040000 tree {tree}\tbomb\n"));
    let root = git_in(repo, &["mktree"], Some(root.as_bytes()));
    let parent = git(repo, &["rev-parse", branch]);
    let commit = git(
        repo,
        &["commit-tree", &root, "-p", &parent, "-m", "subtree bomb"],
    );
    git(
        repo,
        &["update-ref", &format!("refs/heads/{branch}"), &commit],
    );
    commit
}
