//! End to end with the real Claude Code CLI (npm `@anthropic-ai/claude-code`,
//! temporary HOME) against the Worker under `wrangler dev`: add the
//! marketplace, install a plugin, and pick up a new version after the admin
//! re-imports.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::api::Api;
use support::archives::{
    content_version_of, marketplace, plugin_files, served_plugin_files, zip_of,
};
use support::claude::{add_and_install, claude, installed, update};
use support::git_cli::TempDir;
use support::store::skill_zip_with;
use support::wrangler::wrangler;

#[test]
fn claude_code_adds_installs_and_updates_from_the_worker() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("cc", &[("alpha", "available")]);
    let home = TempDir::new("claude-home");
    let alpha = api.served_name("cc", "alpha");
    let rec = add_and_install(home.path(), &api.git_url(&token), &alpha);
    let v1 = marketplace("cc", "1.0.0");
    assert_eq!(
        rec["version"],
        content_version_of(&plugin_files(&v1, "alpha"), Some("1.0.0".into())),
        "{rec}"
    );
    // The installed copy is the imported plugin, byte for byte but for
    // plugin.json's version (its content version).
    let dir = PathBuf::from(rec["installPath"].as_str().unwrap());
    for (path, exec, content) in served_plugin_files(&v1, "alpha") {
        let got =
            std::fs::read(dir.join(&path)).unwrap_or_else(|e| panic!("installed {path}: {e}"));
        assert_eq!(got, content, "{path}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(&path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o100 != 0, exec, "{path} exec bit");
    }

    // The admin publishes 2.0.0; Claude Code's update flow picks it up.
    assert_eq!(
        api.import("cc", &zip_of(&marketplace("cc", "2.0.0")))
            .status,
        200
    );
    let (rec, cmd) = update(home.path(), &alpha, "commands/alpha.md");
    let v2 = marketplace("cc", "2.0.0");
    assert_eq!(
        rec["version"],
        content_version_of(&plugin_files(&v2, "alpha"), Some("2.0.0".into())),
        "{rec}"
    );
    assert!(cmd.contains("v2.0.0"), "{cmd}");
}

#[test]
fn token_can_live_in_a_git_credential_helper_instead_of_the_url() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("ch", &[("beta", "available")]);
    let home = TempDir::new("claude-cred-home");
    let host = wrangler().base.trim_start_matches("http://").to_string();
    // As README's deployment section tells members to do.
    let git = |args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut child = Command::new("git")
            .args(args)
            .env("HOME", home.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("git");
        if let Some(i) = input {
            child.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "git {args:?}");
    };
    git(
        &[
            "config",
            "--global",
            &format!("credential.http://{host}.helper"),
            "store",
        ],
        None,
    );
    git(
        &["credential", "approve"],
        Some(&format!(
            "protocol=http\nhost={host}\nusername=x\npassword={token}\n\n"
        )),
    );
    claude(
        home.path(),
        &[
            "plugin",
            "marketplace",
            "add",
            &format!("{}/marketplace.git", wrangler().base),
        ],
    );
    let beta = format!("{}@marketplace-edge", api.served_name("ch", "beta"));
    claude(home.path(), &["plugin", "install", &beta]);
    assert!(installed(home.path(), &beta)["version"]
        .as_str()
        .unwrap()
        .starts_with("1.0.0+"));
    let settings = std::fs::read_to_string(home.path().join(".claude/settings.json")).unwrap();
    assert!(
        !settings.contains(&token),
        "the token must not be stored in Claude Code's settings"
    );
}

#[test]
fn claude_code_picks_up_a_store_owners_reupload() {
    let api = Api::new(&wrangler().base);
    let owner = api.user_with_token("cs-owner");
    let user = api.user_with_token("cs-user");
    let base = &wrangler().base;
    let r = support::store::upload(
        base,
        &owner,
        "/api/store/entities",
        "skill",
        "tips",
        &skill_zip_with("tips", "first tips"),
    );
    let id = support::store::created_id(&r);
    api.install(&user, id);

    let home = TempDir::new("claude-store-home");
    claude(
        home.path(),
        &["plugin", "marketplace", "add", &api.git_url(&user)],
    );
    claude(
        home.path(),
        &["plugin", "install", "store-bundle@marketplace-edge"],
    );
    let v1 = installed(home.path(), "store-bundle@marketplace-edge")["version"]
        .as_str()
        .unwrap()
        .to_string();

    let r = support::store::send(
        base,
        &owner,
        "PUT",
        &format!("/api/store/entities/{id}"),
        &[],
        &skill_zip_with("tips", "second tips"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    claude(
        home.path(),
        &["plugin", "marketplace", "update", "marketplace-edge"],
    );
    claude(
        home.path(),
        &["plugin", "update", "store-bundle@marketplace-edge"],
    );
    let rec = installed(home.path(), "store-bundle@marketplace-edge");
    assert_ne!(rec["version"].as_str().unwrap(), v1, "{rec}");
    let dir = PathBuf::from(rec["installPath"].as_str().unwrap());
    let md = std::fs::read_to_string(dir.join("skills/tips-by-cs-owner/SKILL.md")).unwrap();
    assert!(md.contains("second tips"), "{md}");
}
