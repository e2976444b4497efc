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
use super::served::{files_digest, files_tree, sha256_hex, EntryRef, FileSource, ServedFile};
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
    pub fn plugin(&self, p: &super::marketplace::ImportedPlugin) -> Option<PluginFiles> {
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

/// Hashes and compresses a Store entity's files into one object. Each
/// file's content is dropped once compressed, and the object is sized up
/// front (an incompressible file's entry is barely larger than the file),
/// so an upload is held about twice at most, never more.
pub fn ingest_files(files: Vec<ArchiveFile>) -> IngestedFiles {
    let mut sorted = files;
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
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
    IngestedFiles {
        files: summary.files,
        entries: object.bytes,
        entries_key: object.key,
        tree: summary.tree,
        digest: summary.digest,
    }
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
}
