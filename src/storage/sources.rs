//! Upstream sources of curated marketplaces (migration 0008): their
//! configuration, the sync lease and each sync's outcome.
//!
//! Invariants: a lease is taken by one conditional UPDATE, so of two syncs
//! racing for a marketplace exactly one proceeds; and it is ended only by
//! its holder (migration 0014), so a sync that outlived its lease never
//! clears the lease of the sync that took over.

use serde::{Deserialize, Serialize};

use super::{n, now, opt, random_id, s, Storage, StorageResult};

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

/// A sync's hold on its marketplace: only its holder ends it.
pub struct Lease {
    slug: String,
    holder: String,
}

/// How long a sync may hold its lease before another may take it.
pub const LEASE_SECONDS: i64 = 300;

const COLS: &str = "slug, url, ref, auth_secret, webhook_secret, created_at, lease_until, \
                    last_attempt_at, last_success_at, upstream_commit, last_error_code, last_error_message";

impl Storage {
    /// Sets (or replaces) a marketplace's upstream; its sync state restarts.
    pub async fn put_source(
        &self,
        slug: &str,
        url: &str,
        git_ref: &Option<String>,
        auth_secret: &Option<String>,
        webhook_secret: &Option<String>,
    ) -> StorageResult<()> {
        self.exec(
            "INSERT INTO marketplace_sources (slug, url, ref, auth_secret, webhook_secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT(slug) DO UPDATE SET url = excluded.url, ref = excluded.ref, auth_secret = excluded.auth_secret, \
             webhook_secret = excluded.webhook_secret, upstream_commit = NULL, last_error_code = NULL, last_error_message = NULL",
            &[s(slug), s(url), opt(git_ref), opt(auth_secret), opt(webhook_secret), n(now())],
        )
        .await
    }

    /// Removes a marketplace's upstream; whether it had one.
    pub async fn delete_source(&self, slug: &str) -> StorageResult<bool> {
        self.changed(
            "DELETE FROM marketplace_sources WHERE slug = ?1",
            &[s(slug)],
        )
        .await
    }

    /// A marketplace's upstream, if it follows one.
    pub async fn source(&self, slug: &str) -> StorageResult<Option<SourceRow>> {
        self.row(
            &format!("SELECT {COLS} FROM marketplace_sources WHERE slug = ?1"),
            &[s(slug)],
        )
        .await
    }

    /// Every upstream (for the scheduled sync).
    pub async fn sources(&self) -> StorageResult<Vec<SourceRow>> {
        self.rows(
            &format!("SELECT {COLS} FROM marketplace_sources ORDER BY slug"),
            &[],
        )
        .await
    }

    /// Takes the sync lease of `slug`; `None` when another sync holds it.
    pub async fn take_lease(&self, slug: &str) -> StorageResult<Option<Lease>> {
        let t = now();
        let holder = random_id()?;
        let taken = self
            .changed(
                "UPDATE marketplace_sources SET lease_until = ?2, last_attempt_at = ?3, lease_holder = ?4 \
                 WHERE slug = ?1 AND (lease_until IS NULL OR lease_until < ?3)",
                &[s(slug), n(t + LEASE_SECONDS), n(t), s(&holder)],
            )
            .await?;
        Ok(taken.then(|| Lease {
            slug: slug.to_string(),
            holder,
        }))
    }

    /// Ends a sync that served `commit` (or found it already served). A
    /// lease that expired and was taken by another sync is that sync's:
    /// the outcome of this one is then not recorded over it.
    pub async fn sync_succeeded(&self, lease: &Lease, commit: &str) -> StorageResult<()> {
        self.exec(
            "UPDATE marketplace_sources SET lease_until = NULL, lease_holder = NULL, last_success_at = ?3, upstream_commit = ?4, \
             last_error_code = NULL, last_error_message = NULL WHERE slug = ?1 AND lease_holder = ?2",
            &[s(&lease.slug), s(&lease.holder), n(now()), s(commit)],
        )
        .await
    }

    /// Ends a sync that failed; what was served stays served (and, as for
    /// a success, a lease now another's is left alone).
    pub async fn sync_failed(&self, lease: &Lease, code: &str, message: &str) -> StorageResult<()> {
        self.exec(
            "UPDATE marketplace_sources SET lease_until = NULL, lease_holder = NULL, last_error_code = ?3, last_error_message = ?4 \
             WHERE slug = ?1 AND lease_holder = ?2",
            &[s(&lease.slug), s(&lease.holder), s(code), s(message)],
        )
        .await
    }
}
