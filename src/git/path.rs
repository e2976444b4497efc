//! `RepoPath`: a file path that is safe to put in a git tree and check out.
//!
//! Invariant: a `RepoPath` is non-empty UTF-8, at most `MAX_PATH_BYTES` long,
//! made of `/`-separated segments that are none of empty, `.`, `..`, or any
//! spelling git treats as `.git` (case-insensitively, with trailing dots or
//! spaces, or the 8.3 alias `git~1`), and that contain no NUL, backslash or
//! control character. Such a path can never escape the work tree nor write
//! into `.git/`, and `git fsck --strict` accepts the trees built from it.

use std::fmt;

/// Longest accepted path in bytes; git itself copes with more, but no plugin
/// needs it and it bounds the work a hostile archive can cause.
pub const MAX_PATH_BYTES: usize = 1024;

/// A validated, relative, `/`-separated repository path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath(String);

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("path `{0}` is absolute")]
    Absolute(String),
    #[error("path `{0}` contains a backslash")]
    Backslash(String),
    #[error("path `{0}` contains a NUL or control character")]
    ControlChar(String),
    #[error("path `{0}` has an empty segment")]
    EmptySegment(String),
    #[error("path `{0}` has a `.` or `..` segment")]
    DotSegment(String),
    #[error("path `{0}` names a `.git` directory")]
    DotGit(String),
}

impl RepoPath {
    /// Validates `path` against the rules in the module doc.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let owned = || path.to_string();
        if path.is_empty() {
            return Err(PathError::Empty);
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        if path.starts_with('/') {
            return Err(PathError::Absolute(owned()));
        }
        if path.contains('\\') {
            return Err(PathError::Backslash(owned()));
        }
        if path.chars().any(|c| c.is_control()) {
            return Err(PathError::ControlChar(owned()));
        }
        for seg in path.split('/') {
            if seg.is_empty() {
                return Err(PathError::EmptySegment(owned()));
            }
            if seg == "." || seg == ".." {
                return Err(PathError::DotSegment(owned()));
            }
            if is_dot_git(seg) {
                return Err(PathError::DotGit(owned()));
            }
        }
        Ok(RepoPath(path.to_string()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// `.git` in any case, with trailing dots/spaces (NTFS drops them), or `git~1`.
fn is_dot_git(seg: &str) -> bool {
    let lower = seg.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches(['.', ' ']);
    trimmed == ".git" || lower == "git~1"
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoPath({:?})", self.0)
    }
}

impl AsRef<str> for RepoPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in [
            "a",
            "a/b/c.md",
            "é/ß",
            "with space.txt",
            ".claude-plugin/plugin.json",
            ".gitignore",
            "a..b",
        ] {
            assert!(RepoPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn rejects_hostile_paths() {
        let cases = [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute("/etc/passwd".into())),
            ("a\\b", PathError::Backslash("a\\b".into())),
            ("a\0b", PathError::ControlChar("a\0b".into())),
            ("a\nb", PathError::ControlChar("a\nb".into())),
            ("a//b", PathError::EmptySegment("a//b".into())),
            ("a/", PathError::EmptySegment("a/".into())),
            ("../x", PathError::DotSegment("../x".into())),
            ("a/./b", PathError::DotSegment("a/./b".into())),
            (".git/config", PathError::DotGit(".git/config".into())),
            ("x/.GIT/hooks", PathError::DotGit("x/.GIT/hooks".into())),
            (".git. /x", PathError::DotGit(".git. /x".into())),
            ("GIT~1/x", PathError::DotGit("GIT~1/x".into())),
        ];
        for (input, err) in cases {
            assert_eq!(RepoPath::parse(input), Err(err), "{input:?}");
        }
        assert_eq!(
            RepoPath::parse(&"a".repeat(MAX_PATH_BYTES + 1)),
            Err(PathError::TooLong)
        );
    }
}
