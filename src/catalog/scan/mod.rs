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
mod rules;

use serde::{Deserialize, Serialize};

use super::archive::ArchiveFile;
pub use capabilities::capabilities;

/// A hook an entry installs: when it runs and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub event: String,
    /// The tools it applies to (`*` or empty: every tool).
    pub matcher: String,
    pub command: String,
    /// Where it is declared.
    pub path: String,
}

/// A server an entry starts or connects to (MCP or LSP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    pub name: String,
    /// The command it starts, with its arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The address it connects to instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub path: String,
}

/// A file that can run on its own, and why the scan thinks so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executable {
    pub path: String,
    /// `exec bit`, `shebang` or `bin/`.
    pub why: String,
}

/// Tools an agent or a skill asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolGrant {
    pub path: String,
    pub tools: Vec<String>,
    /// An agent's `permissionMode`, if it sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<String>,
}

/// Everything an entry can make Claude Code do beyond reading text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub hooks: Vec<Hook>,
    pub mcp_servers: Vec<Server>,
    pub lsp_servers: Vec<Server>,
    pub executables: Vec<Executable>,
    /// `settings.json` files it ships.
    pub settings: Vec<String>,
    pub agent_tools: Vec<ToolGrant>,
    pub skill_allowed_tools: Vec<ToolGrant>,
}

impl Capabilities {
    /// Whether it runs code on a member's machine: hooks, MCP or LSP
    /// servers, or executables (what review mode `executable` covers).
    pub fn executes(&self) -> bool {
        !self.hooks.is_empty()
            || !self.mcp_servers.is_empty()
            || !self.lsp_servers.is_empty()
            || !self.executables.is_empty()
    }

    /// The cards' badges, in words.
    pub fn badges(&self) -> Vec<&'static str> {
        let mut b = Vec::new();
        if !self.hooks.is_empty() || !self.executables.is_empty() {
            b.push("runs commands");
        }
        if !self.mcp_servers.is_empty() || !self.lsp_servers.is_empty() {
            b.push("starts a server");
        }
        if !self.settings.is_empty() {
            b.push("changes settings");
        }
        b
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Medium,
    High,
}

/// A risky pattern seen at one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub path: String,
    /// 1-based; 0 for a finding about a whole file or manifest.
    pub line: usize,
    pub message: String,
}

/// An entry's scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    pub capabilities: Capabilities,
    /// `Capabilities::badges`, kept with the scan so listings read them.
    pub badges: Vec<String>,
    pub findings: Vec<Finding>,
}

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
pub(crate) fn file(path: &str, content: &str) -> ArchiveFile {
    ArchiveFile {
        path: crate::git::RepoPath::parse(path).unwrap(),
        exec: false,
        content: content.as_bytes().to_vec(),
    }
}

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
