//! Pack-writing benchmark: prints figures, asserts nothing about speed.
//!
//! Builds a synthetic marketplace of ~2,000 files / ~50 MB (markdown, JSON,
//! scripts and some incompressible assets), then, in the same run, times:
//! - our writer compressing every object (the cache-miss path if nothing
//!   were pre-compressed),
//! - our writer splicing entries pre-compressed at ingest (the real
//!   cache-miss path),
//! - `git pack-objects --no-reuse-object` on the same objects, with
//!   `--window=0` (no delta search, like us) and with git's defaults.
//!
//! Run: `cargo run --release --example bench-pack [-- --files N --mb M]`

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use marketplace_edge::git::memory::{MemoryRepo, SnapshotFile};
use marketplace_edge::git::negotiate::{plan_fetch, FetchScope};
use marketplace_edge::git::pack::{PackEntry, PackWriter, DEFAULT_LEVEL};
use marketplace_edge::git::repo::{ObjectStore, Repository};
use marketplace_edge::git::tree::FileMode;
use marketplace_edge::git::{ObjectId, RepoPath};

const RUNS: usize = 3;

/// A small deterministic PRNG (xorshift64*), so every run packs the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the",
    "plugin",
    "skill",
    "agent",
    "review",
    "code",
    "test",
    "when",
    "use",
    "this",
    "file",
    "run",
    "claude",
    "command",
    "should",
    "return",
    "error",
    "value",
    "config",
    "user",
    "with",
    "for",
    "and",
    "a",
    "to",
    "of",
    "marketplace",
    "deploy",
    "worker",
    "branch",
    "commit",
    "diff",
    "lint",
    "format",
    "build",
    "check",
    "docs",
];

fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        out.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

fn noise(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next() as u8).collect()
}

fn synthetic(files: usize, total_mb: usize) -> Vec<SnapshotFile> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let avg = total_mb * 1_000_000 / files;
    (0..files)
        .map(|i| {
            let plugin = i / 40;
            let size = (avg / 2 + rng.below(avg as u64) as usize).max(1);
            let (path, content, exec) = match i % 10 {
                0 => (
                    format!("plugins/p{plugin:03}/assets/a{i}.bin"),
                    noise(&mut rng, size),
                    false,
                ),
                1 => (
                    format!("plugins/p{plugin:03}/scripts/s{i}.sh"),
                    text(&mut rng, size),
                    true,
                ),
                2 => (
                    format!("plugins/p{plugin:03}/.claude-plugin/c{i}.json"),
                    text(&mut rng, size),
                    false,
                ),
                _ => (
                    format!("plugins/p{plugin:03}/skills/s{}/f{i}.md", i % 7),
                    text(&mut rng, size),
                    false,
                ),
            };
            SnapshotFile {
                path: RepoPath::parse(&path).expect("generated path is valid"),
                mode: if exec {
                    FileMode::Executable
                } else {
                    FileMode::Regular
                },
                content,
            }
        })
        .collect()
}

/// Counts bytes without keeping them, so we time the writer, not a Vec.
struct CountingSink(u64);
impl Write for CountingSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn best_of(mut f: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut size = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        size = f();
        best = best.min(t.elapsed());
    }
    (best, size)
}

fn git(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("git must be installed to run the benchmark");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.map(<[u8]>::to_vec);
    let feeder = std::thread::spawn(move || {
        if let Some(d) = data {
            let _ = input.write_all(&d);
        }
    });
    let out = child.wait_with_output().expect("git ran");
    let _ = feeder.join();
    assert!(out.status.success(), "git {args:?} failed");
    out.stdout
}

