//! Which objects a fetch must send, and the shallow boundary.
//!
//! Invariants: every object listed is reachable from a want (within the
//! requested depth) and appears once; objects under commits the client proved
//! it has (common haves and their ancestors) are left out; commits come first,
//! then trees and blobs in the repository's order, so the result is
//! deterministic for the same inputs.

use std::collections::{HashSet, VecDeque};

use super::oid::ObjectId;
use super::repo::Repository;

/// What a fetch sends: objects plus the shallow-info lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchPlan {
    pub objects: Vec<ObjectId>,
    pub shallow: Vec<ObjectId>,
    pub unshallow: Vec<ObjectId>,
}

/// Inputs of a fetch after negotiation.
#[derive(Debug, Clone, Default)]
pub struct FetchScope<'a> {
    pub wants: &'a [ObjectId],
    pub common: &'a [ObjectId],
    /// `deepen N`: keep N commits of history from each want.
    pub depth: Option<u32>,
    /// Commits the client holds without their parents.
    pub client_shallow: &'a [ObjectId],
}

/// All ancestors of `starts` (inclusive), not walking past `stop` commits.
fn ancestry(
    repo: &impl Repository,
    starts: &[ObjectId],
    stop: &HashSet<ObjectId>,
) -> HashSet<ObjectId> {
    let mut seen = HashSet::new();
    let mut stack: Vec<ObjectId> = starts.to_vec();
    while let Some(c) = stack.pop() {
        if !seen.insert(c) || stop.contains(&c) {
            continue;
        }
        stack.extend(repo.commit_parents(&c).unwrap_or_default());
    }
    seen
}

/// Whether every want has an ancestor (or itself) among the common haves,
/// i.e. the server can cut the pack now (git's `ok_to_give_up`).
pub fn ok_to_give_up(repo: &impl Repository, wants: &[ObjectId], common: &[ObjectId]) -> bool {
    if common.is_empty() {
        return false;
    }
    let common: HashSet<ObjectId> = common.iter().copied().collect();
    wants.iter().all(|w| {
        ancestry(repo, &[*w], &HashSet::new())
            .iter()
            .any(|c| common.contains(c))
    })
}

/// Computes the objects and shallow lines for a fetch, as git's upload-pack
/// does: the shallow boundary comes from the wants and the depth alone; a
/// client-shallow commit that falls within the depth is unshallowed and its
/// parents become extra wants; the object walk stops at the boundary (or, with
/// no depth, at the client's shallow commits) and skips what the client has.
pub fn plan_fetch(repo: &impl Repository, scope: &FetchScope<'_>) -> FetchPlan {
    let client_shallow: HashSet<ObjectId> = scope.client_shallow.iter().copied().collect();
    let mut wants: Vec<ObjectId> = scope.wants.to_vec();
    let (mut shallow, mut unshallow) = (Vec::new(), Vec::new());
    let stop: HashSet<ObjectId> = match scope.depth {
        Some(limit) => {
            let boundary = shallow_boundary(repo, scope.wants, limit);
            shallow = boundary
                .boundary
                .iter()
                .filter(|c| !client_shallow.contains(c))
                .copied()
                .collect();
            for c in scope.client_shallow {
                if boundary.inner.contains(c) && !unshallow.contains(c) {
                    unshallow.push(*c);
                    wants.extend(repo.commit_parents(c).unwrap_or_default());
                }
            }
            boundary.boundary.into_iter().collect()
        }
        None => client_shallow.clone(),
    };

    // The client lacks the parents of its shallow commits, so what it has
    // ends there.
    let have_commits = ancestry(repo, scope.common, &client_shallow);
    let mut commits = Vec::new();
    let mut seen = HashSet::new();
    let mut queue: VecDeque<ObjectId> = wants.into_iter().collect();
    while let Some(c) = queue.pop_front() {
        if !seen.insert(c) || have_commits.contains(&c) {
            continue;
        }
        let Some(parents) = repo.commit_parents(&c) else {
            continue;
        };
        commits.push(c);
        if !stop.contains(&c) {
            queue.extend(parents);
        }
    }

    let mut skip: HashSet<ObjectId> = HashSet::new();
    for c in &have_commits {
        skip.insert(*c);
        skip.extend(repo.tree_objects(c));
    }
    let mut objects = commits.clone();
    let mut listed: HashSet<ObjectId> = commits.iter().copied().collect();
    for c in &commits {
        for id in repo.tree_objects(c) {
            if !skip.contains(&id) && listed.insert(id) {
                objects.push(id);
            }
        }
    }
    FetchPlan {
        objects,
        shallow,
        unshallow,
    }
}

