//! The pack reader against packs that real git writes: full packs with
//! `OFS_DELTA` and with `REF_DELTA`, `git gc --aggressive` output with deep
//! delta chains, and a thin pack (refused). Every object is compared with
//! `git cat-file`; damaged and random packs give errors, never panics.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use marketplace_edge::git::unpack::{
    PackWindows, TrailerCheck, UnpackError, UnpackLimits, Unpacked,
};
use marketplace_edge::git::{ObjectId, ObjectKind};
use proptest::prelude::*;
use support::git_cli::{git, git_in, git_raw, TempDir};

const LIMITS: UnpackLimits = UnpackLimits {
    max_objects: 100_000,
    max_object_bytes: 16 << 20,
    max_total_bytes: 256 << 20,
    max_delta_depth: 100,
};

/// A repository with 60 commits that each grow or rewrite files a little,
/// so `git gc --aggressive` makes long delta chains; packed aggressively.
fn repo_with_history() -> TempDir {
    let tmp = TempDir::new("unpack");
    let w = tmp.path();
    git(w, &["init", "-q", "-b", "main", "."]);
    let mut notes = String::new();
    for i in 0..60 {
        notes.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog\n"
        ));
        std::fs::create_dir_all(w.join("plugins/a/skills")).unwrap();
        std::fs::write(w.join("plugins/a/notes.md"), &notes).unwrap();
        std::fs::write(
            w.join("plugins/a/skills/SKILL.md"),
            format!(
                "---\nname: s\nversion: {i}\n---\n{}",
                "body text\n".repeat(200)
            ),
        )
        .unwrap();
        std::fs::write(
            w.join("bin.dat"),
            (0..4096u32)
                .map(|x| ((x * (i + 7)) % 251) as u8)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        git(w, &["add", "-A"]);
        git(w, &["commit", "-q", "-m", &format!("c{i}")]);
    }
    git(w, &["gc", "-q", "--aggressive"]);
    tmp
}

/// Every object of the repository: id → (kind, content), as git reads them.
fn objects_by_git(repo: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let list = git(
        repo,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname) %(objecttype)",
        ],
    );
    let mut out = BTreeMap::new();
    for line in list.lines() {
        let (id, kind) = line.split_once(' ').unwrap();
        let body = git_raw(repo, &["cat-file", kind, id], None).stdout;
        out.insert(id.to_string(), (kind.to_string(), body));
    }
    out
}

