//! Garbage collection of unreferenced `entries/` objects: what a re-import
//! or a Store deletion leaves behind is found and deleted, nothing in use
//! is, and objects younger than the grace period are kept. Its own test
//! binary, so the R2 object count is exact.

mod support;

use serde_json::json;
use support::api::Api;
use support::archives::{marketplace, served_plugin_files, zip_of};
use support::checks::{clone_view, eventually};
use support::store::{published, skill_zip};
use support::wrangler::{wrangler, wrangler_with};

#[test]
fn gc_collects_orphaned_entries_and_nothing_in_use() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let t = api.scenario("gc", &[("alpha", "available"), ("beta", "available")]);
    let base_count = w.r2_object_count();

    // A new version of every plugin orphans the old entries objects (an
    // import seals entries into objects of 4 MiB: this one fits in one;
    // and its plugins' plugin.json with their content versions go into
    // one object more) and the new plugin trees' pack segments (one object).
    let v2 = marketplace("gc", "2.0.0");
    assert_eq!(api.import("gc", &zip_of(&v2)).status, 200);
    assert_eq!(w.r2_object_count(), base_count + 2 + 1);
    // A deleted Store entity orphans its entries object too.
    let owner = api.user_with_token("gc-owner");
    let id = published(&w.base, &owner, "skill", "gone", &skill_zip("gone"));
    assert_eq!(
        api.call(&owner, "DELETE", &format!("/api/store/entities/{id}"), None)
            .status,
        204
    );
    let before_gc = w.r2_object_count();

    // The daily cron runs the same collection with its defaults: young
    // orphans (an import could be in flight) survive it.
    let r = support::http_client::request(&w.base, "GET", "/__scheduled?cron=17+3+*+*+*", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let logged = eventually(|| {
        std::fs::read_to_string(&w.log)
            .unwrap_or_default()
            .contains("scheduled gc: deleted 0 entries objects")
    });
    assert!(logged, "the scheduled handler ran and logged its result");
    assert_eq!(w.r2_object_count(), before_gc);

    // Within the grace period nothing is collected.
    let young = api.admin("POST", "/api/admin/gc", Some(&json!({})), 200);
    assert_eq!(young["deleted"], 0, "{young}");
    // Nor while a clone shown the old files may still fetch them: the
    // replaced rows are kept for the advertisement window, and their
    // entries with them.
    let held = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    assert_eq!(held["deleted"], 0, "{held}");
    assert_eq!(held["deleted_segments"], 0, "{held}");
    age_retired_rows(w);
    let gc = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    // The two objects of the old import and the deleted entity's, and
    // the object of the old version's three segments.
    assert_eq!(gc["deleted"], 3, "{gc}");
    assert_eq!(gc["deleted_segments"], 1, "{gc}");
    assert_eq!(w.r2_object_count(), before_gc - 3 - 1);
    assert_eq!(
        api.admin(
            "POST",
            "/api/admin/gc",
            Some(&json!({"min_age_seconds": 0})),
            200
        )["deleted"],
        0,
        "idempotent"
    );

    // Everything still served is intact.
    let c = clone_view(&api.git_url(&t), 2, false);
    let alpha: support::checks::ExpectedFiles = served_plugin_files(&v2, "alpha")
        .into_iter()
        .map(|(p, e, b)| (p, (e, b)))
        .collect();
    assert_eq!(c.plugin("gc-alpha"), alpha);
    assert_eq!(
        api.admin(
            "POST",
            "/api/admin/gc",
            Some(&json!({"min_age_seconds": -1})),
            400
        )["error"]["code"],
        "bad_gc"
    );

    // A grace period too large to be a date does not overflow: nothing goes.
    let huge = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": i64::MAX / 2})),
        200,
    );
    assert_eq!(huge["deleted"], 0, "{huge}");
}

#[test]
fn idle_packs_and_zips_are_collected_rows_first() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let t = api.scenario("idle", &[("alpha", "available")]);
    let auth = format!("Bearer {t}");
    // A view only ever downloaded as a ZIP, and one cloned.
    let zip = support::http_client::request(
        &w.base,
        "GET",
        "/marketplace.zip",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(zip.status, 200);
    let rows = || {
        w.d1("SELECT COUNT(*) AS n FROM snapshots")[0]["n"]
            .as_i64()
            .unwrap()
    };
    // The ZIP's row is written after the response.
    for _ in 0..40 {
        if rows() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(rows(), 1, "the ZIP was recorded");
    let objects = w.r2_object_count();
    let gc = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0, "pack_max_idle_seconds": 0})),
        200,
    );
    assert_eq!(gc["deleted_packs"], 1, "{gc}");
    assert_eq!(rows(), 0, "the row went with the ZIP");
    // The ZIP object went too (only entries of the live import remain).
    assert!(
        w.r2_object_count() < objects,
        "{} -> {}",
        objects,
        w.r2_object_count()
    );
    // Served again, rebuilt identically.
    let again = support::http_client::request(
        &w.base,
        "GET",
        "/marketplace.zip",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(again.body, zip.body);
}

