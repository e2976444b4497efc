//! Store entities' versions in D1 (migration 0016): every version's rows
//! and scan as it was uploaded, listed for the owner and the detail page,
//! and restored by making an earlier version current again as a new
//! version number.
//!
//! Invariants: the current version's row is written in the same batch as
//! the entity's rows it copies; a restore is one batch that retires the
//! served rows (for clones shown them), replaces them from the version's
//! stored rows and records the new version, or, when that version is
//! gone or not approved, changes nothing.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{
    db_err, file_rows_from, file_rows_json, json_column, n, now, s, Storage, StorageResult,
};
use crate::catalog::ingest::IngestedFiles;
use crate::catalog::review::ReviewStatus;

/// An upload's scan as stored with the entity and its version.
pub(super) fn scan_json(files: &IngestedFiles) -> String {
    serde_json::to_string(&files.scan).unwrap_or_else(|_| "null".into())
}

/// Which entity a new version row belongs to, in the batch that writes it.
pub(super) enum VersionOf<'a> {
    /// An entity inserted earlier in the same batch, by its served name.
    ServedName(&'a str),
    Id(i64),
}

/// A version as the API lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VersionRow {
    pub version: i64,
    pub status: String,
    pub created_at: i64,
    /// The version it was restored from, when it is a restore.
    pub restored_from: Option<i64>,
    /// Who decided on it and why (`null` where nobody had to).
    pub reviewed_by: Option<String>,
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "json_column")]
    pub capabilities: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    pub badges: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    pub findings: Option<serde_json::Value>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// Served now as this new version.
    Done { version: i64 },
    /// The entity has no approved version with that number.
    NoVersion,
}

/// Versions kept per entity besides the current one; older ones (and
/// their entries objects, once unreferenced) go at the next GC.
pub const KEPT_VERSIONS: i64 = 20;

impl Storage {
    /// The statement (for the batch that writes an entity's current rows,
    /// after them) recording that current version as a version row.
    pub(super) fn version_row(
        &self,
        of: VersionOf<'_>,
        files: &IngestedFiles,
        root: (JsValue, JsValue),
        status: ReviewStatus,
    ) -> StorageResult<D1PreparedStatement> {
        let (which, key) = match of {
            VersionOf::ServedName(name) => ("e.served_name = ?1", s(name)),
            VersionOf::Id(id) => ("e.id = ?1", n(id)),
        };
        // A pending new version of an entity already served is numbered
        // after every version it has; otherwise the row is the entity's
        // current version.
        let number = match (&of, status) {
            (VersionOf::Id(_), ReviewStatus::Pending) => {
                "(SELECT MAX(v.version) + 1 FROM store_versions v WHERE v.entity_id = e.id)"
            }
            _ => "e.version",
        };
        let version = files.version.as_deref().map(s).unwrap_or(JsValue::NULL);
        self.stmt(
            &format!(
                "INSERT INTO store_versions (entity_id, version, status, entries_key, root_id, root_mode, files_digest, served_version, files_json, scan_json, created_at) \
                 SELECT e.id, {number}, ?10, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM store_entities e WHERE {which}"
            ),
            &[key, s(&files.entries_key), root.0, root.1, s(&files.digest), version, s(&file_rows_json(&files.files)), s(&scan_json(files)), n(now()), s(status.as_str())],
        )
    }

