//! End to end under `wrangler dev`: `Server-Timing` on git and ZIP
//! responses reports the D1 and R2 round trips each request made and the
//! cache layer that answered, so these tests can hold the hot path to its
//! budget: `ls-refs` costs one D1 round trip (the token check and the view
//! share it), the v2 capability advertisement none, and a warm fetch one R2
//! read.

mod support;

use serde_json::json;
use support::api::Api;
use support::checks::{
    band_one, basic_auth, eventually, fetch_until_caching, metric, poll, v2_request as v2,
};
use support::http_client::{request, RawResponse};
use support::wrangler::wrangler;

/// These tests purge caches, which would pull packs from under each other:
/// they run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn post(auth: &str, body: &[u8]) -> RawResponse {
    let r = request(
        &wrangler().base,
        "POST",
        "/marketplace.git/git-upload-pack",
        &[
            ("Authorization", auth),
            ("Content-Type", "application/x-git-upload-pack-request"),
            ("Git-Protocol", "version=2"),
        ],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// `(d1 count, r2 count, cache layer)` from a response's `Server-Timing`.
fn timing(r: &RawResponse) -> (u32, u32, Option<String>) {
    let h = r
        .header("server-timing")
        .unwrap_or_else(|| panic!("no Server-Timing on a {} response", r.status))
        .to_string();
    let count = |name: &str| -> u32 {
        h.split(',')
            .map(str::trim)
            .find(|m| m.starts_with(&format!("{name};")))
            .and_then(|m| m.split(';').find_map(|p| p.strip_prefix("count=")))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no {name} count in {h}"))
    };
    let layer = h
        .split(',')
        .map(str::trim)
        .find_map(|m| m.strip_prefix("cache;desc="))
        .map(str::to_owned);
    (count("d1"), count("r2"), layer)
}

/// Repeats `fetch` until `layer_of` its answer is `layer` (an upload or an
/// edge fill finishes after the response that started it); the last answer.
fn until_layer<T>(
    layer: &str,
    fetch: impl Fn() -> T,
    layer_of: impl Fn(&T) -> Option<String>,
) -> T {
    let mut got = fetch();
    for _ in 0..40 {
        if layer_of(&got).as_deref() == Some(layer) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        got = fetch();
    }
    got
}

#[test]
fn round_trips_and_cache_layers_are_reported() {
    let _serial = serial();
    let api = Api::new(&wrangler().base);
    let token = api.scenario("timing", &[("alpha", "available"), ("beta", "required")]);
    let auth = basic_auth(&token);
    let commit = api.info(&token)["commit"].as_str().unwrap().to_string();

    // The capability advertisement touches neither D1 nor R2.
    let r = request(
        &wrangler().base,
        "GET",
        "/marketplace.git/info/refs?service=git-upload-pack",
        &[("Authorization", &auth), ("Git-Protocol", "version=2")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(timing(&r), (0, 0, None));

    // ls-refs: one D1 round trip for the token and the whole view, no R2.
    let r = post(
        &auth,
        &v2("ls-refs", &["symrefs".into(), "ref-prefix HEAD".into()]),
    );
    assert!(r.text().contains(&commit), "{}", r.text());
    assert_eq!(timing(&r), (1, 0, None));

    // A v0 advertisement costs the same.
    let r = request(
        &wrangler().base,
        "GET",
        "/marketplace.git/info/refs?service=git-upload-pack",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(timing(&r), (1, 0, None));

    // A fetch: built on a miss from the plugins' pack segments (a second
    // D1 round trip loads the plugin rows, a third finds the segments and
    // any plugin sharing a blob). The view's first miss caches nothing;
    // its second, once the first is recorded, writes the R2 copy, which
    // then serves with the head's round trip alone.
    api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"all": true})),
        200,
    );
    let fetch = v2(
        "fetch",
        &[
            "ofs-delta".into(),
            "deepen 1".into(),
            format!("want {commit}"),
            "done".into(),
        ],
    );
    let built = post(&auth, &fetch);
    let (d1, _, layer) = timing(&built);
    assert_eq!((d1, layer.as_deref()), (3, Some("segments")));
    assert_eq!(metric(&built, "copy;count=").as_deref(), Some("0"));
    let etag = api.info(&token)["etag"].as_str().unwrap().to_string();
    // The first miss records the view, pack-less, after its response.
    let recorded = poll(|| {
        let rows = wrangler().d1(&format!(
            "SELECT pack_key FROM snapshots WHERE etag = '{etag}'"
        ));
        rows.first().cloned()
    });
    let recorded = recorded.expect("the first miss records the view");
    assert_eq!(recorded["pack_key"], json!(null), "and caches no pack");
    let second = fetch_until_caching(|| post(&auth, &fetch));
    assert_eq!(timing(&second).2.as_deref(), Some("segments"));
    assert_eq!(band_one(&second.body).0, band_one(&built.body).0);
    // The second miss's upload to R2 may still be finishing.
    let warm = until_layer("r2", || post(&auth, &fetch), |r| timing(r).2);
    assert_eq!(timing(&warm), (1, 1, Some("r2".into())));
    // A stored pack goes out through the runtime's fixed-length stream,
    // so its length is stated up front.
    let stated = |r: &RawResponse| r.header("content-length").map(str::to_string);
    assert_eq!(stated(&warm), Some(warm.body.len().to_string()));
    assert_eq!(
        band_one(&warm.body).0,
        band_one(&built.body).0,
        "the cached pack is the built one"
    );
    // That hit filled the data centre's edge copy (after its response):
    // from then on R2 is not read at all.
    let edge = until_layer("edge", || post(&auth, &fetch), |r| timing(r).2);
    assert_eq!(timing(&edge), (1, 0, Some("edge".into())));
    assert_eq!(band_one(&edge.body).0, band_one(&built.body).0);
    assert_eq!(stated(&edge), Some(edge.body.len().to_string()));

    // The ZIP: built once, then read from R2; If-None-Match answers from D1.
    let zip = |extra: &[(&str, &str)]| {
        let mut h = vec![("Authorization", auth.as_str())];
        h.extend_from_slice(extra);
        request(&wrangler().base, "GET", "/marketplace.zip", &h, b"")
    };
    let first = zip(&[]);
    assert_eq!(first.status, 200);
    assert_eq!(timing(&first).2.as_deref(), Some("built"));
    // Then from R2 (one read) or, once the first answer has filled it,
    // from this data centre's edge copy with no R2 read.
    let second = zip(&[]);
    assert!(
        [(1, 1, Some("r2".into())), (1, 0, Some("edge".into()))].contains(&timing(&second)),
        "{:?}",
        timing(&second)
    );
    assert_eq!(first.body, second.body);
    let edge = until_layer("edge", || zip(&[]), |r| timing(r).2);
    assert_eq!(timing(&edge), (1, 0, Some("edge".into())));
    assert_eq!(edge.body, first.body);
    assert_eq!(stated(&edge), Some(first.body.len().to_string()));
    let etag = second.header("etag").unwrap().to_string();
    let not_modified = zip(&[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status, 304);
    assert_eq!(timing(&not_modified), (1, 0, None));
}

/// Fetches the whole snapshot of `token`'s view; returns (pack, layer).
fn whole_fetch(api: &Api, token: &str) -> (Vec<u8>, Option<String>) {
    let commit = api.info(token)["commit"].as_str().unwrap().to_string();
    let r = post(
        &basic_auth(token),
        &v2(
            "fetch",
            &["deepen 1".into(), format!("want {commit}"), "done".into()],
        ),
    );
    (band_one(&r.body).0, timing(&r).2)
}

/// Waits until the cache lists a pack for every etag in `etags`.
fn wait_cached(api: &Api, etags: &[&str]) {
    let cached = eventually(|| etags.iter().all(|e| api.pack_cached(e)));
    assert!(cached, "packs for {etags:?} were never cached");
}

#[test]
fn purge_by_etag_and_by_plugin_then_rebuild_identically() {
    let _serial = serial();
    let api = Api::new(&wrangler().base);
    let one = api.scenario("purge-a", &[("alpha", "available")]);
    let two = api.scenario("purge-b", &[("alpha", "available")]);
    let (e1, e2) = (
        api.info(&one)["etag"].clone(),
        api.info(&two)["etag"].clone(),
    );
    let (e1, e2) = (e1.as_str().unwrap(), e2.as_str().unwrap());
    let (pack1, _) = whole_fetch(&api, &one);
    let (pack2, _) = whole_fetch(&api, &two);
    api.cache_view(&one);
    api.cache_view(&two);
    assert_eq!(whole_fetch(&api, &one).1.as_deref(), Some("r2"));
    // Wait for the edge copy, so the purge below must remove it too.
    let (_, layer) = until_layer("edge", || whole_fetch(&api, &one), |f| f.1.clone());
    assert_eq!(layer.as_deref(), Some("edge"));

    // By plugin: only the views serving it.
    let r = api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"plugin": "purge-a/alpha"})),
        200,
    );
    assert_eq!(r["views"], json!([e1]), "{r}");
    assert!(r["deleted"].as_u64().unwrap() >= 1, "{r}");
    let (again, layer) = whole_fetch(&api, &one);
    assert_eq!(layer.as_deref(), Some("segments"));
    assert_eq!(again, pack1, "rebuilt byte for byte");
    // A purged view was fetched before: its next miss caches again.
    wait_cached(&api, &[e1]);
    assert_eq!(
        whole_fetch(&api, &two).1.as_deref(),
        Some("r2"),
        "the other view kept its pack"
    );

    // By ETag, with the view's ZIP.
    let zip = |token: &str| {
        request(
            &wrangler().base,
            "GET",
            "/marketplace.zip",
            &[("Authorization", &basic_auth(token))],
            b"",
        )
    };
    let z1 = zip(&two);
    let cached = until_layer("edge", || zip(&two), |r| timing(r).2);
    assert_eq!(timing(&cached).2.as_deref(), Some("edge"));
    let r = api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"etag": e2})),
        200,
    );
    assert_eq!(r["deleted"], 2, "the pack and the ZIP: {r}");
    let z2 = zip(&two);
    assert_eq!(timing(&z2).2.as_deref(), Some("built"));
    assert_eq!(z1.body, z2.body);
    let (again, layer) = whole_fetch(&api, &two);
    assert_eq!((again == pack2, layer.as_deref()), (true, Some("segments")));

    // Everything, as before, with the edge copy of a view only ever
    // downloaded as a ZIP (no pack in R2 to find it by).
    wait_cached(&api, &[e1, e2]);
    let three = api.scenario("purge-c", &[("alpha", "available")]);
    zip(&three);
    let cached = until_layer("edge", || zip(&three), |r| timing(r).2);
    assert_eq!(timing(&cached).2.as_deref(), Some("edge"));
    let r = api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"all": true})),
        200,
    );
    assert!(r["deleted"].as_u64().unwrap() >= 3, "{r}");
    assert_eq!(whole_fetch(&api, &one), (pack1, Some("segments".into())));
    assert_eq!(timing(&zip(&three)).2.as_deref(), Some("built"));

    // One selector, well formed, or a clear 400.
    for bad in [
        json!({}),
        json!({"all": true, "etag": e1}),
        json!({"etag": "not-an-etag"}),
        json!({"plugin": "no-slash"}),
        json!({"plugin": "Bad/Name"}),
    ] {
        let r = api.call(
            support::api::ADMIN_TOKEN,
            "POST",
            "/api/admin/cache/purge",
            Some(&bad),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[test]
fn a_cached_pack_serves_every_framing() {
    let _serial = serial();
    let api = Api::new(&wrangler().base);
    let token = api.scenario("frames", &[("alpha", "available"), ("gamma", "available")]);
    let auth = basic_auth(&token);
    let info = api.info(&token);
    let commit = info["commit"].as_str().unwrap();
    let (built, layer) = whole_fetch(&api, &token);
    assert_eq!(layer.as_deref(), Some("segments"));
    assert!(built.starts_with(b"PACK"));
    api.cache_view(&token);
    let (piped, layer) = whole_fetch(&api, &token);
    assert_eq!(
        (piped == built, layer.as_deref()),
        (true, Some("r2")),
        "v2: the stored form, piped"
    );

    let v0 = |caps: &str| {
        let mut body = support::checks::pkt(&format!("want {commit}{caps}\n"));
        body.extend(b"0000");
        body.extend(support::checks::pkt("done\n"));
        let r = request(
            &wrangler().base,
            "POST",
            "/marketplace.git/git-upload-pack",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-git-upload-pack-request"),
            ],
            &body,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        // The edge copy (filled by the v2 hit) serves side-band-64k only.
        let layer = timing(&r).2.unwrap_or_default();
        if caps.contains("side-band-64k") {
            assert!(layer == "r2" || layer == "edge", "{layer}");
        } else {
            assert_eq!(layer, "r2");
        }
        assert!(r.body.starts_with(b"0008NAK\n"), "{caps}");
        r.body[8..].to_vec()
    };
    let (pack, longest) = band_one(&v0(" side-band-64k no-progress"));
    assert_eq!(pack, built, "v0 side-band-64k");
    assert!(longest <= 65520);
    let (pack, longest) = band_one(&v0(" side-band no-progress"));
    assert_eq!(pack, built, "v0 side-band, reframed from the stored form");
    assert!(
        longest <= 1000,
        "side-band packets stay within 1000 bytes: {longest}"
    );
    assert_eq!(v0(""), built, "v0 without side-band: the bare pack");
}

#[test]
fn a_partial_fetch_streams_a_pack_git_accepts_and_caches_nothing() {
    let _serial = serial();
    let api = Api::new(&wrangler().base);
    let token = api.scenario("partial", &[("alpha", "available")]);
    let auth = basic_auth(&token);
    let commit = api.info(&token)["commit"].as_str().unwrap().to_string();
    // The client proves it has the commit it wants: nothing to send, but a
    // pack all the same (built, streamed, not the cached whole pack).
    let r = post(
        &auth,
        &v2(
            "fetch",
            &[
                format!("want {commit}"),
                format!("have {commit}"),
                "done".into(),
            ],
        ),
    );
    let (d1, _, layer) = timing(&r);
    assert_eq!(
        (d1, layer.as_deref()),
        (2, Some("built")),
        "{:?}",
        r.header("server-timing")
    );
    let (pack, _) = band_one(&r.body);
    assert_eq!(&pack[..4], b"PACK");
    assert_eq!(
        u32::from_be_bytes(pack[8..12].try_into().unwrap()),
        0,
        "no objects"
    );
    let tmp = support::git_cli::TempDir::new("partial");
    support::git_cli::init_bare(tmp.path());
    std::fs::write(tmp.path().join("p.pack"), &pack).unwrap();
    support::git_cli::git(tmp.path(), &["index-pack", "p.pack"]);
    let cached = api.admin("GET", "/api/admin/cache", None, 200);
    let etag = api.info(&token)["etag"].as_str().unwrap().to_string();
    assert!(
        !cached["packs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["etag"] == etag.as_str()),
        "a partial pack is never cached: {cached}"
    );
}

#[test]
fn ls_refs_answers_from_a_memo_that_every_view_change_invalidates() {
    let _serial = serial();
    let w = wrangler();
    let api = Api::new(&w.base);
    let token = api.scenario("memo", &[("alpha", "available"), ("beta", "available")]);
    let url = api.git_url(&token);
    let commit = api.info(&token)["commit"].as_str().unwrap().to_string();
    support::checks::check_ls_remote(&url, 2, &commit);
    let uid = w.d1("SELECT id FROM users WHERE username = 'memo-user'")[0]["id"]
        .as_i64()
        .unwrap();
    let memo = || {
        w.d1(&format!(
            "SELECT commit_id FROM view_heads WHERE user_id = {uid}"
        ))
        .first()
        .and_then(|r| r["commit_id"].as_str().map(str::to_owned))
    };
    // The memo is written after the response.
    let mut stored = memo();
    for _ in 0..40 {
        if stored.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        stored = memo();
    }
    assert_eq!(stored.as_deref(), Some(commit.as_str()), "memoised head");

    // Proof that the memo answers: doctor it (view_heads has no trigger,
    // so the catalog generation does not move) and ls-refs repeats it.
    let doctored = "0123456789abcdef0123456789abcdef01234567";
    w.d1(&format!(
        "UPDATE view_heads SET commit_id = '{doctored}' WHERE user_id = {uid}"
    ));
    support::checks::check_ls_remote(&url, 2, doctored);

    // Any change to the view's inputs makes the memo stale at once.
    let r = api.call(&token, "PUT", "/api/me/optouts/memo/beta", None);
    assert_eq!(r.status, 204, "{}", r.text());
    let after = api.info(&token)["commit"].as_str().unwrap().to_string();
    assert_ne!(after, commit);
    support::checks::check_ls_remote(&url, 2, &after);
    let r = api.call(&token, "DELETE", "/api/me/optouts/memo/beta", None);
    assert_eq!(r.status, 204, "{}", r.text());
    support::checks::check_ls_remote(&url, 2, &commit);
}
