//! An organisation's decisions reach every Claude Code exactly (issue 19),
//! with the real Claude Code CLI (temporary HOME) against the Worker under
//! `wrangler dev`: a fix under an unchanged version reaches the install,
//! a plugin's served name never changes with what else a view holds, an
//! admin's rename is followed, and a delisted plugin is uninstalled.
//!
//! Served names are catalog-wide and this binary's tests share one
//! server, so each test uses plugin names of its own.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::api::Api;
use support::archives::{content_version_of, marketplace, plugin_files, zip_of, FileSpec};
use support::claude::{add_and_install, claude, installed, start_session};
use support::git_cli::TempDir;
use support::wrangler::wrangler;

/// A marketplace `slug` of one plugin `name` at `version`, whose command
/// file says `text`.
fn one_plugin(slug: &str, name: &str, version: &str, text: &str) -> Vec<FileSpec> {
    let manifest = format!(
        r#"{{"name":"{slug}","owner":{{"name":"T"}},"plugins":[{{"name":"{name}","source":"./{name}","description":"{name} from {slug}"}}]}}"#
    );
    vec![
        (
            ".claude-plugin/marketplace.json".into(),
            false,
            manifest.into_bytes(),
        ),
        (
            format!("{name}/.claude-plugin/plugin.json"),
            false,
            format!(
                "{{\"name\":\"{name}\",\"version\":\"{version}\",\"description\":\"{name}\"}}\n"
            )
            .into_bytes(),
        ),
        (
            format!("{name}/commands/{name}.md"),
            false,
            format!("---\ndescription: {name} command\n---\n\n{text}\n").into_bytes(),
        ),
    ]
}

/// The served marketplace.json of `token`'s view, via a real clone.
fn served_manifest(api: &Api, token: &str) -> Value {
    let c = support::checks::clone_view(&api.git_url(token), 2, true);
    serde_json::from_slice(&c.files[".claude-plugin/marketplace.json"].1).unwrap()
}

/// `claude plugin marketplace update`, then `claude plugin update <id>`.
fn update(home: &Path, id: &str) -> String {
    claude(
        home,
        &["plugin", "marketplace", "update", "marketplace-edge"],
    );
    claude(home, &["plugin", "update", id])
}

