//! The upload-pack client (`git/client.rs`), the pack reader and the
//! upstream tree reader against the real `git upload-pack` (stateless RPC,
//! as git http-backend runs it), over protocol v2 and v0: refs, symrefs,
//! peeled tags, ref resolution, and a depth-1 fetch whose tree reads back
//! exactly as `git ls-tree` lists it. Symlinks and submodules upstream are
//! refused with the archive's codes.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use marketplace_edge::catalog::archive::IMPORT_LIMITS;
use marketplace_edge::catalog::upstream::UpstreamError;
use marketplace_edge::catalog::upstream::UpstreamTree;
use marketplace_edge::git::client::{
    fetch_request_v0, fetch_request_v2, is_v2_advertisement, ls_refs_request, parse_fetch_v0,
    parse_fetch_v2, parse_ls_refs, parse_v0_advertisement, FetchAnswer, FetchReader, RemoteRefs,
};
use marketplace_edge::git::unpack::{PackWindows, UnpackError, UnpackLimits, Unpacked};
use marketplace_edge::git::ObjectId;
use support::git_cli::{git, git_cmd, TempDir};

const LIMITS: UnpackLimits = UnpackLimits {
    max_objects: 100_000,
    max_object_bytes: 16 << 20,
    max_total_bytes: 256 << 20,
    max_delta_depth: 100,
};

/// `git upload-pack --stateless-rpc` in `repo`, speaking `version`.
fn upload_pack(repo: &Path, version: u8, advertise: bool, input: &[u8]) -> Vec<u8> {
    let mut cmd: Command = git_cmd(repo);
    if version == 2 {
        cmd.env("GIT_PROTOCOL", "version=2");
    }
    cmd.arg("upload-pack").arg("--stateless-rpc");
    if advertise {
        cmd.arg("--advertise-refs");
    }
    cmd.arg(".")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run git upload-pack");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An upstream marketplace with history (so packs carry deltas), a second
/// branch and an annotated tag.
fn upstream() -> TempDir {
    let tmp = TempDir::new("upstream");
    let w = tmp.path();
    git(w, &["init", "-q", "-b", "main", "."]);
    for i in 0..8 {
        std::fs::create_dir_all(w.join("plugins/a/skills/s")).unwrap();
        std::fs::create_dir_all(w.join(".claude-plugin")).unwrap();
        std::fs::write(
            w.join(".claude-plugin/marketplace.json"),
            r#"{"name":"up","plugins":[{"name":"a","source":"./plugins/a"}]}"#,
        )
        .unwrap();
        std::fs::write(
            w.join("plugins/a/skills/s/SKILL.md"),
            format!("---\nname: s\n---\n{}", "text\n".repeat(100 + i)),
        )
        .unwrap();
        std::fs::write(w.join("plugins/a/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        git(
            w,
            &["update-index", "--add", "--chmod=+x", "plugins/a/run.sh"],
        );
        git(w, &["add", "-A"]);
        git(w, &["commit", "-q", "-m", &format!("c{i}")]);
    }
    git(w, &["tag", "-a", "v1", "-m", "v1", "HEAD~2"]);
    git(w, &["branch", "old", "HEAD~5"]);
    git(w, &["gc", "-q"]);
    tmp
}

fn rev(repo: &Path, r: &str) -> ObjectId {
    ObjectId::from_hex(git(repo, &["rev-parse", r]).as_bytes()).unwrap()
}

fn check_refs(repo: &Path, refs: &RemoteRefs) {
    let head = rev(repo, "HEAD");
    assert_eq!(refs.head, Some(head));
    assert_eq!(refs.head_target.as_deref(), Some("refs/heads/main"));
    assert_eq!(refs.resolve(None), Some(head));
    assert_eq!(refs.resolve(Some("main")), Some(head));
    assert_eq!(refs.resolve(Some("refs/heads/old")), Some(rev(repo, "old")));
    assert_eq!(refs.resolve(Some("old")), Some(rev(repo, "old")));
    assert_eq!(
        refs.resolve(Some("v1")),
        Some(rev(repo, "v1^{commit}")),
        "tags peel to commits"
    );
    let pinned = rev(repo, "HEAD~3");
    assert_eq!(refs.resolve(Some(&pinned.to_hex())), Some(pinned));
    assert_eq!(refs.resolve(Some("nope")), None);
}

/// The files `git ls-tree` lists at `commit`: path → (exec, content).
fn ls_tree(repo: &Path, commit: &ObjectId) -> Vec<(String, bool, Vec<u8>)> {
    git(repo, &["ls-tree", "-r", &commit.to_hex()])
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').unwrap();
            let mut m = meta.split(' ');
            let mode = m.next().unwrap();
            let id = m.nth(1).unwrap();
            let content = support::git_cli::git_raw(repo, &["cat-file", "blob", id], None).stdout;
            (path.to_string(), mode == "100755", content)
        })
        .collect()
}

