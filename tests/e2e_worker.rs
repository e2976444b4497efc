//! End to end: the compiled Worker under `wrangler dev`, driven by the real
//! git CLI. `/demo.git` must clone with protocol v0 and v2, full and
//! shallow, pass `git fsck --strict`, and survive hostile requests.

mod support;

use marketplace_edge::demo::{demo_files, demo_repo};
use marketplace_edge::git::repo::Repository;
use support::checks::{
    check_clone, check_gzip_request, check_hostile, check_ls_remote, expected_files,
};
use support::http_client::request;
use support::wrangler::wrangler;

fn demo_head() -> String {
    demo_repo().refs().head().unwrap().to_hex()
}

#[test]
fn healthz_answers_json() {
    let r = request(&wrangler().base, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/json"));
    assert!(r.text().contains("\"ok\":true"), "{}", r.text());
}

#[test]
fn static_placeholder_page_is_served() {
    let r = request(&wrangler().base, "GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("<h1>marketplace-edge</h1>"),
        "{}",
        r.text()
    );
}

#[test]
fn unknown_routes_get_a_json_404() {
    let r = request(&wrangler().base, "GET", "/no/such/route", &[], b"");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("\"code\":\"not_found\""), "{}", r.text());
}

#[test]
fn demo_clones_with_v0_and_v2_full_and_shallow() {
    let url = format!("{}/demo.git", wrangler().base);
    let files = expected_files(&demo_files());
    let head = demo_head();
    for version in [0, 2] {
        check_ls_remote(&url, version, &head);
        for shallow in [false, true] {
            check_clone(&url, version, shallow, &head, &files);
        }
    }
}

#[test]
fn demo_accepts_gzip_request_bodies() {
    check_gzip_request(&wrangler().base, "/demo.git", &demo_head());
}

#[test]
fn demo_refuses_hostile_requests_and_keeps_serving() {
    check_hostile(&wrangler().base, "/demo.git", &demo_head());
}

#[test]
fn advertisement_is_not_cacheable_and_typed() {
    let r = request(
        &wrangler().base,
        "GET",
        "/demo.git/info/refs?service=git-upload-pack",
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-git-upload-pack-advertisement")
    );
    assert!(r.header("cache-control").unwrap_or("").contains("no-cache"));
    assert!(r.body.starts_with(b"001e# service=git-upload-pack\n0000"));
}