fn row(name: &str, t: Duration, raw_bytes: u64, objects: usize, pack_bytes: u64) {
    let s = t.as_secs_f64();
    println!(
        "{name:<44} {:>9.1} ms {:>9.1} MB/s {:>11.0} obj/s {:>9.1} MB",
        s * 1e3,
        raw_bytes as f64 / 1e6 / s,
        objects as f64 / s,
        pack_bytes as f64 / 1e6
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut files, mut mb) = (2000usize, 50usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--files" => files = args.next().and_then(|v| v.parse().ok()).expect("--files N"),
            "--mb" => mb = args.next().and_then(|v| v.parse().ok()).expect("--mb M"),
            other => panic!("unknown argument {other}; use --files N --mb M"),
        }
    }
    let input = synthetic(files, mb);
    let repo = MemoryRepo::snapshot(&input).expect("synthetic files form a tree");
    let head = repo.refs().head().expect("born");
    let objects: Vec<ObjectId> = plan_fetch(
        &repo,
        &FetchScope {
            wants: &[head],
            ..Default::default()
        },
    )
    .objects;
    let raw: u64 = objects
        .iter()
        .map(|id| repo.object(id).unwrap().1.len() as u64)
        .sum();
    println!(
        "synthetic marketplace: {} files, {} objects, {:.1} MB uncompressed; best of {RUNS} runs\n",
        input.len(),
        objects.len(),
        raw as f64 / 1e6
    );
    println!(
        "{:<44} {:>12} {:>14} {:>15} {:>12}",
        "writer", "time", "input rate", "objects", "pack size"
    );

    let (t, size) = best_of(|| {
        let mut w = PackWriter::new(CountingSink(0), objects.len() as u32).unwrap();
        for id in &objects {
            let (k, body) = repo.object(id).unwrap();
            w.write_object(k, &body).unwrap();
        }
        w.finish().unwrap().0 .0
    });
    row(
        "marketplace-edge, compress every object",
        t,
        raw,
        objects.len(),
        size,
    );

    let t_ingest = Instant::now();
    let entries: Vec<PackEntry> = objects
        .iter()
        .map(|id| {
            let (k, body) = repo.object(id).unwrap();
            PackEntry::compress(k, &body, DEFAULT_LEVEL)
        })
        .collect();
    let ingest = t_ingest.elapsed();
    let (t, size) = best_of(|| {
        let mut w = PackWriter::new(CountingSink(0), entries.len() as u32).unwrap();
        for e in &entries {
            w.write_entry_bytes(e.as_bytes()).unwrap();
        }
        w.finish().unwrap().0 .0
    });
    row(
        "marketplace-edge, splice pre-compressed",
        t,
        raw,
        objects.len(),
        size,
    );
    row(
        "  (one-off ingest: pre-compressing entries)",
        ingest,
        raw,
        objects.len(),
        entries.iter().map(|e| e.as_bytes().len() as u64).sum(),
    );

    // git on the same objects: index our pack into a bare repo, then make git
    // recompress everything (--no-reuse-object) so it does the same work.
    let dir = std::env::temp_dir().join(format!("bench-pack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "--bare", "."], None);
    let mut w = PackWriter::new(Vec::new(), entries.len() as u32).unwrap();
    for e in &entries {
        w.write_entry_bytes(e.as_bytes()).unwrap();
    }
    let pack = w.finish().unwrap().0;
    git(&dir, &["index-pack", "--stdin"], Some(&pack));
    let list: Vec<u8> = objects
        .iter()
        .flat_map(|id| format!("{id}\n").into_bytes())
        .collect();
    for (name, extra) in [
        (
            "git pack-objects --window=0 --no-reuse-object",
            &["--window=0"][..],
        ),
        ("git pack-objects (defaults) --no-reuse-object", &[][..]),
    ] {
        let (t, size) = best_of(|| {
            let mut a = vec!["pack-objects", "--stdout", "-q", "--no-reuse-object"];
            a.extend_from_slice(extra);
            git(&dir, &a, Some(&list)).len() as u64
        });
        row(name, t, raw, objects.len(), size);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\ngit: {}",
        String::from_utf8_lossy(&git(Path::new("."), &["--version"], None)).trim()
    );
}
