//! The served snapshot: a user's resolved plugins turned into
//! `.claude-plugin/marketplace.json` + `plugins/<dir>/…`, its trees, the root
//! commit, and a `Repository` view for upload-pack.
//!
//! Invariants: the same plugins in the same order always give the same
//! manifest bytes, ETag, tree and commit; every file blob is served from its
//! plugin's pre-compressed entries, and only the manifest, trees and commit
//! are built per request. A snapshot holds only the plugins passed in, so a
//! pack made from it cannot contain another plugin's objects.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::etag::Etag;
use super::names::PluginKey;
use super::summary::{files_tree, PluginSummary, SnapshotHead};
use crate::git::path::RepoPath;
use crate::git::repo::{Refs, Repository};
use crate::git::tree::TreeError;
use crate::git::{ObjectId, ObjectKind};

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub manifest_name: String,
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

/// How to produce one object of the pack.
#[derive(Debug, Clone, Copy)]
pub enum ObjectSource<'a> {
    /// Built now: compress these bytes.
    Fresh(ObjectKind, &'a [u8]),
    /// Splice bytes `entry` of R2 object `object`.
    Entry { object: &'a str, entry: EntryRef },
}

/// A user's snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub etag: Etag,
    pub commit_id: ObjectId,
    pub tree_id: ObjectId,
    pub manifest: Vec<u8>,
    refs: Refs,
    fresh: HashMap<ObjectId, (ObjectKind, Vec<u8>)>,
    blobs: HashMap<ObjectId, (String, EntryRef)>,
    /// Every object but the commit: trees, then the manifest, then file blobs.
    contents: Vec<ObjectId>,
}

/// The served marketplace.json for `plugins` at `etag`.
pub fn manifest_json(marketplace_name: &str, etag: &Etag, plugins: &[PluginSummary]) -> Vec<u8> {
    let mut taken: HashSet<String> = HashSet::new();
    let entries: Vec<Value> = plugins
        .iter()
        .map(|p| {
            let mut entry = p.entry.clone();
            // Claude Code's plugin namespace is flat: on a clash across
            // marketplaces the later plugin is served as `<slug>-<plugin>`.
            let mut name = p.manifest_name.clone();
            if taken.contains(&name) {
                name = p.dir.clone();
                let mut n = 2;
                while taken.contains(&name) {
                    name = format!("{}-{n}", p.dir);
                    n += 1;
                }
            }
            taken.insert(name.clone());
            entry.insert("name".into(), Value::String(name));
            if !p.external {
                entry.insert(
                    "source".into(),
                    Value::String(format!("./plugins/{}", p.dir)),
                );
            }
            if let Some(v) = &p.version {
                entry.insert("version".into(), Value::String(v.clone()));
            }
            Value::Object(entry)
        })
        .collect();
    let manifest = json!({
        "name": marketplace_name,
        "owner": { "name": marketplace_name },
        "metadata": { "version": etag.as_str(), "description": "Served by marketplace-edge" },
        "plugins": entries,
    });
    let mut out = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    out.push(b'\n');
    out
}

impl Snapshot {
    /// Builds the snapshot of `plugins` (already resolved and ordered,
    /// with their files): the head, then every subtree and blob under it.
    pub fn build(marketplace_name: &str, plugins: &[ServedPlugin]) -> Result<Snapshot, TreeError> {
        let mut summaries = Vec::with_capacity(plugins.len());
        let mut subtrees = Vec::with_capacity(plugins.len());
        for p in plugins {
            let built = (!p.external && !p.files.is_empty())
                .then(|| files_tree(&p.files))
                .transpose()?;
            let mut summary = PluginSummary::of(&ServedPlugin {
                tree: None,
                ..p.clone()
            })?;
            // A stored tree id that disagrees with the files would advertise
            // a commit the fetch cannot serve: refuse rather than serve it.
            if let (Some(stored), Some(b)) = (p.tree, &built) {
                if stored != b.root {
                    return Err(TreeError::Inconsistent(p.dir.clone()));
                }
            }
            summary.tree = built.as_ref().map(|b| b.root);
            summaries.push(summary);
            subtrees.push(built);
        }
        let head = SnapshotHead::build(marketplace_name, &summaries)?;

        let mut fresh = HashMap::new();
        let mut contents = Vec::new();
        // Trees first, each parent before its children (as git lists them).
        for (id, body) in head.trees.iter().rev() {
            contents.push(*id);
            fresh.insert(*id, (ObjectKind::Tree, body.clone()));
        }
        for built in subtrees.into_iter().flatten() {
            for (id, body) in built.trees.into_iter().rev() {
                if let std::collections::hash_map::Entry::Vacant(slot) = fresh.entry(id) {
                    contents.push(id);
                    slot.insert((ObjectKind::Tree, body));
                }
            }
        }
        contents.push(head.manifest_blob);
        fresh.insert(
            head.manifest_blob,
            (ObjectKind::Blob, head.manifest.clone()),
        );
        let mut blobs: HashMap<ObjectId, (String, EntryRef)> = HashMap::new();
        for f in plugins.iter().flat_map(|p| &p.files) {
            if fresh.contains_key(&f.blob) || blobs.contains_key(&f.blob) {
                continue;
            }
            match &f.source {
                FileSource::Entry { object, entry } => {
                    blobs.insert(f.blob, (object.clone(), *entry));
                }
                FileSource::Inline(bytes) => {
                    fresh.insert(f.blob, (ObjectKind::Blob, bytes.clone()));
                }
            }
            contents.push(f.blob);
        }
        fresh.insert(head.commit_id, (ObjectKind::Commit, head.commit.clone()));
        Ok(Snapshot {
            etag: head.etag.clone(),
            commit_id: head.commit_id,
            tree_id: head.tree_id,
            manifest: head.manifest.clone(),
            refs: Refs::main_branch(Some(head.commit_id)),
            fresh,
            blobs,
            contents,
        })
    }

