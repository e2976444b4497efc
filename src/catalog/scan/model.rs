//! The scan's vocabulary: capabilities, findings and the scan itself, as
//! they are stored with each version and shown by the API.

use serde::{Deserialize, Serialize};

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

/// A text file for the scan's unit tests.
#[cfg(test)]
pub(crate) fn file(path: &str, content: &str) -> crate::catalog::archive::ArchiveFile {
    crate::catalog::archive::ArchiveFile {
        path: crate::git::RepoPath::parse(path).unwrap(),
        exec: false,
        content: content.as_bytes().to_vec(),
    }
}
