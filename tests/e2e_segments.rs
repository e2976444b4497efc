//! End to end under `wrangler dev`: a view's pack on a cache miss is
//! assembled from per-plugin pack segments (issue 21). The assembled pack
//! is byte for byte the pack built whole from the files (which a client
//! without side-band-64k still gets), `git index-pack --strict` and `fsck
//! --strict` accept it, plugins that share a blob with the rest of the view
//! are sent object by object so nothing goes in twice, a re-import builds
//! segments only for what changed, and segments outlive purges of views and
//! GC while a plugin uses them, and no longer.

mod support;

use serde_json::json;
use support::api::Api;
use support::archives::{marketplace, served_plugin_files, zip_of, FileSpec};
use support::checks::{
    band_one, basic_auth, clone_view, eventually, metric, pkt, upload_pack_v2, v2_request,
};
use support::git_cli::{git, index_and_fsck, init_bare, TempDir};
use support::http_client::{request, RawResponse};
use support::store::{plugin_zip, published, skill_zip};
use support::wrangler::{wrangler, Wrangler};

/// These tests purge caches and collect garbage: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn layer(r: &RawResponse) -> String {
    metric(r, "cache;desc=")
        .unwrap_or_else(|| panic!("no cache layer in {:?}", r.header("server-timing")))
}

/// A whole-view v2 fetch (side-band-64k): its pack and answering layer.
fn fetch(token: &str, commit: &str) -> (Vec<u8>, String) {
    let f = fetch_timed(token, commit);
    (f.pack, f.layer)
}

/// A whole-view fetch's pack and what its `Server-Timing` says.
struct Fetched {
    pack: Vec<u8>,
    layer: String,
    /// Plugins piped from their segments.
    piped: usize,
    /// D1 round trips before the response.
    d1: usize,
}

fn fetch_timed(token: &str, commit: &str) -> Fetched {
    let body = v2_request(
        "fetch",
        &["deepen 1".into(), format!("want {commit}"), "done".into()],
    );
    let r = upload_pack_v2(&wrangler().base, token, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    Fetched {
        pack: band_one(&r.body).0,
        layer: layer(&r),
        piped: metric(&r, "segments;count=").map_or(0, |n| n.parse().unwrap()),
        d1: metric(&r, "d1;count=")
            .expect("a D1 count")
            .parse()
            .unwrap(),
    }
}

/// The same view's pack built whole from the files: caches purged, then
/// a protocol v0 fetch with the 1000-byte `side-band`, which never takes
/// segments.
fn built_whole(api: &Api, token: &str, commit: &str) -> Vec<u8> {
    purge(api);
    let mut body = pkt(&format!("want {commit} side-band no-progress\n"));
    body.extend(b"0000");
    body.extend(pkt("done\n"));
    let r = request(
        &wrangler().base,
        "POST",
        "/marketplace.git/git-upload-pack",
        &[
            ("Authorization", &basic_auth(token)),
            ("Content-Type", "application/x-git-upload-pack-request"),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(layer(&r), "built");
    assert!(r.body.starts_with(b"0008NAK\n"));
    band_one(&r.body).0
}

fn purge(api: &Api) {
    api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"all": true})),
        200,
    );
}

/// `git index-pack --strict` and `fsck --strict` over `pack`; the number
/// of distinct objects it holds and the number its header declares.
fn checked_objects(pack: &[u8], commit: &str) -> (usize, usize) {
    let repo = TempDir::new("segments");
    init_bare(repo.path());
    index_and_fsck(repo.path(), pack, commit);
    let listed = git(
        repo.path(),
        &["cat-file", "--batch-all-objects", "--batch-check"],
    );
    let declared = u32::from_be_bytes(pack[8..12].try_into().unwrap()) as usize;
    (listed.lines().count(), declared)
}

fn segment_rows(w: &Wrangler) -> usize {
    w.d1("SELECT COUNT(*) AS n FROM pack_segments")[0]["n"]
        .as_u64()
        .unwrap() as usize
}

