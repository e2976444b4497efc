//! Upstream sources of curated marketplaces (migration 0008): their
//! configuration, the sync lease and each sync's outcome.
//!
//! Invariant: a lease is taken by one conditional UPDATE, so of two syncs
//! racing for a marketplace exactly one proceeds.

use serde::{Deserialize, Serialize};

use super::{n, now, s, Store, StoreResult};

/// A marketplace's upstream and its sync state, as the admin API shows it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SourceRow {
    pub slug: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub auth_secret: Option<String>,
    pub webhook_secret: Option<String>,
    pub created_at: i64,
    pub lease_until: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub upstream_commit: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
}

/// How long a sync may hold its lease before another may take it.
pub const LEASE_SECONDS: i64 = 300;

const COLS: &str = "slug, url, ref, auth_secret, webhook_secret, created_at, lease_until, \
                    last_attempt_at, last_success_at, upstream_commit, last_error_code, last_error_message";

fn opt(v: &Option<String>) -> wasm_bindgen::JsValue {
    v.as_deref().map(s).unwrap_or(wasm_bindgen::JsValue::NULL)
}

impl Store {
    /// Sets (or replaces) a marketplace's upstream; its sync state restarts.
    pub async fn put_source(
        &self,
        slug: &str,
        url: &str,
        git_ref: &Option<String>,
        auth_secret: &Option<String>,
        webhook_secret: &Option<String>,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO marketplace_sources (slug, url, ref, auth_secret, webhook_secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT(slug) DO UPDATE SET url = excluded.url, ref = excluded.ref, auth_secret = excluded.auth_secret, \
             webhook_secret = excluded.webhook_secret, upstream_commit = NULL, last_error_code = NULL, last_error_message = NULL",
            &[s(slug), s(url), opt(git_ref), opt(auth_secret), opt(webhook_secret), n(now())],
        )
        .await
    }

    /// Removes a marketplace's upstream; whether it had one.
    pub async fn delete_source(&self, slug: &str) -> StoreResult<bool> {
        self.changed(
            "DELETE FROM marketplace_sources WHERE slug = ?1",
            &[s(slug)],
        )
        .await
    }

    /// A marketplace's upstream, if it follows one.
    pub async fn source(&self, slug: &str) -> StoreResult<Option<SourceRow>> {
        self.row(
            &format!("SELECT {COLS} FROM marketplace_sources WHERE slug = ?1"),
            &[s(slug)],
        )
        .await
    }

    /// Every upstream (for the scheduled sync).
    pub async fn sources(&self) -> StoreResult<Vec<SourceRow>> {
        self.rows(
            &format!("SELECT {COLS} FROM marketplace_sources ORDER BY slug"),
            &[],
        )
        .await
    }

    /// Takes the sync lease of `slug`; false when another sync holds it.
    pub async fn take_lease(&self, slug: &str) -> StoreResult<bool> {
        let t = now();
        self.changed(
            "UPDATE marketplace_sources SET lease_until = ?2, last_attempt_at = ?3 \
             WHERE slug = ?1 AND (lease_until IS NULL OR lease_until < ?3)",
            &[s(slug), n(t + LEASE_SECONDS), n(t)],
        )
        .await
    }

    /// Ends a sync that served `commit` (or found it already served).
    pub async fn sync_succeeded(&self, slug: &str, commit: &str) -> StoreResult<()> {
        self.exec(
            "UPDATE marketplace_sources SET lease_until = NULL, last_success_at = ?2, upstream_commit = ?3, \
             last_error_code = NULL, last_error_message = NULL WHERE slug = ?1",
            &[s(slug), n(now()), s(commit)],
        )
        .await
    }

    /// Ends a sync that failed; what was served stays served.
    pub async fn sync_failed(&self, slug: &str, code: &str, message: &str) -> StoreResult<()> {
        self.exec(
            "UPDATE marketplace_sources SET lease_until = NULL, last_error_code = ?2, last_error_message = ?3 WHERE slug = ?1",
            &[s(slug), s(code), s(message)],
        )
        .await
    }
}