fn pack_of(repo: &Path, args: &[&str], revs: &str) -> Vec<u8> {
    let mut all = vec!["pack-objects", "--stdout", "--revs"];
    all.extend_from_slice(args);
    let out = git_raw(repo, &all, Some(revs.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn kind_name(k: ObjectKind) -> &'static str {
    k.name()
}

fn check_all(pack: &[u8], expected: &BTreeMap<String, (String, Vec<u8>)>) {
    let mut u = Unpacked::parse(pack, LIMITS).unwrap();
    assert_eq!(u.len(), expected.len());
    for (id, (kind, body)) in expected {
        let oid = ObjectId::from_hex(id.as_bytes()).unwrap();
        let (k, got) = u.object(&oid).unwrap();
        assert_eq!(
            (kind_name(k), got.as_slice()),
            (kind.as_str(), body.as_slice()),
            "{id}"
        );
    }
    check_windowed(pack, expected);
}

/// Runs `step` on `u`, loading from `pack` whatever it says it needs,
/// until it ends; counts the loads in `loads`.
fn loading<T>(
    u: &mut Unpacked<PackWindows>,
    pack: &[u8],
    loads: &mut usize,
    mut step: impl FnMut(&mut Unpacked<PackWindows>) -> Result<T, UnpackError>,
) -> T {
    loop {
        match step(u) {
            Err(UnpackError::Need { offset, len }) => {
                *loads += 1;
                assert!(*loads < 1_000_000, "no progress");
                u.source_mut()
                    .supply(offset, pack[offset..offset + len].to_vec());
            }
            other => return other.unwrap(),
        }
    }
}

/// The same pack read through small windows (a few hundred bytes, at most
/// three held), as a staged upstream pack is read: every object the same.
fn check_windowed(pack: &[u8], expected: &BTreeMap<String, (String, Vec<u8>)>) {
    let mut trailer = TrailerCheck::default();
    for piece in pack.chunks(7) {
        trailer.push(piece);
    }
    assert_eq!(trailer.finish(), Ok(pack.len()));
    let mut loads = 0;
    let mut windows = PackWindows::new(pack.len(), 300, 900);
    // Open needs the header: loaded first, as a Need would ask.
    windows.supply(0, pack[..300.min(pack.len())].to_vec());
    let mut u = Unpacked::open(windows, LIMITS).unwrap();
    loading(&mut u, pack, &mut loads, |u| u.index());
    loading(&mut u, pack, &mut loads, |u| u.name());
    assert_eq!(u.len(), expected.len());
    for (id, (kind, body)) in expected {
        let oid = ObjectId::from_hex(id.as_bytes()).unwrap();
        let (k, got) = loading(&mut u, pack, &mut loads, |u| u.object(&oid));
        assert_eq!(
            (kind_name(k), got.as_slice()),
            (kind.as_str(), body.as_slice()),
            "windowed {id}"
        );
    }
    assert!(loads > 1, "the windows were loaded on demand");
}

#[test]
fn full_packs_with_ofs_and_ref_deltas_read_like_git() {
    let repo = repo_with_history();
    let expected = objects_by_git(repo.path());
    // Deep chains: gc --aggressive packs with depth up to 50.
    let verify = git(repo.path(), &["verify-pack", "-v", &pack_path(repo.path())]);
    assert!(
        verify
            .lines()
            .any(|l| l.starts_with("chain length = ") && !l.starts_with("chain length = 1:")),
        "the test repository has delta chains:\n{verify}"
    );
    let ofs = pack_of(repo.path(), &["--delta-base-offset"], "main\n");
    let refs = pack_of(repo.path(), &[], "main\n");
    assert_ne!(ofs, refs, "one pack uses OFS_DELTA, the other REF_DELTA");
    check_all(&ofs, &expected);
    check_all(&refs, &expected);
    // The packed file itself, as gc wrote it, reads the same.
    let on_disk = std::fs::read(pack_path(repo.path())).unwrap();
    check_all(&on_disk, &expected);
}

fn pack_path(repo: &Path) -> String {
    let dir = repo.join(".git/objects/pack");
    let pack = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .expect("a pack after gc");
    pack.display().to_string()
}

#[test]
fn a_thin_pack_is_refused() {
    let repo = repo_with_history();
    let thin = pack_of(repo.path(), &["--thin"], "main\n^main~1\n");
    match Unpacked::parse(&thin, LIMITS) {
        Err(UnpackError::MissingBase(_)) => {}
        Err(e) => panic!("a thin pack gives a missing base, not {e}"),
        Ok(_) => panic!("a thin pack was accepted"),
    }
}

#[test]
fn damaged_packs_and_tight_limits_are_errors() {
    let repo = repo_with_history();
    let pack = pack_of(repo.path(), &["--delta-base-offset"], "main\n");
    assert_eq!(
        Unpacked::parse(&pack[..pack.len() / 2], LIMITS).err(),
        Some(UnpackError::BadChecksum)
    );
    assert_eq!(
        Unpacked::parse(&pack[..20], LIMITS).err(),
        Some(UnpackError::Truncated)
    );
    let mut flipped = pack.clone();
    flipped[100] ^= 0x40;
    assert_eq!(
        Unpacked::parse(&flipped, LIMITS).err(),
        Some(UnpackError::BadChecksum)
    );
    let few = UnpackLimits {
        max_objects: 3,
        ..LIMITS
    };
    assert_eq!(
        Unpacked::parse(&pack, few).err(),
        Some(UnpackError::TooManyObjects(3))
    );
    let small = UnpackLimits {
        max_object_bytes: 1000,
        ..LIMITS
    };
    assert!(matches!(
        Unpacked::parse(&pack, small),
        Err(UnpackError::ObjectTooLarge(_) | UnpackError::BadEntry(..))
    ));
    let shallow = UnpackLimits {
        max_delta_depth: 1,
        ..LIMITS
    };
    assert_eq!(
        Unpacked::parse(&pack, shallow).err(),
        Some(UnpackError::ChainTooDeep(1))
    );
    let bomb = UnpackLimits {
        max_total_bytes: 10_000,
        ..LIMITS
    };
    assert_eq!(
        Unpacked::parse(&pack, bomb).err(),
        Some(UnpackError::TooLarge(10_000))
    );
}

/// Re-seals `body` with a correct trailer, so damage inside reaches the parser.
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    use sha1::Digest;
    let sum = sha1::Sha1::digest(&body);
    body.extend_from_slice(&sum);
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn damage_inside_a_sealed_pack_never_panics(at in 12usize..2000, byte in any::<u8>(), cut in 0usize..64) {
        let pack = small_pack();
        let mut body = pack[..pack.len() - 20].to_vec();
        let at = at % body.len();
        body[at] = byte;
        body.truncate(body.len() - cut.min(body.len() - 12));
        let _ = Unpacked::parse(&sealed(body), LIMITS);
    }

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut framed = b"PACK\0\0\0\x02\0\0\0\x05".to_vec();
        framed.extend(body);
        let _ = Unpacked::parse(&sealed(framed), LIMITS);
    }
}

/// A small real pack with deltas (made once per test binary).
fn small_pack() -> Vec<u8> {
    static PACK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PACK.get_or_init(|| {
        let tmp = TempDir::new("unpack-small");
        let w = tmp.path();
        git(w, &["init", "-q", "-b", "main", "."]);
        for i in 0..5 {
            std::fs::write(w.join("f.md"), "x\n".repeat(100 + i)).unwrap();
            git(w, &["add", "-A"]);
            git(w, &["commit", "-q", "-m", &format!("c{i}")]);
        }
        let _ = git_in(w, &["gc", "-q"], None);
        pack_of(w, &["--delta-base-offset"], "main\n")
    })
    .clone()
}

#[test]
fn a_trailer_check_refuses_a_pack_changed_in_transit() {
    let repo = repo_with_history();
    let pack = pack_of(repo.path(), &["--delta-base-offset"], "main\n");
    let mut flipped = pack.clone();
    flipped[pack.len() / 2] ^= 1;
    let mut check = TrailerCheck::default();
    for piece in flipped.chunks(4096) {
        check.push(piece);
    }
    assert_eq!(check.finish(), Err(UnpackError::BadChecksum));
    let mut short = TrailerCheck::default();
    short.push(&pack[..20]);
    assert_eq!(short.finish(), Err(UnpackError::Truncated));
}