fn commit_of(api: &Api, token: &str) -> String {
    api.info(token)["commit"].as_str().unwrap().to_string()
}

#[test]
fn a_pack_from_segments_is_the_whole_build_byte_for_byte() {
    let _serial = serial();
    let w = wrangler();
    let api = Api::new(&w.base);
    // alpha and gamma carry the same LICENSE: a segment of either would
    // repeat it, so both go object by object and only beta is piped.
    let mut files = marketplace("seg", "1.0.0");
    for p in ["alpha", "gamma"] {
        files.push((
            format!("plugins/{p}/LICENSE"),
            false,
            b"MIT, shared\n".to_vec(),
        ));
    }
    let rows = segment_rows(w);
    let r = api.import("seg", &zip_of(&files));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(segment_rows(w), rows + 3, "the import built one per plugin");
    let token = api.user_with_token("seg-user");
    api.group("seg-g", &["seg-user"]);
    for p in ["alpha", "beta", "gamma"] {
        api.grant("seg-g", "seg", p, "available");
    }
    // A Store skill: the bundle is the view's own, sent from wasm too.
    let owner = api.user_with_token("seg-owner");
    let skill = published(
        &w.base,
        &owner,
        "skill",
        "seg-skill",
        &skill_zip("seg-skill"),
    );
    api.install(&token, skill);
    // A Store plugin: its segment, keyed by its root tree, is built after
    // the first miss of a view that has it.
    let plugin = published(
        &w.base,
        &owner,
        "plugin",
        "seg-store-plugin",
        &plugin_zip("seg-store-plugin"),
    );
    api.install(&token, plugin);
    let root = w.d1(&format!(
        "SELECT root_id FROM store_entities WHERE id = {plugin}"
    ))[0]["root_id"]
        .as_str()
        .unwrap()
        .to_string();
    let store_rows = || {
        w.d1(&format!(
            "SELECT COUNT(*) AS n FROM pack_segments WHERE tree_id = '{root}'"
        ))[0]["n"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(store_rows(), 0, "an upload builds no segment");
    let commit = commit_of(&api, &token);

    purge(&api);
    let f = fetch_timed(&token, &commit);
    let first = f.pack;
    assert_eq!(
        (f.layer.as_str(), f.piped),
        ("segments", 1),
        "beta's segment; alpha and gamma share a blob, the Store plugin has none yet"
    );
    let built = eventually(|| store_rows() == 1);
    assert!(built, "the Store plugin's segment was built after the miss");

    purge(&api);
    let f = fetch_timed(&token, &commit);
    let assembled = f.pack;
    assert_eq!(
        (f.layer.as_str(), f.piped),
        ("segments", 2),
        "beta and the Store plugin"
    );
    assert_eq!(
        assembled, first,
        "the Store plugin from its segment, the same pack"
    );
    let (distinct, declared) = checked_objects(&assembled, &commit);
    assert_eq!(distinct, declared, "no object twice");
    assert_eq!(
        built_whole(&api, &token, &commit),
        assembled,
        "the pack built whole from the files, byte for byte"
    );
    // GC keeps it while the entity is installed and current.
    let gc = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    assert_eq!(
        store_rows(),
        1,
        "GC keeps a current Store plugin's segment: {gc}"
    );

    // A real clone over protocol v2 (side-band-64k: segments again).
    purge(&api);
    let c = clone_view(&api.git_url(&token), 2, true);
    for p in ["alpha", "beta", "gamma"] {
        let expected: support::checks::ExpectedFiles = served_plugin_files(&files, p)
            .into_iter()
            .map(|(path, exec, bytes)| (path, (exec, bytes)))
            .collect();
        assert_eq!(c.plugin(&format!("seg-{p}")), expected, "{p}");
    }
}

/// The standard marketplace with gamma's command changed (`n` times).
fn with_gamma_changed(name: &str, n: usize) -> Vec<FileSpec> {
    let mut files = marketplace(name, "1.0.0");
    for (path, _, content) in &mut files {
        if path == "plugins/gamma/commands/gamma.md" {
            content.extend(format!("Changed {n}.\n").into_bytes());
        }
    }
    files
}

#[test]
fn a_new_view_after_one_change_builds_one_segment_and_pipes_the_rest() {
    let _serial = serial();
    let w = wrangler();
    let api = Api::new(&w.base);
    let token = api.scenario(
        "segnew",
        &[
            ("alpha", "available"),
            ("beta", "available"),
            ("gamma", "available"),
        ],
    );
    let first = commit_of(&api, &token);
    assert_eq!(fetch(&token, &first).1, "segments");

    let rows = segment_rows(w);
    let r = api.import("segnew", &zip_of(&with_gamma_changed("segnew", 1)));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(segment_rows(w), rows + 1, "gamma's alone");
    let second = commit_of(&api, &token);
    assert_ne!(second, first);
    let (assembled, layer) = fetch(&token, &second);
    assert_eq!(layer, "segments", "the new view's first fetch");
    let (distinct, declared) = checked_objects(&assembled, &second);
    assert_eq!(distinct, declared);
    assert_eq!(built_whole(&api, &token, &second), assembled);

    // A plugin whose segment is missing (stored before segments, or lost)
    // is sent from its files, and its segment is built after the response.
    w.d1("DELETE FROM pack_segments");
    purge(&api);
    let f = fetch_timed(&token, &second);
    assert_eq!((f.pack == assembled, f.layer.as_str()), (true, "built"));
    assert_eq!(
        f.d1, 3,
        "the head, the view and the segment plan; the files the plan brought are not read again"
    );
    let built = eventually(|| segment_rows(w) >= 3);
    assert!(built, "the miss built the view's segments after answering");
    purge(&api);
    assert_eq!(fetch(&token, &second), (assembled, "segments".into()));
}

#[test]
fn segments_outlive_purges_and_gc_while_used_and_go_once_unused() {
    let _serial = serial();
    let w = wrangler();
    let api = Api::new(&w.base);
    let token = api.scenario("seggc", &[("alpha", "available"), ("beta", "available")]);
    let commit = commit_of(&api, &token);
    let (pack, layer) = fetch(&token, &commit);
    assert_eq!(layer, "segments");

    // A purge drops views' packs, never segments.
    purge(&api);
    assert_eq!(fetch(&token, &commit), (pack.clone(), "segments".into()));

    // GC keeps every segment a plugin uses.
    let trees = w.d1("SELECT COUNT(*) AS n FROM pack_segments WHERE tree_id IN \
         (SELECT tree_id FROM plugins WHERE marketplace = 'seggc')")[0]["n"]
        .as_u64()
        .unwrap();
    assert_eq!(trees, 3, "alpha, beta and gamma");
    let gc = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    purge(&api);
    assert_eq!(
        fetch(&token, &commit),
        (pack, "segments".into()),
        "after GC: {gc}"
    );

    // Unused once the marketplace is gone (and another's identical plugin
    // tree would keep it): GC collects their rows and objects.
    let gone: Vec<String> = w
        .d1("SELECT tree_id FROM plugins WHERE marketplace = 'seggc'")
        .iter()
        .filter_map(|r| r["tree_id"].as_str().map(str::to_owned))
        .collect();
    api.admin("DELETE", "/api/admin/marketplaces/seggc", None, 204);
    w.d1("UPDATE retired_plugins SET retired_at = retired_at - 7200");
    let gc = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    // The import wrote its three segments as one object.
    assert!(gc["deleted_segments"].as_u64().unwrap() >= 1, "{gc}");
    let left = w.d1(&format!(
        "SELECT COUNT(*) AS n FROM pack_segments WHERE tree_id IN ('{}')",
        gone.join("','")
    ))[0]["n"]
        .as_u64()
        .unwrap();
    assert_eq!(left, 0, "{gc}");
    let again = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&json!({"min_age_seconds": 0})),
        200,
    );
    assert_eq!(again["deleted_segments"], 0, "idempotent: {again}");
}
