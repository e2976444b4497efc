//! The repository view upload-pack serves: refs, commit parents, the objects
//! under a commit, and object bytes for the pack.
//!
//! Implementations decide where objects come from (memory, D1 + R2); the
//! protocol code only ever asks these questions, so it stays pure.

use std::borrow::Cow;

use super::object::ObjectKind;
use super::oid::ObjectId;

/// The branch every snapshot is served on.
pub const MAIN_BRANCH: &str = "refs/heads/main";

/// What the ref advertisement shows: `HEAD` as a symref plus branch tips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refs {
    /// Where `HEAD` points (a ref name), if anywhere.
    pub head_target: Option<String>,
    /// Ref name → tip, sorted by name.
    pub refs: Vec<(String, ObjectId)>,
}

impl Refs {
    /// `HEAD` → `refs/heads/main` → `tip`; with `None`, an unborn `main`.
    pub fn main_branch(tip: Option<ObjectId>) -> Refs {
        Refs {
            head_target: Some(MAIN_BRANCH.to_string()),
            refs: tip
                .map(|id| vec![(MAIN_BRANCH.to_string(), id)])
                .unwrap_or_default(),
        }
    }

    /// The id `HEAD` resolves to, if it is born.
    pub fn head(&self) -> Option<ObjectId> {
        let target = self.head_target.as_deref()?;
        self.refs
            .iter()
            .find(|(n, _)| n == target)
            .map(|(_, id)| *id)
    }
}

/// The graph questions upload-pack asks of a repository.
pub trait Repository {
    /// The refs to advertise.
    fn refs(&self) -> &Refs;

    /// The parents of `commit`, or `None` if it is not a commit this
    /// repository knows (such a `have` is not common, such a `want` invalid).
    fn commit_parents(&self, commit: &ObjectId) -> Option<Vec<ObjectId>>;

    /// The commit's tree and every tree and blob under it, each once.
    fn tree_objects(&self, commit: &ObjectId) -> Vec<ObjectId>;
}

/// Where the bytes of objects come from when writing a pack synchronously.
pub trait ObjectStore {
    /// An object's kind and body, or `None` if absent.
    fn object(&self, id: &ObjectId) -> Option<(ObjectKind, Cow<'_, [u8]>)>;
}