fn read_tree(pack: &[u8], commit: &ObjectId) -> Vec<(String, bool, Vec<u8>)> {
    let mut u = Unpacked::parse(pack, LIMITS).unwrap();
    let mut tree = UpstreamTree::list(&mut u, commit, IMPORT_LIMITS).unwrap();
    let mut out = Vec::new();
    while let Some((f, stored)) = tree.next_file(&mut u).unwrap() {
        // A blob stored whole is an entry that inflates to the content.
        if let Some(entry) = stored {
            let (_, body) = marketplace_edge::git::pack::inflate_entry(&entry, 1 << 30).unwrap();
            assert_eq!(body, f.content, "{}", f.path);
        }
        out.push((f.path.to_string(), f.exec, f.content));
    }
    out.sort();
    out
}

/// `read_tree` through small windows of the pack, loaded on demand, as a
/// sync reads a pack it staged: each step resumes after a load.
fn read_tree_windowed(pack: &[u8], commit: &ObjectId) -> Vec<(String, bool, Vec<u8>)> {
    fn loading<T>(
        u: &mut Unpacked<PackWindows>,
        pack: &[u8],
        mut step: impl FnMut(&mut Unpacked<PackWindows>) -> Result<T, UpstreamError>,
    ) -> T {
        for _ in 0..1_000_000 {
            match step(u) {
                Err(UpstreamError::Pack(UnpackError::Need { offset, len })) => u
                    .source_mut()
                    .supply(offset, pack[offset..offset + len].to_vec()),
                other => return other.unwrap(),
            }
        }
        panic!("no progress");
    }
    let mut windows = PackWindows::new(pack.len(), 256, 1024);
    windows.supply(0, pack[..256].to_vec());
    let mut u = Unpacked::open(windows, LIMITS).unwrap();
    loading(&mut u, pack, |u| Ok(u.index()?));
    loading(&mut u, pack, |u| Ok(u.name()?));
    let mut tree = loading(&mut u, pack, |u| {
        UpstreamTree::list(u, commit, IMPORT_LIMITS)
    });
    let mut out = Vec::new();
    while let Some((f, _)) = loading(&mut u, pack, |u| tree.next_file(u)) {
        out.push((f.path.to_string(), f.exec, f.content));
    }
    out.sort();
    out
}

#[test]
fn v2_ls_refs_and_a_depth_1_fetch_read_back_the_tree() {
    let up = upstream();
    let repo = up.path();
    assert!(is_v2_advertisement(&upload_pack(repo, 2, true, b"")));
    assert!(!is_v2_advertisement(&upload_pack(repo, 0, true, b"")));
    let refs = parse_ls_refs(&upload_pack(repo, 2, false, &ls_refs_request())).unwrap();
    check_refs(repo, &refs);
    for at in ["HEAD", "HEAD~4"] {
        let commit = rev(repo, at);
        let pack = parse_fetch_v2(upload_pack(repo, 2, false, &fetch_request_v2(&commit))).unwrap();
        let mut expected = ls_tree(repo, &commit);
        expected.sort();
        assert_eq!(read_tree(&pack, &commit), expected, "{at}");
        assert_eq!(
            read_tree_windowed(&pack, &commit),
            expected,
            "{at} through windows"
        );
    }
}

#[test]
fn v0_advertisement_and_fetch_read_back_the_tree() {
    let up = upstream();
    let repo = up.path();
    let (refs, caps) = parse_v0_advertisement(&upload_pack(repo, 0, true, b"")).unwrap();
    check_refs(repo, &refs);
    assert!(caps.iter().any(|c| c == "shallow"), "{caps:?}");
    let commit = rev(repo, "HEAD");
    let pack = parse_fetch_v0(upload_pack(
        repo,
        0,
        false,
        &fetch_request_v0(&commit, &caps),
    ))
    .unwrap();
    let mut expected = ls_tree(repo, &commit);
    expected.sort();
    assert_eq!(read_tree(&pack, &commit), expected);
}

/// Commits the index of `repo` and fetches HEAD; the refusal's code.
fn refusal_after_commit(repo: &Path, message: &str) -> String {
    git(repo, &["commit", "-q", "-m", message]);
    let commit = rev(repo, "HEAD");
    let pack = parse_fetch_v2(upload_pack(repo, 2, false, &fetch_request_v2(&commit))).unwrap();
    let mut u = Unpacked::parse(&pack, LIMITS).unwrap();
    match UpstreamTree::list(&mut u, &commit, IMPORT_LIMITS) {
        Err(e) => e.code().to_string(),
        Ok(_) => panic!("{message}: accepted"),
    }
}

