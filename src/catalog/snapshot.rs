//! The served snapshot: a user's resolved plugins turned into
//! `.claude-plugin/marketplace.json` + `plugins/<dir>/…`, its trees, the root
//! commit, and a `Repository` view for upload-pack.
//!
//! Invariants: the same plugins in the same order always give the same
//! manifest bytes, ETag, tree and commit; every file blob is served from its
//! plugin's pre-compressed entries, and only the manifest, trees and commit
//! are built per request. A snapshot holds only the plugins passed in, so a
//! pack made from it cannot contain another plugin's objects.

use std::collections::HashMap;

use super::etag::Etag;
use super::segment::{SegmentLayout, SegmentPart};
use super::served::{EntryRef, FileSource, ServedPlugin};
use super::summary::{PluginSummary, ServedMarketplace, SnapshotHead};
use crate::git::repo::{Refs, Repository};
use crate::git::tree::TreeError;
use crate::git::{ObjectId, ObjectKind};

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
    /// Every object but the commit, in pack order: the top trees, the
    /// manifest, then each plugin's trees and blobs.
    contents: Vec<ObjectId>,
    /// Plugins given without files: where in `contents` each one's
    /// segment goes (before the object at that index), and its tree.
    segments: Vec<(usize, ObjectId)>,
}

