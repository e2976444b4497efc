//! Ingest: turning archive files into what storage keeps.
//!
//! Each file gets its sha256 and git blob id and is compressed once into a
//! pack entry. Entries are appended, in the order files arrive, to an
//! entries object of up to a chunk's size; a full chunk is sealed under its
//! content address (`entries/<sha256>`) and handed out to be written while
//! the archive is still being read, so memory holds one chunk, never the
//! archive. A cache miss then splices entries and never recompresses.
//!
//! Invariants: the same files in the same order give the same objects and
//! keys (zlib output is deterministic), so re-importing an unchanged archive
//! writes nothing new; identical contents are stored once.

use std::collections::HashMap;

use super::archive::ArchiveFile;
use super::marketplace::{ImportedPlugin, PLUGIN_JSON_PATH};
use super::scan::{scan, Scan};
use super::served::{files_digest, files_tree, sha256_hex, EntryRef, FileSource, ServedFile};
use super::version::{content_version, with_version};
use crate::git::pack::{PackEntry, DEFAULT_LEVEL};
use crate::git::{ObjectId, ObjectKind, RepoPath};

/// Entries gathered before an import seals an object: a cache miss reads
/// whole objects, so this bounds what it holds per object.
pub const IMPORT_CHUNK_BYTES: usize = 4 << 20;

/// A sealed entries object, to be written to R2 under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntriesObject {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// A plugin's (or Store entity's) files as the catalog records them.
#[derive(Debug, Clone)]
pub struct PluginFiles {
    /// Catalog rows, sorted by path.
    pub files: Vec<ServedFile>,
    /// The tree of the files (`None` if they cannot form one, which
    /// building the snapshot then reports).
    pub tree: Option<ObjectId>,
    /// `summary::files_digest` of the files.
    pub digest: String,
}

impl PluginFiles {
    /// Summarises `files` (sorted here).
    pub fn new(mut files: Vec<ServedFile>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        PluginFiles {
            tree: files_tree(&files).ok().map(|t| t.root),
            digest: files_digest(&files),
            files,
        }
    }
}

/// A Store entity's files: one entries object holds them all.
#[derive(Debug, Clone)]
pub struct IngestedFiles {
    pub files: Vec<ServedFile>,
    pub entries: Vec<u8>,
    /// R2 key of `entries`: `entries/<sha256 of the bytes>`.
    pub entries_key: String,
    pub tree: Option<ObjectId>,
    pub digest: String,
    /// A plugin's content version (`version::content_version` of its
    /// `plugin.json` version and its uploaded files' digest), which its
    /// served `plugin.json` carries when it has a version; `None` for
    /// anything without a `plugin.json`.
    pub version: Option<String>,
    /// What the files can do (`scan`), read before they were compressed.
    pub scan: Scan,
}

/// A file hashed and placed, waiting for its chunk's key.
struct Placed {
    path: RepoPath,
    exec: bool,
    size: u64,
    sha256: String,
    blob: ObjectId,
    chunk: usize,
    entry: EntryRef,
}

/// Hashes, compresses and chunks files as they arrive.
pub struct Ingester {
    chunk_bytes: usize,
    chunk: Vec<u8>,
    /// Keys of the sealed chunks, by chunk number.
    keys: Vec<String>,
    placed: HashMap<ObjectId, (usize, EntryRef)>,
    files: Vec<Placed>,
    keep: fn(&RepoPath) -> bool,
    kept: Vec<ArchiveFile>,
}

/// Everything ingested: each file's row by archive path, and the listing
/// of every path (with content only for the files asked to be kept).
pub struct Ingested {
    pub files: HashMap<String, ServedFile>,
    pub listing: Vec<ArchiveFile>,
}

impl Ingester {
    /// Seals objects at `chunk_bytes`; keeps the content of files `keep`
    /// accepts (manifests, which parsing needs later).
    pub fn new(chunk_bytes: usize, keep: fn(&RepoPath) -> bool) -> Self {
        Ingester {
            chunk_bytes,
            chunk: Vec::new(),
            keys: Vec::new(),
            placed: HashMap::new(),
            files: Vec::new(),
            keep,
            kept: Vec::new(),
        }
    }

    /// Takes one file; a sealed object to write, when the chunk filled.
    pub fn add(&mut self, f: ArchiveFile) -> Option<EntriesObject> {
        self.add_with_entry(f, None)
    }

