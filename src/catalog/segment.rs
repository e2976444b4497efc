//! A plugin's pack segment: the objects of its directory (trees parent
//! first, then one blob per distinct content, in path order) as pack
//! entries, back to back. It depends only on the plugin's files, so on its
//! root tree id, which names it; since pack entries are position
//! independent and no pack we send has deltas, any view's pack can carry
//! a segment byte for byte (see `http::segment_pack`).
//!
//! Invariants: a segment holds exactly the objects reachable from its root
//! tree, each once; the same files in any order give the same bytes.

use std::collections::HashSet;

use super::served::{files_tree, FileSource, ServedFile};
use crate::git::sideband::{frame_into, framed_len, MAX_PAYLOAD_64K};
use crate::git::tree::TreeError;
use crate::git::ObjectId;

/// One object of a segment, in pack order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentPart<'a> {
    /// A tree and its body (packed as `PackEntry::stored`).
    Tree(ObjectId, Vec<u8>),
    /// A file's blob, from where its pre-compressed entry lies.
    Blob(ObjectId, &'a FileSource),
}

impl SegmentPart<'_> {
    /// The object's id.
    pub fn id(&self) -> ObjectId {
        match self {
            SegmentPart::Tree(id, _) | SegmentPart::Blob(id, _) => *id,
        }
    }
}

/// What a plugin's segment is made of.
#[derive(Debug, Clone)]
pub struct SegmentLayout<'a> {
    /// The plugin directory's tree: the segment's name.
    pub root: ObjectId,
    pub parts: Vec<SegmentPart<'a>>,
}

impl<'a> SegmentLayout<'a> {
    /// The layout of a plugin with these files (sorted or not).
    pub fn of(files: &'a [ServedFile]) -> Result<SegmentLayout<'a>, TreeError> {
        let built = files_tree(files)?;
        // Children come before parents there; a pack lists parents first.
        let mut parts: Vec<SegmentPart> = built
            .trees
            .iter()
            .rev()
            .map(|(id, body)| SegmentPart::Tree(*id, body.clone()))
            .collect();
        let mut sorted: Vec<&ServedFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        let mut seen = HashSet::new();
        parts.extend(
            sorted
                .into_iter()
                .filter(|f| seen.insert(f.blob))
                .map(|f| SegmentPart::Blob(f.blob, &f.source)),
        );
        Ok(SegmentLayout {
            root: built.root,
            parts,
        })
    }

    /// How many objects the segment holds.
    pub fn objects(&self) -> usize {
        self.parts.len()
    }
}

/// A segment's bytes as they are sent: band-1 side-band-64k packets, so
/// segments and other framed runs concatenate into valid framing.
pub fn frame_segment(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(framed_len(raw.len() as u64, MAX_PAYLOAD_64K) as usize);
    frame_into(&mut out, raw);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::served::EntryRef;
    use crate::git::sideband::{framed_len, SideBandDeframer};
    use crate::git::{ObjectKind, RepoPath};

    fn file(path: &str, content: &str) -> ServedFile {
        ServedFile {
            path: RepoPath::parse(path).unwrap(),
            size: content.len() as u64,
            sha256: String::new(),
            blob: ObjectKind::Blob.id_of(content.as_bytes()),
            exec: false,
            source: FileSource::Entry {
                object: "entries/x".into(),
                entry: EntryRef { offset: 0, len: 1 },
            },
        }
    }

    #[test]
    fn trees_come_parent_first_then_each_blob_once_in_path_order() {
        let files = vec![
            file("z/b.md", "same"),
            file("a.md", "one"),
            file("z/a.md", "same"),
        ];
        let layout = SegmentLayout::of(&files).unwrap();
        assert_eq!(layout.root, files_tree(&files).unwrap().root);
        let kinds: Vec<bool> = layout
            .parts
            .iter()
            .map(|p| matches!(p, SegmentPart::Tree(..)))
            .collect();
        assert_eq!(kinds, [true, true, false, false], "2 trees, 2 blobs");
        assert_eq!(layout.parts[0].id(), layout.root, "the root first");
        assert_eq!(layout.parts[2].id(), files[1].blob, "a.md before z/");
        assert_eq!(layout.objects(), 4, "the repeated content once");
        let mut reversed = files.clone();
        reversed.reverse();
        let again = SegmentLayout::of(&reversed).unwrap();
        assert_eq!(
            again.parts, layout.parts,
            "order of the files is irrelevant"
        );
    }

    #[test]
    fn framing_round_trips_and_has_the_computed_length() {
        let raw: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let framed = frame_segment(&raw);
        assert_eq!(
            framed.len() as u64,
            framed_len(raw.len() as u64, MAX_PAYLOAD_64K)
        );
        let mut d = SideBandDeframer::default();
        assert_eq!(d.push(&framed).unwrap(), raw);
        assert!(frame_segment(&[]).is_empty());
    }
}