impl Snapshot {
    /// Builds the snapshot of `plugins` (already resolved and ordered,
    /// with their files): the head, then every subtree and blob under it.
    /// A stored plugin given without files (its stored tree and digest
    /// only) is in the head but none of its objects are: a pack of this
    /// snapshot then carries them as that plugin's segment.
    pub fn build(
        market: &ServedMarketplace,
        plugins: &[ServedPlugin],
    ) -> Result<Snapshot, TreeError> {
        let mut summaries = Vec::with_capacity(plugins.len());
        let mut layouts = Vec::with_capacity(plugins.len());
        for p in plugins {
            let has_files = !p.external && !p.files.is_empty();
            let layout = has_files.then(|| SegmentLayout::of(&p.files)).transpose()?;
            let mut summary = if has_files {
                PluginSummary::of(&ServedPlugin {
                    tree: None,
                    ..p.clone()
                })?
            } else {
                PluginSummary::of(p)?
            };
            // A stored tree id that disagrees with the files would advertise
            // a commit the fetch cannot serve: refuse rather than serve it.
            if let (Some(stored), Some(l)) = (p.tree, &layout) {
                if stored != l.root {
                    return Err(TreeError::Inconsistent(p.dir.clone()));
                }
            }
            if let Some(l) = &layout {
                summary.tree = Some(l.root);
            }
            summaries.push(summary);
            layouts.push(layout);
        }
        let head = SnapshotHead::build(market, &summaries)?;

        let mut fresh = HashMap::new();
        let mut contents = Vec::new();
        // The top trees (each parent before its children, as git lists
        // them) and the manifest; then each plugin's objects in its
        // segment's order, or the place its segment goes.
        for (id, body) in head.trees.iter().rev() {
            contents.push(*id);
            fresh.insert(*id, (ObjectKind::Tree, body.clone()));
        }
        contents.push(head.manifest_blob);
        fresh.insert(
            head.manifest_blob,
            (ObjectKind::Blob, head.manifest.clone()),
        );
        let mut blobs: HashMap<ObjectId, (String, EntryRef)> = HashMap::new();
        let mut segments = Vec::new();
        for (p, layout) in plugins.iter().zip(layouts) {
            let Some(layout) = layout else {
                if let (false, Some(tree)) = (p.external, p.tree) {
                    segments.push((contents.len(), tree));
                }
                continue;
            };
            for part in layout.parts {
                let id = part.id();
                if fresh.contains_key(&id) || blobs.contains_key(&id) {
                    continue;
                }
                match part {
                    SegmentPart::Tree(_, body) => {
                        fresh.insert(id, (ObjectKind::Tree, body));
                    }
                    SegmentPart::Blob(_, FileSource::Entry { object, entry }) => {
                        blobs.insert(id, (object.clone(), *entry));
                    }
                    SegmentPart::Blob(_, FileSource::Inline(bytes)) => {
                        fresh.insert(id, (ObjectKind::Blob, bytes.clone()));
                    }
                }
                contents.push(id);
            }
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
            segments,
        })
    }

    /// The blobs this snapshot sends itself (fresh and from entries).
    pub fn blob_ids(&self) -> Vec<ObjectId> {
        let fresh = self
            .fresh
            .iter()
            .filter(|(_, (kind, _))| *kind == ObjectKind::Blob)
            .map(|(id, _)| *id);
        fresh.chain(self.blobs.keys().copied()).collect()
    }

    /// Plugins given without files: the index in `tree_objects` before
    /// which each one's segment goes, and its tree.
    pub fn segment_slots(&self) -> &[(usize, ObjectId)] {
        &self.segments
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
    use crate::catalog::names::{PluginKey, PluginName, Slug};
    use crate::catalog::served::{one_per_dir, Origin, ServedFile};
    use crate::git::RepoPath;
    use serde_json::{json, Value};

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
            past_names: Vec::new(),
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
        let mut beta = plugin("beta", "lint", "lint-beta", &[("a.md", "a", false)]);
        beta.past_names = vec!["lint-b".into(), "beta-lint".into()];
        let plugins = vec![
            plugin("acme", "lint", "lint", &[("run.sh", "#!/bin/sh", true)]),
            beta,
        ];
        let s = Snapshot::build(&ServedMarketplace::named("mk"), &plugins).unwrap();
        let m: Value = serde_json::from_slice(&s.manifest).unwrap();
        assert_eq!(m["metadata"]["version"], s.etag.as_str());
        assert_eq!(m["plugins"][0]["source"], "./plugins/acme-lint");
        assert_eq!(m["plugins"][0]["name"], "lint");
        assert_eq!(
            m["plugins"][1]["name"], "lint-beta",
            "the stored served name"
        );
        assert_eq!(
            m["renames"],
            json!({"beta-lint": "lint-beta", "lint-b": "lint-beta"}),
            "past names lead to the current one"
        );
        assert_eq!(m["forceRemoveDeletedPlugins"], true);
        let off = ServedMarketplace {
            force_remove_deleted: false,
            ..ServedMarketplace::named("mk")
        };
        let kept = Snapshot::build(&off, &plugins).unwrap();
        let m2: Value = serde_json::from_slice(&kept.manifest).unwrap();
        assert_eq!(m2.get("forceRemoveDeletedPlugins"), None);
        assert_ne!(kept.etag, s.etag, "the flag is part of the content");
        assert_eq!(m["plugins"][1]["description"], "d", "upstream fields kept");
        // commit, root, .claude-plugin, plugins, acme-lint, beta-lint, manifest, 2 blobs
        assert_eq!(1 + s.contents.len(), 9, "the commit and its contents");
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
        let one = Snapshot::build(&ServedMarketplace::named("mk"), &a).unwrap();
        assert_eq!(
            one.commit_id,
            Snapshot::build(&ServedMarketplace::named("mk"), &a)
                .unwrap()
                .commit_id
        );
        let mut changed = b.clone();
        changed[0].files[0].sha256 = "f".repeat(64);
        assert_ne!(
            one.commit_id,
            Snapshot::build(&ServedMarketplace::named("mk"), &changed)
                .unwrap()
                .commit_id
        );
        assert_ne!(
            one.etag,
            Snapshot::build(&ServedMarketplace::named("mk"), &changed)
                .unwrap()
                .etag
        );
    }

    #[test]
    fn plugins_that_clash_on_a_directory_are_served_once() {
        let first = plugin("acme", "x-lint", "x-lint", &[("a", "1", false)]);
        let second = plugin("acme-x", "lint", "lint", &[("b", "2", false)]);
        assert_eq!(first.dir, second.dir, "both are served at acme-x-lint");
        let clash = vec![first.clone(), second.clone()];
        assert!(
            matches!(
                Snapshot::build(&ServedMarketplace::named("mk"), &clash),
                Err(TreeError::DuplicatePath(_))
            ),
            "one tree cannot hold both"
        );
        let (kept, dropped) = one_per_dir(clash);
        assert_eq!((kept, dropped), (vec![first], vec![second]));
        let (kept, dropped) = one_per_dir(vec![plugin("acme", "a", "a", &[("x", "1", false)])]);
        assert_eq!((kept.len(), dropped.len()), (1, 0));
        assert!(Snapshot::build(&ServedMarketplace::named("mk"), &kept).is_ok());
    }

    #[test]
    fn external_plugins_keep_their_source() {
        let mut ext = plugin("acme", "gh", "gh", &[]);
        ext.external = true;
        ext.entry
            .insert("source".into(), json!({"source": "github", "repo": "o/r"}));
        let s = Snapshot::build(&ServedMarketplace::named("mk"), &[ext]).unwrap();
        let m: Value = serde_json::from_slice(&s.manifest).unwrap();
        assert_eq!(m["plugins"][0]["source"]["repo"], "o/r");
    }
}
