//! End to end under `wrangler dev`, with the real git: clones that race a
//! change (issue 10). A clone is two requests, the refs and then the fetch
//! of the advertised commit; when the member's view changes in between,
//! the fetch still gets the view it was shown, for a commit advertised to
//! that same user within the window (`ADVERTISEMENT_WINDOW_SECONDS`).
//! Files replaced since are read from the rows the write retired. Outside
//! the window, for another user, or once the view can no longer be built
//! (and was never cached), it is refused.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::json;
use support::api::Api;
use support::archives::{marketplace, zip_of};
use support::checks::{basic_auth, pkt};
use support::git_cli::{git, git_raw, TempDir};
use support::http_client::request;
use support::store::{published, send, skill_zip_with};
use support::wrangler::{wrangler, wrangler_with};

/// `HEAD`'s commit as `git ls-remote` (protocol v2, so `ls-refs`) shows it.
fn ls_remote(url: &str) -> String {
    let out = git(
        Path::new("."),
        &["-c", "protocol.version=2", "ls-remote", url, "HEAD"],
    );
    out.split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("ls-remote printed nothing"))
        .to_string()
}

/// `git fetch --depth 1 <url> <commit>` into a new repository.
fn fetch_commit(url: &str, commit: &str) -> (TempDir, Output) {
    let dir = TempDir::new("race-fetch");
    git(dir.path(), &["init", "-q"]);
    let out = git_raw(
        dir.path(),
        &[
            "-c",
            "protocol.version=2",
            "fetch",
            "-q",
            "--depth",
            "1",
            url,
            commit,
        ],
        None,
    );
    (dir, out)
}

/// The files of the fetched commit, after `fsck --strict` passed.
fn fetched_files(dir: &Path, commit: &str) -> Vec<String> {
    git(dir, &["fsck", "--strict", "--no-dangling"]);
    git(dir, &["ls-tree", "-r", "--name-only", commit])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn has_plugin(files: &[String], dir: &str) -> bool {
    files
        .iter()
        .any(|f| f.starts_with(&format!("plugins/{dir}/")))
}

#[test]
fn a_fetch_after_a_grant_changed_gets_the_view_that_was_advertised() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("race-grant", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let shown = ls_remote(&url);
    api.grant("race-grant-g", "race-grant", "beta", "available");
    let now = api.info(&token)["commit"].as_str().unwrap().to_string();
    assert_ne!(shown, now, "granting beta must change the view");

    // Never cloned, so no pack is cached: it is rebuilt from its definition.
    let (dir, out) = fetch_commit(&url, &shown);
    assert!(
        out.status.success(),
        "fetch of the advertised commit: {}",
        stderr(&out)
    );
    let files = fetched_files(dir.path(), &shown);
    assert!(has_plugin(&files, "race-grant-alpha"), "{files:?}");
    assert!(
        !has_plugin(&files, "race-grant-beta"),
        "beta was not in the view shown: {files:?}"
    );

    // Again, now from the pack that fetch cached; and the current view too.
    let (dir, out) = fetch_commit(&url, &shown);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fetched_files(dir.path(), &shown), files);
    let (dir, out) = fetch_commit(&url, &now);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(has_plugin(
        &fetched_files(dir.path(), &now),
        "race-grant-beta"
    ));
}

#[test]
fn a_protocol_v0_fetch_of_the_advertised_commit_is_served_too() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("race-v0", &[("alpha", "available"), ("beta", "available")]);
    let url = api.git_url(&token);
    let shown = ls_remote(&url);
    let r = api.call(&token, "PUT", "/api/me/optouts/race-v0/beta", None);
    assert!(r.status < 300, "opt-out: {}", r.text());
    assert_ne!(
        api.info(&token)["commit"].as_str().unwrap(),
        shown,
        "the opt-out must change the view"
    );

    // git refuses to ask a v0 server for an unadvertised commit, so the
    // request is sent as git would send it.
    let mut body = pkt(&format!("want {shown} side-band-64k ofs-delta\n"));
    body.extend(pkt("deepen 1\n"));
    body.extend(b"0000");
    body.extend(pkt("done\n"));
    let r = request(
        &wrangler().base,
        "POST",
        "/marketplace.git/git-upload-pack",
        &[
            ("Authorization", &basic_auth(&token)),
            ("Content-Type", "application/x-git-upload-pack-request"),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains(&format!("shallow {shown}")), "{text:.300}");
    assert!(
        r.body.windows(4).any(|w| w == b"PACK"),
        "no pack in: {text:.300}"
    );
    assert!(!text.contains("not our ref"), "{text:.300}");
}

