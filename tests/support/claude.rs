//! The real Claude Code CLI (npm `@anthropic-ai/claude-code`) with a
//! temporary HOME, for the end-to-end tests.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::toolchain::node_tool;

pub fn claude_bin() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/claude");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test.sh (or npm ci) to install @anthropic-ai/claude-code",
        bin.display()
    );
    bin
}

/// Runs `claude <args>` with HOME at `home`, offline and without an API
/// key; its exit status and its stdout and stderr together.
fn run(home: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let out = node_tool(claude_bin())
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .expect("run claude");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// Runs `claude <args>` with HOME at `home`; panics with its output on failure.
pub fn claude(home: &Path, args: &[&str]) -> String {
    let (status, text) = run(home, args);
    assert!(
        status.success(),
        "claude {args:?} failed ({status}):\n{text}"
    );
    text
}

/// Starts a headless session (`claude -p`) with no account, as a member's
/// next session start: Claude Code reconciles its plugins with the
/// marketplace before it asks for a login, and then exits (not logged
/// in). Its output.
pub fn start_session(home: &Path) -> String {
    let (_, text) = run(home, &["-p", "hello"]);
    assert!(
        text.contains("Not logged in"),
        "claude -p was expected to stop at the login, after reconciling plugins:\n{text}"
    );
    text
}

/// The installed record of `plugin` from `installed_plugins.json`.
pub fn installed(home: &Path, plugin: &str) -> Value {
    let raw = std::fs::read(home.join(".claude/plugins/installed_plugins.json"))
        .expect("installed_plugins.json");
    let v: Value = serde_json::from_slice(&raw).unwrap();
    v["plugins"][plugin][0].clone()
}

/// Registers the marketplace at `url` and installs `plugin` from it; the
/// installed record.
pub fn add_and_install(home: &Path, url: &str, plugin: &str) -> Value {
    claude(home, &["plugin", "marketplace", "add", url]);
    let id = format!("{plugin}@marketplace-edge");
    claude(home, &["plugin", "install", &id]);
    installed(home, &id)
}

/// Claude Code's update flow for `plugin`: the marketplace, then the
/// plugin; the installed record and the content of `file` in it.
pub fn update(home: &Path, plugin: &str, file: &str) -> (Value, String) {
    claude(
        home,
        &["plugin", "marketplace", "update", "marketplace-edge"],
    );
    let id = format!("{plugin}@marketplace-edge");
    claude(home, &["plugin", "update", &id]);
    let rec = installed(home, &id);
    let dir = PathBuf::from(rec["installPath"].as_str().unwrap());
    let content = std::fs::read_to_string(dir.join(file)).unwrap();
    (rec, content)
}
