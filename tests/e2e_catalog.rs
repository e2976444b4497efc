//! End to end, the edge marketplace: import → grant → clone under
//! `wrangler dev` (real workerd, local D1 and R2) with the real git CLI.
//! Each test uses its own users, groups and marketplace slugs, so they can
//! share one Worker.

mod support;

use serde_json::{json, Value};
use support::api::Api;
use support::archives::{
    content_version_of, marketplace, plugin_files, python_unzip, served_plugin_files, tar_gz_of,
    tar_gz_with_symlink, zip_of, zip_with_encrypted_entry, FileSpec,
};
use support::checks::{clone_view, eventually, ExpectedFiles};
use support::git_cli::{git, git_in, TempDir};
use support::http_client::request;
use support::wrangler::wrangler;

fn api() -> Api {
    Api::new(&wrangler().base)
}

fn expected(files: &[FileSpec]) -> ExpectedFiles {
    files
        .iter()
        .map(|(p, e, c)| (p.clone(), (*e, c.clone())))
        .collect()
}

/// Blob ids of `files` as real git computes them.
fn git_blob_ids(files: &[FileSpec]) -> Vec<String> {
    let tmp = TempDir::new("hash");
    files
        .iter()
        .map(|(_, _, c)| git_in(tmp.path(), &["hash-object", "--stdin"], Some(c)))
        .collect()
}

fn manifest_of(c: &support::checks::Cloned) -> Value {
    serde_json::from_slice(&c.files[".claude-plugin/marketplace.json"].1)
        .expect("served marketplace.json is JSON")
}

