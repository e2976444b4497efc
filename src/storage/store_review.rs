//! Review of Store uploads in D1 (migration 0017): the review mode
//! setting, the queue of pending versions with what changed, and
//! decisions. The rules are `catalog::review`'s.
//!
//! Invariants: approving a new version of a served entry is one batch that
//! makes that version's stored rows current (like a restore), so until it
//! commits installers get the approved version byte for byte; every
//! statement of a decision holds only while the version is still pending.

use serde::{Deserialize, Serialize};

use super::sql::files_from_json;
use super::{db_err, json_column, n, now, rows_changed, s, Storage, StorageResult};
use crate::catalog::review::{diff_files, FileChange, ReviewMode, ReviewStatus, VersionFile};
use crate::catalog::served::ServedFile;

/// A version waiting for review, as the queue lists it.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedVersion {
    pub entity_id: i64,
    pub version: i64,
    pub created_at: i64,
    pub entity_type: String,
    pub name: String,
    pub served_name: String,
    pub title: String,
    pub owner: String,
    /// Whether it would be the entry's first served version.
    pub new_entry: bool,
    pub capabilities: Option<serde_json::Value>,
    pub badges: Option<serde_json::Value>,
    pub findings: Option<serde_json::Value>,
    /// Against the entry's current (approved) files; every file for a new
    /// entry.
    pub changes: Vec<FileChange>,
}

#[derive(Deserialize)]
struct QueueRow {
    entity_id: i64,
    version: i64,
    created_at: i64,
    entity_type: String,
    name: String,
    served_name: String,
    title: String,
    owner: String,
    entity_status: String,
    #[serde(default, deserialize_with = "json_column")]
    capabilities: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    badges: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    findings: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    files: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    current_files: Vec<serde_json::Value>,
}

/// Stored file rows (`sql::file_rows_json`) as diff input.
fn version_files(rows: &[serde_json::Value]) -> StorageResult<Vec<VersionFile>> {
    Ok(files_from_json(rows)?
        .iter()
        .map(VersionFile::from)
        .collect())
}

/// A version's files and those it would replace, for its line diff.
#[derive(Debug, Clone)]
pub struct ReviewFiles {
    /// The version's own files.
    pub files: Vec<ServedFile>,
    /// The served (approved) version's; none for a new entry.
    pub current: Vec<ServedFile>,
    pub status: String,
}

/// What a decision found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub owner_id: i64,
    /// Whether the entry has never been served (its first version).
    pub new_entry: bool,
    pub current: i64,
}

const MODE_KEY: &str = "store_review_mode";

impl Storage {
    /// The review mode (`ReviewMode::DEFAULT` until an admin sets one).
    pub async fn review_mode(&self) -> StorageResult<ReviewMode> {
        #[derive(Deserialize)]
        struct Row {
            value: String,
        }
        let row: Option<Row> = self
            .row("SELECT value FROM settings WHERE key = ?1", &[s(MODE_KEY)])
            .await?;
        Ok(row
            .and_then(|r| ReviewMode::parse(&r.value))
            .unwrap_or(ReviewMode::DEFAULT))
    }

    /// Sets the review mode (uploads from now on; nothing waiting changes).
    pub async fn set_review_mode(&self, mode: ReviewMode) -> StorageResult<()> {
        self.exec(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            &[s(MODE_KEY), s(mode.as_str())],
        )
        .await
    }

