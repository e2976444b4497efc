//! Object ids equal what real git computes: `hash-object` for blobs,
//! `mktree` and `write-tree` for trees, `commit-tree` for the commit.

mod support;

use marketplace_edge::git::memory::SnapshotFile;
use marketplace_edge::git::object::snapshot_commit;
use marketplace_edge::git::tree::{build_tree, FileMode, TreeFile};
use marketplace_edge::git::{ObjectKind, RepoPath};
use proptest::prelude::*;
use support::git_cli::{git, git_in, TempDir};

/// Names chosen to exercise git's ordering and encoding rules.
fn tricky_files() -> Vec<SnapshotFile> {
    let f = |p: &str, exec: bool, c: &str| SnapshotFile {
        path: RepoPath::parse(p).unwrap(),
        mode: if exec {
            FileMode::Executable
        } else {
            FileMode::Regular
        },
        content: c.as_bytes().to_vec(),
    };
    vec![
        f("a", false, "a\n"),
        f("a-b", false, "a-b\n"),
        f("a.b", false, "a.b\n"),
        f("a0", false, "a0\n"),
        f("b/a", false, "nested\n"),
        f("b/a-b/c", true, "#!/bin/sh\necho deep\n"),
        f("é", false, "e acute\n"),
        f("ß", false, "sharp s\n"),
        f("with space.txt", false, "spaces\n"),
        f("empty", false, ""),
        f("run.sh", true, "#!/bin/sh\nexit 0\n"),
        f("x/y/z/deep.md", false, "# deep\n"),
    ]
}

/// Writes `files` into a fresh repository's work tree and returns `git write-tree`.
fn git_write_tree(dir: &std::path::Path, files: &[SnapshotFile]) -> String {
    git(dir, &["init", "-q", "-b", "main", "."]);
    git(dir, &["config", "core.fileMode", "true"]);
    for f in files {
        let p = dir.join(f.path.as_str());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &f.content).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = if f.mode == FileMode::Executable {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["write-tree"])
}

fn our_tree(files: &[SnapshotFile]) -> marketplace_edge::git::tree::BuiltTree {
    let entries: Vec<TreeFile> = files
        .iter()
        .map(|f| TreeFile {
            path: f.path.clone(),
            mode: f.mode,
            blob: ObjectKind::Blob.id_of(&f.content),
        })
        .collect();
    build_tree(&entries).expect("tree builds")
}

#[test]
fn blob_ids_match_git_hash_object() {
    let tmp = TempDir::new("hash");
    for f in tricky_files() {
        let theirs = git_in(tmp.path(), &["hash-object", "--stdin"], Some(&f.content));
        assert_eq!(
            ObjectKind::Blob.id_of(&f.content).to_hex(),
            theirs,
            "{}",
            f.path
        );
    }
}

#[test]
fn tree_ids_match_git_write_tree_and_mktree() {
    let tmp = TempDir::new("tree");
    let files = tricky_files();
    let ours = our_tree(&files);
    let theirs = git_write_tree(tmp.path(), &files);
    assert_eq!(ours.root.to_hex(), theirs);

    // mktree on the root listing (as git ls-tree prints it) gives the same id.
    let listing = git(tmp.path(), &["ls-tree", &theirs]);
    let mut shuffled: Vec<&str> = listing.lines().collect();
    shuffled.reverse(); // mktree must sort them itself
    let input = shuffled.join("\n") + "\n";
    assert_eq!(
        git_in(tmp.path(), &["mktree"], Some(input.as_bytes())),
        ours.root.to_hex()
    );
}

#[test]
fn snapshot_commit_matches_git_commit_tree() {
    let tmp = TempDir::new("commit");
    let files = tricky_files();
    let tree = git_write_tree(tmp.path(), &files);
    let theirs = git(
        tmp.path(),
        &["commit-tree", &tree, "-m", "marketplace snapshot"],
    );
    let ours = ObjectKind::Commit.id_of(&snapshot_commit(&tree.parse().unwrap()));
    assert_eq!(ours.to_hex(), theirs);
}

fn arb_files() -> impl Strategy<Value = Vec<SnapshotFile>> {
    let seg = prop::sample::select(vec![
        "a", "a-b", "a.b", "a0", "b", "é", "ß", "x y", "Z", "_", "a~",
    ]);
    let path = prop::collection::vec(seg, 1..4).prop_map(|s| s.join("/"));
    let file = (
        path,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..40),
    );
    prop::collection::vec(file, 1..12).prop_map(|fs| {
        // Keep a consistent set: no duplicates and no file that is also a directory.
        let mut out: Vec<SnapshotFile> = Vec::new();
        for (p, exec, content) in fs {
            let clash = out.iter().any(|o| {
                let o = o.path.as_str();
                o == p || o.starts_with(&format!("{p}/")) || p.starts_with(&format!("{o}/"))
            });
            if !clash {
                out.push(SnapshotFile {
                    path: RepoPath::parse(&p).unwrap(),
                    mode: if exec {
                        FileMode::Executable
                    } else {
                        FileMode::Regular
                    },
                    content,
                });
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random trees from ordering-sensitive names agree with `git write-tree`.
    #[test]
    fn random_trees_match_git(files in arb_files()) {
        let tmp = TempDir::new("proptree");
        prop_assert_eq!(our_tree(&files).root.to_hex(), git_write_tree(tmp.path(), &files));
    }
}
