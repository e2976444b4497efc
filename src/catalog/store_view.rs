//! How installed Store entities are served.
//!
//! - A Store plugin is served at `plugins/store-<id>/` under its served name
//!   `<name>-by-<owner>`.
//! - Every installed skill and agent is merged into one plugin at
//!   `plugins/store-bundle/`: skills at `skills/<served-name>/…`, agents at
//!   `agents/<served-name>.md`, with a synthesized `plugin.json` whose
//!   `version` hashes each entity's served name and files digest. Install,
//!   uninstall and an owner's re-upload therefore all change it, which is
//!   what Claude Code's update check compares.
//!
//! Each entity's root (a skill's or plugin's tree, an agent's blob) and
//! digest are stored at upload, so the bundle's tree and version come from
//! entity rows alone; files are needed only to build a pack.
//!
//! Invariant: entities are taken in id order, so the result is the same for
//! the same installs.

use serde_json::{json, Map, Value};

use super::served::sha256_hex;
use super::served::{file_mode, files_tree};
use super::served::{FileSource, Origin, ServedFile, ServedPlugin};
use super::store::EntityType;
use super::version::content_version;
use crate::git::tree::{build_tree, FileMode, TreeError, TreeFile};
use crate::git::{ObjectId, ObjectKind, RepoPath};

/// Directory of the merged skills-and-agents plugin.
pub const BUNDLE_DIR: &str = "store-bundle";

/// An installed Store entity with its stored files.
#[derive(Debug, Clone)]
pub struct InstalledEntity {
    pub id: i64,
    pub entity_type: EntityType,
    pub served_name: String,
    /// A plugin's content version, stored at upload (`None` for skills,
    /// agents and plugins uploaded before content versions).
    pub served_version: Option<String>,
    pub description: String,
    /// Rooted at the entity (a skill's folder, an agent's one file, a
    /// plugin's root); empty when only the view's head is needed.
    pub files: Vec<ServedFile>,
    /// Its root as placed in a tree (stored at upload).
    pub root: (FileMode, ObjectId),
    /// The digest of its files (stored at upload).
    pub digest: String,
}

/// An entity's root: a skill's or plugin's tree, or an agent's one file.
pub fn entity_root(
    entity_type: EntityType,
    files: &[ServedFile],
) -> Result<(FileMode, ObjectId), TreeError> {
    match (entity_type, files) {
        (EntityType::Agent, [f]) => Ok((file_mode(f.exec), f.blob)),
        _ => Ok((FileMode::Tree, files_tree(files)?.root)),
    }
}

fn entry(name: &str, dir: &str, description: &str, version: &str) -> Map<String, Value> {
    let v = json!({ "name": name, "source": format!("./plugins/{dir}"), "description": description, "version": version });
    v.as_object().cloned().unwrap_or_default()
}

