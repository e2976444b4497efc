//! The fixed demo repository the native tests serve: a small marketplace with
//! two plugins, nested folders and one executable script. It proves
//! the git engine against real git; its content never changes,
//! so its commit id is the same on every machine.

use marketplace_edge::git::memory::{MemoryRepo, SnapshotFile};
use marketplace_edge::git::path::RepoPath;
use marketplace_edge::git::tree::FileMode;

const FILES: &[(&str, bool, &str)] = &[
    (
        ".claude-plugin/marketplace.json",
        false,
        r#"{
  "name": "demo",
  "owner": { "name": "marketplace-edge" },
  "plugins": [
    { "name": "hello", "source": "./plugins/hello", "description": "Says hello" },
    { "name": "reviewer", "source": "./plugins/reviewer", "description": "Reviews code" }
  ]
}
"#,
    ),
    ("README.md", false, "# Demo marketplace\n\nServed by marketplace-edge to test its git engine.\n"),
    ("plugins/hello/.claude-plugin/plugin.json", false, "{\n  \"name\": \"hello\",\n  \"version\": \"1.0.0\"\n}\n"),
    ("plugins/hello/commands/hello.md", false, "---\ndescription: Say hello\n---\n\nSay hello to $ARGUMENTS.\n"),
    (
        "plugins/hello/skills/greeting/SKILL.md",
        false,
        "---\nname: greeting\ndescription: Greets people warmly\n---\n\nGreet the user by name.\n",
    ),
    ("plugins/hello/scripts/greet.sh", true, "#!/bin/sh\necho \"hello, ${1:-world}\"\n"),
    ("plugins/reviewer/.claude-plugin/plugin.json", false, "{\n  \"name\": \"reviewer\",\n  \"version\": \"0.3.1\"\n}\n"),
    (
        "plugins/reviewer/agents/reviewer.md",
        false,
        "---\nname: reviewer\ndescription: Reviews a diff for bugs\n---\n\nRead the diff and list real bugs only.\n",
    ),
    ("plugins/reviewer/agents/empty.md", false, ""),
];

/// The demo files, in a fixed order.
pub fn demo_files() -> Vec<SnapshotFile> {
    FILES
        .iter()
        .filter_map(|(path, exec, content)| {
            Some(SnapshotFile {
                path: RepoPath::parse(path).ok()?,
                mode: if *exec {
                    FileMode::Executable
                } else {
                    FileMode::Regular
                },
                content: content.as_bytes().to_vec(),
            })
        })
        .collect()
}

/// The demo repository: one snapshot commit of `demo_files()` on `main`.
pub fn demo_repo() -> MemoryRepo {
    MemoryRepo::snapshot(&demo_files()).expect("the demo's fixed paths are valid and distinct")
}
