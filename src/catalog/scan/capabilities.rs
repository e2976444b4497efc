//! Capabilities, read from where Claude Code reads them:
//!
//! - hooks: `hooks/hooks.json`, or `plugin.json`'s `hooks` (inline, or a
//!   path to a file of the same shape): `{"hooks": {event: [{matcher,
//!   hooks: [{type, command}]}]}}` (the outer `hooks` key is optional);
//! - MCP servers: `.mcp.json`, or `plugin.json`'s `mcpServers` (inline or
//!   a path): `{name: {command, args} | {url}}`, optionally under
//!   `mcpServers`;
//! - LSP servers: `.lsp.json`, or `plugin.json`'s `lspServers`, the same
//!   shape;
//! - executables: files with the exec bit, a `#!` first line, or under
//!   `bin/`;
//! - settings: `settings.json` at the root;
//! - agents' `tools` and `permissionMode` (an agent entry, or a plugin's
//!   `agents/*.md`) and skills' `allowed-tools` (any `SKILL.md`).
//!
//! A manifest that does not parse gives no capability here; the upload's
//! own validation reports it.

use serde_json::{Map, Value};

use super::model::{Capabilities, Executable, Hook, Server, ToolGrant};
use crate::catalog::archive::ArchiveFile;
use crate::catalog::frontmatter::{frontmatter_list, parse_frontmatter};

const PLUGIN_JSON: &str = ".claude-plugin/plugin.json";

/// Everything `files` (rooted at the entry) can make Claude Code do.
pub fn capabilities(files: &[ArchiveFile]) -> Capabilities {
    let json_of = |path: &str| -> Option<Value> {
        let f = files.iter().find(|f| f.path.as_str() == path)?;
        serde_json::from_slice(&f.content).ok()
    };
    let plugin_json = json_of(PLUGIN_JSON);
    // A manifest section: inline in plugin.json, a file it names, or the
    // conventional file.
    let section = |key: &str, default_path: &str| -> Option<(Value, String)> {
        match plugin_json.as_ref().and_then(|p| p.get(key)) {
            Some(Value::String(path)) => {
                let path = path.trim_start_matches("./").to_string();
                json_of(&path).map(|v| (v, path))
            }
            Some(v @ Value::Object(_)) => Some((v.clone(), PLUGIN_JSON.to_string())),
            _ => json_of(default_path).map(|v| (v, default_path.to_string())),
        }
    };
    let mut caps = Capabilities::default();
    if let Some((v, path)) = section("hooks", "hooks/hooks.json") {
        caps.hooks = hooks(&v, &path);
    }
    if let Some((v, path)) = section("mcpServers", ".mcp.json") {
        caps.mcp_servers = servers(&v, "mcpServers", &path);
    }
    if let Some((v, path)) = section("lspServers", ".lsp.json") {
        caps.lsp_servers = servers(&v, "lspServers", &path);
    }
    for f in files {
        let path = f.path.as_str();
        let why = if f.exec {
            Some("exec bit")
        } else if f.content.starts_with(b"#!") {
            Some("shebang")
        } else if path.starts_with("bin/") {
            Some("bin/")
        } else {
            None
        };
        if let Some(why) = why {
            caps.executables.push(Executable {
                path: path.to_string(),
                why: why.to_string(),
            });
        }
        if path == "settings.json" {
            caps.settings.push(path.to_string());
        }
        let Ok(text) = std::str::from_utf8(&f.content) else {
            continue;
        };
        let base = path.rsplit('/').next().unwrap_or(path);
        if base == "SKILL.md" {
            if let Some(tools) = frontmatter_list(text, "allowed-tools") {
                caps.skill_allowed_tools.push(ToolGrant {
                    path: path.to_string(),
                    tools,
                    permission_mode: None,
                });
            }
        } else if is_agent(path, files.len()) {
            let tools = frontmatter_list(text, "tools");
            let mode = parse_frontmatter(text)
                .and_then(|fm| fm.get("permissionMode").cloned())
                .filter(|m| !m.is_empty());
            if tools.is_some() || mode.is_some() {
                caps.agent_tools.push(ToolGrant {
                    path: path.to_string(),
                    tools: tools.unwrap_or_default(),
                    permission_mode: mode,
                });
            }
        }
    }
    caps
}

