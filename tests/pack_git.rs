//! Every pack we write passes `git index-pack --strict`, and the repository
//! it forms passes `git fsck --strict`: fresh entries, spliced pre-compressed
//! entries, a mix, empty files and large blobs.

mod support;

use marketplace_edge::git::memory::{MemoryRepo, SnapshotFile};
use marketplace_edge::git::negotiate::{plan_fetch, FetchScope};
use marketplace_edge::git::pack::{PackEntry, PackWriter, DEFAULT_LEVEL};
use marketplace_edge::git::repo::{ObjectStore, Repository};
use marketplace_edge::git::tree::FileMode;
use marketplace_edge::git::{ObjectKind, RepoPath};
use support::demo::demo_files;
use support::git_cli::{git, index_and_fsck, init_bare, TempDir};

fn big_files() -> Vec<SnapshotFile> {
    let mut files = demo_files();
    // A 3 MB pseudo-random blob (incompressible) and a 2 MB compressible one.
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    files.push(SnapshotFile {
        path: RepoPath::parse("blobs/noise.bin").unwrap(),
        mode: FileMode::Regular,
        content: noise,
    });
    files.push(SnapshotFile {
        path: RepoPath::parse("blobs/text.txt").unwrap(),
        mode: FileMode::Regular,
        content: b"line of text\n".repeat(160_000),
    });
    files
}

/// Writes every object of `repo`'s main, splicing the entry `splice` makes
/// of it, if any, else compressing it as the writer does.
fn write_pack(
    repo: &MemoryRepo,
    splice: impl Fn(ObjectKind, &[u8]) -> Option<PackEntry>,
) -> (Vec<u8>, String) {
    let head = repo.refs().head().unwrap();
    let plan = plan_fetch(
        repo,
        &FetchScope {
            wants: &[head],
            ..Default::default()
        },
    );
    let mut w = PackWriter::new(Vec::new(), plan.objects.len() as u32).unwrap();
    for id in &plan.objects {
        let (kind, body) = repo.object(id).unwrap();
        match splice(kind, &body) {
            Some(entry) => w.write_entry_bytes(entry.as_bytes()).unwrap(),
            None => w.write_object(kind, &body).unwrap(),
        }
    }
    (w.finish().unwrap().0, head.to_hex())
}

fn check(splice: impl Fn(ObjectKind, &[u8]) -> Option<PackEntry>) {
    let repo = MemoryRepo::snapshot(&big_files()).unwrap();
    let (pack, head) = write_pack(&repo, splice);
    let tmp = TempDir::new("pack");
    init_bare(tmp.path());
    index_and_fsck(tmp.path(), &pack, &head);
    // Every file came through intact.
    for f in big_files() {
        let spec = format!("{head}:{}", f.path);
        let id = git(tmp.path(), &["rev-parse", &spec]);
        assert_eq!(
            id,
            ObjectKind::Blob.id_of(&f.content).to_hex(),
            "{}",
            f.path
        );
    }
}

fn compressed(kind: ObjectKind, body: &[u8]) -> Option<PackEntry> {
    Some(PackEntry::compress(kind, body, DEFAULT_LEVEL))
}

#[test]
fn fresh_pack_passes_index_pack_and_fsck() {
    check(|_, _| None);
}

#[test]
fn spliced_pack_passes_index_pack_and_fsck() {
    check(compressed);
}

#[test]
fn mixed_pack_passes_index_pack_and_fsck() {
    // As on a cache miss: blobs spliced, trees stored, other objects fresh.
    check(|kind, body| match kind {
        ObjectKind::Blob => compressed(kind, body),
        ObjectKind::Tree => Some(PackEntry::stored(kind, body)),
        _ => None,
    });
}

#[test]
fn stored_entries_pass_index_pack_and_fsck() {
    // Uncompressed zlib streams of every size: empty files, small trees,
    // and blobs of several 64 KiB stored blocks.
    check(|kind, body| Some(PackEntry::stored(kind, body)));
}

#[test]
fn index_pack_rejects_a_corrupted_pack() {
    // The check above can fail: flip one byte and git must refuse.
    let repo = MemoryRepo::snapshot(&demo_files()).unwrap();
    let (mut pack, _) = write_pack(&repo, |_, _| None);
    let mid = pack.len() / 2;
    pack[mid] ^= 0xff;
    let tmp = TempDir::new("badpack");
    init_bare(tmp.path());
    let path = tmp.path().join("objects/pack/bad.pack");
    std::fs::write(&path, &pack).unwrap();
    let out = support::git_cli::git_raw(
        tmp.path(),
        &["index-pack", "--strict", path.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success(), "git accepted a corrupted pack");
}
