//! A view from plugin rows alone: each served plugin summarised by its
//! directory's tree id and the digest of its files (both computed once, at
//! import or upload), which is all the ref advertisement, `ls-refs`, the
//! ETag, the manifest and the commit need. Files are read only to build a
//! pack or a ZIP.
//!
//! Invariant: for the same plugins, `SnapshotHead::build` over their
//! summaries gives exactly the ETag, manifest, root tree and commit that
//! `Snapshot::build` gives over their files (git trees are addressed by
//! content, so a subtree placed by id equals the one built from its files).

use serde_json::{json, Map, Value};

use super::etag::{compute_etag, Etag, EtagPlugin};
use super::marketplace::MANIFEST_PATH;
use super::served::{files_digest, files_tree, ServedPlugin};
use crate::git::object::snapshot_commit;
use crate::git::repo::{Refs, Repository};
use crate::git::tree::{build_tree, FileMode, TreeError, TreeFile};
use crate::git::{ObjectId, ObjectKind, RepoPath};

/// What a served marketplace is besides its plugins: the name Claude Code
/// registers it under, and whether it asks Claude Code to uninstall the
/// plugins it no longer lists (`forceRemoveDeletedPlugins`, on unless the
/// deployment turns it off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedMarketplace {
    pub name: String,
    pub force_remove_deleted: bool,
}

impl ServedMarketplace {
    /// A marketplace called `name` that removes delisted plugins.
    pub fn named(name: &str) -> Self {
        ServedMarketplace {
            name: name.to_string(),
            force_remove_deleted: true,
        }
    }
}