    /// How to produce object `id` of this snapshot.
    pub fn source(&self, id: &ObjectId) -> Option<ObjectSource<'_>> {
        if let Some((kind, body)) = self.fresh.get(id) {
            return Some(ObjectSource::Fresh(*kind, body));
        }
        self.blobs
            .get(id)
            .map(|(object, entry)| ObjectSource::Entry {
                object,
                entry: *entry,
            })
    }

    /// How many objects the snapshot has (what a full fetch sends).
    pub fn object_count(&self) -> usize {
        1 + self.contents.len()
    }

    /// Every object of the snapshot: the commit, then its contents.
    pub fn all_objects(&self) -> Vec<ObjectId> {
        std::iter::once(self.commit_id)
            .chain(self.contents.iter().copied())
            .collect()
    }
}

impl Repository for Snapshot {
    fn refs(&self) -> &Refs {
        &self.refs
    }

    fn commit_parents(&self, commit: &ObjectId) -> Option<Vec<ObjectId>> {
        (*commit == self.commit_id).then(Vec::new)
    }

    fn tree_objects(&self, commit: &ObjectId) -> Vec<ObjectId> {
        if *commit == self.commit_id {
            self.contents.clone()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::names::{PluginName, Slug};

    fn plugin(
        slug: &str,
        name: &str,
        manifest_name: &str,
        files: &[(&str, &str, bool)],
    ) -> ServedPlugin {
        ServedPlugin {
            origin: Origin::Curated(PluginKey {
                slug: Slug::parse(slug).unwrap(),
                plugin: PluginName::parse(name).unwrap(),
            }),
            dir: format!("{slug}-{name}"),
            manifest_name: manifest_name.into(),
            version: Some("1.0.0".into()),
            entry: json!({"name": name, "source": "./x", "description": "d"})
                .as_object()
                .unwrap()
                .clone(),
            external: false,
            tree: None,
            digest: None,
            files: files
                .iter()
                .enumerate()
                .map(|(i, (p, c, exec))| ServedFile {
                    path: RepoPath::parse(p).unwrap(),
                    size: c.len() as u64,
                    sha256: format!("{i:064x}"),
                    blob: ObjectKind::Blob.id_of(c.as_bytes()),
                    exec: *exec,
                    source: FileSource::Entry {
                        object: "entries/x".into(),
                        entry: EntryRef {
                            offset: i as u64 * 10,
                            len: 10,
                        },
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn layout_and_manifest() {
        let plugins = vec![
            plugin("acme", "lint", "lint", &[("run.sh", "#!/bin/sh", true)]),
            plugin("beta", "lint", "lint", &[("a.md", "a", false)]),
        ];
        let s = Snapshot::build("mk", &plugins).unwrap();
        let m: Value = serde_json::from_slice(&s.manifest).unwrap();
        assert_eq!(m["metadata"]["version"], s.etag.as_str());
        assert_eq!(m["plugins"][0]["source"], "./plugins/acme-lint");
        assert_eq!(m["plugins"][0]["name"], "lint");
        assert_eq!(
            m["plugins"][1]["name"], "beta-lint",
            "clash renamed to the served dir"
        );
        assert_eq!(m["plugins"][1]["description"], "d", "upstream fields kept");
        // commit, root, .claude-plugin, plugins, acme-lint, beta-lint, manifest, 2 blobs
        assert_eq!(s.all_objects().len(), 9);
        assert_eq!(s.object_count(), 9);
        assert!(matches!(
            s.source(&s.commit_id),
            Some(ObjectSource::Fresh(ObjectKind::Commit, _))
        ));
        let blob = plugins[0].files[0].blob;
        assert!(matches!(
            s.source(&blob),
            Some(ObjectSource::Entry {
                object: "entries/x",
                ..
            })
        ));
    }

    #[test]
    fn same_input_same_commit_and_changes_change_it() {
        let a = vec![plugin("acme", "lint", "lint", &[("x", "1", false)])];
        let b = vec![plugin("acme", "lint", "lint", &[("x", "2", false)])];
        let one = Snapshot::build("mk", &a).unwrap();
        assert_eq!(one.commit_id, Snapshot::build("mk", &a).unwrap().commit_id);
        let mut changed = b.clone();
        changed[0].files[0].sha256 = "f".repeat(64);
        assert_ne!(
            one.commit_id,
            Snapshot::build("mk", &changed).unwrap().commit_id
        );
        assert_ne!(one.etag, Snapshot::build("mk", &changed).unwrap().etag);
    }

    #[test]
    fn external_plugins_keep_their_source() {
        let mut ext = plugin("acme", "gh", "gh", &[]);
        ext.external = true;
        ext.entry
            .insert("source".into(), json!({"source": "github", "repo": "o/r"}));
        let s = Snapshot::build("mk", &[ext]).unwrap();
        let m: Value = serde_json::from_slice(&s.manifest).unwrap();
        assert_eq!(m["plugins"][0]["source"]["repo"], "o/r");
    }
}
