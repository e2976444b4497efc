//! End to end under `wrangler dev`: what an organisation's security review
//! asks of the API (issue 11): no internal storage key in a response, a
//! Store file view that serves any file name as a download, served names
//! no one can squat, the development ADMIN_TOKEN refused outside local
//! development, a 500 that shows a request id and not its cause, and one
//! structured log line per request that never holds a token or secret.

mod support;

use serde_json::{json, Value};
use support::api::{Api, ADMIN_TOKEN};
use support::archives::{zip_of, FileSpec};
use support::checks::{upload_pack_v2, v2_request};
use support::git_cli::{shallow_clone, TempDir};
use support::http_client::{request, RawResponse};
use support::store::{created_id, published, send, skill_zip, upload};
use support::wrangler::{wrangler, wrangler_with};

fn f(path: &str, content: &str) -> FileSpec {
    (path.to_string(), false, content.as_bytes().to_vec())
}

fn ls_refs(base: &str, token: &str) -> RawResponse {
    upload_pack_v2(
        base,
        token,
        &v2_request("ls-refs", &["ref-prefix HEAD".into()]),
    )
}

/// The server's log once it mentions `text` (it is written a moment after
/// the response), waiting up to 10 s.
fn log_with(w: &support::wrangler::Wrangler, text: &str) -> String {
    for _ in 0..100 {
        let log = std::fs::read_to_string(&w.log).unwrap_or_default();
        if log.contains(text) {
            return log;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::read_to_string(&w.log).unwrap_or_default()
}

#[test]
fn store_responses_carry_no_storage_keys() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let owner = api.user_with_token("sec-keys");
    let created = upload(
        &w.base,
        &owner,
        "/api/store/entities",
        "skill",
        "sec-keys-skill",
        &skill_zip("sec-keys-skill"),
    );
    let id = created_id(&created);
    let detail = api.call(&owner, "GET", &format!("/api/store/entities/{id}"), None);
    let listing = api.call(&owner, "GET", "/api/store/entities", None);
    for (what, r) in [
        ("upload", &created),
        ("detail", &detail),
        ("listing", &listing),
    ] {
        assert!(r.status < 300, "{what}: {}", r.text());
        let text = r.text();
        assert!(
            !text.contains("entries_key") && !text.contains("entries/"),
            "{what} shows a storage key: {text}"
        );
    }
}

#[test]
fn a_store_file_of_any_name_is_served_as_a_download() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let owner = api.user_with_token("sec-files");
    let zip = zip_of(&[
        f(
            "sec-files-skill/SKILL.md",
            "---\nname: sec-files-skill\ndescription: d\n---\n\nBody.\n",
        ),
        f("sec-files-skill/reference guide.md", "# spaced\n"),
        f("sec-files-skill/résumé.md", "# accented\n"),
        f("sec-files-skill/page.html", "<script>alert(1)</script>\n"),
    ]);
    let id = published(&w.base, &owner, "skill", "sec-files-skill", &zip);
    let detail: Value = serde_json::from_slice(
        &api.call(&owner, "GET", &format!("/api/store/entities/{id}"), None)
            .body,
    )
    .unwrap();
    let paths: Vec<String> = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    for (name, content) in [
        ("reference guide.md", "# spaced\n"),
        ("résumé.md", "# accented\n"),
        ("page.html", "<script>alert(1)</script>\n"),
    ] {
        let path = paths
            .iter()
            .find(|p| p.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in {paths:?}"));
        let encoded: Vec<String> = path
            .split('/')
            .map(|seg| {
                seg.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect()
            })
            .collect();
        let r = api.call(
            &owner,
            "GET",
            &format!("/api/store/entities/{id}/files/{}", encoded.join("/")),
            None,
        );
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.text(), content);
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let disposition = r.header("content-disposition").unwrap_or_default();
        assert!(
            disposition.starts_with("attachment;"),
            "{name}: {disposition}"
        );
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }
    let broken = api.call(
        &owner,
        "GET",
        &format!("/api/store/entities/{id}/files/%C3"),
        None,
    );
    assert_eq!(broken.status, 400, "{}", broken.text());
    assert!(broken.text().contains("bad_file_path"), "{}", broken.text());
}

