//! End to end under `wrangler dev`: web UI sessions. A PAT opens a session
//! only from the UI; the cookie has the right attributes; D1 holds only the
//! id's hash; use renews it, expiry and the token's revocation end it;
//! sign-out needs the UI's proof too; a token keeps at most 20 sessions.

mod support;

use sha2::{Digest, Sha256};
use support::api::{Api, ADMIN_TOKEN};
use support::http_client::{request, RawResponse};
use support::wrangler::wrangler;

const UI: &str = "X-Marketplace-Edge";

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sign_in(token: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request(
        &wrangler().base,
        "POST",
        "/api/session",
        &h,
        format!("{{\"token\":\"{token}\"}}").as_bytes(),
    )
}

/// The session id from a `Set-Cookie` header.
fn session_id(r: &RawResponse) -> String {
    let cookie = r.header("set-cookie").expect("a Set-Cookie header");
    cookie
        .strip_prefix("mpe_session=")
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("not the session cookie: {cookie}"))
        .to_string()
}

fn with_session(id: &str, method: &str, path: &str, ui: bool) -> RawResponse {
    let cookie = format!("mpe_session={id}");
    let origin = wrangler().base.clone();
    let mut h = vec![("Cookie", cookie.as_str())];
    if ui {
        h.push(("Origin", origin.as_str()));
        h.push((UI, "ui"));
    }
    request(&wrangler().base, method, path, &h, b"")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn sessions_open_renew_expire_and_end() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let token = api.user_with_token("sess-user");
    let origin = w.base.clone();
    let ui = [("Origin", origin.as_str()), (UI, "ui")];

    // Only the UI may open a session: a cross-site login form may not.
    let r = sign_in(&token, &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("cross_site_request"));
    let r = sign_in(&token, &[("Origin", "https://evil.example"), (UI, "ui")]);
    assert_eq!(r.status, 403);
    let r = sign_in("mpe_0000000000000000000000000000000000000000", &ui);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("\"code\":\"bad_token\""), "{}", r.text());
    let r = sign_in(ADMIN_TOKEN, &ui);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("admin_token_sign_in"), "{}", r.text());

    let r = sign_in(&token, &ui);
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.text().contains("\"username\":\"sess-user\""));
    let cookie = r.header("set-cookie").unwrap().to_string();
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain-HTTP loopback: {cookie}");
    let id = session_id(&r);
    assert_eq!(id.len(), 64);

    // D1 holds the id's hash, never the id.
    let rows = w.d1("SELECT id_sha256, expires_at FROM sessions");
    let stored: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["id_sha256"].as_str())
        .collect();
    assert!(stored.contains(&hex_sha256(&id).as_str()), "{rows:?}");
    assert!(!stored.contains(&id.as_str()));

    let r = with_session(&id, "GET", "/api/session", false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"via\":\"session\""), "{}", r.text());

    // Use renews a session whose life is running out.
    let hash = hex_sha256(&id);
    w.d1(&format!(
        "UPDATE sessions SET expires_at = {} WHERE id_sha256 = '{hash}'",
        now() + 100
    ));
    assert_eq!(with_session(&id, "GET", "/api/me/stack", false).status, 200);
    let expires = w.d1(&format!(
        "SELECT expires_at FROM sessions WHERE id_sha256 = '{hash}'"
    ))[0]["expires_at"]
        .as_i64()
        .unwrap();
    assert!(expires > now() + 12 * 3600 - 120, "renewed: {expires}");

    // Changes need the UI's proof; reads do not.
    let r = with_session(&id, "POST", "/api/me/tokens", false);
    assert_eq!(r.status, 403, "{}", r.text());
    // Sign-out needs it too, and then the session is gone.
    assert_eq!(
        with_session(&id, "DELETE", "/api/session", false).status,
        403
    );
    assert_eq!(with_session(&id, "GET", "/api/session", false).status, 200);
    let r = with_session(&id, "DELETE", "/api/session", true);
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(with_session(&id, "GET", "/api/session", false).status, 401);
    let rows = w.d1(&format!(
        "SELECT 1 FROM sessions WHERE id_sha256 = '{hash}'"
    ));
    assert!(rows.is_empty(), "{rows:?}");

    // An expired session opens nothing.
    let id = session_id(&sign_in(&token, &ui));
    assert_eq!(with_session(&id, "GET", "/api/me/stack", false).status, 200);
    w.d1(&format!(
        "UPDATE sessions SET expires_at = {} WHERE id_sha256 = '{}'",
        now() - 1,
        hex_sha256(&id)
    ));
    assert_eq!(with_session(&id, "GET", "/api/me/stack", false).status, 401);

    // Revoking the token a session came from ends the session.
    let id = session_id(&sign_in(&token, &ui));
    let tokens = api.admin("GET", "/api/admin/users/sess-user/tokens", None, 200);
    let token_id = tokens["tokens"][0]["id"].as_str().unwrap().to_string();
    api.admin(
        "DELETE",
        &format!("/api/admin/tokens/{token_id}"),
        None,
        204,
    );
    assert_eq!(with_session(&id, "GET", "/api/me/stack", false).status, 401);
}

#[test]
fn a_token_keeps_at_most_20_sessions_and_signing_in_again_ends_the_oldest() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let token = api.user_with_token("sess-many");
    let origin = w.base.clone();
    let ui = [("Origin", origin.as_str()), (UI, "ui")];
    let ids: Vec<String> = (0..21)
        .map(|_| {
            let r = sign_in(&token, &ui);
            assert_eq!(r.status, 201, "{}", r.text());
            session_id(&r)
        })
        .collect();
    assert_eq!(
        with_session(&ids[0], "GET", "/api/session", false).status,
        401,
        "the oldest session ended"
    );
    for id in [&ids[1], &ids[20]] {
        assert_eq!(with_session(id, "GET", "/api/session", false).status, 200);
    }
    let rows = w.d1(
        "SELECT count(*) AS n FROM sessions WHERE token_id = \
         (SELECT t.id FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'sess-many')",
    );
    assert_eq!(rows[0]["n"], 20, "{rows:?}");
}
