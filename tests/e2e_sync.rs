//! Curated marketplaces that follow an upstream git repository, under
//! `wrangler dev` against `git http-backend` on 127.0.0.1 (plain, and
//! behind HTTP Basic): first sync and clone, an unchanged upstream fetches
//! nothing (counted at the server), a new commit is served, a refused
//! upstream commit keeps the old content and records the error, archive
//! imports are refused while a source is set, private repositories with
//! and without the secret, webhooks with good and bad signatures, and the
//! cron path.

mod support;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use support::api::{Api, ADMIN_TOKEN};
use support::archives::{content_version_of, marketplace, plugin_files, zip_of, FileSpec};
use support::checks::clone_view;
use support::claude::{add_and_install, update};
use support::git_cli::{git, TempDir};
use support::http_backend::{
    serve_http_backend, serve_http_backend_closing, serve_http_backend_v0, serve_redirect, Backend,
};
use support::http_client::request;
use support::wrangler::wrangler_with;

const UPSTREAM_TOKEN: &str = "upstream-token-for-tests";
const HOOK_SECRET: &str = "hook-secret-for-tests";

/// A working repository and the bare one the servers serve (`up.git`).
struct Upstream {
    root: TempDir,
    work: TempDir,
}

impl Upstream {
    fn new() -> Upstream {
        let (root, work) = (TempDir::new("up-root"), TempDir::new("up-work"));
        git(
            root.path(),
            &["init", "-q", "--bare", "-b", "main", "up.git"],
        );
        git(work.path(), &["init", "-q", "-b", "main", "."]);
        git(
            work.path(),
            &[
                "remote",
                "add",
                "origin",
                root.path().join("up.git").to_str().unwrap(),
            ],
        );
        let up = Upstream { root, work };
        up.commit(&marketplace("upstream", "1.0.0"), "v1");
        up
    }