    /// Takes one file whose blob's pack entry may already exist (an
    /// upstream's pack stores most blobs whole): kept as it is, which
    /// saves compressing the content again.
    pub fn add_with_entry(
        &mut self,
        f: ArchiveFile,
        stored: Option<Vec<u8>>,
    ) -> Option<EntriesObject> {
        let blob = ObjectKind::Blob.id_of(&f.content);
        let (chunk, entry) = match self.placed.get(&blob) {
            Some(&at) => at,
            None => {
                let offset = self.chunk.len();
                match stored {
                    // An empty chunk takes a large stored entry as it is.
                    Some(bytes) if self.chunk.is_empty() => self.chunk = bytes,
                    Some(bytes) => self.chunk.extend_from_slice(&bytes),
                    None => PackEntry::compress_into(
                        ObjectKind::Blob,
                        &f.content,
                        DEFAULT_LEVEL,
                        &mut self.chunk,
                    ),
                }
                let at = (
                    self.keys.len(),
                    EntryRef {
                        offset: offset as u64,
                        len: (self.chunk.len() - offset) as u64,
                    },
                );
                self.placed.insert(blob, at);
                at
            }
        };
        self.files.push(Placed {
            path: f.path.clone(),
            exec: f.exec,
            size: f.content.len() as u64,
            sha256: sha256_hex(&f.content),
            blob,
            chunk,
            entry,
        });
        let kept = (self.keep)(&f.path);
        self.kept.push(ArchiveFile {
            path: f.path,
            exec: f.exec,
            content: if kept { f.content } else { Vec::new() },
        });
        (self.chunk.len() >= self.chunk_bytes).then(|| self.seal())
    }

    fn seal(&mut self) -> EntriesObject {
        let bytes = std::mem::take(&mut self.chunk);
        let key = format!("entries/{}", sha256_hex(&bytes));
        self.keys.push(key.clone());
        EntriesObject { key, bytes }
    }

    /// Seals the last chunk (if any bytes are left in it) and gives the rows.
    pub fn finish(mut self) -> (Option<EntriesObject>, Ingested) {
        let last = (!self.chunk.is_empty()).then(|| self.seal());
        let keys = self.keys;
        let files = self
            .files
            .into_iter()
            .map(|p| {
                let row = ServedFile {
                    path: p.path.clone(),
                    size: p.size,
                    sha256: p.sha256,
                    blob: p.blob,
                    exec: p.exec,
                    source: FileSource::Entry {
                        object: keys[p.chunk].clone(),
                        entry: p.entry,
                    },
                };
                (p.path.as_str().to_string(), row)
            })
            .collect();
        (
            last,
            Ingested {
                files,
                listing: self.kept,
            },
        )
    }
}

impl Ingested {
    /// The rows of an imported plugin's files, relative to its directory;
    /// `None` for an external plugin (no files).
    pub fn plugin(&self, p: &ImportedPlugin) -> Option<PluginFiles> {
        if p.external {
            return None;
        }
        let rows = p
            .files
            .iter()
            .filter_map(|f| {
                let row = self.files.get(&format!("{}{}", p.source_dir, f.path))?;
                Some(ServedFile {
                    path: f.path.clone(),
                    ..row.clone()
                })
            })
            .collect();
        Some(PluginFiles::new(rows))
    }
}

/// Hashes and compresses a Store entity's files into one object, and scans
/// them first (`scan`). Each
/// file's content is dropped once compressed, and the object is sized up
/// front (an incompressible file's entry is barely larger than the file),
/// so an upload is held about twice at most, never more.
pub fn ingest_files(files: Vec<ArchiveFile>) -> IngestedFiles {
    let scan = scan(&files);
    let mut sorted = files;
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let plugin_json = sorted
        .iter()
        .find(|f| f.path.as_str() == PLUGIN_JSON_PATH)
        .map(|f| f.content.clone());
    let total: usize = sorted.iter().map(|f| f.content.len()).sum();
    let mut ingester = Ingester::new(usize::MAX, |_| false);
    ingester.chunk = Vec::with_capacity(total + total / 64 + 64 * (sorted.len() + 1));
    for f in sorted {
        ingester.add(f);
    }
    let (object, ingested) = ingester.finish();
    let object = object.unwrap_or_else(|| EntriesObject {
        key: format!("entries/{}", sha256_hex(&[])),
        bytes: Vec::new(),
    });
    let summary = PluginFiles::new(ingested.files.into_values().collect());
    let mut out = IngestedFiles {
        files: summary.files,
        entries: object.bytes,
        entries_key: object.key,
        tree: summary.tree,
        digest: summary.digest,
        version: None,
        scan,
    };
    if let Some(upstream) = plugin_json {
        out.serve_content_version(&upstream);
    }
    out
}

