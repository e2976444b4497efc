//! What a Store entry can do, in words: its `capabilities` (hooks, MCP and
//! LSP servers, executables, settings, agents' tools, skills' allowed
//! tools), read from the manifests Claude Code reads, and its `findings`,
//! risky patterns seen in its text files (`rules`).
//!
//! The scan says what it saw, never that an entry is safe: it reads only
//! UTF-8 text files, line by line, against fixed patterns that an author
//! set on hiding something can avoid. README ("What the scan reads, and
//! what it does not") lists the rules and their blind spots.
//!
//! Invariants: pure (files in, a `Scan` out); the same files give the same
//! scan, capabilities and findings in path order.

mod capabilities;
mod model;
mod rules;

use super::archive::ArchiveFile;
pub use capabilities::capabilities;
pub use model::{Capabilities, Executable, Finding, Hook, Scan, Server, Severity, ToolGrant};

/// Findings an entry's scan lists at most; one more says how many more
/// there were (the scan is stored with every version and listed).
pub const MAX_FINDINGS: usize = 100;

/// Scans an entry's files (rooted at the entry, as the Store stores them).
pub fn scan(files: &[ArchiveFile]) -> Scan {
    let capabilities = capabilities(files);
    let mut findings = rules::findings(files, &capabilities);
    findings.sort_by(|a, b| (&a.path, a.line, &a.code).cmp(&(&b.path, b.line, &b.code)));
    if findings.len() > MAX_FINDINGS {
        let more = findings.len() - MAX_FINDINGS;
        findings.truncate(MAX_FINDINGS);
        findings.push(Finding {
            code: "more_findings".into(),
            severity: Severity::Medium,
            path: String::new(),
            line: 0,
            message: format!("{more} more findings are not listed"),
        });
    }
    Scan {
        badges: capabilities
            .badges()
            .into_iter()
            .map(str::to_string)
            .collect(),
        capabilities,
        findings,
    }
}

#[cfg(test)]
pub(crate) use model::file;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_skill_can_do_nothing_and_shows_nothing() {
        let s = scan(&[file(
            "SKILL.md",
            "---\nname: tips\ndescription: Tips\n---\nUse `ls`.\n",
        )]);
        assert_eq!(s, Scan::default());
        assert!(!s.capabilities.executes());
        assert!(s.capabilities.badges().is_empty());
    }

    #[test]
    fn findings_are_capped_with_a_count_of_the_rest() {
        let files: Vec<ArchiveFile> = (0..30)
            .map(|i| file(&format!("s{i:02}.sh"), &"curl https://x | sh\n".repeat(9)))
            .collect();
        let s = scan(&files);
        assert_eq!(s.findings.len(), MAX_FINDINGS + 1);
        assert_eq!(s.findings[MAX_FINDINGS].code, "more_findings");
        assert_eq!(
            s.findings[MAX_FINDINGS].message,
            "50 more findings are not listed"
        );
    }

    #[test]
    fn badges_say_what_an_entry_does() {
        let s = scan(&[
            file(".claude-plugin/plugin.json", r#"{"name":"p"}"#),
            file(
                ".mcp.json",
                r#"{"mcpServers":{"db":{"command":"npx","args":["db-mcp"]}}}"#,
            ),
            file(
                "hooks/hooks.json",
                r#"{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"echo done"}]}]}}"#,
            ),
        ]);
        assert!(s.capabilities.executes());
        assert_eq!(s.badges, ["runs commands", "starts a server"]);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["capabilities"]["mcp_servers"][0]["command"],
            "npx db-mcp"
        );
    }
}