#[test]
fn import_grant_and_clone_with_v0_and_v2_full_and_shallow() {
    let api = api();
    let files = marketplace("acme", "1.0.0");
    let r = api.import("acme1", &zip_of(&files));
    assert_eq!(r.status, 200, "{}", r.text());
    let token = api.user_with_token("ann");
    api.group("ann-team", &["ann"]);
    api.grant("ann-team", "acme1", "alpha", "available");
    api.grant("ann-team", "acme1", "remote", "available");
    let info = api.info(&token);
    let listed = api.admin("GET", "/api/admin/marketplaces/acme1", None, 200);
    let served_name = |plugin: &str| {
        listed["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == plugin)
            .unwrap()["served_name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let served_names = vec![served_name("alpha"), served_name("remote")];
    let info_names: Vec<String> = info["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(info_names, served_names);
    let mut commits = Vec::new();
    for version in [0, 2] {
        for shallow in [false, true] {
            let c = clone_view(&api.git_url(&token), version, shallow);
            assert_eq!(c.commit, info["commit"], "v{version} shallow={shallow}");
            // The plugin's files, byte for byte with modes, and nothing else.
            assert_eq!(
                c.plugin("acme1-alpha"),
                expected(&served_plugin_files(&files, "alpha"))
            );
            let dirs: Vec<&String> = c
                .files
                .keys()
                .filter(|p| p.starts_with("plugins/"))
                .collect();
            assert!(
                dirs.iter().all(|p| p.starts_with("plugins/acme1-alpha/")),
                "{dirs:?}"
            );
            let m = manifest_of(&c);
            assert_eq!(m["metadata"]["version"], info["etag"]);
            let names: Vec<&str> = m["plugins"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            // Served names are catalog-wide and first come keeps a name:
            // other tests' marketplaces may hold `alpha` already. The
            // admin page, /marketplace/info and marketplace.json agree.
            assert_eq!(names, served_names);
            assert!(
                names[0] == "alpha" || names[0] == "alpha-acme1",
                "{names:?}"
            );
            assert_eq!(m["plugins"][0]["source"], "./plugins/acme1-alpha");
            assert_eq!(
                m["plugins"][0]["version"],
                content_version_of(&plugin_files(&files, "alpha"), Some("1.0.0".into()))
            );
            assert_eq!(
                m["plugins"][1]["source"],
                json!({"source": "github", "repo": "example/remote"})
            );
            commits.push(c.commit);
        }
    }
    assert!(commits.windows(2).all(|w| w[0] == w[1]));
    // The same archive as .tar.gz under a top folder is the same catalog state.
    let under_top: Vec<(Vec<u8>, bool, Vec<u8>)> = files
        .iter()
        .map(|(p, e, c)| (format!("acme-main/{p}").into_bytes(), *e, c.clone()))
        .collect();
    assert_eq!(api.import("acme1", &tar_gz_of(&under_top)).status, 200);
    assert_eq!(
        api.info(&token)["commit"],
        info["commit"],
        "re-import of identical content keeps the commit"
    );
}

#[test]
fn users_see_only_their_grants_down_to_the_objects() {
    let api = api();
    let files = marketplace("iso", "1.0.0");
    assert_eq!(api.import("iso", &zip_of(&files)).status, 200);
    let (t1, t2) = (
        api.user_with_token("iso-one"),
        api.user_with_token("iso-two"),
    );
    api.group("iso-g1", &["iso-one"]);
    api.group("iso-g2", &["iso-two"]);
    api.grant("iso-g1", "iso", "alpha", "available");
    api.grant("iso-g2", "iso", "beta", "available");
    let one = clone_view(&api.git_url(&t1), 2, false);
    let two = clone_view(&api.git_url(&t2), 0, false);
    assert_ne!(one.commit, two.commit);
    assert_eq!(
        one.plugin("iso-alpha"),
        expected(&served_plugin_files(&files, "alpha"))
    );
    assert_eq!(
        two.plugin("iso-beta"),
        expected(&served_plugin_files(&files, "beta"))
    );
    // No object of an ungranted plugin reaches either user, referenced or not.
    let objects_one = one.all_objects();
    // Upstream and served blobs (their plugin.json differ in the version).
    let blobs = |p: &str| {
        let mut ids = git_blob_ids(&plugin_files(&files, p));
        ids.extend(git_blob_ids(&served_plugin_files(&files, p)));
        ids
    };
    for id in blobs("beta").iter().chain(&blobs("gamma")) {
        assert!(
            !objects_one.contains(id),
            "user one received a blob of beta/gamma: {id}"
        );
    }
    let objects_two = two.all_objects();
    for id in blobs("alpha") {
        assert!(
            !objects_two.contains(&id),
            "user two received a blob of alpha: {id}"
        );
    }
}

/// The served plugin directories of a user, via a fresh clone.
fn served_dirs(api: &Api, token: &str) -> Vec<String> {
    let c = clone_view(&api.git_url(token), 2, true);
    let mut dirs: Vec<String> = c
        .files
        .keys()
        .filter_map(|p| p.strip_prefix("plugins/"))
        .filter_map(|p| p.split('/').next())
        .map(str::to_string)
        .collect();
    dirs.dedup();
    dirs
}

#[test]
fn revoke_disable_and_optout_take_effect_and_required_cannot_be_opted_out() {
    let api = api();
    let t = api.scenario(
        "fx",
        &[
            ("alpha", "available"),
            ("beta", "available"),
            ("gamma", "required"),
        ],
    );
    assert_eq!(
        served_dirs(&api, &t),
        vec!["fx-alpha", "fx-beta", "fx-gamma"]
    );
    let original = api.info(&t)["commit"].clone();

    // A cloned repository sees each change on its next fetch.
    let c = clone_view(&api.git_url(&t), 0, false);

    let r = api.call(&t, "PUT", "/api/me/optouts/fx/beta", None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(served_dirs(&api, &t), vec!["fx-alpha", "fx-gamma"]);
    git(&c.dir(), &["fetch", "-q", "origin"]);
    let listing = git(
        &c.dir(),
        &["ls-tree", "--name-only", "FETCH_HEAD", "plugins/"],
    );
    assert_eq!(
        listing, "plugins/fx-alpha\nplugins/fx-gamma",
        "fetch sees the opt-out"
    );

    let r = api.call(&t, "PUT", "/api/me/optouts/fx/gamma", None);
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("required_plugin"));

    api.admin("PUT", "/api/admin/plugins/fx/alpha/disabled", None, 204);
    assert_eq!(served_dirs(&api, &t), vec!["fx-gamma"]);
    api.admin(
        "DELETE",
        "/api/admin/groups/fx-g/grants/fx/gamma",
        None,
        204,
    );
    assert!(served_dirs(&api, &t).is_empty());

    // Undo everything: the original commit comes back.
    api.admin("DELETE", "/api/admin/plugins/fx/alpha/disabled", None, 204);
    api.grant("fx-g", "fx", "gamma", "required");
    assert_eq!(
        api.call(&t, "DELETE", "/api/me/optouts/fx/beta", None)
            .status,
        204
    );
    assert_eq!(
        api.info(&t)["commit"],
        original,
        "reverting returns to the original commit"
    );

    let stack: Value =
        serde_json::from_slice(&api.call(&t, "GET", "/api/me/stack", None).body).unwrap();
    let gamma = stack["granted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["plugin"] == "gamma")
        .unwrap();
    assert_eq!(
        (
            gamma["requirement"].as_str(),
            gamma["can_opt_out"].as_bool()
        ),
        (Some("required"), Some(false))
    );
}

#[test]
fn wrong_missing_and_revoked_tokens_are_refused() {
    let api = api();
    let base = &wrangler().base;
    let t = api.user_with_token("tok-user");
    // Missing: 401 with a Basic challenge so git asks for credentials.
    let r = request(
        base,
        "GET",
        "/marketplace.git/info/refs?service=git-upload-pack",
        &[],
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"marketplace-edge\"")
    );
    let tmp = TempDir::new("noauth");
    let url = format!("{base}/marketplace.git");
    let out = support::git_cli::git_raw(tmp.path(), &["ls-remote", &url], None);
    assert!(!out.status.success());
    // Wrong.
    let bad = api.git_url("mpe_0000000000000000000000000000000000000000");
    assert!(
        !support::git_cli::git_raw(tmp.path(), &["ls-remote", &bad], None)
            .status
            .success()
    );
    assert_eq!(api.call("nope", "GET", "/api/me/stack", None).status, 401);
    // Valid, then revoked.
    assert!(
        support::git_cli::git_raw(tmp.path(), &["ls-remote", &api.git_url(&t)], None)
            .status
            .success()
    );
    let tokens: Value =
        serde_json::from_slice(&api.call(&t, "GET", "/api/me/tokens", None).body).unwrap();
    let id = tokens["tokens"][0]["id"].as_str().unwrap().to_string();
    api.admin("DELETE", &format!("/api/admin/tokens/{id}"), None, 204);
    assert!(
        !support::git_cli::git_raw(tmp.path(), &["ls-remote", &api.git_url(&t)], None)
            .status
            .success()
    );
    assert_eq!(api.call(&t, "GET", "/api/me/stack", None).status, 401);
    // Users are not admins; push is refused outright.
    let t2 = api.user_with_token("tok-user2");
    assert_eq!(api.call(&t2, "GET", "/api/admin/users", None).status, 403);
    let r = request(
        base,
        "POST",
        "/marketplace.git/git-receive-pack",
        &[],
        b"0000",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn rejected_imports_change_nothing() {
    let api = api();
    let good = marketplace("rj", "1.0.0");
    let t = api.scenario("rj", &[("alpha", "available")]);
    let before_info = api.info(&t);
    let before_catalog = api.admin("GET", "/api/admin/marketplaces/rj", None, 200);

    let with = |extra: FileSpec| {
        let mut f = good.clone();
        f.push(extra);
        f
    };
    let raw = |files: &[FileSpec]| -> Vec<(Vec<u8>, bool, Vec<u8>)> {
        files
            .iter()
            .map(|(p, e, c)| (p.clone().into_bytes(), *e, c.clone()))
            .collect()
    };
    let mut escaping = good.clone();
    escaping[0].2 =
        br#"{"name":"rj","plugins":[{"name":"alpha","source":"./../outside"}]}"#.to_vec();
    let mut dup = raw(&good);
    dup.push(dup[1].clone());
    let many: Vec<(Vec<u8>, bool, Vec<u8>)> = raw(&good)
        .into_iter()
        .chain((0..20_001).map(|i| {
            (
                format!("plugins/alpha/f{i}").into_bytes(),
                false,
                b"x".to_vec(),
            )
        }))
        .collect();
    let big: Vec<(Vec<u8>, bool, Vec<u8>)> = raw(&good)
        .into_iter()
        .chain((0..13).map(|i| {
            (
                format!("plugins/alpha/big{i}").into_bytes(),
                false,
                vec![i as u8; 10 << 20],
            )
        }))
        .collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not an archive", b"hello".to_vec(), 422, "archive_format"),
        ("no manifest", zip_of(&good[1..]), 422, "no_manifest"),
        (
            "malformed manifest",
            zip_of(&{
                let mut f = good.clone();
                f[0].2 = b"{nope".to_vec();
                f
            }),
            422,
            "bad_manifest",
        ),
        (
            "source escaping the root",
            zip_of(&escaping),
            422,
            "source_escapes_root",
        ),
        (
            "dot-dot path",
            tar_gz_of(&[(b"plugins/../../etc/x".to_vec(), false, b"x".to_vec())]),
            422,
            "bad_path",
        ),
        (
            "absolute path",
            tar_gz_of(&[(b"/etc/passwd".to_vec(), false, b"x".to_vec())]),
            422,
            "bad_path",
        ),
        (
            "backslash path",
            zip_of(&with(("plugins\\alpha\\x".into(), false, b"x".to_vec()))),
            422,
            "bad_path",
        ),
        (
            "symlink",
            tar_gz_with_symlink(&good, "plugins/alpha/link", "/etc/passwd"),
            422,
            "symlink",
        ),
        ("duplicate paths", tar_gz_of(&dup), 422, "duplicate_path"),
        (
            "non-UTF-8 name",
            tar_gz_of(&[(b"plugins/alpha/\xff.md".to_vec(), false, b"x".to_vec())]),
            422,
            "non_utf8_name",
        ),
        (
            "encrypted entry",
            zip_with_encrypted_entry(&good),
            422,
            "encrypted_entry",
        ),
        ("too many files", tar_gz_of(&many), 422, "too_many_files"),
        ("too many bytes", tar_gz_of(&big), 422, "too_many_bytes"),
        (
            "zip bomb",
            zip_of(&with((
                "plugins/alpha/bomb".into(),
                false,
                vec![0u8; 20 << 20],
            ))),
            422,
            "compression_bomb",
        ),
        (
            "gzip bomb",
            tar_gz_of(&[(b"bomb".to_vec(), false, vec![0u8; 11 << 20])]),
            422,
            "file_too_large",
        ),
        (
            "archive over 95 MiB",
            vec![b'P'; (95 << 20) + 1],
            413,
            "body_too_large",
        ),
        ("empty body", Vec::new(), 422, "archive_format"),
        (
            "truncated tar.gz",
            {
                let t = tar_gz_of(&raw(&good));
                t[..t.len() / 2].to_vec()
            },
            422,
            "archive_corrupt",
        ),
        (
            "truncated ZIP",
            {
                let z = zip_of(&good);
                z[..z.len() - 30].to_vec()
            },
            422,
            "archive_corrupt",
        ),
        ("reserved slug", zip_of(&good), 400, "bad_slug"),
    ];
    for (name, body, status, code) in cases {
        let slug = if name == "reserved slug" {
            "store-x"
        } else {
            "rj"
        };
        let r = api.import(slug, &body);
        assert_eq!(r.status, status, "{name}: {}", r.text());
        let err: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| panic!("{name}: JSON error body, got {}", r.text()));
        assert_eq!(err["error"]["code"], code, "{name}: {}", r.text());
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}: human message"
        );
    }
    assert_eq!(
        api.admin("GET", "/api/admin/marketplaces/rj", None, 200),
        before_catalog,
        "catalog unchanged"
    );
    assert_eq!(
        api.info(&t),
        before_info,
        "what the user is served is unchanged"
    );
    assert_eq!(
        api.admin("GET", "/api/admin/marketplaces/store-x", None, 404)["error"]["code"],
        "not_found"
    );
}

#[test]
fn admin_listing_and_validation_errors() {
    let api = api();
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "POST",
        "/api/admin/users",
        Some(&json!({"username": "Bad Name", "email": "x@y"})),
    );
    assert_eq!(
        (r.status, r.text().contains("bad_username")),
        (400, true),
        "{}",
        r.text()
    );
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "POST",
        "/api/admin/users",
        Some(&json!({"nope": 1})),
    );
    assert_eq!(
        (r.status, r.text().contains("bad_json")),
        (400, true),
        "{}",
        r.text()
    );
    api.user_with_token("dupe");
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "POST",
        "/api/admin/users",
        Some(&json!({"username": "dupe", "email": "d@e.f"})),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    api.group("grant-errors", &[]);
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "PUT",
        "/api/admin/groups/grant-errors/grants/nosuch/plugin",
        Some(&json!({"requirement": "available"})),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "PUT",
        "/api/admin/groups/grant-errors/grants/nosuch/plugin",
        Some(&json!({"requirement": "sometimes"})),
    );
    assert_eq!(
        (r.status, r.text().contains("bad_requirement")),
        (400, true),
        "{}",
        r.text()
    );
    let listed = api.admin("GET", "/api/admin/marketplaces", None, 200);
    assert!(listed["marketplaces"].is_array());
}