impl IngestedFiles {
    /// Gives an uploaded plugin its content version; where `plugin_json`
    /// (as uploaded) has a version, the served `plugin.json` carries the
    /// content version instead, its entry appended to the object (whose
    /// key, rows, tree and digest then follow).
    fn serve_content_version(&mut self, plugin_json: &[u8]) {
        let author: Option<String> = serde_json::from_slice::<serde_json::Value>(plugin_json)
            .ok()
            .and_then(|v| v.get("version")?.as_str().map(str::to_string));
        let version = content_version(author.as_deref(), &self.digest);
        let row = self
            .files
            .iter()
            .position(|f| f.path.as_str() == PLUGIN_JSON_PATH);
        if let (Some(row), Some(served)) = (row, with_version(plugin_json, &version)) {
            let offset = self.entries.len();
            PackEntry::compress_into(ObjectKind::Blob, &served, DEFAULT_LEVEL, &mut self.entries);
            self.entries_key = format!("entries/{}", sha256_hex(&self.entries));
            let rewritten = ServedFile {
                size: served.len() as u64,
                sha256: sha256_hex(&served),
                blob: ObjectKind::Blob.id_of(&served),
                ..self.files[row].clone()
            };
            self.files[row] = rewritten;
            let len = self.entries.len() - offset;
            for (i, f) in self.files.iter_mut().enumerate() {
                if let FileSource::Entry { object, entry } = &mut f.source {
                    object.clone_from(&self.entries_key);
                    if i == row {
                        *entry = EntryRef {
                            offset: offset as u64,
                            len: len as u64,
                        };
                    }
                }
            }
            let summary = PluginFiles::new(std::mem::take(&mut self.files));
            self.files = summary.files;
            self.tree = summary.tree;
            self.digest = summary.digest;
        }
        self.version = Some(version);
    }
}