    /// Replaces the working tree with `files`, commits and pushes; the commit.
    fn commit(&self, files: &[FileSpec], message: &str) -> String {
        let w = self.work.path();
        for entry in std::fs::read_dir(w).unwrap() {
            let p = entry.unwrap().path();
            if p.file_name().is_some_and(|n| n != ".git") {
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
        for (path, exec, content) in files {
            let p = w.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            if *exec {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        git(w, &["add", "-A"]);
        git(w, &["commit", "-q", "-m", message]);
        git(w, &["push", "-q", "origin", "main"]);
        // Deltas in what the server sends, as real upstreams have.
        git(&self.root.path().join("up.git"), &["gc", "-q"]);
        git(w, &["rev-parse", "HEAD"])
    }

    fn head(&self) -> String {
        git(self.work.path(), &["rev-parse", "HEAD"])
    }
}

fn source(api: &Api, slug: &str, body: Value) -> Value {
    api.admin(
        "PUT",
        &format!("/api/admin/marketplaces/{slug}/source"),
        Some(&body),
        200,
    )
}

fn sync(api: &Api, slug: &str) -> support::http_client::RawResponse {
    api.call(
        ADMIN_TOKEN,
        "POST",
        &format!("/api/admin/marketplaces/{slug}/sync"),
        None,
    )
}

fn state(api: &Api, slug: &str) -> Value {
    api.admin("GET", &format!("/api/admin/marketplaces/{slug}"), None, 200)["source"].clone()
}

/// The plugin files a user is served, as git clones them.
fn served_alpha(api: &Api, token: &str) -> Vec<u8> {
    let c = clone_view(&api.git_url(token), 2, true);
    let alpha = c.plugin("synced-alpha");
    alpha["commands/alpha.md"].1.clone()
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    let sig: Vec<String> = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={}", sig.concat())
}

fn wait_for_commit(api: &Api, slug: &str, commit: &str) -> Value {
    for _ in 0..100 {
        let s = state(api, slug);
        if s["upstream_commit"] == commit {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{slug} never served {commit}: {}", state(api, slug));
}

/// The newest audit row of a sync by `actor` (`webhook` or `cron`).
fn last_sync_audit(api: &Api, actor: &str) -> Value {
    wait_for_audit(api, actor, |_| true)
}

/// Waits (up to 10 s) for the newest audit row of a sync by `actor` to
/// satisfy `ok`; that row.
fn wait_for_audit(api: &Api, actor: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let page = api.admin(
            "GET",
            &format!("/api/admin/audit?actor={actor}&action=source.sync"),
            None,
            200,
        );
        if let Some(row) = page["entries"].as_array().and_then(|e| e.first()) {
            if ok(row) {
                return row.clone();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "no matching {actor} sync in the audit log: {}",
        api.admin("GET", "/api/admin/audit?action=source.sync", None, 200)
    );
}

#[test]
fn a_marketplace_follows_its_upstream_repository() {
    let w = wrangler_with(&[
        ("UPSTREAM_TOKEN", UPSTREAM_TOKEN),
        ("UPSTREAM_HOOK", HOOK_SECRET),
    ]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let plain: Backend = serve_http_backend(up.root.path().to_path_buf(), None);
    let url = format!("{}/up.git", plain.base);

    // First sync: the upstream's plugins are served.
    let set = source(
        &api,
        "synced",
        json!({"url": url, "webhook_secret": "UPSTREAM_HOOK"}),
    );
    assert_eq!(set["source"]["url"], url.as_str());
    assert!(!set.to_string().contains(HOOK_SECRET), "{set}");
    let r = sync(&api, "synced");
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = up.head();
    assert_eq!(state(&api, "synced")["upstream_commit"], v1.as_str());
    let token = api.user_with_token("sync-user");
    api.group("sync-g", &["sync-user"]);
    api.grant("sync-g", "synced", "alpha", "available");
    let alpha_v1 = served_alpha(&api, &token);
    assert!(String::from_utf8_lossy(&alpha_v1).contains("alpha-upstream-1.0.0"));

    // Unchanged upstream: refs only (advertisement and ls-refs), no fetch.
    let before = plain.requests();
    let r = sync(&api, "synced");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        plain.requests() - before,
        2,
        "an unchanged upstream is not fetched"
    );

    // A new upstream commit is served after the next sync.
    let v2 = up.commit(&marketplace("upstream", "2.0.0"), "v2");
    assert_eq!(sync(&api, "synced").status, 200);
    assert_eq!(state(&api, "synced")["upstream_commit"], v2.as_str());
    assert!(String::from_utf8_lossy(&served_alpha(&api, &token)).contains("alpha-upstream-2.0.0"));

    // Archive imports are refused while the source is set.
    let r = api.import("synced", &zip_of(&marketplace("synced", "9.0.0")));
    assert_eq!(
        (r.status, r.text().contains("marketplace_synced")),
        (409, true),
        "{}",
        r.text()
    );

    // A refused upstream commit keeps what is served and records why.
    let served_before = api.info(&token)["commit"].clone();
    let mut with_link = marketplace("upstream", "3.0.0");
    with_link.retain(|f| f.0 != "plugins/alpha/scripts/run.sh");
    up.commit(&with_link, "v3 prep");
    std::os::unix::fs::symlink("/etc/passwd", up.work.path().join("plugins/alpha/link")).unwrap();
    git(up.work.path(), &["add", "-A"]);
    git(up.work.path(), &["commit", "-q", "-m", "v3 with a symlink"]);
    git(up.work.path(), &["push", "-q", "origin", "main"]);
    let r = sync(&api, "synced");
    assert_eq!(
        (r.status, r.text().contains("\"symlink\"")),
        (422, true),
        "{}",
        r.text()
    );
    let s = state(&api, "synced");
    assert_eq!(s["last_error"]["code"], "symlink", "{s}");
    assert_eq!(s["upstream_commit"], v2.as_str(), "still serving v2");
    assert_eq!(api.info(&token)["commit"], served_before);

    // Webhooks: a bad signature changes nothing; a good one syncs.
    let v4 = up.commit(&marketplace("upstream", "4.0.0"), "v4");
    let body = br#"{"ref":"refs/heads/main"}"#;
    let before = plain.requests();
    let r = request(
        &w.base,
        "POST",
        "/api/hooks/synced",
        &[(
            "X-Hub-Signature-256",
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
        )],
        body,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let r = request(
        &w.base,
        "POST",
        "/api/hooks/synced",
        &[("X-Gitlab-Token", "wrong")],
        body,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        plain.requests(),
        before,
        "a refused webhook reaches no upstream"
    );
    let sig = github_signature(body);
    let r = request(
        &w.base,
        "POST",
        "/api/hooks/synced",
        &[("X-Hub-Signature-256", &sig)],
        body,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    wait_for_commit(&api, "synced", &v4);
    assert!(String::from_utf8_lossy(&served_alpha(&api, &token)).contains("alpha-upstream-4.0.0"));
    let row = last_sync_audit(&api, "webhook");
    assert_eq!(
        (
            row["request_id"].as_str(),
            row["target"].as_str(),
            row["status"].as_i64()
        ),
        (
            r.header("x-request-id"),
            Some("admin/marketplaces/synced/sync"),
            Some(200)
        ),
        "{row}"
    );
    let detail: Value = serde_json::from_str(row["detail"].as_str().unwrap()).unwrap();
    assert_eq!(
        detail,
        json!({"upstream_commit": v4, "outcome": "served"}),
        "{row}"
    );

    // The cron path syncs every source.
    let v5 = up.commit(&marketplace("upstream", "5.0.0"), "v5");
    let r = request(&w.base, "GET", "/__scheduled?cron=*/15+*+*+*+*", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for_commit(&api, "synced", &v5);
    let row = wait_for_audit(&api, "cron", |row| {
        row["detail"].as_str().is_some_and(|d| d.contains(&v5))
    });
    assert!(
        row["request_id"].as_str().unwrap().starts_with("cron-"),
        "{row}"
    );
    // The next scheduled run finds nothing new, and says so; a failing
    // one records its error.
    let r = request(&w.base, "GET", "/__scheduled?cron=*/15+*+*+*+*", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for_audit(&api, "cron", |row| {
        row["detail"]
            .as_str()
            .is_some_and(|d| d.contains("unchanged"))
    });
    w.d1("UPDATE marketplace_sources SET ref = 'no-such-branch' WHERE slug = 'synced'");
    let r = request(&w.base, "GET", "/__scheduled?cron=*/15+*+*+*+*", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let row = wait_for_audit(&api, "cron", |row| row["status"] == 422);
    assert!(
        row["detail"]
            .as_str()
            .is_some_and(|d| d.contains("\"failed\"") && d.contains("upstream_ref_not_found")),
        "{row}"
    );
    w.d1("UPDATE marketplace_sources SET ref = NULL WHERE slug = 'synced'");

    // Removing the source makes the marketplace archive-managed again.
    assert_eq!(
        api.call(
            ADMIN_TOKEN,
            "DELETE",
            "/api/admin/marketplaces/synced/source",
            None
        )
        .status,
        204
    );
    assert_eq!(
        api.import("synced", &zip_of(&marketplace("synced", "9.0.0")))
            .status,
        200
    );
}

#[test]
fn a_private_upstream_needs_its_secret() {
    let w = wrangler_with(&[("UPSTREAM_TOKEN", UPSTREAM_TOKEN)]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let expected =
        marketplace_edge::catalog::auth::credentials::basic_authorization(UPSTREAM_TOKEN);
    let private = serve_http_backend(up.root.path().to_path_buf(), Some(expected));
    let url = format!("{}/up.git", private.base);

    source(&api, "private", json!({"url": url}));
    let r = sync(&api, "private");
    assert_eq!(
        (r.status, r.text().contains("upstream_unauthorized")),
        (502, true),
        "{}",
        r.text()
    );
    assert_eq!(
        state(&api, "private")["last_error"]["code"],
        "upstream_unauthorized"
    );
    assert_eq!(
        api.admin("GET", "/api/admin/marketplaces/private", None, 200)["plugins"],
        json!([]),
        "nothing imported"
    );

    source(
        &api,
        "private",
        json!({"url": url, "auth_secret": "UPSTREAM_NO_SUCH_SECRET"}),
    );
    let r = sync(&api, "private");
    assert_eq!(
        (r.status, r.text().contains("missing_secret")),
        (422, true),
        "{}",
        r.text()
    );

    let set = source(
        &api,
        "private",
        json!({"url": url, "auth_secret": "UPSTREAM_TOKEN"}),
    );
    assert!(
        !set.to_string().contains(UPSTREAM_TOKEN),
        "the secret is never returned"
    );
    let r = sync(&api, "private");
    assert_eq!(r.status, 200, "{}", r.text());
    let s = state(&api, "private");
    assert_eq!(s["upstream_commit"], up.head().as_str());
    assert!(s["last_error"].is_null(), "{s}");
    let plugins = api.admin("GET", "/api/admin/marketplaces/private", None, 200)["plugins"].clone();
    assert_eq!(plugins.as_array().unwrap().len(), 4, "{plugins}");

    // A repository that moved to another origin: followed without
    // credentials, refused with them (they are never sent elsewhere).
    let plain = serve_http_backend(up.root.path().to_path_buf(), None);
    let moved = serve_redirect(plain.base.clone());
    source(&api, "moved", json!({"url": format!("{moved}/up.git")}));
    let r = sync(&api, "moved");
    assert_eq!(r.status, 200, "{}", r.text());
    source(
        &api,
        "moved",
        json!({"url": format!("{moved}/up.git"), "auth_secret": "UPSTREAM_TOKEN"}),
    );
    let before = plain.requests();
    let r = sync(&api, "moved");
    assert_eq!(
        (r.status, r.text().contains("upstream_redirect")),
        (502, true),
        "{}",
        r.text()
    );
    assert_eq!(plain.requests(), before, "nothing reached the other origin");

    // Bad source definitions are refused with clear codes.
    for (body, code) in [
        (json!({"url": "ftp://example.com/r.git"}), "bad_source_url"),
        (
            json!({"url": "https://user:pw@example.com/r.git"}),
            "bad_source_url",
        ),
        (
            json!({"url": url, "auth_secret": "ghp_pasted-token"}),
            "bad_secret_name",
        ),
    ] {
        let r = api.call(
            ADMIN_TOKEN,
            "PUT",
            "/api/admin/marketplaces/private/source",
            Some(&body),
        );
        assert_eq!(
            (r.status, r.text().contains(code)),
            (400, true),
            "{}",
            r.text()
        );
    }
}

#[test]
fn a_v0_only_upstream_and_the_lease() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let v0 = serve_http_backend_v0(up.root.path().to_path_buf());
    source(
        &api,
        "old-server",
        json!({"url": format!("{}/up.git", v0.base), "ref": "main"}),
    );
    let r = sync(&api, "old-server");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        state(&api, "old-server")["upstream_commit"],
        up.head().as_str()
    );

    // While another sync holds the lease, a second one is refused.
    w.d1("UPDATE marketplace_sources SET lease_until = unixepoch() + 60 WHERE slug = 'old-server'");
    let r = sync(&api, "old-server");
    assert_eq!(
        (r.status, r.text().contains("sync_in_progress")),
        (409, true),
        "{}",
        r.text()
    );
    // An expired lease (a sync that died) does not block the next.
    w.d1("UPDATE marketplace_sources SET lease_until = unixepoch() - 1 WHERE slug = 'old-server'");
    assert_eq!(sync(&api, "old-server").status, 200);

    // A ref the upstream lacks is an error in words, recorded.
    source(
        &api,
        "old-server",
        json!({"url": format!("{}/up.git", v0.base), "ref": "no-such-branch"}),
    );
    let r = sync(&api, "old-server");
    assert_eq!(
        (r.status, r.text().contains("upstream_ref_not_found")),
        (422, true),
        "{}",
        r.text()
    );
}

#[test]
fn claude_code_installs_and_updates_from_a_synced_marketplace() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let server = serve_http_backend(up.root.path().to_path_buf(), None);
    source(
        &api,
        "cc-up",
        json!({"url": format!("{}/up.git", server.base)}),
    );
    assert_eq!(sync(&api, "cc-up").status, 200);
    let token = api.user_with_token("cc-up-user");
    api.group("cc-up-g", &["cc-up-user"]);
    api.grant("cc-up-g", "cc-up", "alpha", "available");

    let home = TempDir::new("claude-sync-home");
    let alpha = api.served_name("cc-up", "alpha");
    let rec = add_and_install(home.path(), &api.git_url(&token), &alpha);
    let v1 = marketplace("upstream", "1.0.0");
    assert_eq!(
        rec["version"],
        content_version_of(&plugin_files(&v1, "alpha"), Some("1.0.0".into())),
        "{rec}"
    );

    let v2 = marketplace("upstream", "2.0.0");
    up.commit(&v2, "v2");
    assert_eq!(sync(&api, "cc-up").status, 200);
    let (rec, cmd) = update(home.path(), &alpha, "commands/alpha.md");
    assert_eq!(
        rec["version"],
        content_version_of(&plugin_files(&v2, "alpha"), Some("2.0.0".into())),
        "{rec}"
    );
    assert!(cmd.contains("alpha-upstream-2.0.0"), "{cmd}");
}

#[test]
fn a_pinned_commit_and_a_tree_with_a_path_outside_the_root() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let v1 = up.head();
    let v2 = up.commit(&marketplace("upstream", "2.0.0"), "v2");
    let server = serve_http_backend(up.root.path().to_path_buf(), None);
    let url = format!("{}/up.git", server.base);

    // A full commit id pins the marketplace there, whatever HEAD is.
    source(&api, "pinned", json!({"url": url, "ref": v1}));
    let r = sync(&api, "pinned");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(state(&api, "pinned")["upstream_commit"], v1.as_str());
    source(&api, "pinned", json!({"url": url}));
    assert_eq!(sync(&api, "pinned").status, 200);
    assert_eq!(state(&api, "pinned")["upstream_commit"], v2.as_str());

    // A hostile upstream: a tree entry named `..` (git itself never makes
    // one; a server can send it). Refused as in an archive; v2 still served.
    let w_dir = up.work.path();
    let blob = git(w_dir, &["rev-parse", "HEAD:README.md"]);
    let mut tree = b"100644 ..\0".to_vec();
    tree.extend(hex_bytes(&blob));
    let tree_file = up.work.path().join("../evil-tree");
    std::fs::write(&tree_file, &tree).unwrap();
    let tree_id = git(
        w_dir,
        &[
            "hash-object",
            "--literally",
            "-t",
            "tree",
            "-w",
            tree_file.to_str().unwrap(),
        ],
    );
    let evil = git(
        w_dir,
        &["commit-tree", &tree_id, "-p", "HEAD", "-m", "evil"],
    );
    git(
        w_dir,
        &[
            "push",
            "-q",
            "-f",
            "origin",
            &format!("{evil}:refs/heads/main"),
        ],
    );
    let r = sync(&api, "pinned");
    assert_eq!(
        (r.status, r.text().contains("\"bad_path\"")),
        (422, true),
        "{}",
        r.text()
    );
    let s = state(&api, "pinned");
    assert_eq!(s["last_error"]["code"], "bad_path", "{s}");
    assert_eq!(s["upstream_commit"], v2.as_str(), "still serving v2");
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_source_may_name_only_upstream_secrets() {
    let w = wrangler_with(&[("UPSTREAM_TOKEN", UPSTREAM_TOKEN)]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let plain = serve_http_backend(up.root.path().to_path_buf(), None);
    let url = format!("{}/up.git", plain.base);
    // Any other secret of the Worker is refused by name, for either use.
    for field in ["auth_secret", "webhook_secret"] {
        for name in ["ADMIN_TOKEN", "CF_API_TOKEN", "SECRET", "UPSTREAM_"] {
            let r = api.call(
                ADMIN_TOKEN,
                "PUT",
                "/api/admin/marketplaces/leak/source",
                Some(&json!({"url": url, field: name})),
            );
            assert_eq!(
                (r.status, r.text().contains("secret_not_allowed")),
                (400, true),
                "{field} {name}: {}",
                r.text()
            );
        }
    }
    assert_eq!(
        api.call(ADMIN_TOKEN, "GET", "/api/admin/marketplaces/leak", None)
            .status,
        404,
        "a refused source is not stored"
    );

    // A source stored before the rule that names ADMIN_TOKEN stops
    // syncing, in words, and nothing is sent anywhere.
    source(
        &api,
        "leak",
        json!({"url": url, "auth_secret": "UPSTREAM_TOKEN"}),
    );
    w.d1("UPDATE marketplace_sources SET auth_secret = 'ADMIN_TOKEN' WHERE slug = 'leak'");
    let before = plain.requests();
    let r = sync(&api, "leak");
    assert_eq!(
        (r.status, r.text().contains("secret_not_allowed")),
        (422, true),
        "{}",
        r.text()
    );
    assert_eq!(plain.requests(), before, "no request reached the upstream");
    assert_eq!(
        state(&api, "leak")["last_error"]["code"],
        "secret_not_allowed"
    );

    // Nor does a stored webhook secret of another name verify anything:
    // signed with the admin token's own value, the hook is refused.
    w.d1("UPDATE marketplace_sources SET auth_secret = NULL, webhook_secret = 'ADMIN_TOKEN' WHERE slug = 'leak'");
    let body = br#"{"ref":"refs/heads/main"}"#;
    let r = request(
        &w.base,
        "POST",
        "/api/hooks/leak",
        &[("X-Gitlab-Token", ADMIN_TOKEN)],
        body,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(plain.requests(), before, "no sync started");

    // Changed to an UPSTREAM_ secret, it syncs again.
    source(
        &api,
        "leak",
        json!({"url": url, "auth_secret": "UPSTREAM_TOKEN"}),
    );
    let r = sync(&api, "leak");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_subtree_bomb_upstream_is_refused_within_seconds_and_changes_nothing() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let plain = serve_http_backend(up.root.path().to_path_buf(), None);
    source(
        &api,
        "synced",
        json!({"url": format!("{}/up.git", plain.base)}),
    );
    assert_eq!(sync(&api, "synced").status, 200);
    let token = api.user_with_token("bomb-user");
    api.group("bomb-g", &["bomb-user"]);
    api.grant("bomb-g", "synced", "alpha", "available");
    let served_before = api.info(&token)["commit"].clone();
    let v1 = up.head();

    let bare = up.root.path().join("up.git");
    support::git_cli::commit_subtree_bomb(&bare, "main", 40);
    let started = std::time::Instant::now();
    let r = sync(&api, "synced");
    let took = started.elapsed();
    assert_eq!(
        (r.status, r.text().contains("too_many_directories")),
        (422, true),
        "{}",
        r.text()
    );
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    let s = state(&api, "synced");
    assert_eq!(s["last_error"]["code"], "too_many_directories", "{s}");
    assert_eq!(s["upstream_commit"], v1.as_str(), "still serving v1");
    assert!(s["syncing"] == false, "the lease is released: {s}");
    assert_eq!(api.info(&token)["commit"], served_before);
    assert!(String::from_utf8_lossy(&served_alpha(&api, &token)).contains("alpha-upstream-1.0.0"));
}

#[test]
fn a_server_that_closes_every_connection_is_synced() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let closing = serve_http_backend_closing(up.root.path().to_path_buf());
    source(
        &api,
        "closing",
        json!({"url": format!("{}/up.git", closing.base)}),
    );
    for version in ["2.0.0", "3.0.0"] {
        let r = sync(&api, "closing");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            state(&api, "closing")["upstream_commit"],
            up.head().as_str()
        );
        up.commit(&marketplace("upstream", version), version);
    }
    assert!(
        closing.dropped() > 0,
        "the runtime never reused a connection, so no retry was needed: this test proves nothing"
    );
}

#[test]
fn a_sync_that_outlived_its_lease_leaves_its_successors_lease_alone() {
    // The sync pauses 12 s before it records its outcome; meanwhile its
    // lease is taken over (as after it expired) by another sync. The pause
    // outlasts the takeover's own `wrangler d1 execute` (a node process
    // that can take seconds to start on a loaded machine), whose write
    // lock on the local database would otherwise meet the resumed sync's
    // write (SQLITE_BUSY, seen once in CI with a 3 s pause).
    let w = wrangler_with(&[
        ("FAILPOINT_PAUSE", "sync-end:held"),
        ("FAILPOINT_PAUSE_SECONDS", "12"),
    ]);
    let api = Api::new(&w.base);
    let up = Upstream::new();
    let plain = serve_http_backend(up.root.path().to_path_buf(), None);
    source(
        &api,
        "held",
        json!({"url": format!("{}/up.git", plain.base)}),
    );
    let base = w.base.clone();
    let slow = std::thread::spawn(move || sync(&Api::new(&base), "held").status);
    w.wait_for_pause("sync-end:held");
    w.d1("UPDATE marketplace_sources SET lease_holder = 'successor', lease_until = unixepoch() + 300 WHERE slug = 'held'");
    assert_eq!(slow.join().unwrap(), 200);
    let row =
        &w.d1("SELECT lease_holder, lease_until FROM marketplace_sources WHERE slug = 'held'")[0];
    assert_eq!(row["lease_holder"], "successor", "{row}");
    assert!(
        row["lease_until"].is_number(),
        "the successor's lease stays: {row}"
    );
    assert_eq!(state(&api, "held")["syncing"], true);
    let r = sync(&api, "held");
    assert_eq!(
        (r.status, r.text().contains("sync_in_progress")),
        (409, true),
        "{}",
        r.text()
    );
}
