//! Object kinds and the byte encodings of commits.
//!
//! Blobs are their content as is; trees live in `tree.rs`. A commit's bytes
//! are fixed by DESIGN.md so that the same tree always gives the same commit
//! id on every machine: no timestamps, no hostnames, no parents.

use super::oid::ObjectId;

/// The four object kinds a pack can carry (we never emit tags, but parse them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Commit,
    Tree,
    Blob,
    Tag,
}

impl ObjectKind {
    /// The name used in loose-object headers (`blob 12\0`).
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Commit => "commit",
            ObjectKind::Tree => "tree",
            ObjectKind::Blob => "blob",
            ObjectKind::Tag => "tag",
        }
    }

    /// The 3-bit type code in a pack entry header.
    pub fn pack_code(self) -> u8 {
        match self {
            ObjectKind::Commit => 1,
            ObjectKind::Tree => 2,
            ObjectKind::Blob => 3,
            ObjectKind::Tag => 4,
        }
    }

    /// The kind for a pack type code; deltas (6, 7) and reserved codes give `None`.
    pub fn from_pack_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ObjectKind::Commit),
            2 => Some(ObjectKind::Tree),
            3 => Some(ObjectKind::Blob),
            4 => Some(ObjectKind::Tag),
            _ => None,
        }
    }

    /// The id of an object of this kind with this body.
    pub fn id_of(self, body: &[u8]) -> ObjectId {
        ObjectId::for_object(self.name(), body)
    }
}

/// The identity on every snapshot commit, as `git commit-tree` writes it with
/// `GIT_{AUTHOR,COMMITTER}_{NAME,EMAIL}` set and the date `@0 +0000`.
pub const SNAPSHOT_SIGNATURE: &str = "marketplace-edge <noreply@marketplace-edge.invalid> 0 +0000";

/// The message on every snapshot commit.
pub const SNAPSHOT_MESSAGE: &str = "marketplace snapshot\n";

/// Encodes a commit. `signature` is `Name <email> <secs> <tz>`, used for both
/// author and committer; `message` should end with a newline, as git's do.
pub fn encode_commit(
    tree: &ObjectId,
    parents: &[ObjectId],
    signature: &str,
    message: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + message.len());
    out.extend_from_slice(b"tree ");
    tree.write_hex(&mut out);
    out.push(b'\n');
    for p in parents {
        out.extend_from_slice(b"parent ");
        p.write_hex(&mut out);
        out.push(b'\n');
    }
    for role in ["author ", "committer "] {
        out.extend_from_slice(role.as_bytes());
        out.extend_from_slice(signature.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(message.as_bytes());
    out
}

/// The bytes of the snapshot commit for `tree`: a root commit with the fixed
/// identity and message of DESIGN.md.
pub fn snapshot_commit(tree: &ObjectId) -> Vec<u8> {
    encode_commit(tree, &[], SNAPSHOT_SIGNATURE, SNAPSHOT_MESSAGE)
}

/// Reads the `tree` and `parent` headers of a commit we wrote or were given.
/// Returns `None` if the bytes do not start like a commit.
pub fn parse_commit_links(body: &[u8]) -> Option<(ObjectId, Vec<ObjectId>)> {
    let mut lines = body.split(|&b| b == b'\n');
    let tree = ObjectId::from_hex(lines.next()?.strip_prefix(b"tree ")?).ok()?;
    let mut parents = Vec::new();
    for line in lines {
        match line.strip_prefix(b"parent ") {
            Some(hex) => parents.push(ObjectId::from_hex(hex).ok()?),
            None => break,
        }
    }
    Some((tree, parents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_commit_has_design_bytes() {
        let tree: ObjectId = "4b825dc642cb6eb9a060e54bf8d69288fbee4904".parse().unwrap();
        let bytes = snapshot_commit(&tree);
        let expected = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
author marketplace-edge <noreply@marketplace-edge.invalid> 0 +0000\n\
committer marketplace-edge <noreply@marketplace-edge.invalid> 0 +0000\n\
\n\
marketplace snapshot\n";
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn commit_links_round_trip() {
        let t: ObjectId = "4b825dc642cb6eb9a060e54bf8d69288fbee4904".parse().unwrap();
        let p: ObjectId = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391".parse().unwrap();
        let bytes = encode_commit(&t, &[p], SNAPSHOT_SIGNATURE, "x\n");
        assert_eq!(parse_commit_links(&bytes), Some((t, vec![p])));
        assert_eq!(parse_commit_links(b"blob"), None);
    }

    #[test]
    fn pack_codes_round_trip() {
        for k in [
            ObjectKind::Commit,
            ObjectKind::Tree,
            ObjectKind::Blob,
            ObjectKind::Tag,
        ] {
            assert_eq!(ObjectKind::from_pack_code(k.pack_code()), Some(k));
        }
        assert_eq!(ObjectKind::from_pack_code(6), None);
    }
}
