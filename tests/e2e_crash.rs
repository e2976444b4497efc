//! End to end under `wrangler dev`: the server killed with SIGKILL in the
//! middle of an import, a Store upload, a cache miss streaming a pack (and
//! a ZIP) to R2, and garbage collection, then restarted on the same local
//! D1 and R2 (issue 10). Each kill lands at a named failpoint
//! (`FAILPOINT_PAUSE`, see `Store::failpoint`): after a write's R2 objects
//! and before its D1 commit, after part of a pack was sent, between GC's
//! listing and its deletes. Afterwards the catalog is entirely as before
//! the interrupted change, nothing truncated is ever served, clones work,
//! and the next GC removes what the interruption left.
//!
//! The tests run one at a time: each restarts its own server twice.

mod support;

use std::sync::Mutex;
use std::thread;

use serde_json::{json, Value};
use support::api::Api;
use support::archives::{marketplace, zip_of, FileSpec};
use support::checks::{band_one, fetch_until_caching, metric, poll, upload_pack_v2, v2_request};
use support::git_cli::{git, index_and_fsck, init_bare, shallow_clone, TempDir};
use support::http_client::RawResponse;
use support::store::{skill_zip, upload};
use support::wrangler::{wrangler_with, Wrangler};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A clone of `url` that must succeed; its `HEAD`, after `fsck --strict`.
fn clone_ok(url: &str) -> String {
    let dir = TempDir::new("crash-clone");
    let out = shallow_clone(dir.path(), url);
    assert!(
        out.status.success(),
        "clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = dir.path().join("w");
    git(&w, &["fsck", "--strict", "--no-dangling"]);
    git(&w, &["rev-parse", "HEAD"])
}

/// Waits until the server pauses at `point` with `in_flight` waiting on
/// it, kills it there and restarts it with `vars`; the new server and how
/// the request in flight ended.
fn crash_at<T>(
    w: Wrangler,
    point: &str,
    in_flight: thread::JoinHandle<T>,
    vars: &[(&str, &str)],
) -> (Wrangler, thread::Result<T>) {
    w.wait_for_pause(point);
    let w = w.crash_and_restart(vars);
    (w, in_flight.join())
}

/// A GC request on a thread of its own (to be killed under it).
fn gc_in_flight(w: &Wrangler, body: Value) -> thread::JoinHandle<RawResponse> {
    let base = w.base.clone();
    thread::spawn(move || {
        Api::new(&base).call(
            support::api::ADMIN_TOKEN,
            "POST",
            "/api/admin/gc",
            Some(&body),
        )
    })
}

fn gc(api: &Api, body: Value) -> Value {
    api.admin("POST", "/api/admin/gc", Some(&body), 200)
}

/// Ages the rows of writers and of a GC that died with the server past
/// their expiry, as an hour passing would.
fn age_dead_locks(w: &Wrangler) {
    w.d1("UPDATE writers SET started_at = started_at - 7200");
    w.d1("UPDATE gc_lock SET started_at = started_at - 7200 WHERE started_at IS NOT NULL");
}

/// The standard marketplace plus 400 KB of incompressible bytes in alpha,
/// so its pack and ZIP are streamed in more than one chunk.
fn big_marketplace(name: &str) -> Vec<FileSpec> {
    let mut files = marketplace(name, "1.0.0");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    files.push(("plugins/alpha/assets/noise.bin".into(), false, noise));
    files
}

/// A whole-snapshot v2 fetch of `token`'s view; the response.
fn whole_fetch(base: &str, token: &str, commit: &str) -> RawResponse {
    let body = v2_request(
        "fetch",
        &["deepen 1".into(), format!("want {commit}"), "done".into()],
    );
    let r = upload_pack_v2(base, token, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

fn layer(r: &RawResponse) -> String {
    metric(r, "cache;desc=")
        .unwrap_or_else(|| panic!("no cache layer in {:?}", r.header("server-timing")))
}

/// The pack inside a v2 fetch response (side-band-64k, band 1), checked
/// whole by `git index-pack` and `fsck`.
fn check_pack(r: &RawResponse, commit: &str) {
    let (pack, _) = band_one(&r.body);
    let repo = TempDir::new("crash-pack");
    init_bare(repo.path());
    index_and_fsck(repo.path(), &pack, commit);
}

#[test]
fn an_import_killed_before_its_commit_changes_nothing_and_gc_collects_its_objects() {
    let _one = serial();
    let w = wrangler_with(&[("FAILPOINT_PAUSE", "catalog-commit:crash-import-v2")]);
    let api = Api::new(&w.base);
    let token = api.scenario(
        "crash-import",
        &[("alpha", "available"), ("beta", "available")],
    );
    let before = clone_ok(&api.git_url(&token));
    // Its entries and its cached pack (written on the view's second miss).
    api.cache_view(&token);
    let objects_before = w.r2_object_count();

    // Version 2 (its manifest named so that it alone pauses) is killed
    // after its entries objects are written, before its D1 batch.
    let (base, archive) = (
        w.base.clone(),
        zip_of(&marketplace("crash-import-v2", "2.0.0")),
    );
    let import = thread::spawn(move || Api::new(&base).import("crash-import", &archive).status);
    let (w, ended) = crash_at(w, "catalog-commit:crash-import-v2", import, &[]);
    assert!(
        ended.is_err(),
        "the import's connection dies with the server"
    );

    let api = Api::new(&w.base);
    assert_eq!(
        api.info(&token)["commit"],
        before.as_str(),
        "the catalog is as before the import"
    );
    assert_eq!(clone_ok(&api.git_url(&token)), before);
    assert!(
        w.r2_object_count() > objects_before,
        "the killed import left its objects"
    );
    // Its writer row holds GC off (it might still be running) until it
    // expires; then the next GC removes exactly what it left.
    let deferred = gc(&api, json!({"min_age_seconds": 0}));
    assert_eq!(deferred["deferred"], true, "{deferred}");
    age_dead_locks(&w);
    let collected = gc(&api, json!({"min_age_seconds": 0}));
    assert!(collected["deleted"].as_i64().unwrap() >= 1, "{collected}");
    assert_eq!(w.r2_object_count(), objects_before);
    assert_eq!(clone_ok(&api.git_url(&token)), before);

    // The same import, run again, lands whole.
    let r = api.import(
        "crash-import",
        &zip_of(&marketplace("crash-import-v3", "2.0.0")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = clone_ok(&api.git_url(&token));
    assert_ne!(after, before);
}

#[test]
fn a_store_upload_killed_before_its_commit_leaves_no_entity_and_gc_collects_its_object() {
    let _one = serial();
    let w = wrangler_with(&[("FAILPOINT_PAUSE", "store-commit:crash-skill")]);
    let api = Api::new(&w.base);
    let owner = api.user_with_token("crash-owner");
    let objects_before = w.r2_object_count();

    let (base, tok) = (w.base.clone(), owner.clone());
    let upload_thread = thread::spawn(move || {
        upload(
            &base,
            &tok,
            "/api/store/entities",
            "skill",
            "crash-skill",
            &skill_zip("crash-skill"),
        )
        .status
    });
    let (w, ended) = crash_at(w, "store-commit:crash-skill", upload_thread, &[]);
    assert!(
        ended.is_err(),
        "the upload's connection dies with the server"
    );

    let api = Api::new(&w.base);
    let listed = api.call(&owner, "GET", "/api/store/entities", None);
    assert_eq!(listed.status, 200);
    assert!(
        !listed.text().contains("crash-skill"),
        "no half-made entity: {}",
        listed.text()
    );
    assert_eq!(
        w.r2_object_count(),
        objects_before + 1,
        "its entries object was written"
    );
    age_dead_locks(&w);
    let collected = gc(&api, json!({"min_age_seconds": 0}));
    assert_eq!(collected["deleted"], 1, "{collected}");
    assert_eq!(w.r2_object_count(), objects_before);

    // The name is free: the upload, repeated, succeeds and is served.
    let r = upload(
        &w.base,
        &owner,
        "/api/store/entities",
        "skill",
        "crash-skill",
        &skill_zip("crash-skill"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = support::store::created_id(&r);
    api.install(&owner, id);
    clone_ok(&api.git_url(&owner));
}

#[test]
fn a_pack_or_zip_killed_mid_stream_is_never_served_truncated() {
    let _one = serial();
    let w = wrangler_with(&[("FAILPOINT_PAUSE", "pack-stream")]);
    let api = Api::new(&w.base);
    let r = api.import("crash-stream", &zip_of(&big_marketplace("crash-stream")));
    assert_eq!(r.status, 200, "{}", r.text());
    let token = api.user_with_token("crash-stream-user");
    api.group("crash-stream-g", &["crash-stream-user"]);
    api.grant("crash-stream-g", "crash-stream", "alpha", "available");
    let commit = api.info(&token)["commit"].as_str().unwrap().to_string();

    // A clone's miss is killed after part of the pack went to the client
    // and to R2.
    let url = api.git_url(&token);
    let cloning = thread::spawn(move || {
        let dir = TempDir::new("crash-cut");
        shallow_clone(dir.path(), &url).status.success()
    });
    let (w, ended) = crash_at(
        w,
        "pack-stream",
        cloning,
        &[("FAILPOINT_PAUSE", "zip-stream")],
    );
    assert!(
        !ended.unwrap(),
        "the cut clone must fail, not end with half a pack"
    );

    // Nothing of it was stored: the next fetch builds the pack afresh.
    let api = Api::new(&w.base);
    let cache = api.admin("GET", "/api/admin/cache", None, 200);
    assert_eq!(cache["packs"], json!([]), "{cache}");
    let first = whole_fetch(&w.base, &token, &commit);
    assert_eq!(layer(&first), "segments");
    check_pack(&first, &commit);
    // The view's second miss caches its pack, which then serves.
    let second = fetch_until_caching(|| whole_fetch(&w.base, &token, &commit));
    assert_eq!(second.body, first.body);
    let cached = poll(|| Some(whole_fetch(&w.base, &token, &commit)).filter(|r| layer(r) == "r2"));
    let again = cached.expect("the second miss's copy serves from R2");
    assert_eq!(again.body, first.body);
    assert_eq!(clone_ok(&api.git_url(&token)), commit);

    // The same for a ZIP built on a miss.
    let base = w.base.clone();
    let token_for_zip = token.clone();
    let zipping = thread::spawn(move || Api::new(&base).zip(&token_for_zip));
    let (w, ended) = crash_at(w, "zip-stream", zipping, &[]);
    // The cut download either fails to read or is short; never whole.
    if let Ok(cut) = ended {
        assert!(
            zip::ZipArchive::new(std::io::Cursor::new(&cut.body)).is_err(),
            "a cut ZIP must not read as whole"
        );
    }
    let zip = Api::new(&w.base).zip(&token);
    assert_eq!(zip.status, 200, "{}", zip.text());
    assert_eq!(layer(&zip), "built", "the cut ZIP was not stored");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip.body)).expect("a whole ZIP");
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        std::io::copy(&mut f, &mut std::io::sink()).expect("every member reads, CRC and all");
    }
}

#[test]
fn a_gc_killed_between_its_steps_loses_nothing_in_use_and_the_next_gc_finishes() {
    let _one = serial();
    let w = wrangler_with(&[("FAILPOINT_PAUSE", "gc-entries")]);
    let api = Api::new(&w.base);
    let token = api.scenario("crash-gc", &[("alpha", "available")]);
    let r = api.import("crash-gc", &zip_of(&marketplace("crash-gc", "2.0.0")));
    assert_eq!(r.status, 200, "{}", r.text());
    let commit = clone_ok(&api.git_url(&token));
    // Version 1's entries are orphans once the advertisement window passed.
    w.d1("UPDATE retired_plugins SET retired_at = retired_at - 3600");
    let objects = w.r2_object_count();

    // Killed after it listed what to delete, before deleting it.
    let collecting = gc_in_flight(&w, json!({"min_age_seconds": 0}));
    let (w, ended) = crash_at(
        w,
        "gc-entries",
        collecting,
        &[("FAILPOINT_PAUSE", "gc-packs")],
    );
    assert!(ended.is_err(), "the GC's connection dies with the server");
    let api = Api::new(&w.base);
    assert_eq!(w.r2_object_count(), objects, "nothing was deleted");
    assert_eq!(clone_ok(&api.git_url(&token)), commit);

    // Its lock keeps writers out (in words) until it expires.
    let refused = api.import("crash-gc", &zip_of(&marketplace("crash-gc", "2.0.0")));
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.text().contains("gc_running"), "{}", refused.text());
    age_dead_locks(&w);

    // This time the entries collection finishes, and a pack GC is killed
    // between dropping its rows and deleting their objects: the objects it
    // left are swept by the next one.
    let collecting = gc_in_flight(
        &w,
        json!({"min_age_seconds": 0, "pack_max_idle_seconds": 0}),
    );
    let (w, ended) = crash_at(w, "gc-packs", collecting, &[]);
    assert!(ended.is_err(), "the GC's connection dies with the server");
    let api = Api::new(&w.base);
    assert!(w.r2_object_count() < objects, "version 1's entries went");
    assert_eq!(
        api.admin("GET", "/api/admin/cache", None, 200)["packs"],
        json!([])
    );
    age_dead_locks(&w);
    let left = w.r2_object_count();
    let finished = gc(
        &api,
        json!({"min_age_seconds": 0, "pack_max_idle_seconds": 0}),
    );
    assert!(
        finished["deleted_packs"].as_i64().unwrap() >= 1,
        "the pack left without its row: {finished}"
    );
    assert!(w.r2_object_count() < left);
    let settled = gc(
        &api,
        json!({"min_age_seconds": 0, "pack_max_idle_seconds": 0}),
    );
    assert_eq!(
        (settled["deleted"].clone(), settled["deleted_packs"].clone()),
        (json!(0), json!(0)),
        "{settled}"
    );
    assert_eq!(clone_ok(&api.git_url(&token)), commit);
    let r = api.import("crash-gc", &zip_of(&marketplace("crash-gc", "2.0.0")));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn segments_killed_before_their_rows_or_mid_gc_are_never_read_and_the_next_gc_sweeps_them() {
    let _one = serial();
    let w = wrangler_with(&[]);
    let token = Api::new(&w.base).scenario("crash-seg", &[("alpha", "available")]);
    // Restarted to pause at the next segment written (the scenario's
    // import wrote its own).
    let w = w.crash_and_restart(&[("FAILPOINT_PAUSE", "segment-row")]);
    let api = Api::new(&w.base);
    let before = clone_ok(&api.git_url(&token));

    // An import killed after writing a segment's object, before its row
    // (and before its own commit): the catalog is as before.
    let (base, archive) = (w.base.clone(), zip_of(&marketplace("crash-seg", "2.0.0")));
    let import = thread::spawn(move || Api::new(&base).import("crash-seg", &archive).status);
    let (w, ended) = crash_at(w, "segment-row", import, &[]);
    assert!(
        ended.is_err(),
        "the import's connection dies with the server"
    );
    let api = Api::new(&w.base);
    assert_eq!(api.info(&token)["commit"], before.as_str());
    assert_eq!(clone_ok(&api.git_url(&token)), before);
    age_dead_locks(&w);
    let swept = gc(&api, json!({"min_age_seconds": 0}));
    assert!(
        swept["deleted_segments"].as_i64().unwrap() >= 1,
        "the object left without its row: {swept}"
    );

    // The import again, whole; then the marketplace goes and a GC is
    // killed between dropping the segments' rows and deleting their
    // objects: the next GC deletes those objects.
    let r = api.import("crash-seg", &zip_of(&marketplace("crash-seg", "2.0.0")));
    assert_eq!(r.status, 200, "{}", r.text());
    let after = clone_ok(&api.git_url(&token));
    assert_ne!(after, before);
    api.admin("DELETE", "/api/admin/marketplaces/crash-seg", None, 204);
    w.d1("UPDATE retired_plugins SET retired_at = retired_at - 7200");
    let objects = w.r2_object_count();
    let w = w.crash_and_restart(&[("FAILPOINT_PAUSE", "gc-segments")]);
    let collecting = gc_in_flight(&w, json!({"min_age_seconds": 0}));
    let (w, ended) = crash_at(w, "gc-segments", collecting, &[]);
    assert!(ended.is_err(), "the GC's connection dies with the server");
    assert_eq!(
        w.d1("SELECT COUNT(*) AS n FROM pack_segments")[0]["n"],
        json!(0),
        "the rows went first"
    );
    let api = Api::new(&w.base);
    age_dead_locks(&w);
    let left = w.r2_object_count();
    assert!(left < objects, "the entries step had finished");
    let finished = gc(&api, json!({"min_age_seconds": 0}));
    assert!(
        finished["deleted_segments"].as_i64().unwrap() >= 1,
        "the objects left without rows: {finished}"
    );
    let settled = gc(&api, json!({"min_age_seconds": 0}));
    assert_eq!(settled["deleted_segments"], json!(0), "{settled}");
}