/// Gives each imported plugin with files its content version
/// (`version::content_version` of its version and its upstream files'
/// digest). Where its `plugin.json` has a string version, that file is
/// served with the content version in its place: the rewritten files'
/// pack entries go into the returned object (to be written before the
/// rows), and the plugin's rows, tree and digest become the served ones.
/// External plugins keep their upstream version.
pub fn version_plugins(
    plugins: &mut [(ImportedPlugin, Option<PluginFiles>)],
) -> Option<EntriesObject> {
    let mut chunk = Vec::new();
    let mut rewritten: Vec<(usize, usize, ServedFile)> = Vec::new();
    for (i, (p, files)) in plugins.iter_mut().enumerate() {
        let Some(files) = files else { continue };
        let version = content_version(p.version.as_deref(), &files.digest);
        let upstream = p.files.iter().find(|f| f.path.as_str() == PLUGIN_JSON_PATH);
        let row = files
            .files
            .iter()
            .position(|f| f.path.as_str() == PLUGIN_JSON_PATH);
        if let (Some(upstream), Some(row)) = (upstream, row) {
            if let Some(served) = with_version(&upstream.content, &version) {
                let offset = chunk.len();
                PackEntry::compress_into(ObjectKind::Blob, &served, DEFAULT_LEVEL, &mut chunk);
                let file = ServedFile {
                    size: served.len() as u64,
                    sha256: sha256_hex(&served),
                    blob: ObjectKind::Blob.id_of(&served),
                    source: FileSource::Entry {
                        object: String::new(), // set once the chunk is sealed
                        entry: EntryRef {
                            offset: offset as u64,
                            len: (chunk.len() - offset) as u64,
                        },
                    },
                    ..files.files[row].clone()
                };
                rewritten.push((i, row, file));
            }
        }
        p.version = Some(version);
    }
    if rewritten.is_empty() {
        return None;
    }
    let key = format!("entries/{}", sha256_hex(&chunk));
    for (i, row, mut file) in rewritten {
        if let FileSource::Entry { object, .. } = &mut file.source {
            object.clone_from(&key);
        }
        if let Some(files) = &mut plugins[i].1 {
            let mut rows = std::mem::take(&mut files.files);
            rows[row] = file;
            *files = PluginFiles::new(rows);
        }
    }
    Some(EntriesObject { key, bytes: chunk })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::pack::{PackEntry, PackWriter};
    use crate::git::RepoPath;

    fn f(p: &str, c: &str) -> ArchiveFile {
        ArchiveFile {
            path: RepoPath::parse(p).unwrap(),
            exec: false,
            content: c.as_bytes().to_vec(),
        }
    }

    #[test]
    fn entries_are_deterministic_deduplicated_and_spliceable() {
        let files = vec![f("b.md", "same"), f("a.md", "same"), f("c.md", "other")];
        let one = ingest_files(files.clone());
        assert_eq!(one.entries_key, ingest_files(files.clone()).entries_key);
        assert_eq!(one.files[0].path.as_str(), "a.md");
        assert_eq!(
            one.files[0].source, one.files[1].source,
            "identical content stored once"
        );
        // Every slice is a valid entry that splices into a pack.
        let mut w = PackWriter::new(Vec::new(), 2).unwrap();
        for f in [&one.files[0], &one.files[2]] {
            let FileSource::Entry { object, entry } = &f.source else {
                panic!("ingested files are entries")
            };
            assert_eq!(object, &one.entries_key);
            let slice = &one.entries[entry.offset as usize..(entry.offset + entry.len) as usize];
            w.write_entry_bytes(PackEntry::from_bytes(slice.to_vec()).unwrap().as_bytes())
                .unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            one.files[2].sha256,
            "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"
        );
    }

    /// `files_digest` of files as uploaded, computed here from their bytes.
    fn upstream_digest(files: &[(&str, &str)]) -> String {
        let rows: Vec<ServedFile> = files
            .iter()
            .map(|(p, c)| ServedFile {
                path: RepoPath::parse(p).unwrap(),
                size: c.len() as u64,
                sha256: sha256_hex(c.as_bytes()),
                blob: ObjectKind::Blob.id_of(c.as_bytes()),
                exec: false,
                source: FileSource::Inline(Vec::new()),
            })
            .collect();
        files_digest(&rows)
    }

    fn listing(files: &[(&str, &str)]) -> Vec<ArchiveFile> {
        files.iter().map(|(p, c)| f(p, c)).collect()
    }

    /// Imports `files` as a marketplace the way `http::import` does: the
    /// plugins, their rows, and the object of rewritten `plugin.json`s.
    fn import(
        files: &[(&str, &str)],
    ) -> (
        Vec<(ImportedPlugin, Option<PluginFiles>)>,
        Option<EntriesObject>,
    ) {
        let mut ingester =
            Ingester::new(IMPORT_CHUNK_BYTES, crate::catalog::marketplace::is_manifest);
        for file in listing(files) {
            ingester.add(file);
        }
        let (_, mut ingested) = ingester.finish();
        let market =
            crate::catalog::marketplace::parse_marketplace(std::mem::take(&mut ingested.listing))
                .unwrap();
        let mut plugins: Vec<_> = market
            .plugins
            .into_iter()
            .map(|p| {
                let files = ingested.plugin(&p);
                (p, files)
            })
            .collect();
        let object = version_plugins(&mut plugins);
        (plugins, object)
    }

    const MANIFEST: &str = r#"{"name":"m","owner":{"name":"o"},"plugins":[
        {"name":"a","source":"./a"},
        {"name":"b","source":"./b","version":"2.0"},
        {"name":"c","source":{"source":"github","repo":"o/c"},"version":"3"}]}"#;
    const A_JSON: &str = "{\n  \"name\": \"a\",\n  \"version\": \"1.0.0\"\n}\n";

    fn market(fix: &str) -> Vec<(&'static str, String)> {
        vec![
            (".claude-plugin/marketplace.json", MANIFEST.to_string()),
            ("a/.claude-plugin/plugin.json", A_JSON.to_string()),
            ("a/run.md", fix.to_string()),
            ("b/x.md", "x".to_string()),
        ]
    }

    fn import_market(
        fix: &str,
    ) -> (
        Vec<(ImportedPlugin, Option<PluginFiles>)>,
        Option<EntriesObject>,
    ) {
        let files = market(fix);
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
        import(&refs)
    }

    #[test]
    fn imported_plugins_carry_content_versions() {
        let upstream_a =
            upstream_digest(&[(".claude-plugin/plugin.json", A_JSON), ("run.md", "v1")]);
        let (plugins, object) = import_market("v1");
        let object = object.expect("a's plugin.json is rewritten");
        let (a, a_files) = &plugins[0];
        let a_files = a_files.as_ref().unwrap();
        let version = format!("1.0.0+{}", &upstream_a[..12]);
        assert_eq!(a.version.as_deref(), Some(version.as_str()));
        // The served plugin.json: only the version differs from upstream.
        let served = A_JSON.replace("\"1.0.0\"", &format!("\"{version}\""));
        let pj = &a_files.files[0];
        assert_eq!(pj.path.as_str(), PLUGIN_JSON_PATH);
        assert_eq!(pj.blob, ObjectKind::Blob.id_of(served.as_bytes()));
        assert_eq!(pj.sha256, sha256_hex(served.as_bytes()));
        let FileSource::Entry { object: key, entry } = &pj.source else {
            panic!("a stored entry")
        };
        assert_eq!(key, &object.key);
        assert_eq!(object.key, format!("entries/{}", sha256_hex(&object.bytes)));
        let bytes = &object.bytes[entry.offset as usize..(entry.offset + entry.len) as usize];
        let (_, content) = crate::git::pack::inflate_entry(bytes, 1 << 20).unwrap();
        assert_eq!(content, served.as_bytes());
        // Tree and digest are the served files', not upstream's.
        assert_eq!(a_files.tree, Some(files_tree(&a_files.files).unwrap().root));
        assert_eq!(a_files.digest, files_digest(&a_files.files));
        assert_ne!(a_files.digest, upstream_a);
        // No plugin.json version: the entry's version carries it; external
        // plugins keep theirs.
        let (b, b_files) = &plugins[1];
        let b_digest = &b_files.as_ref().unwrap().digest;
        assert_eq!(
            b.version.clone().unwrap(),
            format!("2.0+{}", &b_digest[..12])
        );
        assert_eq!(plugins[2].0.version.as_deref(), Some("3"));
    }

    #[test]
    fn a_content_version_moves_exactly_when_the_files_move() {
        let version = |fix: &str| {
            let (plugins, _) = import_market(fix);
            (
                plugins[0].0.version.clone().unwrap(),
                plugins[1].0.version.clone().unwrap(),
            )
        };
        let (a1, b1) = version("v1");
        assert_eq!(
            version("v1"),
            (a1.clone(), b1.clone()),
            "re-import: nothing moves"
        );
        let (a2, b2) = version("v2 fixed");
        assert_ne!(
            a1, a2,
            "a's fix under the same plugin.json version moves it"
        );
        assert!(a2.starts_with("1.0.0+"));
        assert_eq!(b1, b2, "an unchanged plugin keeps its version");
    }

    #[test]
    fn a_store_plugin_carries_its_content_version() {
        let upload = listing(&[(".claude-plugin/plugin.json", A_JSON), ("run.md", "v1")]);
        let upstream_digest =
            upstream_digest(&[(".claude-plugin/plugin.json", A_JSON), ("run.md", "v1")]);
        let one = ingest_files(upload.clone());
        let version = format!("1.0.0+{}", &upstream_digest[..12]);
        assert_eq!(one.version.as_deref(), Some(version.as_str()));
        let served = A_JSON.replace("\"1.0.0\"", &format!("\"{version}\""));
        assert_eq!(one.files[0].blob, ObjectKind::Blob.id_of(served.as_bytes()));
        assert_eq!(
            one.entries_key,
            format!("entries/{}", sha256_hex(&one.entries))
        );
        for file in &one.files {
            let FileSource::Entry { object, entry } = &file.source else {
                panic!("stored entries")
            };
            assert_eq!(object, &one.entries_key);
            let bytes = &one.entries[entry.offset as usize..(entry.offset + entry.len) as usize];
            let (_, content) = crate::git::pack::inflate_entry(bytes, 1 << 20).unwrap();
            assert_eq!(ObjectKind::Blob.id_of(&content), file.blob);
        }
        assert_eq!(one.digest, files_digest(&one.files));
        // Without a version in plugin.json: 0.0.0+…, plugin.json untouched.
        let bare = ingest_files(listing(&[(
            ".claude-plugin/plugin.json",
            r#"{"name":"a"}"#,
        )]));
        assert!(bare.version.unwrap().starts_with("0.0.0+"));
        // A skill has no plugin.json and no version of its own.
        assert_eq!(ingest_files(listing(&[("SKILL.md", "s")])).version, None);
    }
}
