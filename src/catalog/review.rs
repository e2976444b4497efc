//! Review of Store uploads: which uploads wait for an admin (the mode),
//! what a decision does to a version (the state machine), and what changed
//! against the last approved version (the file diff a reviewer reads).
//!
//! Invariants: only a pending version can be decided; nobody decides on
//! their own entry (an admin's upload is reviewed by another admin or the
//! bootstrap token); a decision is final for its version (a new upload is
//! a new version).

use std::collections::BTreeMap;

use serde::Serialize;

use super::scan::Capabilities;
use super::served::ServedFile;

/// Which uploads wait for review (`PUT /api/admin/settings/store-review`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewMode {
    /// None: every upload is served at once.
    Off,
    /// Those that run code: hooks, MCP or LSP servers, executables.
    Executable,
    /// Every upload.
    All,
}

impl ReviewMode {
    /// The mode new deployments start with.
    pub const DEFAULT: ReviewMode = ReviewMode::Executable;

    /// Parses `off`, `executable` or `all`.
    pub fn parse(s: &str) -> Option<ReviewMode> {
        match s {
            "off" => Some(ReviewMode::Off),
            "executable" => Some(ReviewMode::Executable),
            "all" => Some(ReviewMode::All),
            _ => None,
        }
    }

    /// The mode's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Off => "off",
            ReviewMode::Executable => "executable",
            ReviewMode::All => "all",
        }
    }

    /// Whether an upload that can do `caps` waits for review.
    pub fn covers(self, caps: &Capabilities) -> bool {
        match self {
            ReviewMode::Off => false,
            ReviewMode::Executable => caps.executes(),
            ReviewMode::All => true,
        }
    }
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    Approved,
    Pending,
    Rejected,
}

impl ReviewStatus {
    /// Parses a stored status.
    pub fn parse(s: &str) -> Option<ReviewStatus> {
        match s {
            "approved" => Some(ReviewStatus::Approved),
            "pending" => Some(ReviewStatus::Pending),
            "rejected" => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Approved => "approved",
            ReviewStatus::Pending => "pending",
            ReviewStatus::Rejected => "rejected",
        }
    }

    /// The status an upload starts in under `mode`.
    pub fn of_upload(mode: ReviewMode, caps: &Capabilities) -> ReviewStatus {
        if mode.covers(caps) {
            ReviewStatus::Pending
        } else {
            ReviewStatus::Approved
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// Parses `approve` or `reject`.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// Why a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("this version is {0}, not pending: only a pending version can be decided")]
    NotPending(&'static str),
    #[error(
        "you cannot review your own entry: another admin (or the bootstrap token) decides on it"
    )]
    OwnEntry,
    #[error("a rejection needs a reason the owner can act on")]
    NoReason,
}

impl ReviewError {
    /// The machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ReviewError::NotPending(_) => "not_pending",
            ReviewError::OwnEntry => "own_entry",
            ReviewError::NoReason => "reason_required",
        }
    }
}

/// The status `decision` moves a version in `status` to, when `reviewer_owns`
/// tells whether the reviewer owns the entry.
pub fn decide(
    status: ReviewStatus,
    decision: Decision,
    reviewer_owns: bool,
    reason: &str,
) -> Result<ReviewStatus, ReviewError> {
    if status != ReviewStatus::Pending {
        return Err(ReviewError::NotPending(status.as_str()));
    }
    if reviewer_owns {
        return Err(ReviewError::OwnEntry);
    }
    match decision {
        Decision::Approve => Ok(ReviewStatus::Approved),
        Decision::Reject if reason.trim().is_empty() => Err(ReviewError::NoReason),
        Decision::Reject => Ok(ReviewStatus::Rejected),
    }
}

/// One file of a version, as the diff compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl From<&ServedFile> for VersionFile {
    fn from(f: &ServedFile) -> Self {
        VersionFile {
            path: f.path.as_str().to_string(),
            sha256: f.sha256.clone(),
            size: f.size,
        }
    }
}

/// How a file differs from the last approved version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// Its size in the pending version (0 when removed).
    pub size: u64,
}

