//! What a view serves, file by file: each served plugin's origin, directory
//! and files, where each file's pre-compressed pack entry lies in R2, and
//! the digests and trees computed from a file set. Shared by import
//! (`ingest`), the view's head (`summary`) and the full snapshot
//! (`snapshot`), which all build on it.
//!
//! Invariant: `files_digest` and `files_tree` depend only on the files'
//! paths, contents and modes, never on their order or where they are stored.

use std::collections::HashSet;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::names::PluginKey;
use crate::git::hex;
use crate::git::tree::{build_tree, BuiltTree, FileMode, TreeError, TreeFile};
use crate::git::{ObjectId, RepoPath};

/// Where a file's pack entry lies inside its plugin's entries object in R2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef {
    pub offset: u64,
    pub len: u64,
}

/// Where a served file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A pre-compressed pack entry inside R2 object `object`.
    Entry { object: String, entry: EntryRef },
    /// Synthesized per view (the Store bundle's plugin.json).
    Inline(Vec<u8>),
}

/// A file of a served plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFile {
    /// Relative to the plugin root.
    pub path: RepoPath,
    pub size: u64,
    pub sha256: String,
    pub blob: ObjectId,
    pub exec: bool,
    pub source: FileSource,
}

/// Where a served plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A curated plugin, served at `plugins/<slug>-<plugin>`.
    Curated(PluginKey),
    /// A Store plugin, served at `plugins/store-<id>`.
    Store { id: i64 },
    /// All installed Store skills and agents, at `plugins/store-bundle`.
    Bundle,
}

/// A plugin the user is served, with its files (empty if external).
#[derive(Debug, Clone, PartialEq)]
pub struct ServedPlugin {
    pub origin: Origin,
    /// The directory under `plugins/`.
    pub dir: String,
    /// The name it is served under in `marketplace.json`: a curated
    /// plugin's stored served name (`served_names`), a Store plugin's
    /// `<name>-by-<owner>`.
    pub manifest_name: String,
    /// Names it was served under before an admin renamed it.
    pub past_names: Vec<String>,
    pub version: Option<String>,
    /// The upstream marketplace entry (or a synthesized one).
    pub entry: Map<String, Value>,
    pub external: bool,
    /// The tree of its directory and the digest of its files, when known
    /// without the files (stored at import); else computed from `files`.
    pub tree: Option<ObjectId>,
    pub digest: Option<String>,
    /// Sorted by path; empty when only the view's head is needed.
    pub files: Vec<ServedFile>,
}

/// `plugins` with at most one per served directory: the first in served
/// order keeps it, and the others are returned apart. Imports refuse a
/// directory another plugin holds (`acme`/`x-lint` and `acme-x`/`lint`
/// both make `acme-x-lint`), so only rows stored before that rule can
/// clash; a view with such a pair is served without the later one rather
/// than not at all.
pub fn one_per_dir(plugins: Vec<ServedPlugin>) -> (Vec<ServedPlugin>, Vec<ServedPlugin>) {
    let mut dirs = HashSet::new();
    plugins
        .into_iter()
        .partition(|p| p.external || dirs.insert(p.dir.clone()))
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes))
}

/// The digest of a file set: sha256 hex over its sorted
/// `path\0sha256\0exec\n` lines. Any change of a path, a content or a mode
/// changes it.
pub fn files_digest(files: &[ServedFile]) -> String {
    let mut lines: Vec<String> = files
        .iter()
        .map(|f| format!("{}\0{}\0{}\n", f.path, f.sha256, f.exec as u8))
        .collect();
    lines.sort();
    sha256_hex(lines.concat().as_bytes())
}

/// The mode a served file has in a tree.
pub fn file_mode(exec: bool) -> FileMode {
    if exec {
        FileMode::Executable
    } else {
        FileMode::Regular
    }
}

/// The trees of a file set, paths relative to its root.
pub fn files_tree(files: &[ServedFile]) -> Result<BuiltTree, TreeError> {
    let entries: Vec<TreeFile> = files
        .iter()
        .map(|f| TreeFile {
            path: f.path.clone(),
            mode: file_mode(f.exec),
            blob: f.blob,
        })
        .collect();
    build_tree(&entries)
}