/// The served marketplace.json for `plugins` at `etag`: each plugin under
/// its served name (owned catalog-wide, see `served_names`), `renames`
/// mapping each served plugin's past names to its current one, so Claude
/// Code migrates an install made under an old name, and
/// `forceRemoveDeletedPlugins` when set.
pub fn manifest_json(
    market: &ServedMarketplace,
    etag: &Etag,
    plugins: &[PluginSummary],
) -> Vec<u8> {
    let entries: Vec<Value> = plugins
        .iter()
        .map(|p| {
            let mut entry = p.entry.clone();
            entry.insert("name".into(), Value::String(p.manifest_name.clone()));
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
    let renames: Map<String, Value> = plugins
        .iter()
        .flat_map(|p| {
            p.past_names
                .iter()
                .map(|old| (old.clone(), Value::String(p.manifest_name.clone())))
        })
        .collect();
    let mut manifest = json!({
        "name": market.name,
        "owner": { "name": market.name },
        "metadata": { "version": etag.as_str(), "description": "Served by marketplace-edge" },
        "plugins": entries,
    });
    if !renames.is_empty() {
        manifest["renames"] = Value::Object(renames);
    }
    if market.force_remove_deleted {
        manifest["forceRemoveDeletedPlugins"] = Value::Bool(true);
    }
    let mut out = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A served plugin as the view's head sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSummary {
    pub dir: String,
    /// Its served name (see `ServedPlugin::manifest_name`).
    pub manifest_name: String,
    pub past_names: Vec<String>,
    pub version: Option<String>,
    pub entry: Map<String, Value>,
    pub external: bool,
    /// The tree of `plugins/<dir>`; `None` for a catalog-only plugin.
    pub tree: Option<ObjectId>,
    /// The digest of its files; `None` for a catalog-only plugin.
    pub digest: Option<String>,
}

impl PluginSummary {
    /// The summary of `p`: its stored tree id and digest, or, where they
    /// are not known, computed from its files. A stored plugin with neither
    /// is an error: it would silently vanish from the tree.
    pub fn of(p: &ServedPlugin) -> Result<PluginSummary, TreeError> {
        let has_files = !p.external && !p.files.is_empty();
        if !p.external && !has_files && (p.tree.is_none() || p.digest.is_none()) {
            return Err(TreeError::Inconsistent(p.dir.clone()));
        }
        let tree = match p.tree {
            Some(t) => Some(t),
            None if has_files => Some(files_tree(&p.files)?.root),
            None => None,
        };
        let digest = match &p.digest {
            Some(d) => Some(d.clone()),
            None if has_files => Some(files_digest(&p.files)),
            None => None,
        };
        Ok(PluginSummary {
            dir: p.dir.clone(),
            manifest_name: p.manifest_name.clone(),
            past_names: p.past_names.clone(),
            version: p.version.clone(),
            entry: p.entry.clone(),
            external: p.external,
            tree,
            digest,
        })
    }
}

/// What a view is without its files: ETag, manifest, the top trees and the
/// commit. Its `ids` answer the ref advertisement and `ls-refs`; a fetch
/// that needs objects needs the full `Snapshot`.
#[derive(Debug, Clone)]
pub struct SnapshotHead {
    pub etag: Etag,
    pub commit_id: ObjectId,
    pub tree_id: ObjectId,
    pub manifest: Vec<u8>,
    pub manifest_blob: ObjectId,
    pub commit: Vec<u8>,
    /// The root, `.claude-plugin` and `plugins` trees, children first.
    pub trees: Vec<(ObjectId, Vec<u8>)>,
}

/// A view's head reduced to its ids: all that advertisements, `ls-refs`,
/// negotiation and a cached whole pack need, and what is memoised per user
/// so those requests do not read plugin rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadIds {
    pub etag: Etag,
    pub commit_id: ObjectId,
    pub tree_id: ObjectId,
    refs: Refs,
}

impl HeadIds {
    /// The head with these ids, `main` at `commit_id`.
    pub fn new(etag: Etag, commit_id: ObjectId, tree_id: ObjectId) -> Self {
        HeadIds {
            etag,
            commit_id,
            tree_id,
            refs: Refs::main_branch(Some(commit_id)),
        }
    }
}

impl SnapshotHead {
    /// The head of a view serving `plugins` (resolved and ordered).
    pub fn build(
        market: &ServedMarketplace,
        plugins: &[PluginSummary],
    ) -> Result<SnapshotHead, TreeError> {
        let entries: Vec<Value> = plugins
            .iter()
            .map(|p| Value::Object(p.entry.clone()))
            .collect();
        let etag = compute_etag(
            &market.name,
            market.force_remove_deleted,
            &plugins
                .iter()
                .zip(&entries)
                .map(|(p, entry)| EtagPlugin {
                    dir: &p.dir,
                    name: &p.manifest_name,
                    past_names: &p.past_names,
                    version: p.version.as_deref(),
                    entry,
                    digest: p.digest.as_deref(),
                })
                .collect::<Vec<_>>(),
        );
        let manifest = manifest_json(market, &etag, plugins);
        let manifest_blob = ObjectKind::Blob.id_of(&manifest);
        let mut top = vec![TreeFile {
            path: RepoPath::parse(MANIFEST_PATH).expect("constant path"),
            mode: FileMode::Regular,
            blob: manifest_blob,
        }];
        for p in plugins {
            if let Some(tree) = p.tree {
                let path = RepoPath::parse(&format!("plugins/{}", p.dir)).map_err(|_| {
                    TreeError::DuplicatePath(RepoPath::parse("plugins").expect("constant path"))
                })?;
                top.push(TreeFile {
                    path,
                    mode: FileMode::Tree,
                    blob: tree,
                });
            }
        }
        let built = build_tree(&top)?;
        let commit = snapshot_commit(&built.root);
        let commit_id = ObjectKind::Commit.id_of(&commit);
        Ok(SnapshotHead {
            etag,
            commit_id,
            tree_id: built.root,
            manifest,
            manifest_blob,
            commit,
            trees: built.trees,
        })
    }

    /// The head's ids.
    pub fn ids(&self) -> HeadIds {
        HeadIds::new(self.etag.clone(), self.commit_id, self.tree_id)
    }
}

impl Repository for HeadIds {
    fn refs(&self) -> &Refs {
        &self.refs
    }

    fn commit_parents(&self, commit: &ObjectId) -> Option<Vec<ObjectId>> {
        (*commit == self.commit_id).then(Vec::new)
    }

    /// Never asked: a head only answers advertisements and `ls-refs`.
    fn tree_objects(&self, _commit: &ObjectId) -> Vec<ObjectId> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::names::PluginKey;
    use crate::catalog::served::{sha256_hex, EntryRef, FileSource, Origin, ServedFile};
    use crate::catalog::snapshot::Snapshot;

    fn file(path: &str, content: &str, exec: bool) -> ServedFile {
        ServedFile {
            path: RepoPath::parse(path).unwrap(),
            size: content.len() as u64,
            sha256: sha256_hex(content.as_bytes()),
            blob: ObjectKind::Blob.id_of(content.as_bytes()),
            exec,
            source: FileSource::Entry {
                object: "entries/x".into(),
                entry: EntryRef { offset: 0, len: 1 },
            },
        }
    }

    fn plugin(slug: &str, name: &str, files: Vec<ServedFile>) -> ServedPlugin {
        ServedPlugin {
            origin: Origin::Curated(PluginKey::parse(slug, name).unwrap()),
            dir: format!("{slug}-{name}"),
            manifest_name: name.into(),
            past_names: Vec::new(),
            version: Some("1.0.0".into()),
            entry: serde_json::json!({"name": name, "description": "d"})
                .as_object()
                .unwrap()
                .clone(),
            external: files.is_empty(),
            tree: None,
            digest: None,
            files,
        }
    }

    #[test]
    fn the_head_from_summaries_equals_the_full_snapshot() {
        let plugins = vec![
            plugin(
                "m",
                "a",
                vec![
                    file("run.sh", "#!/bin/sh\n", true),
                    file("docs/x.md", "x", false),
                ],
            ),
            plugin("m", "a.b", vec![file("y", "y", false)]),
            plugin("n", "ext", vec![]),
            plugin("n", "same", vec![file("docs/x.md", "x", false)]),
        ];
        let full = Snapshot::build(&ServedMarketplace::named("mk"), &plugins).unwrap();
        let summaries: Vec<PluginSummary> = plugins
            .iter()
            .map(|p| PluginSummary::of(p).unwrap())
            .collect();
        let head = SnapshotHead::build(&ServedMarketplace::named("mk"), &summaries).unwrap();
        assert_eq!(head.etag, full.etag);
        assert_eq!(head.manifest, full.manifest);
        assert_eq!(head.tree_id, full.tree_id);
        assert_eq!(head.commit_id, full.commit_id);
        // Stored tree ids and digests stand in for the files.
        let stored: Vec<ServedPlugin> = plugins
            .iter()
            .zip(&summaries)
            .map(|(p, s)| ServedPlugin {
                files: Vec::new(),
                tree: s.tree,
                digest: s.digest.clone(),
                ..p.clone()
            })
            .collect();
        let from_rows: Vec<PluginSummary> = stored
            .iter()
            .map(|p| PluginSummary::of(p).unwrap())
            .collect();
        assert_eq!(from_rows, summaries);
    }

    #[test]
    fn a_stored_plugin_without_files_or_summary_is_an_error() {
        let mut p = plugin("m", "a", vec![file("x", "x", false)]);
        p.files.clear();
        assert_eq!(
            PluginSummary::of(&p),
            Err(TreeError::Inconsistent("m-a".into()))
        );
        p.tree = Some(ObjectKind::Blob.id_of(b"t"));
        assert_eq!(
            PluginSummary::of(&p),
            Err(TreeError::Inconsistent("m-a".into()))
        );
        p.digest = Some("d".repeat(64));
        assert!(PluginSummary::of(&p).is_ok());
    }

    #[test]
    fn digests_see_paths_contents_and_modes() {
        let base = vec![file("a", "1", false), file("b", "2", false)];
        let d = files_digest(&base);
        assert_eq!(
            d,
            files_digest(&[base[1].clone(), base[0].clone()]),
            "order-free"
        );
        assert_ne!(
            d,
            files_digest(&[file("a", "1", true), file("b", "2", false)])
        );
        assert_ne!(
            d,
            files_digest(&[file("a", "1", false), file("c", "2", false)])
        );
        assert_ne!(
            d,
            files_digest(&[file("a", "1", false), file("b", "3", false)])
        );
    }
}
