//! End to end: the compiled Worker under `wrangler dev`, driven by the real
//! git CLI and raw HTTP: health, the web UI's shell and security headers,
//! routing between the UI and the Worker, gzip request bodies and hostile
//! git requests against a user's `/marketplace.git`.

mod support;

use support::api::Api;
use support::checks::{check_gzip_request, check_hostile};
use support::http_client::request;
use support::wrangler::wrangler;

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

/// What a browser sends when it navigates to a URL.
const NAVIGATE: [(&str, &str); 3] = [
    ("Accept", "text/html,application/xhtml+xml"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Dest", "document"),
];

#[test]
fn ui_deep_links_get_the_shell_with_a_strict_csp() {
    for path in ["/", "/store", "/store/12", "/my-ai-stack", "/admin/users"] {
        let r = request(&wrangler().base, "GET", path, &NAVIGATE, b"");
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.text()
                .contains("<script type=\"module\" src=\"/js/app.js\">"),
            "{path}: {}",
            r.text()
        );
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert!(!r.text().contains("<script>"), "no inline script in {path}");
    }
}

#[test]
fn api_git_and_health_reach_the_worker_even_when_a_browser_navigates() {
    let base = &wrangler().base;
    let r = request(base, "GET", "/api/me/stack", &NAVIGATE, b"");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("\"code\":\"unauthorized\""));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let r = request(
        base,
        "GET",
        "/marketplace.git/info/refs?service=git-upload-pack",
        &NAVIGATE,
        b"",
    );
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    let r = request(base, "GET", "/healthz", &NAVIGATE, b"");
    assert!(r.text().contains("\"ok\":true"));
    // Unknown API routes are the Worker's JSON 404, not the UI shell.
    let r = request(base, "GET", "/api/no/such/route", &NAVIGATE, b"");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("\"code\":\"not_found\""), "{}", r.text());
}

#[test]
fn the_demo_repository_is_gone() {
    let r = request(
        &wrangler().base,
        "GET",
        "/demo.git/info/refs?service=git-upload-pack",
        &[],
        b"",
    );
    assert!(
        !r.text().contains("service=git-upload-pack"),
        "{}",
        r.text()
    );
}

#[test]
fn marketplace_accepts_gzip_request_bodies() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("gz", &[("alpha", "available")]);
    let head = api.info(&token)["commit"].as_str().unwrap().to_string();
    check_gzip_request(&wrangler().base, "/marketplace.git", &head, Some(&token));
}

#[test]
fn marketplace_refuses_hostile_requests_and_keeps_serving() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("hostile", &[("alpha", "available")]);
    let head = api.info(&token)["commit"].as_str().unwrap().to_string();
    check_hostile(&wrangler().base, "/marketplace.git", &head, Some(&token));
}

#[test]
fn advertisement_is_not_cacheable_and_typed() {
    let api = Api::new(&wrangler().base);
    let token = api.scenario("adv", &[("alpha", "available")]);
    let auth = support::checks::basic_auth(&token);
    let r = request(
        &wrangler().base,
        "GET",
        "/marketplace.git/info/refs?service=git-upload-pack",
        &[("Authorization", &auth)],
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