#[test]
fn a_served_name_cannot_be_taken_by_another_owner() {
    let w = wrangler();
    let api = Api::new(&w.base);
    // `a` by `b-by-c` is served as `a-by-b-by-c` ...
    let first = api.user_with_token("sqb-by-c");
    let r = upload(
        &w.base,
        &first,
        "/api/store/entities",
        "skill",
        "sqa",
        &skill_zip("sqa"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.text().contains("sqa-by-sqb-by-c"), "{}", r.text());
    // ... and `a-by-b` by `c` would be too: refused, in words.
    let second = api.user_with_token("c");
    let r = upload(
        &w.base,
        &second,
        "/api/store/entities",
        "skill",
        "sqa-by-sqb",
        &skill_zip("sqa-by-sqb"),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("\"code\":\"ambiguous_name\""),
        "{}",
        r.text()
    );
}

#[test]
fn the_development_admin_token_is_refused_outside_local_development() {
    let w = wrangler_with(&[("LOCAL_DEV", "0")]);
    let r = Api::new(&w.base).call(ADMIN_TOKEN, "GET", "/api/admin/users", None);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("\"code\":\"admin_token_unsafe\""),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("wrangler secret put ADMIN_TOKEN"),
        "{}",
        r.text()
    );
    // Under local development (`.dev.vars`), the same token works.
    let r = Api::new(&wrangler().base).call(ADMIN_TOKEN, "GET", "/api/admin/users", None);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn test_hooks_are_ignored_outside_local_development() {
    // A deployment (LOCAL_DEV not 1) with a strong admin token and a
    // failpoint set: the import is not paused, and the log says why.
    let strong = "a-strong-admin-token-for-this-test-0123456789";
    let w = wrangler_with(&[
        ("LOCAL_DEV", "0"),
        ("ADMIN_TOKEN", strong),
        ("FAILPOINT_PAUSE", "catalog-commit:sec-hooks"),
        ("FAILPOINT_PAUSE_SECONDS", "60"),
    ]);
    let started = std::time::Instant::now();
    let r = request(
        &w.base,
        "PUT",
        "/api/admin/marketplaces/sec-hooks",
        &[("Authorization", &format!("Bearer {strong}"))],
        &zip_of(&support::archives::marketplace("sec-hooks", "1.0.0")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the import paused at the failpoint: {:?}",
        started.elapsed()
    );
    assert!(!w.paused_at("catalog-commit:sec-hooks"));
    let log = std::fs::read_to_string(&w.log).unwrap();
    assert!(
        log.contains("FAILPOINT_PAUSE is set, but it is a test hook"),
        "no warning in the log"
    );
}

#[test]
fn a_500_shows_a_request_id_and_the_log_holds_the_cause() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-500", &[("alpha", "available")]);
    assert_eq!(ls_refs(&w.base, &token).status, 200);
    // The memoised head is written after the response.
    let memo = || {
        w.d1("SELECT COUNT(*) AS n FROM view_heads")[0]["n"]
            .as_i64()
            .unwrap()
    };
    for _ in 0..40 {
        if memo() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    w.d1("UPDATE view_heads SET tree_id = 'not-an-object-id'");
    let r = ls_refs(&w.base, &token);
    assert_eq!(r.status, 500, "{}", r.text());
    let id = r.header("x-request-id").expect("X-Request-Id").to_string();
    let text = r.text();
    assert!(text.contains(&id), "{text}");
    assert!(
        !text.contains("corrupt") && !text.contains("user "),
        "the cause leaked: {text}"
    );
    let log = log_with(&w, &id);
    let line = log
        .lines()
        .find(|l| l.contains(&id) && l.contains("detail"))
        .unwrap_or_else(|| panic!("no log line for {id}:\n{log}"));
    assert!(line.contains("corrupt"), "{line}");
}

#[test]
fn every_request_leaves_one_json_log_line_and_no_secret() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-log", &[("alpha", "available")]);
    let user = api.admin("GET", "/api/admin/users/sec-log-user", None, 200);
    let user_id = user["user"]["id"].as_i64().or(user["id"].as_i64());
    assert!(user_id.is_some(), "{user}");
    // A clone (Basic), the API (Bearer), a ZIP, a UI session and a second
    // token made by the admin.
    let dir = TempDir::new("sec-log");
    assert!(shallow_clone(dir.path(), &api.git_url(&token))
        .status
        .success());
    let zip = api.zip(&token);
    assert_eq!(zip.status, 200);
    let session = api.ui_session(&token);
    let me = request(
        &w.base,
        "GET",
        "/api/me/stack",
        &[("Cookie", &format!("mpe_session={session}"))],
        b"",
    );
    assert_eq!(me.status, 200, "{}", me.text());
    let second = api.admin(
        "POST",
        "/api/admin/users/sec-log-user/tokens",
        Some(&json!({"name": "second"})),
        201,
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ls_refs(&w.base, &second).status, 200);

    let zip_id = zip.header("x-request-id").unwrap().to_string();
    let log = log_with(&w, &zip_id);
    for (what, secret) in [
        ("ADMIN_TOKEN", ADMIN_TOKEN),
        ("a token", &token),
        ("a second token", &second),
        ("a session id", &session),
    ] {
        assert!(!log.contains(secret), "the log holds {what}");
    }
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with("{\"request_id\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let zip_line = lines
        .iter()
        .find(|l| l["request_id"] == zip_id)
        .unwrap_or_else(|| panic!("no line for the ZIP request {zip_id}"));
    assert_eq!(zip_line["path"], "/marketplace.zip");
    assert_eq!(zip_line["status"], 200);
    assert_eq!(zip_line["user"].as_i64(), user_id);
    assert_eq!(zip_line["cache"], "built");
    assert!(zip_line["ms"].is_number());
    let fetches = lines
        .iter()
        .filter(|l| {
            l["path"] == "/marketplace.git/git-upload-pack" && l["user"].as_i64() == user_id
        })
        .count();
    assert!(
        fetches >= 2,
        "the clone's ls-refs and fetch each logged a line: {lines:?}"
    );
}

#[test]
fn tokens_expire_and_listings_show_prefix_and_last_use() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-tok", &[("alpha", "available")]);
    let made = api.admin(
        "POST",
        "/api/admin/users/sec-tok-user/tokens",
        Some(&json!({"name": "laptop", "expires_in_days": 30})),
        201,
    );
    let short = made["token"].as_str().unwrap().to_string();
    assert_eq!(made["prefix"].as_str().unwrap(), &short[..10]);
    assert_eq!(ls_refs(&w.base, &short).status, 200);
    for bad in [json!(0), json!(3651), json!(-1)] {
        let r = api.call(
            ADMIN_TOKEN,
            "POST",
            "/api/admin/users/sec-tok-user/tokens",
            Some(&json!({"name": "x", "expires_in_days": bad})),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains("bad_expiry"), "{}", r.text());
    }

    // The listing: name, prefix, creation, expiry and (after the response)
    // last use; never the secret or its hash.
    let listed = || api.admin("GET", "/api/admin/users/sec-tok-user/tokens", None, 200);
    let mut laptop = Value::Null;
    for _ in 0..40 {
        laptop = listed()["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "laptop")
            .cloned()
            .unwrap();
        if laptop["last_used_at"].is_number() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(laptop["last_used_at"].is_number(), "{laptop}");
    assert_eq!(laptop["prefix"].as_str().unwrap(), &short[..10]);
    assert!(
        laptop["expires_at"].as_i64().unwrap()
            > laptop["created_at"].as_i64().unwrap() + 29 * 86400
    );
    let text = listed().to_string();
    assert!(!text.contains(&short) && !text.contains("sha256"), "{text}");

    // Past its expiry, it is refused everywhere, like a revoked token.
    w.d1("UPDATE tokens SET expires_at = unixepoch() - 1 WHERE name = 'laptop'");
    assert_eq!(ls_refs(&w.base, &short).status, 401);
    assert_eq!(api.call(&short, "GET", "/api/me/stack", None).status, 401);
    assert_eq!(api.zip(&short).status, 401);
    // The user's other token still works.
    assert_eq!(ls_refs(&w.base, &token).status, 200);

    // At most 100 live tokens: with the scenario's one (the expired token
    // does not count), 99 more fit; the next is refused and stores
    // nothing, until one is revoked.
    let create = |name: &str| {
        api.call(
            &token,
            "POST",
            "/api/me/tokens",
            Some(&json!({ "name": name })),
        )
    };
    let mut last = Value::Null;
    for i in 0..99 {
        let r = create(&format!("bulk-{i}"));
        assert_eq!(r.status, 201, "token {i}: {}", r.text());
        last = serde_json::from_slice(&r.body).unwrap();
    }
    let count = || listed()["tokens"].as_array().unwrap().len();
    let before = count();
    let refused = create("one-too-many");
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(
        refused.text().contains("too_many_tokens"),
        "{}",
        refused.text()
    );
    assert_eq!(count(), before);
    let id = last["id"].as_str().unwrap();
    assert_eq!(
        api.call(&token, "DELETE", &format!("/api/me/tokens/{id}"), None)
            .status,
        204
    );
    assert_eq!(create("after-a-revoke").status, 201);
}

#[test]
fn a_disabled_user_is_shut_out_at_once_and_their_store_entities_stay() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-off", &[("alpha", "available")]);
    let id = published(
        &w.base,
        &token,
        "skill",
        "sec-off-skill",
        &skill_zip("sec-off-skill"),
    );
    let member = api.user_with_token("sec-off-member");
    api.install(&member, id);
    let cookie = format!("mpe_session={}", api.ui_session(&token));
    let with_cookie = || request(&w.base, "GET", "/api/me/stack", &[("Cookie", &cookie)], b"");
    assert_eq!(with_cookie().status, 200);

    api.admin("PUT", "/api/admin/users/sec-off-user/disabled", None, 204);
    assert_eq!(ls_refs(&w.base, &token).status, 401, "git");
    assert_eq!(
        api.call(&token, "GET", "/api/me/stack", None).status,
        401,
        "API"
    );
    assert_eq!(api.zip(&token).status, 401, "ZIP");
    assert_eq!(with_cookie().status, 401, "session");
    let shown = api.admin("GET", "/api/admin/users/sec-off-user", None, 200);
    assert_eq!(shown["user"]["disabled"], true, "{shown}");
    // Their Store skill is still in the member's clone.
    let dir = TempDir::new("sec-off");
    assert!(shallow_clone(dir.path(), &api.git_url(&member))
        .status
        .success());
    assert!(
        std::fs::read_dir(dir.path().join("w/plugins"))
            .unwrap()
            .count()
            > 0,
        "the member's view still has the store bundle"
    );

    // Enabled again, the same token works.
    api.admin(
        "DELETE",
        "/api/admin/users/sec-off-user/disabled",
        None,
        204,
    );
    assert_eq!(ls_refs(&w.base, &token).status, 200);

    // Deleted: their tokens and the name are gone.
    api.admin("DELETE", "/api/admin/users/sec-off-user", None, 204);
    assert_eq!(ls_refs(&w.base, &token).status, 401);
    api.admin("GET", "/api/admin/users/sec-off-user", None, 404);
    api.user_with_token("sec-off-user");
}

#[test]
fn a_plugin_disabled_while_an_import_runs_stays_disabled() {
    // The import of version 2 pauses for 3 s before its D1 batch; the
    // admin disables alpha meanwhile.
    let w = wrangler_with(&[
        ("FAILPOINT_PAUSE", "catalog-commit:sec-race-v2"),
        ("FAILPOINT_PAUSE_SECONDS", "3"),
    ]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-race", &[("alpha", "available"), ("beta", "available")]);
    let base = w.base.clone();
    let importing = std::thread::spawn(move || {
        Api::new(&base)
            .import(
                "sec-race",
                &zip_of(&support::archives::marketplace("sec-race-v2", "2.0.0")),
            )
            .status
    });
    w.wait_for_pause("catalog-commit:sec-race-v2");
    api.admin(
        "PUT",
        "/api/admin/plugins/sec-race/alpha/disabled",
        None,
        204,
    );
    assert_eq!(importing.join().unwrap(), 200);
    let info = api.info(&token);
    let dirs: Vec<&str> = info["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["directory"].as_str().unwrap())
        .collect();
    assert_eq!(
        dirs,
        ["plugins/sec-race-beta"],
        "alpha was disabled during the import: {info}"
    );
    let listed = api.admin("GET", "/api/admin/marketplaces/sec-race", None, 200);
    assert!(
        listed.to_string().contains("2.0.0"),
        "the import landed: {listed}"
    );
}

#[test]
fn bodies_without_a_length_are_refused_once_past_their_limit_and_never_held() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-body", &[("alpha", "available")]);
    let id = published(
        &w.base,
        &token,
        "skill",
        "sec-body-skill",
        &skill_zip("sec-body-skill"),
    );
    // The isolate's memory, from the log line of each response (a probe
    // right after such bodies could meet wrangler dev mid-reload).
    let r = api.call(ADMIN_TOKEN, "GET", "/api/admin/runtime", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let before = w.peak_wasm_memory_through(r.header("x-request-id").unwrap());
    // 150 MB, chunked: more than the isolate's 128 MB could ever hold.
    let big = 150 << 20;
    let bearer = format!("Bearer {token}");
    let basic = support::checks::basic_auth(&token);
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let form = "multipart/form-data; boundary=sec-body";
    let version = format!("/api/store/entities/{id}");
    let mut last = String::new();
    for (what, method, path, headers) in [
        (
            "git",
            "POST",
            "/marketplace.git/git-upload-pack",
            vec![
                ("Authorization", basic.as_str()),
                ("Content-Type", "application/x-git-upload-pack-request"),
                ("Git-Protocol", "version=2"),
            ],
        ),
        (
            "JSON",
            "POST",
            "/api/admin/users",
            vec![
                ("Authorization", admin.as_str()),
                ("Content-Type", "application/json"),
            ],
        ),
        (
            "Store upload",
            "POST",
            "/api/store/entities",
            vec![("Authorization", bearer.as_str()), ("Content-Type", form)],
        ),
        (
            "Store version",
            "PUT",
            version.as_str(),
            vec![("Authorization", bearer.as_str()), ("Content-Type", form)],
        ),
    ] {
        let mut r =
            support::http_client::request_chunked(&w.base, method, path, &headers, b'x', big);
        // wrangler dev's local runtime, not the Worker, sometimes restarts
        // under a 150 MB body (it says so in its own 503): once settled,
        // the same request is sent again.
        if r.status == 503 && r.text().contains("restarted mid-request") {
            w.wait_until_settled();
            r = support::http_client::request_chunked(&w.base, method, path, &headers, b'x', big);
        }
        assert_eq!(r.status, 413, "{what}: {}", r.text());
        assert!(r.text().contains("body_too_large"), "{what}: {}", r.text());
        last = r.header("x-request-id").unwrap().to_string();
    }
    // Each refusal went after its whole body was read (and dropped).
    let after = w.peak_wasm_memory_through(&last);
    assert!(
        after < before + (32 << 20),
        "reading refused bodies grew WebAssembly memory from {before} to {after} bytes"
    );
    // And the Worker still serves. (After bodies this large, wrangler dev
    // sometimes restarts the local runtime and answers 503 "restarted
    // mid-request" for a moment; it must serve again once back.)
    w.wait_until_settled();
    let mut status = 0;
    for _ in 0..40 {
        status = ls_refs(&w.base, &token).status;
        if status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(status, 200);
}

#[test]
fn a_store_version_with_a_bad_detail_changes_nothing() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let owner = api.user_with_token("sec-ver-owner");
    let member = api.user_with_token("sec-ver-member");
    let id = published(
        &w.base,
        &owner,
        "skill",
        "sec-ver",
        &support::store::skill_zip_with("sec-ver", "first tips"),
    );
    api.install(&member, id);
    let skill_body = || {
        let dir = TempDir::new("sec-ver");
        assert!(shallow_clone(dir.path(), &api.git_url(&member))
            .status
            .success());
        let path = dir
            .path()
            .join("w/plugins/store-bundle/skills/sec-ver-by-sec-ver-owner/SKILL.md");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    assert!(skill_body().contains("first tips"));
    let put = |photo: &str, body: &str| {
        support::store::send(
            &w.base,
            &owner,
            "PUT",
            &format!("/api/store/entities/{id}"),
            &[("photo_url", photo)],
            &support::store::skill_zip_with("sec-ver", body),
        )
    };
    let refused = put("javascript:alert(1)", "second tips");
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("bad_url"), "{}", refused.text());
    let e = &serde_json::from_slice::<Value>(
        &api.call(&owner, "GET", &format!("/api/store/entities/{id}"), None)
            .body,
    )
    .unwrap()["entity"];
    assert_eq!(e["version"], 1, "the refused version must not be live: {e}");
    assert!(
        skill_body().contains("first tips"),
        "members still get the old files"
    );

    let accepted = put("https://example.com/tips.png", "second tips");
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let e = &serde_json::from_slice::<Value>(&accepted.body).unwrap()["entity"];
    assert_eq!(
        (e["version"].clone(), e["photo_url"].clone()),
        (json!(2), json!("https://example.com/tips.png")),
        "{e}"
    );
    assert!(skill_body().contains("second tips"));
}

#[test]
fn an_admin_unpublishes_a_store_entity_from_every_stack_and_restores_it() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let owner = api.user_with_token("sec-mod-owner");
    let member = api.user_with_token("sec-mod-member");
    // A category of its own, so the Store's filter choices show whether
    // this entity is listed.
    let fields = [
        ("type", "skill"),
        ("name", "sec-mod"),
        ("title", "A title"),
        ("tagline", "A tagline"),
        ("description", "A longer description"),
        ("category", "sec-mod-category"),
    ];
    let id = created_id(&send(
        &w.base,
        &owner,
        "POST",
        "/api/store/entities",
        &fields,
        &skill_zip("sec-mod"),
    ));
    api.install(&member, id);
    let in_facets = || {
        let f: Value =
            serde_json::from_slice(&api.call(&member, "GET", "/api/store/facets", None).body)
                .unwrap();
        let has = |k: &str, v: &str| f[k].as_array().unwrap().iter().any(|x| x == v);
        (
            has("categories", "sec-mod-category"),
            has("owners", "sec-mod-owner"),
        )
    };
    assert_eq!(in_facets(), (true, true));
    let in_stack = || {
        let dir = TempDir::new("sec-mod");
        assert!(shallow_clone(dir.path(), &api.git_url(&member))
            .status
            .success());
        dir.path()
            .join("w/plugins/store-bundle/skills/sec-mod-by-sec-mod-owner/SKILL.md")
            .exists()
    };
    let listed = || {
        api.call(
            &member,
            "GET",
            "/api/store/entities?owner=sec-mod-owner",
            None,
        )
        .text()
        .contains("sec-mod-by-sec-mod-owner")
    };
    assert!(in_stack() && listed());

    api.admin(
        "PUT",
        &format!("/api/admin/store/entities/{id}/unpublished"),
        None,
        204,
    );
    assert!(!in_stack(), "an unpublished entity leaves every stack");
    assert!(!listed(), "and the Store");
    assert_eq!(
        in_facets(),
        (false, false),
        "nor its category and owner among the Store's filters"
    );
    assert_eq!(
        api.call(&member, "GET", &format!("/api/store/entities/{id}"), None)
            .status,
        404
    );
    assert_eq!(
        api.call(
            &member,
            "POST",
            &format!("/api/store/entities/{id}/install"),
            None
        )
        .status,
        404
    );
    let own = api.call(&owner, "GET", &format!("/api/store/entities/{id}"), None);
    assert_eq!(own.status, 200, "its owner still sees it: {}", own.text());
    assert!(
        serde_json::from_slice::<Value>(&own.body).unwrap()["entity"]["unpublished_at"].is_number()
    );
    // Its owner sees it but cannot install it (nothing would be served).
    let r = api.call(
        &owner,
        "POST",
        &format!("/api/store/entities/{id}/install"),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("entity_unpublished"), "{}", r.text());
    // Admins find it among the unpublished.
    let unpublished = api.admin("GET", "/api/admin/store/unpublished", None, 200);
    let found = unpublished["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .expect("listed as unpublished");
    assert!(found["unpublished_at"].is_number() && found.get("entries_key").is_none());

    api.admin(
        "DELETE",
        &format!("/api/admin/store/entities/{id}/unpublished"),
        None,
        204,
    );
    assert!(in_stack() && listed(), "restored, it is back where it was");
    assert_eq!(in_facets(), (true, true));
    let unpublished = api.admin("GET", "/api/admin/store/unpublished", None, 200);
    assert!(!unpublished.to_string().contains("sec-mod-by-sec-mod-owner"));
    api.admin(
        "PUT",
        "/api/admin/store/entities/999999/unpublished",
        None,
        404,
    );
}

#[test]
fn the_audit_log_records_who_changed_what_and_pages_with_filters() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.scenario(
        "sec-audit",
        &[("alpha", "available"), ("beta", "available")],
    );
    let r = api.call(&token, "PUT", "/api/me/optouts/sec-audit/beta", None);
    assert_eq!(r.status, 204, "{}", r.text());
    let optout_id = r.header("x-request-id").unwrap().to_string();
    let created = upload(
        &w.base,
        &token,
        "/api/store/entities",
        "skill",
        "sec-audit-skill",
        &skill_zip("sec-audit-skill"),
    );
    let id = created_id(&created);
    api.admin(
        "PUT",
        &format!("/api/admin/store/entities/{id}/unpublished"),
        None,
        204,
    );
    // Refused and read-only requests are not recorded.
    api.call(&token, "GET", "/api/admin/users", None);
    api.admin("GET", "/api/admin/users", None, 200);

    let page = |query: &str| api.admin("GET", &format!("/api/admin/audit{query}"), None, 200);
    let all = page("");
    let entries = all["entries"].as_array().unwrap();
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first.
    assert_eq!(
        actions[0],
        (
            "ADMIN_TOKEN",
            "store.unpublish",
            format!("admin/store/entities/{id}/unpublished").as_str()
        )
    );
    assert_eq!(
        actions[1],
        ("sec-audit-user", "store.publish", "store/entities")
    );
    assert_eq!(
        actions[2],
        ("sec-audit-user", "optout.add", "me/optouts/sec-audit/beta")
    );
    for expected in [
        "marketplace.import",
        "user.create",
        "token.create",
        "group.create",
        "group.member.add",
        "grant.put",
    ] {
        assert!(
            actions.iter().any(|a| a.1 == expected),
            "{expected} missing from {actions:?}"
        );
    }
    assert!(
        !actions
            .iter()
            .any(|a| a.2 == "admin/users" && a.1 != "user.create"),
        "{actions:?}"
    );
    let optout = entries
        .iter()
        .find(|e| e["action"] == "optout.add")
        .unwrap();
    assert_eq!(optout["request_id"], optout_id.as_str());
    assert!(optout["actor_id"].is_number() && optout["at"].is_number() && optout["status"] == 204);
    assert!(
        !all.to_string().contains(&token),
        "the audit log holds no token"
    );

    // Filters and pages.
    let by_user = page("?actor=sec-audit-user");
    assert!(by_user["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"] == "sec-audit-user"));
    assert_eq!(by_user["entries"].as_array().unwrap().len(), 2);
    let grants = page("?action=grant");
    let grant_actions: Vec<&str> = grants["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(grant_actions, ["grant.put", "grant.put"]);
    let first = page("?limit=2");
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    let before = first["next_before"].as_i64().expect("a next page");
    let second = page(&format!("?limit=2&before={before}"));
    assert_eq!(second["entries"][0]["id"].as_i64().unwrap(), before - 1);
    assert_eq!(
        api.call(ADMIN_TOKEN, "GET", "/api/admin/audit?limit=0", None)
            .status,
        400
    );
    // Members cannot read it.
    assert_eq!(
        api.call(&token, "GET", "/api/admin/audit", None).status,
        403
    );

    // Web UI sessions: a sign-in and a sign-out are the user's; a sign-out
    // without a session is nobody's and leaves no entry.
    let ui = [("Origin", w.base.as_str()), ("X-Marketplace-Edge", "ui")];
    let mut headers = ui.to_vec();
    headers.push(("Content-Type", "application/json"));
    let body = json!({ "token": token }).to_string();
    let r = request(&w.base, "POST", "/api/session", &headers, body.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
    let mut headers = ui.to_vec();
    headers.push(("Cookie", cookie));
    let r = request(&w.base, "DELETE", "/api/session", &headers, b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = request(&w.base, "DELETE", "/api/session", &ui, b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let sessions = page("?action=session");
    let sessions: Vec<(&str, &str)> = sessions["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sessions,
        [
            ("sec-audit-user", "session.sign_out"),
            ("sec-audit-user", "session.sign_in")
        ]
    );
}

#[test]
fn repeated_failed_authentication_is_throttled_and_success_never_is() {
    let w = wrangler_with(&[("AUTH_FAILURE_LIMIT", "3")]);
    let api = Api::new(&w.base);
    let token = api.scenario("sec-throttle", &[("alpha", "available")]);
    let from = |ip: &str, secret: &str| {
        request(
            &w.base,
            "GET",
            "/api/me/stack",
            &[
                ("Authorization", &format!("Bearer {secret}")),
                ("CF-Connecting-IP", ip),
            ],
            b"",
        )
    };
    let wrong = "mpe_0000000000000000000000000000000000000000";
    for i in 0..3 {
        assert_eq!(from("203.0.113.7", wrong).status, 401, "failure {i}");
    }
    let throttled = from("203.0.113.7", wrong);
    assert_eq!(throttled.status, 429, "{}", throttled.text());
    assert!(
        throttled.text().contains("too_many_failures"),
        "{}",
        throttled.text()
    );
    let retry: i64 = throttled
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Git's wrong password is throttled the same way.
    let git = request(
        &w.base,
        "GET",
        "/marketplace.git/info/refs?service=git-upload-pack",
        &[
            ("Authorization", &support::checks::basic_auth(wrong)),
            ("CF-Connecting-IP", "203.0.113.7"),
        ],
        b"",
    );
    assert_eq!(git.status, 429);
    // The right token from that address is never held up, another address
    // is not throttled, and a request without credentials is no failure.
    assert_eq!(from("203.0.113.7", &token).status, 200);
    assert_eq!(from("198.51.100.9", wrong).status, 401);
    let bare = request(
        &w.base,
        "GET",
        "/api/me/stack",
        &[("CF-Connecting-IP", "192.0.2.1")],
        b"",
    );
    for _ in 0..4 {
        assert_eq!(
            request(
                &w.base,
                "GET",
                "/api/me/stack",
                &[("CF-Connecting-IP", "192.0.2.1")],
                b""
            )
            .status,
            401
        );
    }
    assert_eq!(bare.status, 401);
    // Once the window has passed, failures start over.
    w.d1("UPDATE auth_failures SET window_start = window_start - 120");
    assert_eq!(from("203.0.113.7", wrong).status, 401);
}

#[test]
fn admin_listings_page_and_the_audit_log_keeps_400_days() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    // Users, by name, two at a time: every one seen once, in order.
    for n in ["page-a", "page-b", "page-c", "page-d", "page-e"] {
        api.user_with_token(n);
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let page = api.admin("GET", &format!("/api/admin/users?limit=2{q}"), None, 200);
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2, "{page}");
        seen.extend(
            users
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["page-a", "page-b", "page-c", "page-d", "page-e"]);
    let r = api.call(ADMIN_TOKEN, "GET", "/api/admin/users?limit=501", None);
    assert_eq!((r.status, r.text().contains("bad_query")), (400, true));

    // Cached packs, newest first, one at a time.
    for (slug, plugin) in [("page-m", "alpha"), ("page-m", "beta")] {
        let user = format!("page-{plugin}-cloner");
        let token = api.user_with_token(&user);
        if api
            .call(ADMIN_TOKEN, "GET", "/api/admin/marketplaces/page-m", None)
            .status
            == 404
        {
            let r = api.import(
                slug,
                &zip_of(&support::archives::marketplace(slug, "1.0.0")),
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
        api.group(&format!("page-{plugin}-g"), &[&user]);
        api.grant(&format!("page-{plugin}-g"), slug, plugin, "available");
        let dir = TempDir::new("page-clone");
        assert!(shallow_clone(dir.path(), &api.git_url(&token))
            .status
            .success());
        // A view's first miss from segments caches nothing; its second does.
        api.cache_view(&token);
    }
    let first = api.admin("GET", "/api/admin/cache?limit=1", None, 200);
    assert_eq!(first["packs"].as_array().unwrap().len(), 1, "{first}");
    let before = first["next_before"].as_i64().expect("a next page");
    let older = api.admin(
        "GET",
        &format!("/api/admin/cache?limit=1&before={before}"),
        None,
        200,
    );
    assert_eq!(older["packs"].as_array().unwrap().len(), 1, "{older}");
    assert_ne!(older["packs"][0]["etag"], first["packs"][0]["etag"]);

    // Unpublished entities, newest first.
    let owner = api.user_with_token("page-owner");
    let ids: Vec<i64> = ["page-one", "page-two"]
        .iter()
        .map(|n| {
            let id = published(&w.base, &owner, "skill", n, &skill_zip(n));
            api.admin(
                "PUT",
                &format!("/api/admin/store/entities/{id}/unpublished"),
                None,
                204,
            );
            id
        })
        .collect();
    let first = api.admin("GET", "/api/admin/store/unpublished?limit=1", None, 200);
    assert_eq!(first["entities"][0]["id"], ids[1], "{first}");
    let before = first["next_before"].as_i64().expect("a next page");
    let older = api.admin(
        "GET",
        &format!("/api/admin/store/unpublished?limit=1&before={before}"),
        None,
        200,
    );
    assert_eq!(older["entities"][0]["id"], ids[0], "{older}");

    // The daily cron drops audit entries older than 400 days.
    w.d1(
        "INSERT INTO audit_log (at, request_id, actor, action, target, status) VALUES \
          (unixepoch() - 401 * 86400, 'old', 'someone', 'grant.put', 'x', 204), \
          (unixepoch() - 399 * 86400, 'kept', 'someone', 'grant.put', 'x', 204)",
    );
    let r = request(&w.base, "GET", "/__scheduled?cron=17+3+*+*+*", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let left: Vec<String> = w
        .d1("SELECT request_id FROM audit_log WHERE actor = 'someone'")
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["kept"]);
}