/// The served plugins for `installed`: Store plugins, then the bundle (if
/// any skill or agent is installed).
pub fn store_plugins(installed: &[InstalledEntity]) -> Result<Vec<ServedPlugin>, TreeError> {
    let mut sorted: Vec<&InstalledEntity> = installed.iter().collect();
    sorted.sort_by_key(|e| e.id);
    let mut out = Vec::new();
    let mut bundle_files: Vec<ServedFile> = Vec::new();
    let mut bundle_tree: Vec<TreeFile> = Vec::new();
    let mut bundle_lines: Vec<String> = Vec::new();
    for e in sorted {
        let digest = e.digest.clone();
        let (mode, root) = e.root;
        let placed = match e.entity_type {
            EntityType::Plugin => {
                let dir = format!("store-{}", e.id);
                let version = e
                    .served_version
                    .clone()
                    .unwrap_or_else(|| content_version(None, &digest));
                out.push(ServedPlugin {
                    origin: Origin::Store { id: e.id },
                    entry: entry(&e.served_name, &dir, &e.description, &version),
                    dir,
                    manifest_name: e.served_name.clone(),
                    past_names: Vec::new(),
                    version: Some(version),
                    external: false,
                    tree: Some(root),
                    digest: Some(digest),
                    files: e.files.clone(),
                });
                continue;
            }
            EntityType::Skill => format!("skills/{}", e.served_name),
            EntityType::Agent => format!("agents/{}.md", e.served_name),
        };
        bundle_lines.push(format!(
            "{}\0{}\0{}\n",
            e.entity_type.as_str(),
            e.served_name,
            digest
        ));
        let Ok(placed_path) = RepoPath::parse(&placed) else {
            continue;
        };
        bundle_tree.push(TreeFile {
            path: placed_path,
            mode,
            blob: root,
        });
        for f in &e.files {
            let path = match e.entity_type {
                EntityType::Skill => format!("{placed}/{}", f.path),
                _ => placed.clone(),
            };
            if let Ok(path) = RepoPath::parse(&path) {
                bundle_files.push(ServedFile { path, ..f.clone() });
            }
        }
    }
    if !bundle_lines.is_empty() {
        bundle_lines.sort();
        let digest = sha256_hex(bundle_lines.concat().as_bytes());
        let version = content_version(None, &digest);
        let pj = format!("{{\n  \"name\": \"{BUNDLE_DIR}\",\n  \"version\": \"{version}\",\n  \"description\": \"Skills and agents installed from the Store\"\n}}\n");
        let pj_bytes = pj.into_bytes();
        let pj_path = RepoPath::parse(".claude-plugin/plugin.json").expect("constant path");
        let pj_blob = ObjectKind::Blob.id_of(&pj_bytes);
        bundle_tree.push(TreeFile {
            path: pj_path.clone(),
            mode: FileMode::Regular,
            blob: pj_blob,
        });
        bundle_files.push(ServedFile {
            path: pj_path,
            size: pj_bytes.len() as u64,
            sha256: sha256_hex(&pj_bytes),
            blob: pj_blob,
            exec: false,
            source: FileSource::Inline(pj_bytes),
        });
        bundle_files.sort_by(|a, b| a.path.cmp(&b.path));
        out.push(ServedPlugin {
            origin: Origin::Bundle,
            entry: entry(
                BUNDLE_DIR,
                BUNDLE_DIR,
                "Skills and agents installed from the Store",
                &version,
            ),
            dir: BUNDLE_DIR.to_string(),
            manifest_name: BUNDLE_DIR.to_string(),
            past_names: Vec::new(),
            version: Some(version),
            external: false,
            tree: Some(build_tree(&bundle_tree)?.root),
            digest: Some(digest),
            files: bundle_files,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::served::{files_digest, EntryRef};

    fn file(path: &str, content: &str) -> ServedFile {
        ServedFile {
            path: RepoPath::parse(path).unwrap(),
            size: content.len() as u64,
            sha256: sha256_hex(content.as_bytes()),
            blob: ObjectKind::Blob.id_of(content.as_bytes()),
            exec: false,
            source: FileSource::Entry {
                object: "entries/e".into(),
                entry: EntryRef { offset: 0, len: 1 },
            },
        }
    }

    fn entity(id: i64, t: EntityType, name: &str, files: Vec<ServedFile>) -> InstalledEntity {
        InstalledEntity {
            id,
            entity_type: t,
            served_name: name.into(),
            served_version: None,
            description: "d".into(),
            root: entity_root(t, &files).unwrap(),
            digest: files_digest(&files),
            files,
        }
    }

    #[test]
    fn plugins_stand_alone_and_skills_and_agents_merge_into_the_bundle() {
        let installed = vec![
            entity(
                7,
                EntityType::Agent,
                "reviewer-by-bob",
                vec![file("reviewer.md", "a")],
            ),
            entity(
                3,
                EntityType::Skill,
                "pdf-by-ann",
                vec![file("SKILL.md", "s"), file("scripts/x.sh", "x")],
            ),
            entity(
                5,
                EntityType::Plugin,
                "tools-by-cy",
                vec![file(".claude-plugin/plugin.json", "{}")],
            ),
        ];
        let served = store_plugins(&installed).unwrap();
        assert_eq!(served.len(), 2);
        assert_eq!(
            (served[0].dir.as_str(), served[0].manifest_name.as_str()),
            ("store-5", "tools-by-cy")
        );
        assert_eq!(served[0].entry["source"], "./plugins/store-5");
        let bundle = &served[1];
        assert_eq!(bundle.dir, BUNDLE_DIR);
        let paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                ".claude-plugin/plugin.json",
                "agents/reviewer-by-bob.md",
                "skills/pdf-by-ann/SKILL.md",
                "skills/pdf-by-ann/scripts/x.sh"
            ]
        );
        let FileSource::Inline(pj) = &bundle.files[0].source else {
            panic!("synthesized plugin.json")
        };
        let pj: Value = serde_json::from_slice(pj).unwrap();
        assert_eq!(pj["version"], bundle.version.clone().unwrap());
    }

    #[test]
    fn bundle_version_moves_with_installs_and_content() {
        let a = entity(1, EntityType::Skill, "a-by-x", vec![file("SKILL.md", "v1")]);
        let b = entity(2, EntityType::Agent, "b-by-y", vec![file("b.md", "b")]);
        let v = |es: &[InstalledEntity]| {
            store_plugins(es)
                .unwrap()
                .last()
                .and_then(|p| p.version.clone())
        };
        let one = v(std::slice::from_ref(&a));
        assert_ne!(one, v(&[a.clone(), b.clone()]), "install changes it");
        let a2 = entity(1, EntityType::Skill, "a-by-x", vec![file("SKILL.md", "v2")]);
        assert_ne!(one, v(&[a2]), "re-upload changes it");
        assert_eq!(one, v(&[a]), "same installs, same version");
        assert!(
            store_plugins(&[]).unwrap().is_empty(),
            "nothing installed, no bundle"
        );
    }

    #[test]
    fn stored_roots_and_digests_stand_in_for_the_files() {
        let installed = vec![
            entity(
                1,
                EntityType::Skill,
                "a-by-x",
                vec![file("SKILL.md", "s"), file("x/y.sh", "y")],
            ),
            entity(2, EntityType::Agent, "b-by-y", vec![file("b.md", "b")]),
            entity(
                3,
                EntityType::Plugin,
                "c-by-z",
                vec![file(".claude-plugin/plugin.json", "{}")],
            ),
        ];
        let full = store_plugins(&installed).unwrap();
        // The bundle's tree from entity roots equals the tree of its files.
        for p in &full {
            assert_eq!(
                p.tree,
                Some(files_tree(&p.files).unwrap().root),
                "{}",
                p.dir
            );
        }
        let rows: Vec<InstalledEntity> = installed
            .iter()
            .map(|e| InstalledEntity {
                files: Vec::new(),
                ..e.clone()
            })
            .collect();
        let head = store_plugins(&rows).unwrap();
        for (a, b) in full.iter().zip(&head) {
            assert_eq!(
                (&a.tree, &a.digest, &a.version),
                (&b.tree, &b.digest, &b.version),
                "{}",
                a.dir
            );
        }
    }
}
