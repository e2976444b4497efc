//! The project's own tools for the processes tests start: `wrangler`,
//! `claude` and `node` scripts run on the Node.js that scripts/setup.sh
//! put in `target/node` when the machine's is too old for them (their
//! `#!/usr/bin/env node` finds it first on PATH), as the scripts do
//! through scripts/toolchain.sh.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// PATH with `target/node/bin` first when setup installed a Node there.
pub fn tools_path() -> OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    let node_bin = repo_root().join("target/node/bin");
    if !node_bin.join("node").exists() {
        return current;
    }
    let mut dirs = vec![node_bin];
    dirs.extend(std::env::split_paths(&current));
    std::env::join_paths(dirs).expect("PATH entries hold no separator")
}

/// A command for `program` (a Node tool) with the project's PATH.
pub fn node_tool(program: impl Into<PathBuf>) -> Command {
    let mut c = Command::new(program.into());
    c.env("PATH", tools_path());
    c
}
