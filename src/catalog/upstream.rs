//! A curated marketplace from an upstream commit: the files of the tree at
//! a commit in a fetched pack, listed and read under the same rules and
//! limits as an archive's (`archive::Collector`), so a sync and an import
//! refuse the same things with the same codes.
//!
//! Invariants: symbolic links (mode 120000) and submodules (160000) are
//! refused like their archive counterparts; every path is a valid
//! `RepoPath`; the tree walk is bounded by the file limit, a depth limit
//! and a directory limit, and a file's size is checked before its content
//! is kept. A tree may name the same subtree many times (git shares
//! identical directories), so the walk counts every directory it enters,
//! not only files: forty levels of a tree naming one subtree twice would
//! otherwise be 2^40 paths to walk with not a single file among them.

use super::archive::{ArchiveError, ArchiveFile, ArchiveLimits, Collector};
use crate::git::tree::parse_tree;
use crate::git::unpack::{PackBytes, UnpackError, Unpacked};
use crate::git::{ObjectId, ObjectKind, RepoPath};

/// Deepest directory nesting accepted.
const MAX_DEPTH: usize = 64;

/// Why an upstream commit could not be read as a marketplace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream pack is unusable: {0}")]
    Pack(#[from] UnpackError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the upstream pack lacks {0}, which the commit needs")]
    Missing(String),
    #[error("upstream object {0} is not what the commit says it is")]
    Malformed(String),
    #[error("the upstream tree has more than {limit} directories (counting each time a shared subtree appears)")]
    TooManyDirectories { limit: usize },
}

impl UpstreamError {
    /// The machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            UpstreamError::Pack(_) => "upstream_bad_pack",
            UpstreamError::Archive(e) => e.code(),
            UpstreamError::Missing(_) => "upstream_incomplete",
            UpstreamError::Malformed(_) => "upstream_malformed",
            UpstreamError::TooManyDirectories { .. } => "too_many_directories",
        }
    }
}

/// A blob's pack entry as the upstream stored it (header and zlib stream).
pub type StoredEntry = Vec<u8>;

/// The files of an upstream commit, listed and checked, read one by one.
pub struct UpstreamTree {
    files: Vec<(RepoPath, bool, ObjectId)>,
    next: usize,
    c: Collector,
}

impl UpstreamTree {
    /// Lists the tree at `commit`, refusing what an archive may not hold.
    pub fn list<S: PackBytes>(
        pack: &mut Unpacked<S>,
        commit: &ObjectId,
        limits: ArchiveLimits,
    ) -> Result<Self, UpstreamError> {
        let body = object(pack, commit, ObjectKind::Commit)?;
        let tree = body
            .strip_prefix(b"tree ")
            .and_then(|rest| rest.get(..40))
            .and_then(|hex| ObjectId::from_hex(hex).ok())
            .ok_or_else(|| UpstreamError::Malformed(commit.to_hex()))?;
        let mut c = Collector::new(limits);
        let mut files = Vec::new();
        // Depth-first, each directory's entries in tree order.
        let mut stack = vec![(String::new(), tree, 0usize)];
        // A tree git writes has no more directories than files (it stores
        // no empty ones), so the file limit bounds them too.
        let max_dirs = limits.max_files;
        let mut dirs = 0usize;
        while let Some((dir, id, depth)) = stack.pop() {
            dirs += 1;
            if dirs > max_dirs {
                return Err(UpstreamError::TooManyDirectories { limit: max_dirs });
            }
            if depth > MAX_DEPTH {
                return Err(ArchiveError::Corrupt(format!("`{dir}` is nested too deeply")).into());
            }
            let body = object(pack, &id, ObjectKind::Tree)?;
            let entries = parse_tree(&body).ok_or_else(|| UpstreamError::Malformed(id.to_hex()))?;
            let mut subtrees = Vec::new();
            for e in entries {
                let name = std::str::from_utf8(&e.name).map_err(|_| ArchiveError::NonUtf8Name)?;
                let path = format!("{dir}{name}");
                match e.mode.as_slice() {
                    b"40000" => subtrees.push((format!("{path}/"), e.id, depth + 1)),
                    b"100644" | b"100664" | b"100755" => {
                        let p = c.admit(&path)?;
                        files.push((p, e.mode == b"100755", e.id));
                    }
                    b"120000" => return Err(ArchiveError::Symlink(path).into()),
                    _ => return Err(ArchiveError::SpecialFile(path).into()),
                }
            }
            // Popped last first: push in reverse to keep tree order.
            stack.extend(subtrees.into_iter().rev());
        }
        Ok(UpstreamTree { files, next: 0, c })
    }

    /// The next file with its content, checked against the size limits,
    /// and its pack entry when the upstream stored it whole (so ingest can
    /// keep it instead of compressing the content again). Resumable: a
    /// call stopped by `UnpackError::Need` takes the same file again.
    pub fn next_file<S: PackBytes>(
        &mut self,
        pack: &mut Unpacked<S>,
    ) -> Result<Option<(ArchiveFile, Option<StoredEntry>)>, UpstreamError> {
        let Some((path, exec, id)) = self.files.get(self.next).cloned() else {
            return Ok(None);
        };
        // The entry first: both read the same bytes of the pack, and the
        // object is then taken, not copied (a file is held once).
        let entry = pack.stored_entry(&id)?;
        let content = owned_object(pack, &id, ObjectKind::Blob)?;
        self.c.reserve(&path, content.len() as u64)?;
        self.next += 1;
        let file = ArchiveFile {
            path,
            exec,
            content,
        };
        Ok(Some((file, entry)))
    }
}

/// Object `id` of kind `kind` from the pack.
fn object<S: PackBytes>(
    pack: &mut Unpacked<S>,
    id: &ObjectId,
    kind: ObjectKind,
) -> Result<std::rc::Rc<Vec<u8>>, UpstreamError> {
    if !pack.contains(id) {
        return Err(UpstreamError::Missing(format!(
            "{} {}",
            kind.name(),
            id.to_hex()
        )));
    }
    let (got, body) = pack.object(id)?;
    if got != kind {
        return Err(UpstreamError::Malformed(id.to_hex()));
    }
    Ok(body)
}

/// Blob `id`'s content, owned (see `Unpacked::object_owned`).
fn owned_object<S: PackBytes>(
    pack: &mut Unpacked<S>,
    id: &ObjectId,
    kind: ObjectKind,
) -> Result<Vec<u8>, UpstreamError> {
    object(pack, id, kind)?;
    Ok(pack.object_owned(id)?.1)
}
