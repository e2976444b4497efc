//! The 100 MB corpus (10,000 files) end to end under `wrangler dev`:
//! imported as a ZIP (read back by ranges) and as a `.tar.gz` (read as a
//! stream), cloned with git and downloaded as a ZIP, every file compared,
//! while the isolate's WebAssembly memory stays well under the platform's
//! 128 MB (which wrangler dev does not enforce, so the test reads the
//! figure each request's log line reports). And the largest Store upload
//! (10 MB of incompressible files) on a fresh isolate, under 32 MiB.

mod support;

use serde_json::json;
use support::api::{Api, ADMIN_TOKEN};
use support::archives::{python_unzip, served_plugin_files, tar_gz_of, zip_of};
use support::checks::{clone_view, ExpectedFiles};
use support::corpus::{corpus, generated_marketplace};
use support::store::upload;
use support::wrangler::wrangler_with;

/// The two tests that move about 100 MB each run one at a time: side by
/// side on two cores, either can outlast the test client's 60 s wait.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The most WebAssembly memory the isolate may reach: 128 MB less room
/// for the JavaScript heap and the runtime's own buffers.
const MEMORY_CEILING: u64 = 96 << 20;

#[test]
fn a_100_mb_marketplace_imports_clones_and_zips_in_bounded_memory() {
    let _one = heavy();
    // Its own Worker, so the memory figure is this test's alone.
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let files = generated_marketplace(corpus("large"));
    let bytes: usize = files.iter().map(|f| f.2.len()).sum();
    assert!(
        files.len() > 10_000 && bytes > 95_000_000,
        "{} files",
        files.len()
    );
    // Every response's log line carries the isolate's WebAssembly memory
    // then (its high-water mark): a figure is the peak through a request.
    let request_id = |r: &support::http_client::RawResponse| {
        r.header("x-request-id").expect("X-Request-Id").to_string()
    };
    let probe = || {
        let r = api.call(ADMIN_TOKEN, "GET", "/api/admin/runtime", None);
        assert_eq!(r.status, 200, "{}", r.text());
        w.peak_wasm_memory_through(&request_id(&r))
    };
    let at_start = probe();

    let r = api.import("large", &zip_of(&files));
    assert_eq!(r.status, 200, "ZIP import: {}", r.text());
    let raw: Vec<(Vec<u8>, bool, Vec<u8>)> = files
        .iter()
        .map(|(p, e, c)| (p.clone().into_bytes(), *e, c.clone()))
        .collect();
    let r = api.import("large-tgz", &tar_gz_of(&raw));
    assert_eq!(r.status, 200, "tar.gz import: {}", r.text());
    let after_imports = w.peak_wasm_memory_through(&request_id(&r));
    // Under `wrangler dev` on a loaded machine, the first request after the
    // two 100 MB uploads has been held by the local runtime for a minute
    // (the Worker's log shows it took no time), and wrangler has then
    // reloaded the runtime: let it settle before going on.
    w.wait_until_settled();

    let token = api.user_with_token("large-user");
    api.group("large-g", &["large-user"]);
    api.admin(
        "PUT",
        "/api/admin/groups/large-g/grants/large",
        Some(&json!({"requirement": "available"})),
        200,
    );
    // Both readers stored the same plugins: same trees, same digests.
    let summary = |slug: &str| {
        w.d1(&format!(
            "SELECT name, tree_id, files_digest FROM plugins WHERE marketplace = '{slug}' ORDER BY name"
        ))
    };
    let (from_zip, from_tgz) = (summary("large"), summary("large-tgz"));
    assert_eq!(from_zip.len(), corpus("large").plugins);
    assert_eq!(from_zip, from_tgz, "ZIP and tar.gz imports differ");
    // What each served plugin directory must hold: the corpus's files of
    // that plugin.
    let info = api.info(&token);
    let served = info["plugins"].as_array().unwrap();
    assert_eq!(served.len(), corpus("large").plugins);
    let mut expected = ExpectedFiles::new();
    expected.insert(
        ".claude-plugin/marketplace.json".into(),
        (false, Vec::new()),
    );
    for p in served {
        let dir = p["directory"].as_str().unwrap();
        // As upstream, but plugin.json's version (its content version).
        for (rel, exec, content) in served_plugin_files(&files, p["plugin"].as_str().unwrap()) {
            expected.insert(format!("{dir}/{rel}"), (exec, content));
        }
    }
    let check = |what: &str, mut got: ExpectedFiles| {
        let manifest = got.get_mut(".claude-plugin/marketplace.json").unwrap();
        manifest.1.clear(); // generated per view; checked elsewhere
        assert_eq!(got.len(), expected.len(), "{what}: file count");
        for (path, want) in &expected {
            assert!(got.get(path) == Some(want), "{what}: {path} differs");
        }
    };

    let mut figures = vec![
        ("at start", at_start),
        ("after both imports", after_imports),
    ];
    let cold = clone_view(&api.git_url(&token), 2, true);
    check("cold clone", cold.files);
    figures.push(("after a cold clone", probe()));
    let warm = clone_view(&api.git_url(&token), 2, true);
    check("warm clone", warm.files);
    figures.push(("after a warm clone", probe()));
    let zip = api.zip(&token);
    assert_eq!(zip.status, 200, "{}", zip.text());
    check("ZIP", python_unzip(&zip.body));

    // The ZIP streamed after its log line: the next request's line shows
    // what the streaming grew the isolate to.
    let at_end = probe();
    figures.push(("after the ZIP", at_end));
    for (when, bytes) in figures {
        println!("wasm memory {when}: {:.1} MiB", bytes as f64 / 1048576.0);
    }
    assert!(
        at_end <= MEMORY_CEILING,
        "wasm memory reached {at_end} bytes, over {MEMORY_CEILING}"
    );
}