#[test]
fn zip_channel_matches_the_tree_and_honours_if_none_match() {
    let api = api();
    let t = api.scenario("zp", &[("alpha", "available"), ("beta", "available")]);
    let clone = clone_view(&api.git_url(&t), 2, false);
    let etag = format!("\"{}\"", api.info(&t)["etag"].as_str().unwrap());
    let base = &wrangler().base;

    let r = request(
        base,
        "GET",
        "/marketplace.zip",
        &[("Authorization", &format!("Bearer {t}"))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert_eq!(
        python_unzip(&r.body),
        clone.files,
        "the ZIP holds exactly the cloned tree, with exec bits"
    );

    // HTTP Basic works too, and If-None-Match with the ETag gives 304.
    let basic = format!(
        "Basic {}",
        String::from_utf8(base64_encode(format!("x:{t}").as_bytes())).unwrap()
    );
    let again = request(
        base,
        "GET",
        "/marketplace.zip",
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(again.body, r.body, "deterministic bytes");
    let cached = request(
        base,
        "GET",
        "/marketplace.zip",
        &[("Authorization", &basic), ("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(
        request(base, "GET", "/marketplace.zip", &[], b"").status,
        401
    );

    // Purging caches drops packs and ZIPs; both are rebuilt identically.
    let purged = api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"all": true})),
        200,
    );
    assert!(purged["deleted"].as_u64().unwrap() >= 2, "{purged}");
    let rebuilt = request(
        base,
        "GET",
        "/marketplace.zip",
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(rebuilt.body, r.body);
    let after = clone_view(&api.git_url(&t), 0, false);
    assert_eq!(after.commit, clone.commit);
    assert_eq!(
        api.admin("POST", "/api/admin/cache/purge", Some(&json!({})), 400)["error"]["code"],
        "bad_purge"
    );
}

fn base64_encode(input: &[u8]) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys,base64;sys.stdout.write(base64.b64encode(sys.stdin.buffer.read()).decode())")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(input)?;
            c.wait_with_output()
        })
        .unwrap();
    out.stdout
}

