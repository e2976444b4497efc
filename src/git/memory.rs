//! `MemoryRepo`: a repository held entirely in memory.
//!
//! It serves the demo repository and the engine's tests. Snapshots built with
//! `MemoryRepo::snapshot` follow DESIGN.md exactly: one root commit with the
//! fixed identity, on `refs/heads/main`, with `HEAD` pointing to it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::object::{parse_commit_links, snapshot_commit, ObjectKind};
use super::oid::ObjectId;
use super::path::RepoPath;
use super::repo::{ObjectStore, Refs, Repository};
use super::tree::{build_tree, parse_tree, FileMode, TreeError, TreeFile};

/// A file for a snapshot: path, mode and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub path: RepoPath,
    pub mode: FileMode,
    pub content: Vec<u8>,
}

/// An in-memory object database with refs.
#[derive(Debug, Clone)]
pub struct MemoryRepo {
    objects: HashMap<ObjectId, (ObjectKind, Vec<u8>)>,
    refs: Refs,
}

impl MemoryRepo {
    /// An empty repository with an unborn `main`.
    pub fn new() -> Self {
        MemoryRepo {
            objects: HashMap::new(),
            refs: Refs::main_branch(None),
        }
    }

    /// A repository whose `main` is the snapshot commit of `files`.
    pub fn snapshot(files: &[SnapshotFile]) -> Result<Self, TreeError> {
        let mut repo = MemoryRepo::new();
        let commit = repo.add_snapshot(files)?;
        repo.set_ref(super::repo::MAIN_BRANCH, commit);
        Ok(repo)
    }

    /// Stores the blobs, trees and snapshot commit of `files`; returns the commit.
    pub fn add_snapshot(&mut self, files: &[SnapshotFile]) -> Result<ObjectId, TreeError> {
        let entries: Vec<TreeFile> = files
            .iter()
            .map(|f| TreeFile {
                path: f.path.clone(),
                mode: f.mode,
                blob: self.insert(ObjectKind::Blob, f.content.clone()),
            })
            .collect();
        let built = build_tree(&entries)?;
        for (id, body) in built.trees {
            self.objects.insert(id, (ObjectKind::Tree, body));
        }
        Ok(self.insert(ObjectKind::Commit, snapshot_commit(&built.root)))
    }

    /// Stores an object and returns its id.
    pub fn insert(&mut self, kind: ObjectKind, body: Vec<u8>) -> ObjectId {
        let id = kind.id_of(&body);
        self.objects.entry(id).or_insert((kind, body));
        id
    }

    /// Points `name` at `id`, keeping refs sorted.
    pub fn set_ref(&mut self, name: &str, id: ObjectId) {
        self.refs.refs.retain(|(n, _)| n != name);
        self.refs.refs.push((name.to_string(), id));
        self.refs.refs.sort();
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl Default for MemoryRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl Repository for MemoryRepo {
    fn refs(&self) -> &Refs {
        &self.refs
    }

    fn commit_parents(&self, commit: &ObjectId) -> Option<Vec<ObjectId>> {
        match self.objects.get(commit) {
            Some((ObjectKind::Commit, body)) => {
                parse_commit_links(body).map(|(_, parents)| parents)
            }
            _ => None,
        }
    }

    fn tree_objects(&self, commit: &ObjectId) -> Vec<ObjectId> {
        let Some((ObjectKind::Commit, body)) = self.objects.get(commit) else {
            return Vec::new();
        };
        let Some((root, _)) = parse_commit_links(body) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            out.push(id);
            if let Some((ObjectKind::Tree, body)) = self.objects.get(&id) {
                for e in parse_tree(body).unwrap_or_default().into_iter().rev() {
                    stack.push(e.id);
                }
            }
        }
        out
    }
}

impl ObjectStore for MemoryRepo {
    fn object(&self, id: &ObjectId) -> Option<(ObjectKind, Cow<'_, [u8]>)> {
        self.objects
            .get(id)
            .map(|(k, b)| (*k, Cow::Borrowed(b.as_slice())))
    }
}