/// Commits within `limit` of the wants: `inner` ones keep their parents,
/// `boundary` ones (at exactly `limit`) are cut, as git's get_shallow_commits.
struct Boundary {
    inner: HashSet<ObjectId>,
    boundary: Vec<ObjectId>,
}

fn shallow_boundary(repo: &impl Repository, wants: &[ObjectId], limit: u32) -> Boundary {
    let mut out = Boundary {
        inner: HashSet::new(),
        boundary: Vec::new(),
    };
    let mut seen = HashSet::new();
    // Breadth-first, so a commit's depth is its shortest distance to a want.
    let mut queue: VecDeque<(ObjectId, u32)> = wants.iter().map(|w| (*w, 1)).collect();
    while let Some((c, d)) = queue.pop_front() {
        if !seen.insert(c) {
            continue;
        }
        let Some(parents) = repo.commit_parents(&c) else {
            continue;
        };
        if d >= limit {
            out.boundary.push(c);
        } else {
            out.inner.insert(c);
            queue.extend(parents.into_iter().map(|p| (p, d + 1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::memory::{MemoryRepo, SnapshotFile};
    use crate::git::object::{encode_commit, ObjectKind, SNAPSHOT_SIGNATURE};
    use crate::git::path::RepoPath;
    use crate::git::tree::FileMode;

    fn files(content: &str) -> Vec<SnapshotFile> {
        vec![
            SnapshotFile {
                path: RepoPath::parse("same.txt").unwrap(),
                mode: FileMode::Regular,
                content: b"same".to_vec(),
            },
            SnapshotFile {
                path: RepoPath::parse("d/changing.txt").unwrap(),
                mode: FileMode::Regular,
                content: content.into(),
            },
        ]
    }

    /// A two-commit history: `second` has parent `first`.
    fn history() -> (MemoryRepo, ObjectId, ObjectId) {
        let mut repo = MemoryRepo::new();
        let first = repo.add_snapshot(&files("v1")).unwrap();
        let snap2 = repo.add_snapshot(&files("v2")).unwrap();
        let (tree2, _) = crate::git::object::parse_commit_links(&repo_body(&repo, &snap2)).unwrap();
        let second = repo.insert(
            ObjectKind::Commit,
            encode_commit(&tree2, &[first], SNAPSHOT_SIGNATURE, "second\n"),
        );
        repo.set_ref("refs/heads/main", second);
        (repo, first, second)
    }

    fn repo_body(repo: &MemoryRepo, id: &ObjectId) -> Vec<u8> {
        use crate::git::repo::ObjectStore;
        repo.object(id).unwrap().1.into_owned()
    }

    #[test]
    fn full_fetch_sends_everything_once() {
        let (repo, first, second) = history();
        let plan = plan_fetch(
            &repo,
            &FetchScope {
                wants: &[second],
                ..Default::default()
            },
        );
        assert_eq!(&plan.objects[..2], &[second, first]);
        let unique: HashSet<_> = plan.objects.iter().collect();
        assert_eq!(unique.len(), plan.objects.len());
        // 2 commits, 2 roots, 2 `d` trees, 3 blobs (same, v1, v2)
        assert_eq!(plan.objects.len(), 9);
        assert!(plan.shallow.is_empty());
    }

    #[test]
    fn common_have_prunes_shared_objects() {
        let (repo, first, second) = history();
        let plan = plan_fetch(
            &repo,
            &FetchScope {
                wants: &[second],
                common: &[first],
                ..Default::default()
            },
        );
        // second, its root tree, its `d` tree, blob v2; `same.txt` is shared.
        assert_eq!(plan.objects.len(), 4);
        assert!(!plan.objects.contains(&first));
        assert!(ok_to_give_up(&repo, &[second], &[first]));
        assert!(!ok_to_give_up(&repo, &[first], &[second]));
    }

    #[test]
    fn depth_one_marks_the_boundary_shallow() {
        let (repo, first, second) = history();
        let plan = plan_fetch(
            &repo,
            &FetchScope {
                wants: &[second],
                depth: Some(1),
                ..Default::default()
            },
        );
        assert_eq!(plan.shallow, vec![second]);
        assert!(!plan.objects.contains(&first));
        // Deepening a client that is shallow at `second` (and has it)
        // unshallows it and sends only `first`, the new boundary, and what
        // `second` does not already share with it.
        let deeper = plan_fetch(
            &repo,
            &FetchScope {
                wants: &[second],
                common: &[second],
                depth: Some(2),
                client_shallow: &[second],
            },
        );
        assert_eq!(deeper.unshallow, vec![second]);
        assert_eq!(deeper.shallow, vec![first]);
        assert_eq!(deeper.objects[0], first);
        assert!(!deeper.objects.contains(&second));
    }
}
