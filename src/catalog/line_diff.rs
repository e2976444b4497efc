//! A readable line diff of one text file between two versions, for the
//! review queue: hunks of changed lines with three lines of context, as a
//! reviewer reads `git diff`. The diffing is `similar`'s (Myers); this
//! module decides what a reviewer is shown and bounds it.
//!
//! Invariants: a file too large, or not UTF-8, gets no line diff (the
//! reviewer is told why, and the file list still names it); the hunks
//! never hold more than `MAX_DIFF_LINES` lines in all.

use serde::Serialize;
use similar::algorithms::{myers, Capture, Replace};
use similar::DiffTag;

/// Largest file (either side) diffed line by line.
pub const MAX_DIFF_BYTES: usize = 64 << 10;
/// Most lines of hunks shown per file; the rest is summarised.
pub const MAX_DIFF_LINES: usize = 400;
/// Unchanged lines shown around each change.
const CONTEXT: usize = 3;

/// One shown line: `op` is `" "` (context), `"+"` (added) or `"-"`
/// (removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub op: &'static str,
    pub text: String,
}

/// A run of changes with its context; line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hunk {
    pub old_start: usize,
    pub new_start: usize,
    pub lines: Vec<DiffLine>,
}

/// What a reviewer is shown of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileDiff {
    /// The changed lines, in hunks; `truncated` when some were left out.
    Text { hunks: Vec<Hunk>, truncated: bool },
    /// No line diff: `why` says why, in words.
    Unshown { why: String },
}

/// What a file over `MAX_DIFF_BYTES` shows instead of a line diff (so a
/// caller that knows the sizes need not read it).
pub fn too_large() -> FileDiff {
    FileDiff::Unshown {
        why: format!(
            "larger than {} KiB: open the file to read it",
            MAX_DIFF_BYTES >> 10
        ),
    }
}

/// The line diff from `old` to `new` (empty `old` for an added file, empty
/// `new` for a removed one).
pub fn line_diff(old: &[u8], new: &[u8]) -> FileDiff {
    if old.len().max(new.len()) > MAX_DIFF_BYTES {
        return too_large();
    }
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return FileDiff::Unshown {
            why: "not UTF-8 text (a binary file)".into(),
        };
    };
    // Lines keep their ends so a changed line ending is a change.
    let old: Vec<&str> = old.split_inclusive('\n').collect();
    let new: Vec<&str> = new.split_inclusive('\n').collect();
    // Myers alone (not `similar`'s text layer, which brings every
    // algorithm into the Worker's wasm).
    // `Replace` turns a removal next to an addition into one change, shown
    // as the removed lines, then the added ones.
    let mut capture = Replace::new(Capture::new());
    let Ok(()) = myers::diff(&mut capture, &old, 0..old.len(), &new, 0..new.len());
    let capture = capture.into_inner();
    let mut hunks = Vec::new();
    let mut shown = 0;
    let mut truncated = false;
    'groups: for group in capture.into_grouped_ops(CONTEXT) {
        let Some(first) = group.first() else {
            continue;
        };
        let mut hunk = Hunk {
            old_start: first.old_range().start + 1,
            new_start: first.new_range().start + 1,
            lines: Vec::new(),
        };
        for op in &group {
            let (tag, olds, news) = op.as_tag_tuple();
            let lines: Vec<(&'static str, &str)> = match tag {
                DiffTag::Equal => old[olds].iter().map(|l| (" ", *l)).collect(),
                DiffTag::Delete => old[olds].iter().map(|l| ("-", *l)).collect(),
                DiffTag::Insert => new[news].iter().map(|l| ("+", *l)).collect(),
                DiffTag::Replace => old[olds]
                    .iter()
                    .map(|l| ("-", *l))
                    .chain(new[news].iter().map(|l| ("+", *l)))
                    .collect(),
            };
            for (op, text) in lines {
                if shown == MAX_DIFF_LINES {
                    truncated = true;
                    hunks.push(hunk);
                    break 'groups;
                }
                let text = text.trim_end_matches(['\n', '\r']).to_string();
                hunk.lines.push(DiffLine { op, text });
                shown += 1;
            }
        }
        hunks.push(hunk);
    }
    FileDiff::Text { hunks, truncated }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(d: &FileDiff) -> Vec<String> {
        let FileDiff::Text { hunks, .. } = d else {
            panic!("no text diff: {d:?}")
        };
        hunks
            .iter()
            .flat_map(|h| h.lines.iter().map(|l| format!("{}{}", l.op, l.text)))
            .collect()
    }

    #[test]
    fn a_changed_line_shows_with_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let d = line_diff(old.as_bytes(), new.as_bytes());
        assert_eq!(
            lines(&d),
            [" 2", " 3", " 4", "-5", "+five", " 6", " 7", " 8"]
        );
        let FileDiff::Text { hunks, truncated } = d else {
            unreachable!()
        };
        assert_eq!((hunks[0].old_start, hunks[0].new_start), (2, 2));
        assert!(!truncated);
    }

    #[test]
    fn far_apart_changes_are_separate_hunks_and_equal_files_have_none() {
        let old: String = (1..=30).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=30)
            .map(|i| match i {
                3 => "three\n".to_string(),
                27 => "x\n".to_string(),
                i => format!("{i}\n"),
            })
            .collect();
        let FileDiff::Text { hunks, .. } = line_diff(old.as_bytes(), new.as_bytes()) else {
            panic!()
        };
        assert_eq!(hunks.len(), 2);
        assert_eq!(hunks[1].old_start, 24);
        let same = line_diff(old.as_bytes(), old.as_bytes());
        assert_eq!(
            same,
            FileDiff::Text {
                hunks: vec![],
                truncated: false
            }
        );
    }

    #[test]
    fn an_added_file_is_all_additions_and_crlf_is_not_shown() {
        let d = line_diff(b"", b"#!/bin/sh\r\ncurl x | sh\r\n");
        assert_eq!(lines(&d), ["+#!/bin/sh", "+curl x | sh"]);
    }

    #[test]
    fn large_or_binary_files_say_why_they_have_no_line_diff() {
        let big = vec![b'a'; MAX_DIFF_BYTES + 1];
        assert!(matches!(line_diff(b"", &big), FileDiff::Unshown { why } if why.contains("KiB")));
        assert!(
            matches!(line_diff(b"a", &[0xff, 0xfe]), FileDiff::Unshown { why } if why.contains("binary"))
        );
        // Near miss: exactly the limit is still diffed.
        let edge = vec![b'a'; MAX_DIFF_BYTES];
        assert!(matches!(line_diff(b"", &edge), FileDiff::Text { .. }));
    }

    #[test]
    fn a_long_diff_stops_at_the_line_limit_and_says_so() {
        let new: String = (0..MAX_DIFF_LINES + 50).map(|i| format!("{i}\n")).collect();
        let d = line_diff(b"", new.as_bytes());
        assert_eq!(lines(&d).len(), MAX_DIFF_LINES);
        assert!(matches!(
            d,
            FileDiff::Text {
                truncated: true,
                ..
            }
        ));
    }
}
