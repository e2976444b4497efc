//! End to end under `wrangler dev`: a cache purge also asks Cloudflare's
//! zone API to purge the edge copies of the purged views by `Cache-Tag`,
//! when `CF_ZONE_ID` and `CF_API_TOKEN` are configured. The test plays the
//! API with a local server (through `CF_API_BASE`, a test-only variable)
//! and checks what the Worker sent; unconfigured, nothing is sent.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::api::Api;
use support::http_server::read_request;
use support::wrangler::{wrangler, wrangler_with};

/// Each test starts a Worker of its own; two cores start one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request the stand-in received: target, `Authorization`, JSON body.
type Sent = (String, String, Value);

/// A stand-in for the zone API: records each request, answers `status`.
fn fake_zone_api(status: u16) -> (String, Arc<Mutex<Vec<Sent>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let Ok(req) = read_request(&conn, 1 << 20) else {
                continue;
            };
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            record.lock().unwrap().push((
                req.target.clone(),
                req.header("authorization").unwrap_or_default().to_string(),
                body,
            ));
            let answer = if status == 200 {
                r#"{"success":true,"errors":[],"messages":[],"result":{"id":"zone"}}"#
            } else {
                r#"{"success":false,"errors":[{"code":1000,"message":"nope"}]}"#
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (base, seen)
}

/// Makes a view (scenario `slug`) and purges it by ETag: the answer and the ETag.
fn purge_a_view(api: &Api, slug: &str) -> (Value, String) {
    let token = api.scenario(slug, &[("alpha", "available")]);
    let etag = api.info(&token)["etag"].as_str().unwrap().to_string();
    let r = api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"etag": etag})),
        200,
    );
    (r, etag)
}

/// A Worker configured for zone purges against a stand-in answering
/// `status`; purges one view's pack by ETag. Returns the purge answer, the
/// ETag, what the stand-in received, and the API for more calls.
fn purge_one(
    status: u16,
    slug: &str,
    zone: &str,
) -> (
    Value,
    String,
    Arc<Mutex<Vec<Sent>>>,
    Api,
    support::wrangler::Wrangler,
) {
    let (api_base, seen) = fake_zone_api(status);
    let w = wrangler_with(&[
        ("CF_ZONE_ID", zone),
        ("CF_API_TOKEN", "zone-token-secret"),
        ("CF_API_BASE", &api_base),
    ]);
    let api = Api::new(&w.base);
    let (r, etag) = purge_a_view(&api, slug);
    (r, etag, seen, api, w)
}

#[test]
fn purges_reach_the_zone_api_when_configured() {
    let _serial = serial();
    let (r, etag, seen, api, _w) = purge_one(200, "zone", "zone-123");
    assert_eq!(r["zone_purge"], "purged", "{r}");
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (target, auth, body) = &sent[0];
    assert_eq!(target, "/zones/zone-123/purge_cache");
    assert_eq!(auth, "Bearer zone-token-secret");
    assert_eq!(body, &json!({"tags": [etag]}));

    // Nothing cached for a plugin no view serves: nothing to ask.
    let r = api.admin(
        "POST",
        "/api/admin/cache/purge",
        Some(&json!({"plugin": "zone/nobody"})),
        200,
    );
    assert_eq!(r["zone_purge"], "nothing_to_purge", "{r}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn a_failing_zone_api_is_reported_and_the_local_purge_stands() {
    let _serial = serial();
    let (r, etag, seen, _api, _w) = purge_one(500, "zonefail", "zone-9");
    assert_eq!(r["zone_purge"], "failed", "{r}");
    assert_eq!(r["views"], json!([etag]));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn unconfigured_purges_stay_local() {
    let _serial = serial();
    let (r, _) = purge_a_view(&Api::new(&wrangler().base), "nozone");
    assert_eq!(r["zone_purge"], "not_configured", "{r}");
}
