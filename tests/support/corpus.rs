//! Generated marketplaces of known size, for the clone benchmark and the
//! large-import end-to-end test: deterministic, so both see the same bytes.

use super::archives::FileSpec;

/// A generated marketplace.
pub struct Corpus {
    pub name: &'static str,
    pub plugins: usize,
    pub files_per_plugin: usize,
    /// Mean file size in bytes.
    pub mean_size: usize,
}

/// About 5 MB / 400 files, 25 MB / 4,000 files and 100 MB / 10,000 files.
pub const CORPORA: [Corpus; 3] = [
    Corpus {
        name: "small",
        plugins: 10,
        files_per_plugin: 40,
        mean_size: 12_500,
    },
    Corpus {
        name: "medium",
        plugins: 200,
        files_per_plugin: 20,
        mean_size: 6_250,
    },
    Corpus {
        name: "large",
        plugins: 250,
        files_per_plugin: 40,
        mean_size: 10_000,
    },
];

/// Markdown and JSON with one file in eight incompressible, some scripts
/// executable; deterministic.
pub fn generated_marketplace(c: &Corpus) -> Vec<FileSpec> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words = [
        "plugin", "skill", "agent", "review", "the", "code", "test", "use", "when", "file", "run",
        "build",
    ];
    let plugins: Vec<String> = (0..c.plugins).map(|i| format!("{{\"name\":\"p{i:03}\",\"source\":\"./plugins/p{i:03}\",\"description\":\"generated\"}}")).collect();
    let mut files: Vec<FileSpec> = vec![(
        ".claude-plugin/marketplace.json".into(),
        false,
        format!("{{\"name\":\"bench\",\"plugins\":[{}]}}", plugins.join(",")).into_bytes(),
    )];
    for p in 0..c.plugins {
        files.push((
            format!("plugins/p{p:03}/.claude-plugin/plugin.json"),
            false,
            format!("{{\"name\":\"p{p:03}\",\"version\":\"1.0.0\"}}").into_bytes(),
        ));
        for f in 1..c.files_per_plugin {
            let size = c.mean_size / 2 + (next() % c.mean_size as u64) as usize;
            let content: Vec<u8> = if f % 8 == 0 {
                (0..size).map(|_| next() as u8).collect()
            } else {
                let mut t = Vec::with_capacity(size);
                while t.len() < size {
                    t.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
                    t.push(if next() % 10 == 0 { b'\n' } else { b' ' });
                }
                t
            };
            files.push((
                format!("plugins/p{p:03}/docs/f{f:02}.md"),
                f % 13 == 0,
                content,
            ));
        }
    }
    files
}

/// The corpus named `name`.
pub fn corpus(name: &str) -> &'static Corpus {
    CORPORA
        .iter()
        .find(|c| c.name == name)
        .expect("a corpus of that name")
}
