//! Hostile input at volume: property-based fuzzing of every parser that
//! reads what clients and upstream servers send (gzip bodies, the zip and
//! tar readers, frontmatter, `marketplace.json` / `plugin.json` parsing,
//! Store upload validation, the pack reader, the upload-pack client's
//! answer readers). No case may panic or allocate more than `CEILING`
//! bytes at once (measured by a counting allocator, per thread); every
//! refusal is an error value.
//!
//! `FUZZ_CASES` sets the cases per target (default 256 here; the
//! documented volume run is
//! `FUZZ_CASES=1000000 cargo test --release --test fuzz_native`).
//! Upload-pack requests are fuzzed in `hostile_native.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

use marketplace_edge::catalog::archive::tar_gz::TarGzReader;
use marketplace_edge::catalog::archive::{read_archive, ArchiveFile, IMPORT_LIMITS};
use marketplace_edge::catalog::frontmatter::parse_frontmatter;
use marketplace_edge::catalog::marketplace::parse_marketplace;
use marketplace_edge::catalog::store::{validate_upload, EntityType};
use marketplace_edge::git::body::decode_body;
use marketplace_edge::git::client::{
    parse_fetch_v0, parse_fetch_v2, parse_ls_refs, parse_v0_advertisement,
};
use marketplace_edge::git::unpack::{UnpackLimits, Unpacked};
use marketplace_edge::git::RepoPath;
use proptest::prelude::*;

/// The most one case may hold allocated at once.
const CEILING: usize = 200 << 20;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// Counts live bytes per thread (proptest runs a target's cases on one).
struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let _ = LIVE.try_with(|l| {
                let now = l.get() + layout.size();
                l.set(now);
                let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            });
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `case`, failing if it allocated more than `CEILING` at once.
fn bounded(case: impl FnOnce()) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    case();
    let peak = PEAK.with(Cell::get) - base;
    assert!(peak <= CEILING, "a case held {peak} bytes at once");
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *content).unwrap();
    }
    gzip(&b.into_inner().unwrap())
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A small valid marketplace, as (path, content).
fn market() -> Vec<(&'static str, &'static [u8])> {
    vec![
        (
            ".claude-plugin/marketplace.json",
            br#"{"name":"m","plugins":[{"name":"a","source":"./plugins/a"}]}"#,
        ),
        (
            "plugins/a/.claude-plugin/plugin.json",
            br#"{"name":"a","version":"1.0.0"}"#,
        ),
        (
            "plugins/a/skills/s/SKILL.md",
            b"---\nname: s\ndescription: d\n---\nbody\n",
        ),
    ]
}

/// `base` with `edits` (position, byte) applied and maybe cut short.
fn damaged(base: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(at, b) in edits {
        if !v.is_empty() {
            let i = at % v.len();
            v[i] = b;
        }
    }
    v.truncate(v.len().saturating_sub(cut));
    v
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn gzip_bodies(e in edits(), cut in 0usize..40, raw in prop::collection::vec(any::<u8>(), 0..200)) {
        let good = gzip(b"0032command=ls-refs\n0000");
        bounded(|| {
            let _ = decode_body(&damaged(&good, &e, cut), Some("gzip"), 1 << 20);
            let _ = decode_body(&raw, Some("gzip"), 1 << 20);
        });
    }

    #[test]
    fn tar_gz_archives(e in edits(), cut in 0usize..64, piece in 1usize..700) {
        let good = tar_gz(&market());
        let bad = damaged(&good, &e, cut);
        bounded(|| {
            let _ = read_archive(bad.as_slice(), IMPORT_LIMITS);
            let mut r = TarGzReader::new(IMPORT_LIMITS);
            let mut ok = true;
            for chunk in bad.chunks(piece) {
                if r.push(chunk).is_err() { ok = false; break; }
            }
            if ok { let _ = r.finish(); }
        });
    }

    #[test]
    fn zip_archives_and_store_uploads(e in edits(), cut in 0usize..64) {
        let good = zip(&market());
        let bad = damaged(&good, &e, cut);
        bounded(|| {
            let _ = read_archive(bad.as_slice(), IMPORT_LIMITS);
            let _ = validate_upload(bad.as_slice(), EntityType::Plugin, "fuzzed", "owner");
        });
    }

    #[test]
    fn frontmatter(doc in "(---\n)?([a-z]{0,5}: ?[^\n]{0,20}\n){0,4}(---\n)?[^\n]{0,30}") {
        bounded(|| { let _ = parse_frontmatter(&doc); });
    }

    #[test]
    fn marketplace_and_plugin_json(
        manifest in r#"\{("name":"[a-z]{0,4}",)?("metadata":\{"pluginRoot":"[./a-z]{0,8}"\},)?"plugins":\[(\{"name":"[a-z.-]{0,4}","source":("[./a-z]{0,10}"|\{\}|[0-9])\},?){0,3}\]\}"#,
        plugin_json in r#"\{("name":("[a-z-]{0,5}"|[0-9]|null),?)?("version":"[0-9.]{0,5}")?\}|[^{]{0,5}"#,
    ) {
        bounded(|| {
            let files = vec![
                ArchiveFile { path: RepoPath::parse(".claude-plugin/marketplace.json").unwrap(), exec: false, content: manifest.clone().into_bytes() },
                ArchiveFile { path: RepoPath::parse("plugins/a/.claude-plugin/plugin.json").unwrap(), exec: false, content: plugin_json.clone().into_bytes() },
                ArchiveFile { path: RepoPath::parse("a/.claude-plugin/plugin.json").unwrap(), exec: false, content: plugin_json.clone().into_bytes() },
            ];
            let _ = parse_marketplace(files);
        });
    }

    #[test]
    fn upstream_answers(raw in prop::collection::vec(any::<u8>(), 0..300), text in "([0-9a-f]{4}[ -~]{0,20}\n?){0,6}") {
        bounded(|| {
            for body in [raw.clone(), text.clone().into_bytes()] {
                let _ = parse_ls_refs(&body);
                let _ = parse_v0_advertisement(&body);
                let _ = parse_fetch_v2(body.clone());
                let _ = parse_fetch_v0(body);
            }
        });
    }

    #[test]
    fn packs(body in prop::collection::vec(any::<u8>(), 0..400), count in 0u32..50) {
        use sha1::Digest;
        let mut p = b"PACK\0\0\0\x02".to_vec();
        p.extend_from_slice(&count.to_be_bytes());
        p.extend(body);
        let sum = sha1::Sha1::digest(&p);
        p.extend_from_slice(&sum);
        let limits = UnpackLimits { max_objects: 100, max_object_bytes: 1 << 20, max_total_bytes: 8 << 20, max_delta_depth: 50 };
        bounded(|| { let _ = Unpacked::parse(&p, limits); });
    }
}

/// The memory check can fail: a case over the ceiling is caught.
#[test]
#[should_panic(expected = "held")]
fn the_ceiling_is_enforced() {
    bounded(|| {
        let v = vec![0u8; CEILING + 1];
        std::hint::black_box(&v);
    });
}