#[test]
fn gc_and_writers_exclude_each_other() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    api.scenario("excl", &[("alpha", "available")]);
    // Orphans: the old entries object of a re-import, and the old object
    // of its rewritten plugin.json files.
    assert_eq!(
        api.import("excl", &zip_of(&marketplace("excl", "2.0.0")))
            .status,
        200
    );
    let gc = || {
        api.admin(
            "POST",
            "/api/admin/gc",
            Some(&json!({"min_age_seconds": 0})),
            200,
        )
    };
    age_retired_rows(&w);
    // While a writer is registered (an import in flight), GC defers.
    w.d1("INSERT INTO writers (id, started_at) VALUES ('in-flight', unixepoch())");
    let deferred = gc();
    assert_eq!(
        (deferred["deferred"].clone(), deferred["deleted"].clone()),
        (json!(true), json!(0)),
        "{deferred}"
    );
    // A writer that stopped renewing its lease (120 s) has died: it no
    // longer blocks GC.
    w.d1("UPDATE writers SET started_at = unixepoch() - 90 WHERE id = 'in-flight'");
    assert_eq!(
        gc()["deferred"],
        true,
        "90 s without renewal is within the lease"
    );
    w.d1("UPDATE writers SET started_at = unixepoch() - 130 WHERE id = 'in-flight'");
    let ran = gc();
    assert_eq!(ran["deferred"], false, "{ran}");
    assert_eq!(ran["deleted"], 2, "{ran}");
    // While GC holds its lock, a writer waits, then is refused in words
    // and writes nothing.
    w.d1("UPDATE gc_lock SET started_at = unixepoch() WHERE id = 1");
    let objects = w.r2_object_count();
    let r = api.import("excl", &zip_of(&marketplace("excl", "3.0.0")));
    assert_eq!(
        (r.status, r.text().contains("gc_running")),
        (503, true),
        "{}",
        r.text()
    );
    assert_eq!(w.r2_object_count(), objects, "nothing written");
    // A lock left by a GC that died expires with its lease.
    w.d1("UPDATE gc_lock SET started_at = unixepoch() - 130 WHERE id = 1");
    assert_eq!(
        api.import("excl", &zip_of(&marketplace("excl", "3.0.0")))
            .status,
        200
    );
}

#[test]
fn writers_and_the_gc_renew_their_leases_while_they_work() {
    // A GC pauses 40 s between listing and deleting, then an import pauses
    // 40 s before its D1 batch: each renews its lease (every 30 s) all
    // along, so neither is taken for dead while it works.
    let w = wrangler_with(&[
        ("FAILPOINT_PAUSE", "gc-entries,catalog-commit:slow-v2"),
        ("FAILPOINT_PAUSE_SECONDS", "40"),
    ]);
    let api = Api::new(&w.base);
    api.scenario("slow", &[("alpha", "available")]);
    let column = |sql: &str| {
        w.d1(sql)
            .first()
            .and_then(|r| r["t"].as_i64())
            .unwrap_or_else(|| panic!("no row for {sql}"))
    };

    let base = w.base.clone();
    let collecting = std::thread::spawn(move || {
        Api::new(&base).admin(
            "POST",
            "/api/admin/gc",
            Some(&json!({"min_age_seconds": 0})),
            200,
        )
    });
    w.wait_for_pause("gc-entries");
    let lock = "SELECT started_at AS t FROM gc_lock WHERE started_at IS NOT NULL";
    let first = column(lock);
    std::thread::sleep(std::time::Duration::from_secs(33));
    assert!(column(lock) > first, "the GC lock was renewed");
    assert_eq!(collecting.join().unwrap()["deferred"], false);
    assert!(w.d1(lock).is_empty(), "released at the end");

    let base = w.base.clone();
    let importing = std::thread::spawn(move || {
        Api::new(&base)
            .import("slow", &zip_of(&marketplace("slow-v2", "2.0.0")))
            .status
    });
    w.wait_for_pause("catalog-commit:slow-v2");
    let writer = "SELECT started_at AS t FROM writers";
    let first = column(writer);
    std::thread::sleep(std::time::Duration::from_secs(33));
    assert!(column(writer) > first, "the writer's lease was renewed");
    let deferred = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    assert_eq!(deferred["deferred"], true, "{deferred}");
    assert_eq!(importing.join().unwrap(), 200);
    assert!(w.d1(writer).is_empty(), "released at the end");
}

/// Moves every retired row an hour into the past, as if the advertisement
/// window (60 s here) had long passed.
fn age_retired_rows(w: &support::wrangler::Wrangler) {
    w.d1("UPDATE retired_plugins SET retired_at = retired_at - 3600");
    w.d1("UPDATE retired_entities SET retired_at = retired_at - 3600");
}
