//! The audit log in D1 (migration 0012): one row per recorded action,
//! paged newest first, kept for `AUDIT_RETENTION_DAYS` (400 by default)
//! and swept by the daily cron.

use serde::{Deserialize, Serialize};

use super::{n, now, s, Storage, StorageResult};

/// One recorded action.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub request_id: String,
    /// A username, or `ADMIN_TOKEN` for the bootstrap token.
    pub actor: String,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub status: i64,
    /// What a webhook or cron sync did, as JSON (upstream commit, outcome).
    pub detail: Option<String>,
}

/// What to page through: optional actor and action filters (an action
/// filter `grant` matches `grant` and `grant.*`), entries older than
/// `before` (an id), at most `limit`.
pub struct AuditQuery<'a> {
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// An entry to record (its time is the recording's).
pub struct NewAuditEntry<'a> {
    pub request_id: &'a str,
    pub actor: &'a str,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub target: &'a str,
    pub status: u16,
    /// JSON, for what the route and status do not say (a webhook or cron
    /// sync's upstream commit and outcome).
    pub detail: Option<&'a str>,
}

impl Storage {
    /// Appends one entry.
    pub async fn record_audit(&self, e: &NewAuditEntry<'_>) -> StorageResult<()> {
        self.exec(
            "INSERT INTO audit_log (at, request_id, actor, actor_id, action, target, status, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                n(now()),
                s(e.request_id),
                s(e.actor),
                e.actor_id.map(n).unwrap_or(wasm_bindgen::JsValue::NULL),
                s(e.action),
                s(e.target),
                n(i64::from(e.status)),
                e.detail.map(s).unwrap_or(wasm_bindgen::JsValue::NULL),
            ],
        )
        .await
    }

    /// A page of entries, newest first.
    pub async fn audit_page(&self, q: &AuditQuery<'_>) -> StorageResult<Vec<AuditRow>> {
        let opt = |v: Option<&str>| v.map(s).unwrap_or(wasm_bindgen::JsValue::NULL);
        self.rows(
            "SELECT id, at, request_id, actor, actor_id, action, target, status, detail FROM audit_log \
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2 OR action LIKE ?2 || '.%') \
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4",
            &[
                opt(q.actor),
                opt(q.action),
                q.before.map(n).unwrap_or(wasm_bindgen::JsValue::NULL),
                n(q.limit),
            ],
        )
        .await
    }
}