    /// Every version waiting for review, oldest first.
    pub async fn review_queue(&self) -> StorageResult<Vec<QueuedVersion>> {
        let rows: Vec<QueueRow> = self
            .rows(
                "SELECT v.entity_id, v.version, v.created_at, e.type AS entity_type, e.name, e.served_name, e.title, \
                   u.username AS owner, e.status AS entity_status, \
                   json_extract(v.scan_json, '$.capabilities') AS capabilities, json_extract(v.scan_json, '$.badges') AS badges, \
                   json_extract(v.scan_json, '$.findings') AS findings, v.files_json AS files, \
                   (SELECT c.files_json FROM store_versions c WHERE c.entity_id = e.id AND c.version = e.version AND c.status = 'approved') AS current_files \
                 FROM store_versions v JOIN store_entities e ON e.id = v.entity_id JOIN users u ON u.id = e.owner_id \
                 WHERE v.status = 'pending' ORDER BY v.created_at, v.entity_id LIMIT 200",
                &[],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let new_entry = r.entity_status != "approved";
                let old = if new_entry {
                    Vec::new()
                } else {
                    version_files(&r.current_files)?
                };
                Ok(QueuedVersion {
                    changes: diff_files(&old, &version_files(&r.files)?),
                    entity_id: r.entity_id,
                    version: r.version,
                    created_at: r.created_at,
                    entity_type: r.entity_type,
                    name: r.name,
                    served_name: r.served_name,
                    title: r.title,
                    owner: r.owner,
                    new_entry,
                    capabilities: r.capabilities,
                    badges: r.badges,
                    findings: r.findings,
                })
            })
            .collect()
    }

    /// How many versions wait for review.
    pub async fn review_count(&self) -> StorageResult<i64> {
        #[derive(Deserialize)]
        struct Row {
            waiting: i64,
        }
        let row: Option<Row> = self
            .row(
                "SELECT COUNT(*) AS waiting FROM store_versions WHERE status = 'pending'",
                &[],
            )
            .await?;
        Ok(row.map(|r| r.waiting).unwrap_or(0))
    }

    /// Version `version` of entity `id` and the served files it would
    /// replace, if the version exists.
    pub async fn review_files(&self, id: i64, version: i64) -> StorageResult<Option<ReviewFiles>> {
        #[derive(Deserialize)]
        struct Row {
            status: String,
            #[serde(default, deserialize_with = "json_column")]
            files: Vec<serde_json::Value>,
            #[serde(default, deserialize_with = "json_column")]
            current_files: Vec<serde_json::Value>,
        }
        let row: Option<Row> = self
            .row(
                "SELECT v.status, v.files_json AS files, \
                   (SELECT c.files_json FROM store_versions c WHERE c.entity_id = e.id AND c.version = e.version \
                      AND c.version <> v.version AND e.status = 'approved') AS current_files \
                 FROM store_versions v JOIN store_entities e ON e.id = v.entity_id WHERE v.entity_id = ?1 AND v.version = ?2",
                &[n(id), n(version)],
            )
            .await?;
        row.map(|r| {
            Ok(ReviewFiles {
                files: files_from_json(&r.files)?,
                current: files_from_json(&r.current_files)?,
                status: r.status,
            })
        })
        .transpose()
    }

    /// Version `version` of entity `id`, if it is pending.
    pub async fn pending_version(
        &self,
        id: i64,
        version: i64,
    ) -> StorageResult<Option<(ReviewStatus, Pending)>> {
        #[derive(Deserialize)]
        struct Row {
            status: String,
            owner_id: i64,
            entity_status: String,
            current: i64,
        }
        let row: Option<Row> = self
            .row(
                "SELECT v.status, e.owner_id, e.status AS entity_status, e.version AS current FROM store_versions v \
                 JOIN store_entities e ON e.id = v.entity_id WHERE v.entity_id = ?1 AND v.version = ?2",
                &[n(id), n(version)],
            )
            .await?;
        Ok(row.and_then(|r| {
            Some((
                ReviewStatus::parse(&r.status)?,
                Pending {
                    owner_id: r.owner_id,
                    new_entry: r.entity_status != "approved",
                    current: r.current,
                },
            ))
        }))
    }

    /// Records `to` (approved or rejected) for pending version `version` of
    /// entity `id`, decided by `reviewer` for `reason`; an approval serves
    /// it. Whether it was still pending.
    pub async fn decide_version(
        &self,
        id: i64,
        version: i64,
        pending: &Pending,
        to: ReviewStatus,
        reviewer: &str,
        reason: &str,
    ) -> StorageResult<bool> {
        let mark = self.stmt(
            "UPDATE store_versions SET status = ?3, reviewed_by = ?4, reviewed_at = ?5, reason = ?6 \
             WHERE entity_id = ?1 AND version = ?2 AND status = 'pending'",
            &[n(id), n(version), s(to.as_str()), s(reviewer), n(now()), s(reason)],
        )?;
        let mut batch = Vec::new();
        if pending.new_entry {
            // Its rows are the entity's already; only its status changes.
            batch.push(self.stmt(
                "UPDATE store_entities SET status = ?3 WHERE id = ?1 AND version = ?2 AND status <> 'approved' \
                 AND EXISTS (SELECT 1 FROM store_versions WHERE entity_id = ?1 AND version = ?2 AND status = 'pending')",
                &[n(id), n(version), s(to.as_str())],
            )?);
        } else if to == ReviewStatus::Approved {
            batch.extend(self.make_current(
                id,
                version,
                version,
                pending.current,
                ReviewStatus::Pending,
            )?);
        }
        batch.push(mark);
        let results = self.batch_all(batch).await.map_err(db_err)?;
        Ok(rows_changed(results.last()) > 0)
    }
}