/// Bytes no compressor can shrink, the same every run (xorshift64).
fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The most WebAssembly memory a fresh isolate may reach for one 10 MB
/// Store upload (issue 17: it was 40 MiB, with the archive copied whole
/// and every file copied twice more).
const UPLOAD_CEILING: u64 = 32 << 20;

#[test]
fn a_10_mb_store_upload_stays_within_32_mib_on_a_fresh_isolate() {
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    let token = api.user_with_token("mem-owner");
    let r = api.call(ADMIN_TOKEN, "GET", "/api/admin/runtime", None);
    let at_start = w.peak_wasm_memory_through(r.header("x-request-id").expect("X-Request-Id"));
    let mut files = vec![(
        ".claude-plugin/plugin.json".to_string(),
        false,
        br#"{"name":"mem-plugin","version":"1.0.0","description":"big"}"#.to_vec(),
    )];
    for i in 0..4u64 {
        files.push((
            format!("data/blob-{i}.bin"),
            false,
            incompressible(2_400_000, 0x9e37_79b9 + i),
        ));
    }
    let zip = zip_of(&files);
    assert!(zip.len() > 9_600_000, "{} bytes", zip.len());
    let r = upload(
        &w.base,
        &token,
        "/api/store/entities",
        "plugin",
        "mem-plugin",
        &zip,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let peak = w.peak_wasm_memory_through(r.header("x-request-id").expect("X-Request-Id"));
    println!(
        "wasm memory of a fresh isolate: {:.1} MiB; after a {:.1} MB Store upload: {:.1} MiB",
        at_start as f64 / 1048576.0,
        zip.len() as f64 / 1e6,
        peak as f64 / 1048576.0
    );
    assert!(
        peak <= UPLOAD_CEILING,
        "wasm memory reached {:.1} MiB, over {} MiB",
        peak as f64 / 1048576.0,
        UPLOAD_CEILING >> 20
    );
}

/// Larger than the 64 MiB an upstream pack was once capped at (it was held
/// whole), and incompressible, so the pack is too.
const BIG_PACK_FILES: usize = 8;
const BIG_FILE_BYTES: usize = 9_000_000;

#[test]
fn an_upstream_pack_over_64_mib_syncs_in_bounded_memory() {
    use support::git_cli::{git, TempDir};
    let _one = heavy();
    let w = wrangler_with(&[]);
    let api = Api::new(&w.base);
    // The upstream: one plugin of eight 9 MB incompressible files.
    let (root, work) = (TempDir::new("big-up-root"), TempDir::new("big-up-work"));
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "up.git"],
    );
    let wd = work.path();
    git(wd, &["init", "-q", "-b", "main", "."]);
    let mut expected = Vec::new();
    std::fs::create_dir_all(wd.join(".claude-plugin")).unwrap();
    std::fs::write(
        wd.join(".claude-plugin/marketplace.json"),
        r#"{"name":"big","plugins":[{"name":"heavy","source":"./plugins/heavy"}]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(wd.join("plugins/heavy/data")).unwrap();
    for i in 0..BIG_PACK_FILES {
        // Seeds far apart, so no file is a delta of another.
        let content = incompressible(
            BIG_FILE_BYTES,
            (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        std::fs::write(wd.join(format!("plugins/heavy/data/{i}.bin")), &content).unwrap();
        expected.push((format!("data/{i}.bin"), content));
    }
    git(wd, &["add", "-A"]);
    git(wd, &["commit", "-q", "-m", "big"]);
    let bare = root.path().join("up.git");
    git(wd, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let server = support::http_backend::serve_http_backend(root.path().to_path_buf(), None);

    let r = api.call(ADMIN_TOKEN, "GET", "/api/admin/runtime", None);
    let at_start = w.peak_wasm_memory_through(r.header("x-request-id").unwrap());
    api.admin(
        "PUT",
        "/api/admin/marketplaces/big/source",
        Some(&json!({"url": format!("{}/up.git", server.base)})),
        200,
    );
    // Staging 72 MB through local R2 takes tens of seconds here.
    let r = support::http_client::request_waiting(
        &w.base,
        "POST",
        "/api/admin/marketplaces/big/sync",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        b"",
        300,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let peak = w.peak_wasm_memory_through(r.header("x-request-id").unwrap());
    let pack_bytes = BIG_PACK_FILES * BIG_FILE_BYTES;
    println!(
        "wasm memory: {:.1} MiB at start; after syncing a {:.1} MB pack: {:.1} MiB",
        at_start as f64 / 1048576.0,
        pack_bytes as f64 / 1e6,
        peak as f64 / 1048576.0
    );
    assert!(
        peak < (pack_bytes as u64),
        "the isolate held as much as the pack: {peak} bytes"
    );

    // Served whole and exact.
    let token = api.user_with_token("big-user");
    api.group("big-g", &["big-user"]);
    api.grant("big-g", "big", "heavy", "available");
    let c = clone_view(&api.git_url(&token), 2, true);
    let served = c.plugin("big-heavy");
    for (path, content) in &expected {
        assert!(
            served.get(path).map(|f| &f.1) == Some(content),
            "{path} differs or is missing"
        );
    }
}