#[test]
fn concurrent_cold_clones_all_succeed_and_cache_one_correct_pack() {
    let api = api();
    let files = marketplace("cx", "1.0.0");
    let t = api.scenario(
        "cx",
        &[
            ("alpha", "available"),
            ("beta", "available"),
            ("gamma", "available"),
        ],
    );
    api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"all": true})),
        200,
    );
    let url = api.git_url(&t);
    let clones: Vec<support::checks::Cloned> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let url = url.clone();
                s.spawn(move || clone_view(&url, if i % 2 == 0 { 2 } else { 0 }, i >= 2))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("clone thread"))
            .collect()
    });
    for c in &clones {
        assert_eq!(c.commit, clones[0].commit);
        assert_eq!(
            c.plugin("cx-gamma"),
            expected(&served_plugin_files(&files, "gamma"))
        );
    }
    // Whichever miss stored last, the cached pack serves a correct clone.
    let warm = clone_view(&url, 2, false);
    assert_eq!(warm.files, clones[0].files);
    // The miss was streamed to R2 as it was sent: the cached pack is exactly
    // the pack git received and kept.
    let etag = api.info(&t)["etag"].as_str().unwrap().to_string();
    let cache = api.admin("GET", "/api/admin/cache", None, 200);
    let entry = cache["packs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["etag"] == etag.as_str())
        .unwrap_or_else(|| panic!("{etag} not cached: {cache}"));
    assert_eq!(entry["commit_id"], warm.commit.as_str());
    let pack_dir = warm.dir().join(".git/objects/pack");
    let received: Vec<u64> = std::fs::read_dir(&pack_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert_eq!(
        received,
        vec![entry["pack_size"].as_u64().unwrap()],
        "cached pack size equals the received pack"
    );
    // A cache hit records when it was served (after the response, so poll).
    let served_at = entry["last_served_at"].as_i64().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    clone_view(&url, 2, true);
    let advanced = eventually(|| {
        let cache = api.admin("GET", "/api/admin/cache", None, 200);
        cache["packs"].as_array().unwrap().iter().any(|p| {
            p["etag"] == etag.as_str() && p["last_served_at"].as_i64().unwrap() > served_at
        })
    });
    assert!(advanced, "last_served_at advances on a cache hit");
}

#[test]
fn deleting_the_last_grant_drops_opt_outs_so_a_regrant_starts_enabled() {
    let api = api();
    let t = api.scenario("dg", &[("alpha", "available"), ("beta", "available")]);
    assert_eq!(
        api.call(&t, "PUT", "/api/me/optouts/dg/beta", None).status,
        204
    );
    assert_eq!(served_dirs(&api, &t), vec!["dg-alpha"]);
    api.admin("DELETE", "/api/admin/groups/dg-g/grants/dg/beta", None, 204);
    api.grant("dg-g", "dg", "beta", "available");
    assert_eq!(
        served_dirs(&api, &t),
        vec!["dg-alpha", "dg-beta"],
        "the re-grant starts enabled"
    );
}

#[test]
fn users_manage_their_own_tokens() {
    let api = api();
    let first = api.user_with_token("self-tok");
    let r = api.call(
        &first,
        "POST",
        "/api/me/tokens",
        Some(&json!({"name": "ci"})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let created: Value = serde_json::from_slice(&r.body).unwrap();
    let second = created["token"].as_str().unwrap().to_string();
    assert!(second.starts_with("mpe_") && second != first);
    let listed: Value =
        serde_json::from_slice(&api.call(&second, "GET", "/api/me/tokens", None).body).unwrap();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 2);
    assert!(
        !String::from_utf8_lossy(&serde_json::to_vec(&listed).unwrap()).contains(&second),
        "listings never show secrets"
    );
    // Another user cannot revoke it; its owner can.
    let other = api.user_with_token("self-tok-other");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        api.call(&other, "DELETE", &format!("/api/me/tokens/{id}"), None)
            .status,
        404
    );
    assert_eq!(
        api.call(&first, "DELETE", &format!("/api/me/tokens/{id}"), None)
            .status,
        204
    );
    assert_eq!(api.call(&second, "GET", "/api/me/stack", None).status, 401);
    assert_eq!(api.call(&first, "GET", "/api/me/stack", None).status, 200);
    assert_eq!(
        api.call(&first, "POST", "/api/me/tokens", Some(&json!({"name": ""})))
            .status,
        400
    );
}

/// A marketplace named `name` with one plugin, `plugin`.
fn one_plugin(name: &str, plugin: &str) -> Vec<u8> {
    let manifest = format!(
        r#"{{"name":"{name}","owner":{{"name":"Test"}},"plugins":[{{"name":"{plugin}","source":"./plugins/{plugin}"}}]}}"#
    );
    zip_of(&[
        (
            ".claude-plugin/marketplace.json".into(),
            false,
            manifest.into_bytes(),
        ),
        (
            format!("plugins/{plugin}/commands/{plugin}.md"),
            false,
            format!("{name} {plugin}\n").into_bytes(),
        ),
    ])
}

#[test]
fn a_plugin_directory_belongs_to_one_plugin_catalog_wide() {
    // `clash`/`x-lint` and `clash-x`/`lint` would both be served at
    // plugins/clash-x-lint/: the second import is refused in words.
    let api = api();
    let r = api.import("clash", &one_plugin("clash", "x-lint"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = api.import("clash-x", &one_plugin("clash-x", "lint"));
    assert_eq!(r.status, 409, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("directory_taken")
            && text.contains("plugins/clash-x-lint/")
            && text.contains("clash/x-lint"),
        "{text}"
    );
    let r = api.call(
        support::api::ADMIN_TOKEN,
        "GET",
        "/api/admin/marketplaces/clash-x",
        None,
    );
    assert_eq!(r.status, 404, "nothing was stored: {}", r.text());
    // Re-importing the holder is fine; so is another name.
    assert_eq!(
        api.import("clash", &one_plugin("clash", "x-lint")).status,
        200
    );
    let r = api.import("clash-x", &one_plugin("clash-x", "lint2"));
    assert_eq!(r.status, 200, "{}", r.text());

    // Rows stored before the rule (made here by hand): a member granted
    // both is served one of them, never a 500.
    wrangler().d1("PRAGMA defer_foreign_keys = on; \
         UPDATE plugins SET name = 'lint', served_dir = NULL WHERE marketplace = 'clash-x'; \
         UPDATE plugin_files SET plugin = 'lint' WHERE marketplace = 'clash-x'");
    let token = api.user_with_token("clash-user");
    api.group("clash-g", &["clash-user"]);
    api.grant("clash-g", "clash", "x-lint", "available");
    api.grant("clash-g", "clash-x", "lint", "available");
    assert_eq!(served_dirs(&api, &token), ["clash-x-lint"]);
    let c = clone_view(&api.git_url(&token), 2, true);
    assert_eq!(c.plugin("clash-x-lint").len(), 1, "one plugin's files");
    // And its re-import now says who holds the directory.
    let r = api.import("clash-x", &one_plugin("clash-x", "lint"));
    assert_eq!(r.status, 409, "{}", r.text());
}
