//! A view's pack assembled from per-plugin segments (the head's fresh
//! objects, then each segment's entries as they are) holds exactly the
//! objects of the same view's pack built whole, and real git accepts it
//! with `index-pack --strict` and `fsck --strict`.

mod support;

use marketplace_edge::catalog::names::{PluginKey, PluginName, Slug};
use marketplace_edge::catalog::segment::{SegmentLayout, SegmentPart};
use marketplace_edge::catalog::served::{
    files_digest, FileSource, Origin, ServedFile, ServedPlugin,
};
use marketplace_edge::catalog::snapshot::{ObjectSource, Snapshot};
use marketplace_edge::catalog::summary::ServedMarketplace;
use marketplace_edge::git::pack::{PackEntry, PackWriter, DEFAULT_LEVEL};
use marketplace_edge::git::repo::Repository;
use marketplace_edge::git::{ObjectKind, RepoPath};
use support::git_cli::{git, index_and_fsck, init_bare, TempDir};

fn plugin(name: &str, files: &[(&str, &[u8], bool)]) -> ServedPlugin {
    let files: Vec<ServedFile> = files
        .iter()
        .map(|(path, content, exec)| ServedFile {
            path: RepoPath::parse(path).unwrap(),
            size: content.len() as u64,
            sha256: marketplace_edge::catalog::served::sha256_hex(content),
            blob: ObjectKind::Blob.id_of(content),
            exec: *exec,
            source: FileSource::Inline(content.to_vec()),
        })
        .collect();
    ServedPlugin {
        origin: Origin::Curated(PluginKey {
            slug: Slug::parse("acme").unwrap(),
            plugin: PluginName::parse(name).unwrap(),
        }),
        dir: format!("acme-{name}"),
        manifest_name: name.into(),
        past_names: Vec::new(),
        version: Some("1.0.0".into()),
        entry: serde_json::json!({"name": name, "source": "./x"})
            .as_object()
            .unwrap()
            .clone(),
        external: false,
        tree: None,
        digest: Some(files_digest(&files)),
        files,
    }
}

fn entry(kind: ObjectKind, body: &[u8]) -> Vec<u8> {
    PackEntry::compress(kind, body, DEFAULT_LEVEL).into_bytes()
}

/// The entries of `p`'s segment, as `http::segment_pack` stores them.
fn segment(p: &ServedPlugin) -> Vec<Vec<u8>> {
    let layout = SegmentLayout::of(&p.files).unwrap();
    let mut entries = Vec::new();
    for part in &layout.parts {
        entries.push(match part {
            SegmentPart::Tree(_, body) => PackEntry::stored(ObjectKind::Tree, body).into_bytes(),
            SegmentPart::Blob(_, FileSource::Inline(c)) => entry(ObjectKind::Blob, c),
            SegmentPart::Blob(_, FileSource::Entry { .. }) => unreachable!("inline here"),
        });
    }
    assert_eq!(entries.len(), layout.objects());
    entries
}

/// Every object `snapshot` sends itself, then `segments`, as one pack.
fn pack(snapshot: &Snapshot, segments: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut own = snapshot.tree_objects(&snapshot.commit_id);
    own.push(snapshot.commit_id);
    let count = own.len() + segments.iter().map(Vec::len).sum::<usize>();
    let mut w = PackWriter::new(Vec::new(), count as u32).unwrap();
    for id in &own {
        match snapshot.source(id).unwrap() {
            ObjectSource::Fresh(kind, body) => w.write_entry_bytes(&entry(kind, body)).unwrap(),
            ObjectSource::Entry { .. } => unreachable!("inline files are fresh"),
        }
    }
    for entry in segments.iter().flatten() {
        w.write_entry_bytes(entry).unwrap();
    }
    w.finish().unwrap().0
}

fn objects_of(pack: &[u8], head: &str) -> String {
    let tmp = TempDir::new("segments");
    init_bare(tmp.path());
    index_and_fsck(tmp.path(), pack, head);
    let mut listed: Vec<String> = git(
        tmp.path(),
        &["cat-file", "--batch-all-objects", "--batch-check"],
    )
    .lines()
    .map(str::to_owned)
    .collect();
    listed.sort();
    listed.join("\n")
}

#[test]
fn a_pack_of_segments_holds_exactly_the_objects_of_the_whole_build() {
    let noise: Vec<u8> = (0..150_000u32)
        .map(|i| i.wrapping_mul(2_654_435_761) as u8)
        .collect();
    let plugins = vec![
        plugin(
            "lint",
            &[
                ("run.sh", b"#!/bin/sh\necho lint\n", true),
                ("docs/a.md", b"a", false),
                ("docs/again.md", b"a", false),
            ],
        ),
        plugin(
            "review",
            &[
                ("skills/x/SKILL.md", b"---\nname: x\n---\n", false),
                ("big.bin", &noise, false),
            ],
        ),
        plugin("deploy", &[("commands/ship.md", b"ship it", false)]),
    ];
    let market = ServedMarketplace::named("mk");
    let whole = Snapshot::build(&market, &plugins).unwrap();
    let whole_pack = pack(&whole, &[]);

    // The last two plugins as a view loads them for segments: stored
    // tree and digest, no files.
    let mut segmented = plugins.clone();
    let mut segments = Vec::new();
    for p in &mut segmented[1..] {
        segments.push(segment(p));
        p.tree = Some(SegmentLayout::of(&p.files).unwrap().root);
        p.files.clear();
    }
    let head = Snapshot::build(&market, &segmented).unwrap();
    assert_eq!(
        (head.etag.clone(), head.commit_id),
        (whole.etag.clone(), whole.commit_id),
        "the same view"
    );
    let assembled = pack(&head, &segments);
    assert_ne!(assembled, whole_pack, "built another way");
    let commit = whole.commit_id.to_hex();
    let from_segments = objects_of(&assembled, &commit);
    assert_eq!(from_segments, objects_of(&whole_pack, &commit));
    assert_eq!(
        from_segments.lines().count(),
        whole.tree_objects(&whole.commit_id).len() + 1,
        "no object twice, none left out"
    );
}