    /// Statements (for one batch) that serve version `version` of entity
    /// `id` as its current rows under number `number`, each holding only
    /// while that version is still `source` and the entity still at
    /// `was`: a racing change wins whole and these change nothing.
    pub(super) fn make_current(
        &self,
        id: i64,
        version: i64,
        number: i64,
        was: i64,
        source: ReviewStatus,
    ) -> StorageResult<Vec<D1PreparedStatement>> {
        let col = |c: &str| {
            format!("(SELECT {c} FROM store_versions WHERE entity_id = ?1 AND version = ?2 AND status = ?4)")
        };
        let still = "EXISTS (SELECT 1 FROM store_versions WHERE entity_id = ?1 AND version = ?2 AND status = ?4) \
                     AND (SELECT version FROM store_entities WHERE id = ?1) = ?5";
        // D1 wants exactly as many bindings as a statement's highest `?N`:
        // the first two statements stop at `?5`, the update uses `?6`.
        let args = |with_now: bool| {
            let mut a = vec![n(id), n(version), n(number), s(source.as_str()), n(was)];
            if with_now {
                a.push(n(now()));
            }
            a
        };
        Ok(vec![
            // Clones shown the current rows may still fetch them.
            self.retire_entity(id)?,
            self.stmt(
                &format!("DELETE FROM store_files WHERE entity_id = ?1 AND {still}"),
                &args(false),
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO store_files (entity_id, path, size, sha256, blob_id, exec, entry_offset, entry_len) \
                     SELECT ?1, {} WHERE {still}",
                    file_rows_from(&col("files_json"), false)
                ),
                &args(false),
            )?,
            self.stmt(
                &format!(
                    "UPDATE store_entities SET version = ?3, updated_at = ?6, entries_key = {}, root_id = {}, root_mode = {}, \
                     files_digest = {}, served_version = {}, scan_json = {} WHERE id = ?1 AND {still}",
                    col("entries_key"), col("root_id"), col("root_mode"), col("files_digest"), col("served_version"), col("scan_json")
                ),
                &args(true),
            )?,
        ])
    }

    /// An entity's versions, newest first.
    pub async fn entity_versions(&self, id: i64) -> StorageResult<Vec<VersionRow>> {
        self.rows(
            "SELECT version, status, created_at, restored_from, reviewed_by, reason, \
               json_extract(scan_json, '$.capabilities') AS capabilities, json_extract(scan_json, '$.badges') AS badges, \
               json_extract(scan_json, '$.findings') AS findings \
             FROM store_versions WHERE entity_id = ?1 ORDER BY version DESC",
            &[n(id)],
        )
        .await
    }

    /// Serves approved version `version` of entity `id` again, as a new
    /// version number.
    pub async fn restore_version(&self, id: i64, version: i64) -> StorageResult<Restored> {
        #[derive(Deserialize)]
        struct Found {
            current: i64,
            next: i64,
        }
        let found: Option<Found> = self
            .row(
                "SELECT e.version AS current, (SELECT MAX(m.version) + 1 FROM store_versions m WHERE m.entity_id = e.id) AS next \
                 FROM store_entities e JOIN store_versions v ON v.entity_id = e.id \
                 WHERE e.id = ?1 AND v.version = ?2 AND v.status = 'approved' AND e.status = 'approved'",
                &[n(id), n(version)],
            )
            .await?;
        let Some(found) = found else {
            return Ok(Restored::NoVersion);
        };
        let mut batch = self.make_current(
            id,
            version,
            found.next,
            found.current,
            ReviewStatus::Approved,
        )?;
        // A restore supersedes a version waiting for review.
        batch.push(self.stmt(
            "DELETE FROM store_versions WHERE entity_id = ?1 AND status = 'pending' \
             AND (SELECT version FROM store_entities WHERE id = ?1) = ?2",
            &[n(id), n(found.next)],
        )?);
        batch.push(self.stmt(
            "INSERT INTO store_versions (entity_id, version, status, entries_key, root_id, root_mode, files_digest, served_version, files_json, scan_json, created_at, restored_from) \
             SELECT entity_id, ?3, 'approved', entries_key, root_id, root_mode, files_digest, served_version, files_json, scan_json, ?4, ?2 \
             FROM store_versions WHERE entity_id = ?1 AND version = ?2 AND status = 'approved' \
               AND (SELECT version FROM store_entities WHERE id = ?1) = ?3",
            &[n(id), n(version), n(found.next), n(now())],
        )?);
        let results = self.batch_all(batch).await.map_err(db_err)?;
        if super::rows_changed(results.last()) == 0 {
            return Ok(Restored::NoVersion);
        }
        Ok(Restored::Done {
            version: found.next,
        })
    }
}