/// The installed file `file` of the record `rec`.
fn read_installed(rec: &Value, file: &str) -> String {
    let dir = PathBuf::from(rec["installPath"].as_str().unwrap());
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The plugins enabled in the member's `settings.json`.
fn enabled(home: &Path) -> Vec<String> {
    let raw = std::fs::read(home.join(".claude/settings.json")).unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    let mut ids: Vec<String> = v["enabledPlugins"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, on)| on == &&json!(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Every plugin id in `installed_plugins.json`.
fn installed_ids(home: &Path) -> Vec<String> {
    let raw = std::fs::read(home.join(".claude/plugins/installed_plugins.json")).unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    let mut ids: Vec<String> = v["plugins"].as_object().unwrap().keys().cloned().collect();
    ids.sort();
    ids
}

#[test]
fn a_fix_under_the_same_version_reaches_the_install_and_an_unchanged_plugin_stays() {
    let api = Api::new(&wrangler().base);
    let v1 = marketplace("fx", "1.0.0");
    assert_eq!(api.import("fx", &zip_of(&v1)).status, 200);
    let token = api.user_with_token("fx-user");
    api.group("fx-g", &["fx-user"]);
    for p in ["alpha", "beta"] {
        api.grant("fx-g", "fx", p, "available");
    }
    let served = |p: &str| format!("{}@marketplace-edge", api.served_name("fx", p));
    let (alpha, beta) = (served("alpha"), served("beta"));
    let home = TempDir::new("claude-fix-home");
    claude(
        home.path(),
        &["plugin", "marketplace", "add", &api.git_url(&token)],
    );
    claude(home.path(), &["plugin", "install", &alpha]);
    claude(home.path(), &["plugin", "install", &beta]);
    let before_alpha = installed(home.path(), &alpha);
    let before_beta = installed(home.path(), &beta);
    assert_eq!(
        before_alpha["version"],
        content_version_of(&plugin_files(&v1, "alpha"), Some("1.0.0".into()))
    );

    // The admin fixes alpha's command in a hurry and forgets the version.
    let mut fixed = v1.clone();
    for (path, _, content) in &mut fixed {
        if path == "plugins/alpha/commands/alpha.md" {
            *content =
                b"---\ndescription: alpha command\n---\n\nThe FIXED alpha command.\n".to_vec();
        }
    }
    assert_eq!(api.import("fx", &zip_of(&fixed)).status, 200);
    update(home.path(), &alpha);
    let after_alpha = installed(home.path(), &alpha);
    assert_ne!(
        after_alpha["version"], before_alpha["version"],
        "{after_alpha}"
    );
    assert!(after_alpha["version"]
        .as_str()
        .unwrap()
        .starts_with("1.0.0+"));
    assert!(
        read_installed(&after_alpha, "commands/alpha.md").contains("FIXED"),
        "the fix reached the install"
    );
    // beta did not change: same version, same install.
    update(home.path(), &beta);
    let after_beta = installed(home.path(), &beta);
    assert_eq!(after_beta["version"], before_beta["version"]);
    assert_eq!(after_beta["installPath"], before_beta["installPath"]);
}

#[test]
fn granting_another_marketplaces_lint_leaves_the_members_lint_alone() {
    let api = Api::new(&wrangler().base);
    // `zz` is imported first: its plugin owns the name `lint`.
    let zz = one_plugin("zz", "lint", "1.0.0", "lint from zz");
    let aa = one_plugin("aa", "lint", "1.0.0", "lint from aa");
    assert_eq!(api.import("zz", &zip_of(&zz)).status, 200);
    assert_eq!(api.import("aa", &zip_of(&aa)).status, 200);
    let token = api.user_with_token("lint-user");
    api.group("lint-g", &["lint-user"]);
    api.grant("lint-g", "zz", "lint", "available");
    let home = TempDir::new("claude-lint-home");
    let rec = add_and_install(home.path(), &api.git_url(&token), "lint");
    assert!(read_installed(&rec, "commands/lint.md").contains("lint from zz"));

    // Later the admin grants aa's `lint` to the same group.
    api.grant("lint-g", "aa", "lint", "available");
    let m = served_manifest(&api, &token);
    let entries: Vec<(String, String)> = m["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("lint-aa".to_string(), "./plugins/aa-lint".to_string()),
            ("lint".to_string(), "./plugins/zz-lint".to_string()),
        ],
        "sorted by marketplace; each keeps the name it was given when imported"
    );
    let info = api.info(&token);
    let info_names: Vec<&str> = info["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(info_names, ["lint-aa", "lint"]);
    update(home.path(), "lint@marketplace-edge");
    let rec = installed(home.path(), "lint@marketplace-edge");
    assert!(
        read_installed(&rec, "commands/lint.md").contains("lint from zz"),
        "the member's lint is still zz's"
    );
    // Deleting zz frees its names: a re-import of aa keeps `lint-aa`, and
    // a new marketplace may take `lint`.
    api.admin("DELETE", "/api/admin/marketplaces/zz", None, 204);
    assert_eq!(api.import("aa", &zip_of(&aa)).status, 200);
    assert_eq!(api.info(&token)["plugins"][0]["name"], "lint-aa");
    let mm = one_plugin("mm", "lint", "1.0.0", "lint from mm");
    assert_eq!(api.import("mm", &zip_of(&mm)).status, 200);
    let listed = api.admin("GET", "/api/admin/marketplaces/mm", None, 200);
    assert_eq!(listed["plugins"][0]["served_name"], "lint");
}

#[test]
fn an_admin_rename_is_followed_by_claude_code() {
    let api = Api::new(&wrangler().base);
    let rn = one_plugin("rn", "tidy", "1.0.0", "tidy up");
    assert_eq!(api.import("rn", &zip_of(&rn)).status, 200);
    let other = one_plugin("rn-other", "neat", "1.0.0", "neat");
    assert_eq!(api.import("rn-other", &zip_of(&other)).status, 200);
    let token = api.user_with_token("rn-user");
    api.group("rn-g", &["rn-user"]);
    api.grant("rn-g", "rn", "tidy", "available");
    let home = TempDir::new("claude-rename-home");
    add_and_install(home.path(), &api.git_url(&token), "tidy");

    let rename = |name: &str, status: u16| {
        api.admin(
            "PUT",
            "/api/admin/plugins/rn/tidy/served-name",
            Some(&json!({ "name": name })),
            status,
        )
    };
    // Refusals change nothing.
    assert_eq!(rename("Not Kebab", 400)["error"]["code"], "not_kebab_case");
    assert_eq!(rename("neat", 409)["error"]["code"], "name_taken");
    api.admin(
        "PUT",
        "/api/admin/plugins/rn/nosuch/served-name",
        Some(&json!({"name": "x"})),
        404,
    );
    assert_eq!(api.info(&token)["plugins"][0]["name"], "tidy");
    let done = rename("tidy-up", 200);
    assert_eq!(
        (done["served_name"].clone(), done["previous"].clone()),
        (json!("tidy-up"), json!("tidy"))
    );
    // The old name stays this plugin's: nobody else may take it.
    api.admin(
        "PUT",
        "/api/admin/plugins/rn-other/neat/served-name",
        Some(&json!({"name": "tidy"})),
        409,
    );
    let m = served_manifest(&api, &token);
    assert_eq!(m["plugins"][0]["name"], "tidy-up");
    assert_eq!(m["renames"], json!({"tidy": "tidy-up"}));
    let listed = api.admin("GET", "/api/admin/marketplaces/rn", None, 200);
    assert_eq!(listed["plugins"][0]["served_name"], "tidy-up");
    assert_eq!(listed["plugins"][0]["past_names"], json!(["tidy"]));

    // Claude Code follows the rename: at the first session start after
    // its marketplace update, it moves the member's setting to the new
    // name and installs the plugin under it.
    claude(
        home.path(),
        &["plugin", "marketplace", "update", "marketplace-edge"],
    );
    let out = start_session(home.path());
    assert_eq!(enabled(home.path()), ["tidy-up@marketplace-edge"], "{out}");
    let ids = installed_ids(home.path());
    assert_eq!(ids, ["tidy-up@marketplace-edge"], "{out}");
    // A headless start defers copying the files to the next full load of
    // the plugins (an interactive session's start, or `plugin list`).
    let list = claude(home.path(), &["plugin", "list"]);
    assert!(list.contains("tidy-up@marketplace-edge"), "{list}");
    let rec = installed(home.path(), "tidy-up@marketplace-edge");
    assert!(read_installed(&rec, "commands/tidy.md").contains("tidy up"));
}

#[test]
fn a_revoked_plugin_is_switched_off_at_the_next_session_start() {
    let api = Api::new(&wrangler().base);
    let rv = one_plugin("rv", "gone-soon", "1.0.0", "soon gone");
    assert_eq!(api.import("rv", &zip_of(&rv)).status, 200);
    let token = api.user_with_token("rv-user");
    api.group("rv-g", &["rv-user"]);
    api.grant("rv-g", "rv", "gone-soon", "available");
    let home = TempDir::new("claude-revoke-home");
    add_and_install(home.path(), &api.git_url(&token), "gone-soon");
    let m = served_manifest(&api, &token);
    assert_eq!(m["forceRemoveDeletedPlugins"], true);

    assert_eq!(enabled(home.path()), ["gone-soon@marketplace-edge"]);
    api.admin(
        "DELETE",
        "/api/admin/groups/rv-g/grants/rv/gone-soon",
        None,
        204,
    );
    // Claude Code 2.1.330 acts on `forceRemoveDeletedPlugins` at a session
    // start after the marketplace update: the plugin is switched off for
    // the member (out of `enabledPlugins`, so none of its commands, hooks
    // or servers load) and listed as disabled. Its install record and
    // cached files stay (README, "What a member's Claude Code does").
    claude(
        home.path(),
        &["plugin", "marketplace", "update", "marketplace-edge"],
    );
    let out = start_session(home.path());
    assert!(enabled(home.path()).is_empty(), "{out}");
    let list = claude(home.path(), &["plugin", "list"]);
    assert!(
        list.contains("gone-soon@marketplace-edge") && list.contains("disabled"),
        "{list}"
    );
}

/// A marketplace in the layout of `anthropics/claude-plugins-official`
/// (our own content): `$schema`, local plugins under `plugins/` and
/// `external_plugins/`, pretty-printed `plugin.json` (one without a
/// version), and `git-subdir` and `url` sources.
fn official_layout() -> Vec<FileSpec> {
    let manifest = r#"{
  "$schema": "https://anthropic.com/claude-code/marketplace.schema.json",
  "name": "claude-plugins-official",
  "description": "Directory of extensions",
  "owner": {
    "name": "Example",
    "email": "support@example.com"
  },
  "plugins": [
    {
      "name": "agent-kit",
      "description": "Development kit",
      "author": {
        "name": "Example",
        "email": "support@example.com"
      },
      "source": "./plugins/agent-kit",
      "category": "development",
      "homepage": "https://example.com/agent-kit"
    },
    {
      "name": "tracker",
      "description": "Issue tracker integration",
      "category": "productivity",
      "source": "./external_plugins/tracker",
      "homepage": "https://example.com/tracker"
    },
    {
      "name": "far-away",
      "description": "Lives elsewhere",
      "source": {
        "source": "git-subdir",
        "url": "https://example.com/far.git",
        "path": "plugins/far",
        "ref": "main",
        "sha": "bc781f96be8ce17a2972e8a9a3ef38b1ca7e8cc4"
      }
    },
    {
      "name": "by-url",
      "source": {
        "source": "url",
        "url": "https://example.com/by-url.git",
        "sha": "fad761fce6cba119d23792b3a96a3bf33e23c566"
      }
    }
  ]
}
"#;
    let file = |p: &str, exec: bool, c: &str| (p.to_string(), exec, c.as_bytes().to_vec());
    vec![
        file(".claude-plugin/marketplace.json", false, manifest),
        file("README.md", false, "# Directory\n"),
        file(
            "plugins/agent-kit/.claude-plugin/plugin.json",
            false,
            "{\n  \"name\": \"agent-kit\",\n  \"description\": \"Kit\",\n  \"author\": {\n    \"name\": \"Example\"\n  },\n  \"version\": \"1.0.0\"\n}\n",
        ),
        file("plugins/agent-kit/commands/new-app.md", false, "---\ndescription: New app\n---\n\nScaffold.\n"),
        file("plugins/agent-kit/agents/verifier.md", false, "---\nname: verifier\ndescription: Verifies\n---\n\nCheck.\n"),
        file("plugins/agent-kit/scripts/check.sh", true, "#!/bin/sh\nexit 0\n"),
        file("plugins/agent-kit/README.md", false, "# agent-kit\r\nCRLF kept\r\n"),
        file("external_plugins/tracker/.claude-plugin/plugin.json", false, "{\n  \"name\": \"tracker\",\n  \"description\": \"Tracker\"\n}\n"),
        file("external_plugins/tracker/.mcp.json", false, "{\n  \"tracker\": {\n    \"type\": \"http\",\n    \"url\": \"https://mcp.example.com/sse\"\n  }\n}\n"),
    ]
}

#[test]
fn the_official_layout_serves_every_byte_as_upstream_but_the_version_field() {
    let api = Api::new(&wrangler().base);
    let files = official_layout();
    assert_eq!(api.import("official", &zip_of(&files)).status, 200);
    let token = api.user_with_token("official-user");
    api.group("official-g", &["official-user"]);
    for p in ["agent-kit", "tracker", "far-away", "by-url"] {
        api.grant("official-g", "official", p, "available");
    }
    let c = support::checks::clone_view(&api.git_url(&token), 2, false);
    let upstream = |prefix: &str| -> Vec<FileSpec> {
        files
            .iter()
            .filter_map(|(p, e, b)| Some((p.strip_prefix(prefix)?.to_string(), *e, b.clone())))
            .collect()
    };
    // agent-kit: every byte as upstream, but plugin.json's version value.
    let kit = upstream("plugins/agent-kit/");
    let kit_version = content_version_of(&kit, Some("1.0.0".into()));
    let expected_kit: support::checks::ExpectedFiles = kit
        .iter()
        .map(|(p, e, b)| {
            let b = if p == ".claude-plugin/plugin.json" {
                String::from_utf8(b.clone())
                    .unwrap()
                    .replace(
                        "\"version\": \"1.0.0\"",
                        &format!("\"version\": \"{kit_version}\""),
                    )
                    .into_bytes()
            } else {
                b.clone()
            };
            (p.clone(), (*e, b))
        })
        .collect();
    assert_eq!(c.plugin("official-agent-kit"), expected_kit);
    // tracker's plugin.json has no version: served byte for byte, and the
    // marketplace entry carries 0.0.0+<digest>.
    let tracker = upstream("external_plugins/tracker/");
    let expected_tracker: support::checks::ExpectedFiles = tracker
        .iter()
        .map(|(p, e, b)| (p.clone(), (*e, b.clone())))
        .collect();
    assert_eq!(c.plugin("official-tracker"), expected_tracker);
    let m: Value = serde_json::from_slice(&c.files[".claude-plugin/marketplace.json"].1).unwrap();
    let entries = m["plugins"].as_array().unwrap();
    let entry = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap().clone();
    assert_eq!(entry("agent-kit")["version"], kit_version.as_str());
    assert_eq!(
        entry("tracker")["version"],
        content_version_of(&tracker, None).as_str()
    );
    // Upstream fields are kept; external sources are passed through as
    // they are, with no version of ours.
    let kit_entry = entry("agent-kit");
    assert_eq!(kit_entry["author"]["email"], "support@example.com");
    assert_eq!(kit_entry["homepage"], "https://example.com/agent-kit");
    assert_eq!(kit_entry["category"], "development");
    assert_eq!(entry("far-away")["source"]["source"], "git-subdir");
    assert_eq!(
        entry("far-away")["source"]["sha"],
        "bc781f96be8ce17a2972e8a9a3ef38b1ca7e8cc4"
    );
    assert_eq!(
        entry("by-url")["source"]["url"],
        "https://example.com/by-url.git"
    );
    assert_eq!(entry("by-url").get("version"), None);
}
