//! Trees: building git's canonical tree objects from a flat file list.
//!
//! Invariants: entries are ordered as git orders them (byte order, where a
//! directory compares as `name/`); modes are exactly `100644`, `100755` and
//! `40000`; identical subtrees are emitted once. The same file list in any
//! input order gives the same root id.

use std::collections::{BTreeMap, HashSet};

use super::object::ObjectKind;
use super::oid::ObjectId;
use super::path::RepoPath;

/// The mode of an entry in a tree. We never store symlinks or submodules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileMode {
    Regular,
    Executable,
    /// A subtree built elsewhere, placed whole by its id (a plugin's
    /// directory whose tree id was computed when it was imported).
    Tree,
}

impl FileMode {
    /// The octal mode text git writes in a tree entry.
    pub fn as_str(self) -> &'static str {
        match self {
            FileMode::Regular => "100644",
            FileMode::Executable => "100755",
            FileMode::Tree => "40000",
        }
    }
}

/// One file (or prebuilt subtree) to place in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub path: RepoPath,
    pub mode: FileMode,
    pub blob: ObjectId,
}

/// The trees for a file list: the root id and every distinct tree object,
/// children before parents.
#[derive(Debug, Clone)]
pub struct BuiltTree {
    pub root: ObjectId,
    pub trees: Vec<(ObjectId, Vec<u8>)>,
}

/// Why a file list cannot form a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("path `{0}` appears twice")]
    DuplicatePath(RepoPath),
    #[error("path `{0}` is both a file and a directory")]
    FileDirConflict(RepoPath),
    #[error("the stored tree of `{0}` does not match its files")]
    Inconsistent(String),
}

#[derive(Default)]
struct Dir {
    entries: BTreeMap<String, Node>,
}

enum Node {
    File(FileMode, ObjectId),
    Dir(Dir),
}

/// Builds every tree object for `files`.
pub fn build_tree(files: &[TreeFile]) -> Result<BuiltTree, TreeError> {
    let mut root = Dir::default();
    for f in files {
        insert(&mut root, f)?;
    }
    let mut out = BuiltTree {
        root: ObjectId::ZERO,
        trees: Vec::new(),
    };
    let mut seen = HashSet::new();
    out.root = encode_dir(&root, &mut out.trees, &mut seen);
    Ok(out)
}

fn insert(root: &mut Dir, f: &TreeFile) -> Result<(), TreeError> {
    let segs: Vec<&str> = f.path.segments().collect();
    let (last, parents) = segs
        .split_last()
        .expect("RepoPath has at least one segment");
    let mut dir = root;
    for seg in parents {
        let node = dir
            .entries
            .entry((*seg).to_string())
            .or_insert_with(|| Node::Dir(Dir::default()));
        dir = match node {
            Node::Dir(d) => d,
            Node::File(..) => return Err(TreeError::FileDirConflict(f.path.clone())),
        };
    }
    match dir.entries.get(*last) {
        Some(Node::File(..)) => Err(TreeError::DuplicatePath(f.path.clone())),
        Some(Node::Dir(_)) => Err(TreeError::FileDirConflict(f.path.clone())),
        None => {
            dir.entries
                .insert((*last).to_string(), Node::File(f.mode, f.blob));
            Ok(())
        }
    }
}