/// The files added, removed and changed from `old` to `new`, by path.
pub fn diff_files(old: &[VersionFile], new: &[VersionFile]) -> Vec<FileChange> {
    let old: BTreeMap<&str, &VersionFile> = old.iter().map(|f| (f.path.as_str(), f)).collect();
    let new: BTreeMap<&str, &VersionFile> = new.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut out = Vec::new();
    for (path, n) in &new {
        match old.get(path) {
            None => out.push(change(path, "added", n.size)),
            Some(o) if o.sha256 != n.sha256 => out.push(change(path, "changed", n.size)),
            Some(_) => {}
        }
    }
    for path in old.keys().filter(|p| !new.contains_key(*p)) {
        out.push(change(path, "removed", 0));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn change(path: &str, change: &'static str, size: u64) -> FileChange {
    FileChange {
        path: path.to_string(),
        change,
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::scan::{Executable, Server};

    fn running() -> Capabilities {
        Capabilities {
            executables: vec![Executable {
                path: "bin/x".into(),
                why: "bin/".into(),
            }],
            ..Capabilities::default()
        }
    }

    #[test]
    fn the_mode_decides_which_uploads_wait() {
        let plain = Capabilities::default();
        let server = Capabilities {
            mcp_servers: vec![Server {
                name: "s".into(),
                command: Some("s".into()),
                url: None,
                path: ".mcp.json".into(),
            }],
            ..Capabilities::default()
        };
        assert_eq!(ReviewMode::DEFAULT, ReviewMode::Executable);
        for (mode, caps, status) in [
            (ReviewMode::Off, &running(), ReviewStatus::Approved),
            (ReviewMode::Executable, &running(), ReviewStatus::Pending),
            (ReviewMode::Executable, &server, ReviewStatus::Pending),
            (ReviewMode::Executable, &plain, ReviewStatus::Approved),
            (ReviewMode::All, &plain, ReviewStatus::Pending),
        ] {
            assert_eq!(ReviewStatus::of_upload(mode, caps), status, "{mode:?}");
        }
        for m in ["off", "executable", "all"] {
            assert_eq!(ReviewMode::parse(m).unwrap().as_str(), m);
        }
        assert_eq!(ReviewMode::parse("some"), None);
    }

    #[test]
    fn the_state_machine() {
        use ReviewStatus::*;
        assert_eq!(decide(Pending, Decision::Approve, false, ""), Ok(Approved));
        assert_eq!(
            decide(Pending, Decision::Reject, false, "pipes curl to sh"),
            Ok(Rejected)
        );
        assert_eq!(
            decide(Pending, Decision::Reject, false, "  "),
            Err(ReviewError::NoReason)
        );
        assert_eq!(
            decide(Pending, Decision::Approve, true, ""),
            Err(ReviewError::OwnEntry)
        );
        for done in [Approved, Rejected] {
            for d in [Decision::Approve, Decision::Reject] {
                assert_eq!(
                    decide(done, d, false, "r"),
                    Err(ReviewError::NotPending(done.as_str()))
                );
            }
        }
        assert_eq!(Decision::parse("approve"), Some(Decision::Approve));
        assert_eq!(Decision::parse("maybe"), None);
        assert_eq!(ReviewStatus::parse("pending"), Some(Pending));
    }

    #[test]
    fn the_diff_lists_added_removed_and_changed_files() {
        let f = |p: &str, sha: &str, size| VersionFile {
            path: p.into(),
            sha256: sha.into(),
            size,
        };
        let old = [f("a.md", "1", 1), f("b.md", "2", 2), f("c.md", "3", 3)];
        let new = [f("a.md", "1", 1), f("b.md", "9", 5), f("d.sh", "4", 4)];
        let diff = diff_files(&old, &new);
        let d: Vec<(&str, &str, u64)> = diff
            .iter()
            .map(|c| (c.path.as_str(), c.change, c.size))
            .collect();
        assert_eq!(
            d,
            [
                ("b.md", "changed", 5),
                ("c.md", "removed", 0),
                ("d.sh", "added", 4)
            ]
        );
        assert!(diff_files(&new, &new).is_empty());
    }
}