/// Whether `path` is an agent definition: a plugin's `agents/*.md`, or the
/// one Markdown file of an agent entry.
fn is_agent(path: &str, file_count: usize) -> bool {
    path.ends_with(".md")
        && (path.starts_with("agents/") || (file_count == 1 && !path.contains('/')))
}

/// The hooks of a hooks document (with or without the outer `hooks` key).
fn hooks(v: &Value, path: &str) -> Vec<Hook> {
    let events = v.get("hooks").unwrap_or(v);
    let Some(events) = events.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (event, groups) in events {
        for group in groups.as_array().into_iter().flatten() {
            let matcher = group.get("matcher").and_then(Value::as_str).unwrap_or("");
            for h in group
                .get("hooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let command = h
                    .get("command")
                    .and_then(Value::as_str)
                    .or_else(|| h.get("prompt").and_then(Value::as_str))
                    .unwrap_or("");
                out.push(Hook {
                    event: event.clone(),
                    matcher: matcher.to_string(),
                    command: command.to_string(),
                    path: path.to_string(),
                });
            }
        }
    }
    out
}

/// The servers of an MCP or LSP document (with or without the outer key).
fn servers(v: &Value, outer: &str, path: &str) -> Vec<Server> {
    let map: Option<&Map<String, Value>> = v.get(outer).unwrap_or(v).as_object();
    map.into_iter()
        .flatten()
        .filter_map(|(name, s)| {
            let s = s.as_object()?;
            let command = s.get("command").and_then(Value::as_str).map(|c| {
                let args: Vec<&str> = s
                    .get("args")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                std::iter::once(c).chain(args).collect::<Vec<_>>().join(" ")
            });
            let url = s.get("url").and_then(Value::as_str).map(str::to_string);
            (command.is_some() || url.is_some()).then(|| Server {
                name: name.clone(),
                command,
                url,
                path: path.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::scan::file;

    fn exec(path: &str, content: &str) -> ArchiveFile {
        ArchiveFile {
            exec: true,
            ..file(path, content)
        }
    }

    const HOOKS: &str = r#"{"hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"${CLAUDE_PLUGIN_ROOT}/check.sh"}]}],
        "SessionStart":[{"hooks":[{"type":"command","command":"echo hi"}]}]}}"#;

    #[test]
    fn hooks_from_hooks_json_inline_or_a_named_file() {
        let from_file = capabilities(&[file("hooks/hooks.json", HOOKS)]);
        assert_eq!(from_file.hooks.len(), 2);
        let pre = &from_file.hooks[0];
        assert_eq!(
            (
                pre.event.as_str(),
                pre.matcher.as_str(),
                pre.command.as_str(),
                pre.path.as_str()
            ),
            (
                "PreToolUse",
                "Bash",
                "${CLAUDE_PLUGIN_ROOT}/check.sh",
                "hooks/hooks.json"
            )
        );
        assert_eq!(from_file.hooks[1].matcher, "", "no matcher: every time");
        let inline = format!(r#"{{"name":"p","hooks":{HOOKS}}}"#);
        let inline = capabilities(&[file(PLUGIN_JSON, &inline)]);
        assert_eq!(inline.hooks.len(), 2);
        assert_eq!(inline.hooks[0].path, PLUGIN_JSON);
        let named = capabilities(&[
            file(PLUGIN_JSON, r#"{"name":"p","hooks":"./config/h.json"}"#),
            file("config/h.json", HOOKS),
        ]);
        assert_eq!(named.hooks[0].path, "config/h.json");
        // Without the outer key, as some plugins write it.
        let bare = capabilities(&[file(
            "hooks/hooks.json",
            r#"{"Stop":[{"hooks":[{"type":"command","command":"x"}]}]}"#,
        )]);
        assert_eq!(bare.hooks[0].event, "Stop");
        // Near miss: a hooks.json elsewhere is not read by Claude Code.
        assert!(capabilities(&[file("docs/hooks.json", HOOKS)])
            .hooks
            .is_empty());
    }

    #[test]
    fn mcp_and_lsp_servers_in_each_form() {
        let mcp = capabilities(&[file(
            ".mcp.json",
            r#"{"mcpServers":{"db":{"command":"npx","args":["-y","db-mcp"]},"web":{"type":"http","url":"https://mcp.example.com"}}}"#,
        )]);
        assert_eq!(mcp.mcp_servers.len(), 2);
        assert_eq!(mcp.mcp_servers[0].command.as_deref(), Some("npx -y db-mcp"));
        assert_eq!(
            mcp.mcp_servers[1].url.as_deref(),
            Some("https://mcp.example.com")
        );
        let bare = capabilities(&[file(".mcp.json", r#"{"db":{"command":"db-server"}}"#)]);
        assert_eq!(bare.mcp_servers[0].name, "db");
        let inline = capabilities(&[file(
            PLUGIN_JSON,
            r#"{"name":"p","mcpServers":{"x":{"command":"x"}},"lspServers":{"rust":{"command":"rust-analyzer"}}}"#,
        )]);
        assert_eq!(inline.mcp_servers[0].path, PLUGIN_JSON);
        assert_eq!(
            inline.lsp_servers[0].command.as_deref(),
            Some("rust-analyzer")
        );
        let lsp = capabilities(&[file(
            ".lsp.json",
            r#"{"go":{"command":"gopls","args":["serve"]}}"#,
        )]);
        assert_eq!(lsp.lsp_servers[0].command.as_deref(), Some("gopls serve"));
        // Near miss: an entry with neither command nor url starts nothing.
        assert!(capabilities(&[file(".mcp.json", r#"{"x":{"env":{}}}"#)])
            .mcp_servers
            .is_empty());
    }

    #[test]
    fn executables_settings_and_tools() {
        let c = capabilities(&[
            exec("scripts/run.py", "print(1)"),
            file("tool.sh", "#!/bin/sh\necho\n"),
            file("bin/helper", "data"),
            file("docs/bin/notes.md", "# not bin/ at the root"),
            file("settings.json", "{}"),
            file("agents/fixer.md", "---\nname: fixer\ndescription: d\ntools: Read, Edit, Bash\npermissionMode: acceptEdits\n---\n"),
            file("agents/reader.md", "---\nname: reader\ndescription: d\n---\n"),
            file("skills/x/SKILL.md", "---\nname: x\ndescription: d\nallowed-tools:\n  - Bash(git:*)\n---\n"),
        ]);
        let why: Vec<(&str, &str)> = c
            .executables
            .iter()
            .map(|e| (e.path.as_str(), e.why.as_str()))
            .collect();
        assert_eq!(
            why,
            [
                ("scripts/run.py", "exec bit"),
                ("tool.sh", "shebang"),
                ("bin/helper", "bin/")
            ]
        );
        assert_eq!(c.settings, ["settings.json"]);
        assert_eq!(
            c.agent_tools.len(),
            1,
            "an agent that asks for nothing is not listed"
        );
        assert_eq!(c.agent_tools[0].tools, ["Read", "Edit", "Bash"]);
        assert_eq!(
            c.agent_tools[0].permission_mode.as_deref(),
            Some("acceptEdits")
        );
        assert_eq!(c.skill_allowed_tools[0].tools, ["Bash(git:*)"]);
        // An agent entry is its one Markdown file at the root.
        let agent = capabilities(&[file(
            "fixer.md",
            "---\nname: fixer\ndescription: d\ntools: Write\n---\n",
        )]);
        assert_eq!(agent.agent_tools[0].tools, ["Write"]);
        // Near miss: a README at a plugin's root is not an agent.
        let plugin = capabilities(&[
            file("README.md", "---\ntools: Write\n---\n"),
            file(PLUGIN_JSON, "{}"),
        ]);
        assert!(plugin.agent_tools.is_empty());
    }
}
