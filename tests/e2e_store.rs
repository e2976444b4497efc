//! End to end, the community Store under `wrangler dev`: upload each type,
//! preview, install, clone, bundle versioning, type-mismatch refusals that
//! store nothing, owner-only deletion, and two owners with the same name.

mod support;

use serde_json::Value;
use support::api::Api;
use support::checks::clone_view;
use support::http_client::RawResponse;
use support::store::{agent_zip, created_id, plugin_zip, skill_zip, skill_zip_with};
use support::wrangler::wrangler;

fn upload(token: &str, path: &str, kind: &str, name: &str, zip: &[u8]) -> RawResponse {
    support::store::upload(&wrangler().base, token, path, kind, name, zip)
}

fn total(api: &Api, token: &str, query: &str) -> i64 {
    let r = api.call(token, "GET", &format!("/api/store/entities{query}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice::<Value>(&r.body).unwrap()["total"]
        .as_i64()
        .unwrap()
}

#[test]
fn upload_preview_install_and_clone_each_type() {
    let api = Api::new(&wrangler().base);
    let owner = api.user_with_token("st-owner");
    let user = api.user_with_token("st-user");

    let preview = upload(
        &owner,
        "/api/store/entities/preview",
        "skill",
        "pdf-tools",
        &skill_zip("pdf-tools"),
    );
    assert_eq!(preview.status, 200, "{}", preview.text());
    let p: Value = serde_json::from_slice(&preview.body).unwrap();
    assert_eq!(p["served_name"], "pdf-tools-by-st-owner");
    let paths: Vec<&str> = p["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["SKILL.md", "scripts/run.sh"]);
    assert_eq!(
        total(&api, &owner, "?owner=st-owner"),
        0,
        "preview stores nothing"
    );

    let stored = upload(
        &owner,
        "/api/store/entities",
        "skill",
        "pdf-tools",
        &skill_zip("pdf-tools"),
    );
    let skill = created_id(&stored);
    let stored: Value = serde_json::from_slice(&stored.body).unwrap();
    assert_eq!(
        stored["files"], p["files"],
        "the preview showed exactly what was stored"
    );
    assert_eq!(stored["entity"]["served_name"], p["served_name"]);
    let agent = created_id(&upload(
        &owner,
        "/api/store/entities",
        "agent",
        "reviewer",
        &agent_zip("reviewer"),
    ));
    let plugin = created_id(&upload(
        &owner,
        "/api/store/entities",
        "plugin",
        "go-tools",
        &plugin_zip("go-tools"),
    ));
    assert_eq!(total(&api, &user, "?owner=st-owner"), 3);
    assert_eq!(total(&api, &user, "?owner=st-owner&type=agent"), 1);
    assert_eq!(
        total(&api, &user, "?owner=st-owner&q=LONGER%20desc"),
        3,
        "text search is case-insensitive"
    );

    for id in [skill, agent, plugin] {
        api.install(&user, id);
    }
    let c = clone_view(&api.git_url(&user), 2, false);
    let skill_md = &c.files["plugins/store-bundle/skills/pdf-tools-by-st-owner/SKILL.md"];
    assert!(String::from_utf8_lossy(&skill_md.1).contains("Body of pdf-tools"));
    assert!(
        c.files["plugins/store-bundle/skills/pdf-tools-by-st-owner/scripts/run.sh"].0,
        "exec bit kept"
    );
    assert!(c
        .files
        .contains_key("plugins/store-bundle/agents/reviewer-by-st-owner.md"));
    assert!(c
        .files
        .contains_key(&format!("plugins/store-{plugin}/commands/go.md")));
    let pj: Value = serde_json::from_slice(
        &c.files[&format!("plugins/store-{plugin}/.claude-plugin/plugin.json")].1,
    )
    .unwrap();
    assert_eq!(
        pj["name"], "go-tools-by-st-owner",
        "plugin.json carries the served name"
    );
    let m: Value = serde_json::from_slice(&c.files[".claude-plugin/marketplace.json"].1).unwrap();
    let names: Vec<&str> = m["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["go-tools-by-st-owner", "store-bundle"]);
    let bundle_version = m["plugins"][1]["version"].as_str().unwrap().to_string();
    let bundle_pj: Value =
        serde_json::from_slice(&c.files["plugins/store-bundle/.claude-plugin/plugin.json"].1)
            .unwrap();
    assert_eq!(bundle_pj["version"], bundle_version.as_str());

    // Uninstalling the agent changes the bundle's version.
    assert_eq!(
        api.call(
            &user,
            "DELETE",
            &format!("/api/store/entities/{agent}/install"),
            None
        )
        .status,
        204
    );
    let after = clone_view(&api.git_url(&user), 2, true);
    let m2: Value =
        serde_json::from_slice(&after.files[".claude-plugin/marketplace.json"].1).unwrap();
    assert_ne!(
        m2["plugins"][1]["version"].as_str().unwrap(),
        bundle_version
    );
    assert!(!after
        .files
        .contains_key("plugins/store-bundle/agents/reviewer-by-st-owner.md"));

    // The stack lists the installs; the detail shows files; a file is readable.
    let stack: Value =
        serde_json::from_slice(&api.call(&user, "GET", "/api/me/stack", None).body).unwrap();
    assert_eq!(stack["store_installs"].as_array().unwrap().len(), 2);
    let detail: Value = serde_json::from_slice(
        &api.call(&user, "GET", &format!("/api/store/entities/{skill}"), None)
            .body,
    )
    .unwrap();
    assert_eq!(detail["entity"]["installs"], 1);
    assert_eq!(detail["entity"]["owner"], "st-owner");
    let file = api.call(
        &user,
        "GET",
        &format!("/api/store/entities/{skill}/files/scripts/run.sh"),
        None,
    );
    assert_eq!(file.body, b"#!/bin/sh\necho run\n");

    // Only the owner deletes; deletion removes it from every stack.
    assert_eq!(
        api.call(
            &user,
            "DELETE",
            &format!("/api/store/entities/{plugin}"),
            None
        )
        .status,
        403
    );
    assert_eq!(
        api.call(
            &owner,
            "DELETE",
            &format!("/api/store/entities/{plugin}"),
            None
        )
        .status,
        204
    );
    let gone = clone_view(&api.git_url(&user), 0, true);
    assert!(!gone
        .files
        .keys()
        .any(|p| p.starts_with(&format!("plugins/store-{plugin}/"))));
}

#[test]
fn mismatches_are_refused_and_store_nothing() {
    let api = Api::new(&wrangler().base);
    let owner = api.user_with_token("mm-owner");
    let cases = [
        ("agent", skill_zip("s"), "type_mismatch_skill_as_agent"),
        ("skill", agent_zip("a"), "type_mismatch_agent_as_skill"),
        ("skill", plugin_zip("p"), "type_mismatch_plugin_as_skill"),
        ("agent", plugin_zip("p"), "type_mismatch_plugin_as_agent"),
        ("plugin", skill_zip("s"), "type_mismatch_skill_as_plugin"),
        ("plugin", agent_zip("a"), "type_mismatch_agent_as_plugin"),
    ];
    for (kind, zip, code) in cases {
        for path in ["/api/store/entities", "/api/store/entities/preview"] {
            let r = upload(&owner, path, kind, "thing", &zip);
            assert_eq!(r.status, 422, "{kind} {code}: {}", r.text());
            assert!(r.text().contains(code), "{}", r.text());
        }
    }
    let r = upload(
        &owner,
        "/api/store/entities",
        "skill",
        "Not_Kebab",
        &skill_zip("s"),
    );
    assert!(
        r.status == 422 && r.text().contains("not_kebab_case"),
        "{}",
        r.text()
    );
    assert_eq!(total(&api, &owner, "?owner=mm-owner"), 0, "nothing stored");
}

#[test]
fn two_owners_publish_the_same_name_side_by_side() {
    let api = Api::new(&wrangler().base);
    let (a, b) = (api.user_with_token("twin-a"), api.user_with_token("twin-b"));
    let ia = created_id(&upload(
        &a,
        "/api/store/entities",
        "skill",
        "twin",
        &skill_zip("twin"),
    ));
    let ib = created_id(&upload(
        &b,
        "/api/store/entities",
        "skill",
        "twin",
        &skill_zip("twin"),
    ));
    let user = api.user_with_token("twin-user");
    for id in [ia, ib] {
        api.install(&user, id);
    }
    let c = clone_view(&api.git_url(&user), 2, false);
    assert!(c
        .files
        .contains_key("plugins/store-bundle/skills/twin-by-twin-a/SKILL.md"));
    assert!(c
        .files
        .contains_key("plugins/store-bundle/skills/twin-by-twin-b/SKILL.md"));
    // The same owner cannot publish the same name twice.
    assert_eq!(
        upload(
            &a,
            "/api/store/entities",
            "skill",
            "twin",
            &skill_zip("twin")
        )
        .status,
        409
    );
}

/// `PUT /api/store/entities/{id}` with a new ZIP (multipart).
fn put_version(token: &str, id: i64, zip: &[u8]) -> RawResponse {
    support::store::send(
        &wrangler().base,
        token,
        "PUT",
        &format!("/api/store/entities/{id}"),
        &[("tagline", "Now better")],
        zip,
    )
}

fn skill_zip_v(name: &str, body: &str) -> Vec<u8> {
    skill_zip_with(name, body)
}

#[test]
fn owner_updates_metadata_and_versions_others_cannot() {
    let api = Api::new(&wrangler().base);
    let owner = api.user_with_token("up-owner");
    let other = api.user_with_token("up-other");
    let id = created_id(&upload(
        &owner,
        "/api/store/entities",
        "skill",
        "notes",
        &skill_zip_v("notes", "v1 body"),
    ));
    api.install(&other, id);
    let before: Value = serde_json::from_slice(
        &clone_view(&api.git_url(&other), 2, true).files[".claude-plugin/marketplace.json"].1,
    )
    .unwrap();

    assert_eq!(
        put_version(&other, id, &skill_zip_v("notes", "hack")).status,
        403
    );
    let r = api.call(
        &other,
        "PUT",
        &format!("/api/store/entities/{id}"),
        Some(&serde_json::json!({"title": "hacked"})),
    );
    assert_eq!(r.status, 403);

    let r = api.call(
        &owner,
        "PUT",
        &format!("/api/store/entities/{id}"),
        Some(&serde_json::json!({"title": "Better notes", "category": "writing"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (
            v["entity"]["title"].as_str(),
            v["entity"]["category"].as_str(),
            v["entity"]["version"].as_i64()
        ),
        (Some("Better notes"), Some("writing"), Some(1))
    );

    // A JSON edit is held to the upload form's rules: no whitespace inside a
    // URL, no over-long field; either refusal changes nothing, and a blank
    // value keeps the stored one.
    for (patch, code) in [
        (
            serde_json::json!({"title": "Ignored", "photo_url": "https://example.com/a b.png"}),
            "bad_url",
        ),
        (
            serde_json::json!({"category": "x", "tagline": "t".repeat(4_001)}),
            "field_too_long",
        ),
    ] {
        let r = api.call(
            &owner,
            "PUT",
            &format!("/api/store/entities/{id}"),
            Some(&patch),
        );
        assert!(
            r.status == 400 && r.text().contains(code),
            "{patch}: {} {}",
            r.status,
            r.text()
        );
    }
    let r = api.call(
        &owner,
        "PUT",
        &format!("/api/store/entities/{id}"),
        Some(&serde_json::json!({"title": "  ", "photo_url": " https://example.com/p.png "})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (
            v["entity"]["title"].as_str(),
            v["entity"]["category"].as_str(),
            v["entity"]["photo_url"].as_str()
        ),
        (
            Some("Better notes"),
            Some("writing"),
            Some("https://example.com/p.png")
        )
    );

    // A type mismatch on a new version is refused and changes nothing.
    assert_eq!(put_version(&owner, id, &agent_zip("notes")).status, 422);
    let r = put_version(&owner, id, &skill_zip_v("notes", "v2 body"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (
            v["entity"]["version"].as_i64(),
            v["entity"]["tagline"].as_str()
        ),
        (Some(2), Some("Now better"))
    );
    let c = clone_view(&api.git_url(&other), 2, true);
    assert!(String::from_utf8_lossy(
        &c.files["plugins/store-bundle/skills/notes-by-up-owner/SKILL.md"].1
    )
    .contains("v2 body"));
    let after: Value =
        serde_json::from_slice(&c.files[".claude-plugin/marketplace.json"].1).unwrap();
    assert_ne!(
        after["plugins"][0]["version"], before["plugins"][0]["version"],
        "re-upload bumps the bundle version"
    );
}

#[test]
fn docs_media_urls_pagination_and_stable_order() {
    let api = Api::new(&wrangler().base);
    let owner = api.user_with_token("pg-owner");
    let base = &wrangler().base;
    // An upload with docs and media URLs.
    let boundary = "----docs-boundary";
    let mut body = Vec::new();
    for (k, v) in [
        ("type", "agent"),
        ("name", "doc-agent"),
        ("title", "Doc agent"),
        ("tagline", "t"),
        ("description", "d"),
        ("category", "docs"),
        ("photo_url", "https://example.com/p.png"),
        ("video_url", "https://example.com/v.mp4"),
    ] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .into_bytes(),
        );
    }
    for (name, content) in [("guide.md", "# Guide\n"), ("faq.md", "# FAQ\n")] {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"docs\"; filename=\"{name}\"\r\n\r\n{content}\r\n").into_bytes());
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\n").into_bytes());
    body.extend(agent_zip("doc-agent"));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let auth = format!("Bearer {owner}");
    let r = support::http_client::request(
        base,
        "POST",
        "/api/store/entities",
        &[
            ("Authorization", &auth),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        &body,
    );
    let id = created_id(&r);
    let d: Value = serde_json::from_slice(
        &api.call(&owner, "GET", &format!("/api/store/entities/{id}"), None)
            .body,
    )
    .unwrap();
    assert_eq!(d["entity"]["photo_url"], "https://example.com/p.png");
    assert_eq!(d["entity"]["video_url"], "https://example.com/v.mp4");
    assert_eq!(
        d["docs"],
        serde_json::json!([{"name": "faq.md", "content": "# FAQ\n"}, {"name": "guide.md", "content": "# Guide\n"}])
    );
    let bad = support::store::send(
        base,
        &owner,
        "POST",
        "/api/store/entities",
        &[
            ("type", "agent"),
            ("name", "x"),
            ("title", "t"),
            ("tagline", "t"),
            ("description", "d"),
            ("category", "c"),
            ("photo_url", "javascript:alert(1)"),
        ],
        &agent_zip("x"),
    );
    assert!(
        bad.status == 400 && bad.text().contains("bad_url"),
        "{}",
        bad.text()
    );

    // Pagination: 5 more uploads, pages of 2, newest first, nothing repeated.
    for i in 0..5 {
        created_id(&upload(
            &owner,
            "/api/store/entities",
            "skill",
            &format!("page-{i}"),
            &skill_zip(&format!("page-{i}")),
        ));
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let v: Value = serde_json::from_slice(
            &api.call(
                &owner,
                "GET",
                &format!("/api/store/entities?owner=pg-owner&per_page=2&page={page}"),
                None,
            )
            .body,
        )
        .unwrap();
        assert_eq!(v["total"], 6);
        seen.extend(
            v["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "stable newest-first order without repeats");
    assert_eq!(seen.len(), 6);
    assert_eq!(total(&api, &owner, "?owner=pg-owner&category=docs"), 1);
    assert_eq!(
        api.call(&owner, "GET", "/api/store/entities?per_page=1000", None)
            .status,
        400
    );
}
