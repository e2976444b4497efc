//! The engine behind a small native HTTP server, cloned by real git:
//! protocol v0 and v2, full and `--depth 1`, `ls-remote`, up-to-date
//! fetch/pull, and an incremental fetch that sends only new objects.

mod support;

use marketplace_edge::git::memory::{MemoryRepo, SnapshotFile};
use marketplace_edge::git::object::{encode_commit, parse_commit_links, SNAPSHOT_SIGNATURE};
use marketplace_edge::git::repo::{ObjectStore, Repository};
use marketplace_edge::git::tree::FileMode;
use marketplace_edge::git::{ObjectKind, RepoPath};
use support::checks::{check_clone, check_gzip_request, check_ls_remote, expected_files};
use support::demo::{demo_files, demo_repo};
use support::git_cli::{git, TempDir};
use support::http_server::serve;

#[test]
fn clone_demo_v0_and_v2_full_and_shallow() {
    let repo = demo_repo();
    let head = repo.refs().head().unwrap().to_hex();
    let server = serve(repo);
    check_gzip_request(&server.base, "/repo.git", &head, None);
    let files = expected_files(&demo_files());
    for version in [0, 2] {
        check_ls_remote(&server.repo_url(), version, &head);
        for shallow in [false, true] {
            check_clone(&server.repo_url(), version, shallow, &head, &files);
        }
    }
}

#[test]
fn empty_repository_clones_as_empty() {
    let server = serve(MemoryRepo::new());
    let tmp = TempDir::new("emptyclone");
    for version in ["0", "2"] {
        let dir = format!("e{version}");
        git(
            tmp.path(),
            &[
                "-c",
                &format!("protocol.version={version}"),
                "clone",
                "-q",
                &server.repo_url(),
                &dir,
            ],
        );
        assert!(git(&tmp.path().join(&dir), &["status", "--porcelain"]).is_empty());
    }
}

/// Builds a second snapshot whose commit has the first as parent.
fn two_commit_repo() -> (MemoryRepo, String, String) {
    let mut repo = MemoryRepo::snapshot(&demo_files()).unwrap();
    let first = repo.refs().head().unwrap();
    let mut files = demo_files();
    files.push(SnapshotFile {
        path: RepoPath::parse("plugins/hello/NEW.md").unwrap(),
        mode: FileMode::Regular,
        content: b"new\n".to_vec(),
    });
    let snap = repo.add_snapshot(&files).unwrap();
    let (tree, _) = parse_commit_links(&repo.object(&snap).unwrap().1).unwrap();
    let second = repo.insert(
        ObjectKind::Commit,
        encode_commit(&tree, &[first], SNAPSHOT_SIGNATURE, "second\n"),
    );
    repo.set_ref("refs/heads/main", second);
    (repo, first.to_hex(), second.to_hex())
}

#[test]
fn fetch_after_an_update_sends_only_new_objects() {
    for version in ["0", "2"] {
        let old = serve(demo_repo());
        let (repo, first, second) = two_commit_repo();
        let new = serve(repo);
        let tmp = TempDir::new("incr");
        let proto = format!("protocol.version={version}");
        git(
            tmp.path(),
            &["-c", &proto, "clone", "-q", &old.repo_url(), "w"],
        );
        let w = tmp.path().join("w");
        assert_eq!(git(&w, &["rev-parse", "HEAD"]), first);
        // Keep the fetched pack as a pack so we can count what was sent.
        git(
            &w,
            &[
                "-c",
                &proto,
                "-c",
                "fetch.unpackLimit=1",
                "fetch",
                "-q",
                &new.repo_url(),
                "main",
            ],
        );
        assert_eq!(git(&w, &["rev-parse", "FETCH_HEAD"]), second);
        let packs: Vec<_> = std::fs::read_dir(w.join(".git/objects/pack"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        let counts: Vec<usize> = packs.iter().map(|p| git_show_index_count(&w, p)).collect();
        // The clone's pack has every demo object; the fetch's pack holds only the
        // new commit, the changed trees (root, plugins, plugins/hello) and NEW.md.
        assert!(
            counts.contains(&5),
            "v{version}: pack object counts {counts:?}"
        );
        git(&w, &["fsck", "--strict", "--no-dangling"]);
    }
}

fn git_show_index_count(repo: &std::path::Path, idx: &std::path::Path) -> usize {
    let out = std::process::Command::new("git")
        .current_dir(repo)
        .arg("show-index")
        .stdin(std::fs::File::open(idx).unwrap())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn shallow_clone_can_be_deepened_and_unshallowed() {
    for version in ["0", "2"] {
        let (repo, first, second) = two_commit_repo();
        let server = serve(repo);
        let tmp = TempDir::new("unshallow");
        let proto = format!("protocol.version={version}");
        git(
            tmp.path(),
            &[
                "-c",
                &proto,
                "clone",
                "-q",
                "--depth",
                "1",
                &server.repo_url(),
                "w",
            ],
        );
        let w = tmp.path().join("w");
        assert_eq!(git(&w, &["rev-parse", "HEAD"]), second);
        assert_eq!(
            git(&w, &["rev-list", "--count", "HEAD"]),
            "1",
            "v{version}: depth 1"
        );
        git(&w, &["-c", &proto, "fetch", "-q", "--unshallow", "origin"]);
        assert!(
            !w.join(".git/shallow").exists(),
            "v{version}: no longer shallow"
        );
        assert_eq!(git(&w, &["rev-list", "HEAD"]), format!("{second}\n{first}"));
        git(&w, &["fsck", "--strict", "--no-dangling"]);
    }
}