#[test]
fn symlinks_and_submodules_upstream_are_refused_like_in_archives() {
    let up = upstream();
    let repo = up.path();
    std::os::unix::fs::symlink("/etc/passwd", repo.join("plugins/a/link")).unwrap();
    git(repo, &["add", "-A"]);
    assert_eq!(refusal_after_commit(repo, "link"), "symlink");

    git(repo, &["rm", "-q", "plugins/a/link"]);
    let sub = rev(repo, "HEAD~1");
    git(
        repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{},vendored", sub.to_hex()),
        ],
    );
    assert_eq!(refusal_after_commit(repo, "submodule"), "special_file");
}

#[test]
fn a_subtree_bomb_is_refused_at_once() {
    let up = upstream();
    let repo = up.path();
    let commit =
        ObjectId::from_hex(support::git_cli::commit_subtree_bomb(repo, "main", 40).as_bytes())
            .unwrap();
    let pack = parse_fetch_v2(upload_pack(repo, 2, false, &fetch_request_v2(&commit))).unwrap();
    let mut u = Unpacked::parse(&pack, LIMITS).unwrap();
    let started = std::time::Instant::now();
    let refused = UpstreamTree::list(&mut u, &commit, IMPORT_LIMITS).err();
    assert_eq!(
        refused.map(|e| e.code()),
        Some("too_many_directories"),
        "2^40 paths of empty trees"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused in {:?}",
        started.elapsed()
    );
}

#[test]
fn shared_subtrees_that_fit_the_limits_import_whole() {
    // Plugins with identical directories: git stores each directory once,
    // and every path under each name must still be read.
    let up = upstream();
    let repo = up.path();
    for copy in ["b", "c", "d"] {
        let to = repo.join("plugins").join(copy);
        std::fs::create_dir_all(to.join("skills/s")).unwrap();
        for f in ["skills/s/SKILL.md", "run.sh"] {
            std::fs::copy(repo.join("plugins/a").join(f), to.join(f)).unwrap();
        }
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "shared"]);
    let commit = rev(repo, "HEAD");
    let tree_a = git(repo, &["rev-parse", "HEAD:plugins/a/skills"]);
    assert_eq!(
        tree_a,
        git(repo, &["rev-parse", "HEAD:plugins/d/skills"]),
        "the subtree is shared"
    );
    let pack = parse_fetch_v2(upload_pack(repo, 2, false, &fetch_request_v2(&commit))).unwrap();
    let mut expected = ls_tree(repo, &commit);
    expected.sort();
    assert_eq!(expected.len(), 9, "{expected:?}");
    assert_eq!(read_tree(&pack, &commit), expected);
}

/// The pack of `answer` read in pieces of `size` bytes.
fn pack_in_pieces(kind: FetchAnswer, answer: &[u8], size: usize) -> Vec<u8> {
    let mut reader = FetchReader::new(kind);
    let mut pack = Vec::new();
    for piece in answer.chunks(size) {
        reader.push(piece, &mut pack).unwrap();
    }
    reader.finish().unwrap();
    pack
}

#[test]
fn fetch_answers_read_in_pieces_of_any_size_give_the_same_pack() {
    let up = upstream();
    let repo = up.path();
    let commit = rev(repo, "HEAD");
    let v2 = upload_pack(repo, 2, false, &fetch_request_v2(&commit));
    let (_, caps) = parse_v0_advertisement(&upload_pack(repo, 0, true, b"")).unwrap();
    let v0 = upload_pack(repo, 0, false, &fetch_request_v0(&commit, &caps));
    let whole_v2 = parse_fetch_v2(v2.clone()).unwrap();
    let whole_v0 = parse_fetch_v0(v0.clone()).unwrap();
    assert!(whole_v2.starts_with(b"PACK") && whole_v0.starts_with(b"PACK"));
    for size in [1, 3, 4, 5, 7, 1000, 65_520, 1 << 20] {
        assert_eq!(
            pack_in_pieces(FetchAnswer::V2, &v2, size),
            whole_v2,
            "v2 by {size}"
        );
        assert_eq!(
            pack_in_pieces(FetchAnswer::V0, &v0, size),
            whole_v0,
            "v0 by {size}"
        );
    }
    // Cut short inside a packet (the flush and one byte gone): an error.
    // (A cut between packets leaves a pack whose trailer does not match,
    // which the reader of the pack refuses.)
    assert!(v2.ends_with(b"0000"));
    let mut reader = FetchReader::new(FetchAnswer::V2);
    let mut pack = Vec::new();
    reader.push(&v2[..v2.len() - 5], &mut pack).unwrap();
    assert!(reader.finish().is_err());
    // No pack at all.
    let reader = FetchReader::new(FetchAnswer::V2);
    assert!(reader.finish().is_err());
}
