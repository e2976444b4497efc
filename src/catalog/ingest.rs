//! Ingest: turning an imported plugin's files into what storage keeps.
//!
//! Each file gets its sha256 (the R2 blob key) and git blob id; all of a
//! plugin's files are compressed once into pack entries, concatenated into
//! one content-addressed R2 object, so a cache miss reads one object per
//! plugin and never recompresses a file.
//!
//! Invariant: the same files always give the same entries bytes and key
//! (zlib output is deterministic), so re-importing an unchanged plugin
//! writes nothing new.

use sha2::{Digest, Sha256};

use super::archive::ArchiveFile;
use super::snapshot::{EntryRef, FileSource, ServedFile};
use super::summary::{files_digest, files_tree};
use crate::git::pack::{PackEntry, DEFAULT_LEVEL};
use crate::git::ObjectKind;

/// A plugin's files ready for storage.
#[derive(Debug, Clone)]
pub struct IngestedFiles {
    /// Catalog rows, sorted by path.
    pub files: Vec<ServedFile>,
    /// Concatenated pack entries, one per distinct blob, in file order.
    pub entries: Vec<u8>,
    /// R2 key of `entries`: `entries/<sha256 of the bytes>`.
    pub entries_key: String,
    /// The tree of the files (`None` if they cannot form one, which
    /// building the snapshot then reports).
    pub tree: Option<crate::git::ObjectId>,
    /// `summary::files_digest` of the files.
    pub digest: String,
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// R2 key of a raw file: `blobs/<sha256>`.
pub fn blob_key(sha256: &str) -> String {
    format!("blobs/{sha256}")
}

/// Hashes and compresses a plugin's files.
pub fn ingest_files(files: &[ArchiveFile]) -> IngestedFiles {
    let mut sorted: Vec<&ArchiveFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut entries = Vec::new();
    let mut placed: Vec<(crate::git::ObjectId, EntryRef)> = Vec::new();
    let mut out: Vec<(&ArchiveFile, crate::git::ObjectId, EntryRef)> =
        Vec::with_capacity(sorted.len());
    for f in sorted {
        let blob = ObjectKind::Blob.id_of(&f.content);
        let entry = match placed.iter().find(|(id, _)| *id == blob) {
            Some((_, e)) => *e,
            None => {
                let bytes =
                    PackEntry::compress(ObjectKind::Blob, &f.content, DEFAULT_LEVEL).into_bytes();
                let e = EntryRef {
                    offset: entries.len() as u64,
                    len: bytes.len() as u64,
                };
                entries.extend_from_slice(&bytes);
                placed.push((blob, e));
                e
            }
        };
        out.push((f, blob, entry));
    }
    let entries_key = format!("entries/{}", sha256_hex(&entries));
    let files = out
        .into_iter()
        .map(|(f, blob, entry)| ServedFile {
            path: f.path.clone(),
            size: f.content.len() as u64,
            sha256: sha256_hex(&f.content),
            blob,
            exec: f.exec,
            source: FileSource::Entry {
                object: entries_key.clone(),
                entry,
            },
        })
        .collect::<Vec<_>>();
    IngestedFiles {
        tree: files_tree(&files).ok().map(|t| t.root),
        digest: files_digest(&files),
        files,
        entries,
        entries_key,
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
        let one = ingest_files(&files);
        assert_eq!(one.entries_key, ingest_files(&files).entries_key);
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
            w.write_entry(&PackEntry::from_bytes(slice.to_vec()).unwrap())
                .unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            one.files[2].sha256,
            "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"
        );
    }
}