#[test]
fn another_users_commit_is_not_ours_even_within_the_window() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("race-other", &[("alpha", "available")]);
    let shown = ls_remote(&api.git_url(&token));
    let other = api.user_with_token("race-other-2");
    api.group("race-other-g2", &["race-other-2"]);
    api.grant("race-other-g2", "race-other", "gamma", "available");
    let (_dir, out) = fetch_commit(&api.git_url(&other), &shown);
    assert!(
        !out.status.success(),
        "another user's view must not be served"
    );
    assert!(stderr(&out).contains("not our ref"), "{}", stderr(&out));
}

#[test]
fn a_plugin_whose_files_changed_since_the_advertisement_is_rebuilt_from_its_retired_rows() {
    let api = Api::new(&wrangler().base);
    // Never cloned, so nothing is cached: the import retired alpha's v1 rows.
    let token = api.scenario("race-files", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let shown = ls_remote(&url);
    let r = api.import("race-files", &zip_of(&marketplace("race-files", "2.0.0")));
    assert_eq!(r.status, 200, "{}", r.text());
    let now = api.info(&token)["commit"].as_str().unwrap().to_string();
    assert_ne!(now, shown, "version 2.0.0 must change the view");
    let (dir, out) = fetch_commit(&url, &shown);
    assert!(out.status.success(), "{}", stderr(&out));
    fetched_files(dir.path(), &shown);
    let command = git(
        dir.path(),
        &[
            "show",
            &format!("{shown}:plugins/race-files-alpha/commands/alpha.md"),
        ],
    );
    assert!(command.contains("v1.0.0"), "{command}");
    // The current view is served as ever.
    let (dir, out) = fetch_commit(&url, &now);
    assert!(out.status.success(), "{}", stderr(&out));
    let command = git(
        dir.path(),
        &[
            "show",
            &format!("{now}:plugins/race-files-alpha/commands/alpha.md"),
        ],
    );
    assert!(command.contains("v2.0.0"), "{command}");
}

#[test]
fn a_store_version_published_since_the_advertisement_does_not_reach_that_fetch() {
    let api = Api::new(&wrangler().base);
    let base = &wrangler().base;
    let owner = api.user_with_token("race-store-owner");
    let member = api.user_with_token("race-store-member");
    let id = published(
        base,
        &owner,
        "skill",
        "race-tips",
        &skill_zip_with("race-tips", "first tips"),
    );
    api.install(&member, id);
    let url = api.git_url(&member);
    let shown = ls_remote(&url);
    let r = send(
        base,
        &owner,
        "PUT",
        &format!("/api/store/entities/{id}"),
        &[],
        &skill_zip_with("race-tips", "second tips"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (dir, out) = fetch_commit(&url, &shown);
    assert!(out.status.success(), "{}", stderr(&out));
    let files = fetched_files(dir.path(), &shown);
    let skill = files
        .iter()
        .find(|f| f.ends_with("race-tips-by-race-store-owner/SKILL.md"))
        .unwrap_or_else(|| panic!("no skill in {files:?}"));
    let body = git(dir.path(), &["show", &format!("{shown}:{skill}")]);
    assert!(body.contains("first tips"), "{body}");
}

#[test]
fn a_view_that_can_no_longer_be_built_is_refused_with_a_clear_message() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("race-entry", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let shown = ls_remote(&url);
    // Only alpha's manifest entry changes, not its files: nothing is
    // retired, and the current rows no longer make the view shown.
    let mut files = marketplace("race-entry", "1.0.0");
    let manifest = &mut files[0];
    assert_eq!(manifest.0, ".claude-plugin/marketplace.json");
    manifest.2 = String::from_utf8(manifest.2.clone())
        .unwrap()
        .replace("Alpha plugin", "Alpha plugin, described anew")
        .into_bytes();
    let r = api.import("race-entry", &zip_of(&files));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(api.info(&token)["commit"].as_str().unwrap(), shown);
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(
        !out.status.success(),
        "a view that can no longer be built must not be served"
    );
    assert!(
        stderr(&out).contains("changed while this request was in flight"),
        "{}",
        stderr(&out)
    );

    // Cloned, and fetched again so its pack is cached (a view's first miss
    // from pack segments caches nothing): served as it was.
    let token = api.scenario("race-cached", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let clone = TempDir::new("race-clone");
    git(clone.path(), &["clone", "-q", "--depth", "1", &url, "w"]);
    let shown = git(&clone.path().join("w"), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    api.cache_view(&token);
    let mut files = marketplace("race-cached", "1.0.0");
    files[0].2 = String::from_utf8(files[0].2.clone())
        .unwrap()
        .replace("Alpha plugin", "Alpha plugin, described anew")
        .into_bytes();
    let r = api.import("race-cached", &zip_of(&files));
    assert_eq!(r.status, 200, "{}", r.text());
    let (dir, out) = fetch_commit(&url, &shown);
    assert!(out.status.success(), "{}", stderr(&out));
    fetched_files(dir.path(), &shown);
}

#[test]
fn after_the_window_an_earlier_commit_is_not_ours() {
    let w = wrangler_with(&[("ADVERTISEMENT_WINDOW_SECONDS", "1")]);
    let api = Api::new(&w.base);
    let token = api.scenario("race-late", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let shown = ls_remote(&url);
    api.grant("race-late-g", "race-late", "beta", "available");
    // Records may lag a showing by 5 s, which lookups allow for.
    std::thread::sleep(std::time::Duration::from_secs(8));
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(
        !out.status.success(),
        "a commit advertised 8 s ago must be refused with a 1 s window"
    );
    assert!(stderr(&out).contains("not our ref"), "{}", stderr(&out));
    // And the GC collects the stale advertisement.
    api.admin("POST", "/api/admin/gc", Some(&json!({})), 200);
    let left = w.d1(
        "SELECT COUNT(*) AS n FROM advertisements WHERE commit_id = '{shown}'"
            .replace("{shown}", &shown)
            .as_str(),
    );
    assert_eq!(left[0]["n"], 0, "{left:?}");
}

/// Clones `url` at depth 1; the commit.
fn clone_head(url: &str) -> String {
    let clone = TempDir::new("race-brake");
    git(clone.path(), &["clone", "-q", "--depth", "1", url, "w"]);
    git(&clone.path().join("w"), &["rev-parse", "HEAD"])
}

#[test]
fn a_disable_or_an_unpublish_holds_for_a_commit_advertised_moments_ago() {
    let api = Api::new(&wrangler().base);
    let base = &wrangler().base;

    // A disabled plugin: the advertised commit (cloned and fetched again,
    // which caches its pack) is no longer served, on the very next request.
    let token = api.scenario("race-brake", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let shown = clone_head(&url);
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(out.status.success(), "before: {}", stderr(&out));
    api.admin(
        "PUT",
        "/api/admin/plugins/race-brake/alpha/disabled",
        None,
        204,
    );
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(
        !out.status.success(),
        "a disabled plugin's commit must not be served"
    );
    assert!(stderr(&out).contains("not our ref"), "{}", stderr(&out));
    let now = api.info(&token)["commit"].as_str().unwrap().to_string();
    let (_dir, out) = fetch_commit(&url, &now);
    assert!(out.status.success(), "the current view: {}", stderr(&out));

    // An unpublished Store entity, likewise.
    let owner = api.user_with_token("race-brake-owner");
    let member = api.user_with_token("race-brake-member");
    let id = published(
        base,
        &owner,
        "skill",
        "brake-tips",
        &skill_zip_with("brake-tips", "tips"),
    );
    api.install(&member, id);
    let url = api.git_url(&member);
    let shown = clone_head(&url);
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(out.status.success(), "before: {}", stderr(&out));
    api.admin(
        "PUT",
        &format!("/api/admin/store/entities/{id}/unpublished"),
        None,
        204,
    );
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(
        !out.status.success(),
        "an unpublished entity's commit must not be served"
    );
    assert!(stderr(&out).contains("not our ref"), "{}", stderr(&out));

    // A grant revoked since the advertisement: also a brake.
    let token = api.scenario("race-revoke", &[("alpha", "available")]);
    let url = api.git_url(&token);
    let shown = clone_head(&url);
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "DELETE",
        "/api/admin/groups/race-revoke-g/grants/race-revoke/alpha",
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let (_dir, out) = fetch_commit(&url, &shown);
    assert!(!out.status.success(), "a revoked grant's commit");
    assert!(stderr(&out).contains("not our ref"), "{}", stderr(&out));
}

#[test]
fn a_zip_built_after_its_view_changed_carries_the_etag_of_what_it_holds() {
    // The ZIP's head is read, then the build pauses 3 s; beta is granted
    // meanwhile, so the files are the new view's.
    let w = wrangler_with(&[
        ("FAILPOINT_PAUSE", "zip-build"),
        ("FAILPOINT_PAUSE_SECONDS", "3"),
    ]);
    let api = Api::new(&w.base);
    let token = api.scenario("race-zip", &[("alpha", "available")]);
    let before = api.info(&token)["etag"].as_str().unwrap().to_string();
    let (base, t) = (w.base.clone(), token.clone());
    let zipping = std::thread::spawn(move || Api::new(&base).zip(&t));
    w.wait_for_pause("zip-build");
    api.grant("race-zip-g", "race-zip", "beta", "available");
    let r = zipping.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let after = api.info(&token)["etag"].as_str().unwrap().to_string();
    assert_ne!(before, after, "granting beta changes the view");
    assert_eq!(r.header("etag"), Some(format!("\"{after}\"").as_str()));
    let files = support::archives::python_unzip(&r.body);
    assert!(
        files
            .keys()
            .any(|n| n.starts_with("plugins/race-zip-beta/")),
        "{:?}",
        files.keys()
    );
}
