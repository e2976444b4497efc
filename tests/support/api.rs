//! A small client for the admin and user APIs of a running Worker.

use serde_json::Value;

use super::checks::{eventually, fetch_until_caching, upload_pack_v2, v2_request};
use super::http_client::{request, RawResponse};

/// The bootstrap admin token in `.dev.vars`.
pub const ADMIN_TOKEN: &str = "dev-admin-token";

/// Calls the API of the Worker at `base`.
pub struct Api {
    pub base: String,
    /// The bootstrap admin token its admin calls send.
    pub admin_token: String,
}

impl Api {
    /// A local Worker, with the development `ADMIN_TOKEN`.
    pub fn new(base: &str) -> Api {
        Api::with_admin(base, ADMIN_TOKEN)
    }

    /// A Worker whose bootstrap admin token is `admin_token` (a deployed
    /// one, for the benchmark's `BENCH_BASE`).
    pub fn with_admin(base: &str, admin_token: &str) -> Api {
        Api {
            base: base.to_string(),
            admin_token: admin_token.to_string(),
        }
    }

    /// A request with a bearer token and an optional JSON body.
    pub fn call(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> RawResponse {
        let auth = format!("Bearer {token}");
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        request(
            &self.base,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &bytes,
        )
    }

    /// An admin call that must answer `status`; returns the JSON body (or Null).
    pub fn admin(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let r = self.call(&self.admin_token, method, path, body);
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    }

    /// Imports an archive into marketplace `slug`.
    pub fn import(&self, slug: &str, archive: &[u8]) -> RawResponse {
        let auth = format!("Bearer {}", self.admin_token);
        request(
            &self.base,
            "PUT",
            &format!("/api/admin/marketplaces/{slug}"),
            &[("Authorization", &auth)],
            archive,
        )
    }

    /// Creates a user and returns a fresh token for them.
    pub fn user_with_token(&self, username: &str) -> String {
        self.admin("POST", "/api/admin/users", Some(&serde_json::json!({"username": username, "email": format!("{username}@example.com")})), 201);
        let t = self.admin(
            "POST",
            &format!("/api/admin/users/{username}/tokens"),
            Some(&serde_json::json!({"name": "test"})),
            201,
        );
        t["token"].as_str().unwrap().to_string()
    }

    /// Creates a group with `members`.
    pub fn group(&self, name: &str, members: &[&str]) {
        self.admin(
            "POST",
            "/api/admin/groups",
            Some(&serde_json::json!({"name": name})),
            201,
        );
        for m in members {
            self.admin(
                "PUT",
                &format!("/api/admin/groups/{name}/members/{m}"),
                None,
                204,
            );
        }
    }

    /// Grants `slug/plugin` to `group`.
    pub fn grant(&self, group: &str, slug: &str, plugin: &str, requirement: &str) {
        self.admin(
            "PUT",
            &format!("/api/admin/groups/{group}/grants/{slug}/{plugin}"),
            Some(&serde_json::json!({"requirement": requirement})),
            204,
        );
    }

    /// Imports the standard test marketplace (version 1.0.0) as `slug`, and
    /// returns the token of a new user `<slug>-user` whose group `<slug>-g`
    /// holds `grants` (plugin, requirement).
    pub fn scenario(&self, slug: &str, grants: &[(&str, &str)]) -> String {
        let r = self.import(
            slug,
            &super::archives::zip_of(&super::archives::marketplace(slug, "1.0.0")),
        );
        assert_eq!(r.status, 200, "import {slug}: {}", r.text());
        let (user, group) = (format!("{slug}-user"), format!("{slug}-g"));
        let token = self.user_with_token(&user);
        self.group(&group, &[&user]);
        for (plugin, requirement) in grants {
            self.grant(&group, slug, plugin, requirement);
        }
        token
    }

    /// Installs Store entity `id` for the token's user.
    pub fn install(&self, token: &str, id: i64) {
        let r = self.call(
            token,
            "POST",
            &format!("/api/store/entities/{id}/install"),
            None,
        );
        assert_eq!(r.status, 204, "install {id}: {}", r.text());
    }

    /// Signs in to the web UI with `token` as the UI does; the session id.
    pub fn ui_session(&self, token: &str) -> String {
        let r = request(
            &self.base,
            "POST",
            "/api/session",
            &[
                ("Content-Type", "application/json"),
                ("Origin", &self.base),
                ("X-Marketplace-Edge", "ui"),
            ],
            serde_json::json!({ "token": token }).to_string().as_bytes(),
        );
        assert_eq!(r.status, 201, "sign-in: {}", r.text());
        r.header("set-cookie")
            .and_then(|c| c.strip_prefix("mpe_session="))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string()
    }

    /// `GET /marketplace.zip` for a user, whatever it answers.
    pub fn zip(&self, token: &str) -> RawResponse {
        let auth = format!("Bearer {token}");
        request(
            &self.base,
            "GET",
            "/marketplace.zip",
            &[("Authorization", &auth)],
            b"",
        )
    }

    /// `/marketplace/info` for a user.
    pub fn info(&self, token: &str) -> Value {
        let r = self.call(token, "GET", "/marketplace/info", None);
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }

    /// Whether the admin cache listing names a pack for view `etag`.
    pub fn pack_cached(&self, etag: &str) -> bool {
        let cache = self.admin("GET", "/api/admin/cache", None, 200);
        cache["packs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["etag"] == etag)
    }

    /// Fetches `token`'s whole view (protocol v2, side-band-64k) until its
    /// pack is cached (a view's first miss from pack segments caches
    /// nothing, its second does), then waits for the copy to be listed.
    pub fn cache_view(&self, token: &str) {
        let info = self.info(token);
        let want = format!("want {}", info["commit"].as_str().unwrap());
        let body = v2_request("fetch", &["deepen 1".into(), want, "done".into()]);
        fetch_until_caching(|| upload_pack_v2(&self.base, token, &body));
        let etag = info["etag"].as_str().unwrap();
        let cached = eventually(|| self.pack_cached(etag));
        assert!(cached, "the pack of {etag} was never cached");
    }

    /// The name plugin `slug/plugin` is served (and installed) under:
    /// catalog-wide, first come keeps a name, so tests sharing a server
    /// ask rather than assume.
    pub fn served_name(&self, slug: &str, plugin: &str) -> String {
        let m = self.admin("GET", &format!("/api/admin/marketplaces/{slug}"), None, 200);
        m["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == plugin)
            .unwrap_or_else(|| panic!("{slug}/{plugin} not listed: {m}"))["served_name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The clone URL with the token as Basic password.
    pub fn git_url(&self, token: &str) -> String {
        format!(
            "http://x:{token}@{}/marketplace.git",
            self.base.trim_start_matches("http://")
        )
    }
}