fn encode_dir(
    dir: &Dir,
    trees: &mut Vec<(ObjectId, Vec<u8>)>,
    seen: &mut HashSet<ObjectId>,
) -> ObjectId {
    // (sort key, mode, name, id): git compares directories as if named `name/`.
    let mut rows: Vec<(Vec<u8>, &'static str, &str, ObjectId)> = dir
        .entries
        .iter()
        .map(|(name, node)| match node {
            Node::File(mode, id) => {
                let mut key = name.as_bytes().to_vec();
                if *mode == FileMode::Tree {
                    key.push(b'/');
                }
                (key, mode.as_str(), name.as_str(), *id)
            }
            Node::Dir(sub) => {
                let id = encode_dir(sub, trees, seen);
                let mut key = name.as_bytes().to_vec();
                key.push(b'/');
                (key, "40000", name.as_str(), id)
            }
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut body = Vec::with_capacity(rows.len() * 40);
    for (_, mode, name, id) in &rows {
        body.extend_from_slice(mode.as_bytes());
        body.push(b' ');
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(id.as_bytes());
    }
    let id = ObjectKind::Tree.id_of(&body);
    if seen.insert(id) {
        trees.push((id, body));
    }
    id
}

/// One entry read back from a tree object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub mode: Vec<u8>,
    pub name: Vec<u8>,
    pub id: ObjectId,
}

/// Parses a tree object's body; `None` if it is malformed.
pub fn parse_tree(mut body: &[u8]) -> Option<Vec<TreeEntry>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let sp = body.iter().position(|&b| b == b' ')?;
        let nul = body.iter().position(|&b| b == 0)?;
        if nul < sp || body.len() < nul + 21 {
            return None;
        }
        let mut id = [0u8; 20];
        id.copy_from_slice(&body[nul + 1..nul + 21]);
        out.push(TreeEntry {
            mode: body[..sp].to_vec(),
            name: body[sp + 1..nul].to_vec(),
            id: ObjectId::from_bytes(id),
        });
        body = &body[nul + 21..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, blob: ObjectId) -> TreeFile {
        TreeFile {
            path: RepoPath::parse(path).unwrap(),
            mode: FileMode::Regular,
            blob,
        }
    }

    #[test]
    fn a_prebuilt_subtree_gives_the_same_root_as_its_files() {
        let (a, b) = (ObjectKind::Blob.id_of(b"a"), ObjectKind::Blob.id_of(b"b"));
        let whole = build_tree(&[
            file("p/x/a", a),
            file("p/y", b),
            file("p.md", b),
            file("p0", a),
        ])
        .unwrap();
        let sub = build_tree(&[file("x/a", a), file("y", b)]).unwrap();
        let placed = build_tree(&[
            TreeFile {
                path: RepoPath::parse("p").unwrap(),
                mode: FileMode::Tree,
                blob: sub.root,
            },
            file("p.md", b),
            file("p0", a),
        ])
        .unwrap();
        assert_eq!(
            placed.root, whole.root,
            "sorted as `p/`, between `p.md` and `p0`"
        );
        assert_eq!(
            placed.trees.len(),
            1,
            "the subtree's own objects are not rebuilt"
        );
    }

    #[test]
    fn empty_list_gives_gits_empty_tree() {
        let t = build_tree(&[]).unwrap();
        assert_eq!(t.root.to_hex(), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    }

    #[test]
    fn directory_sorts_as_name_slash() {
        let b = ObjectKind::Blob.id_of(b"");
        let t = build_tree(&[file("a.b", b), file("a/x", b), file("a0", b)]).unwrap();
        let root = t.trees.iter().find(|(id, _)| *id == t.root).unwrap();
        let names: Vec<Vec<u8>> = parse_tree(&root.1)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        // '.' (0x2e) < '/' (0x2f) < '0' (0x30)
        assert_eq!(names, vec![b"a.b".to_vec(), b"a".to_vec(), b"a0".to_vec()]);
    }

    #[test]
    fn input_order_does_not_matter() {
        let b1 = ObjectKind::Blob.id_of(b"1");
        let b2 = ObjectKind::Blob.id_of(b"2");
        let one = build_tree(&[file("x/y", b1), file("z", b2)]).unwrap();
        let two = build_tree(&[file("z", b2), file("x/y", b1)]).unwrap();
        assert_eq!(one.root, two.root);
    }

    #[test]
    fn conflicts_are_errors() {
        let b = ObjectKind::Blob.id_of(b"");
        assert!(matches!(
            build_tree(&[file("a", b), file("a", b)]),
            Err(TreeError::DuplicatePath(_))
        ));
        assert!(matches!(
            build_tree(&[file("a", b), file("a/b", b)]),
            Err(TreeError::FileDirConflict(_))
        ));
        assert!(matches!(
            build_tree(&[file("a/b", b), file("a", b)]),
            Err(TreeError::FileDirConflict(_))
        ));
    }

    #[test]
    fn identical_subtrees_are_emitted_once() {
        let b = ObjectKind::Blob.id_of(b"same");
        let t = build_tree(&[file("p/x", b), file("q/x", b)]).unwrap();
        assert_eq!(t.trees.len(), 2); // one shared subtree + root
    }
}
