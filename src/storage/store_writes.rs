//! Store entities written: a new entry with its first version, a new
//! version (served at once, or waiting for review), detail edits, and the
//! early check that a name is free and the owner has room. Each write is
//! one D1 batch after its entries object is in R2.

use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::store::{
    EntityMeta, EntityRow, MetaPatch, ENTITY_SELECT_SCANNED, MAX_ENTITIES_PER_OWNER,
};
use super::store_versions::{scan_json, VersionOf};
use super::{
    db_err, file_rows_from_json, file_rows_json, is_not_null_violation, is_unique_violation, n,
    now, opt, s, Storage, StorageError, StorageResult,
};
use crate::catalog::ingest::IngestedFiles;
use crate::catalog::review::ReviewStatus;
use crate::catalog::store::EntityType;
use crate::catalog::store_view::entity_root;

/// The `root_id` and `root_mode` arguments of an entity's files (NULLs if
/// they form no tree; the view then computes them from the files).
fn root_args(entity_type: EntityType, files: &IngestedFiles) -> (JsValue, JsValue) {
    match entity_root(entity_type, &files.files) {
        Ok((mode, id)) => (s(&id.to_hex()), s(mode.as_str())),
        Err(_) => (JsValue::NULL, JsValue::NULL),
    }
}

/// The conflict of a served name someone already published under.
fn name_taken(served_name: &str) -> StorageError {
    StorageError::Conflict(format!("Store entity `{served_name}`"))
}

impl Storage {
    /// Stores a new entity (entries in R2 first, then one D1 batch).
    pub async fn create_entity(
        &self,
        owner_id: i64,
        meta: &EntityMeta,
        mut files: IngestedFiles,
        docs: &[(String, Vec<u8>)],
        status: ReviewStatus,
    ) -> StorageResult<EntityRow> {
        let files = &mut files;
        // Moved into the runtime's buffer, not copied within the isolate.
        self.put_object(&files.entries_key, std::mem::take(&mut files.entries))
            .await?;
        self.failpoint(&format!("store-commit:{}", meta.name)).await;
        let (root_id, root_mode) = root_args(meta.entity_type, files);
        let t = now();
        let mut batch = vec![
            // Nothing is inserted once the owner holds the most entities
            // allowed; the files' insert then finds no entity and fails
            // the whole batch (see the error mapping below).
            self.stmt(
                "INSERT INTO store_entities (owner_id, type, name, served_name, title, tagline, description, category, photo_url, video_url, version, entries_key, created_at, updated_at, root_id, root_mode, files_digest, served_version, scan_json, status) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?12, ?13, ?14, ?15, ?17, ?18, ?19 \
                 WHERE (SELECT count(*) FROM store_entities WHERE owner_id = ?1) < ?16",
                &[n(owner_id), s(meta.entity_type.as_str()), s(&meta.name), s(&meta.served_name), s(&meta.title), s(&meta.tagline), s(&meta.description), s(&meta.category), opt(&meta.photo_url), opt(&meta.video_url), s(&files.entries_key), n(t), root_id.clone(), root_mode.clone(), s(&files.digest), n(MAX_ENTITIES_PER_OWNER), opt(&files.version), s(&scan_json(files)), s(status.as_str())],
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO store_files (entity_id, path, size, sha256, blob_id, exec, entry_offset, entry_len) \
                     SELECT (SELECT id FROM store_entities WHERE served_name = ?1), {}",
                    file_rows_from_json(2, false)
                ),
                &[s(&meta.served_name), s(&file_rows_json(&files.files))],
            )?,
        ];
        batch.push(self.version_row(
            VersionOf::ServedName(&meta.served_name),
            files,
            (root_id, root_mode),
            status,
        )?);
        for (name, content) in docs {
            batch.push(self.stmt(
                "INSERT INTO store_docs (entity_id, name, content) SELECT id, ?2, ?3 FROM store_entities WHERE served_name = ?1",
                &[s(&meta.served_name), s(name), s(&String::from_utf8_lossy(content))],
            )?);
        }
        match self.batch_all(batch).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(name_taken(&meta.served_name)),
            Err(e) if is_not_null_violation(&e, "store_files.entity_id") => {
                return Err(StorageError::TooManyEntities)
            }
            Err(e) => return Err(db_err(e)),
        }
        let row: Option<EntityRow> = self
            .row(
                &format!("{ENTITY_SELECT_SCANNED} WHERE e.served_name = ?1"),
                &[s(&meta.served_name)],
            )
            .await?;
        row.ok_or_else(|| StorageError::Corrupt("entity vanished after insert".into()))
    }

    /// Stores a new version of an entity and applies `patch` to its
    /// details, in one D1 batch (the files' R2 object first). An approved
    /// version replaces the served rows at once (the old ones retired for
    /// racing clones); a pending one is only a version row, so the served
    /// rows stay as they are until it is approved. Either supersedes a
    /// version still waiting for review.
    pub async fn replace_entity_version(
        &self,
        id: i64,
        entity_type: EntityType,
        mut files: IngestedFiles,
        patch: &MetaPatch,
        status: ReviewStatus,
    ) -> StorageResult<()> {
        let files = &mut files;
        // Moved into the runtime's buffer, not copied within the isolate.
        self.put_object(&files.entries_key, std::mem::take(&mut files.entries))
            .await?;
        let (root_id, root_mode) = root_args(entity_type, files);
        let mut batch = vec![self.stmt(
            "DELETE FROM store_versions WHERE entity_id = ?1 AND status = 'pending'",
            &[n(id)],
        )?];
        if status == ReviewStatus::Approved {
            batch.extend([
                self.retire_entity(id)?,
                self.stmt("DELETE FROM store_files WHERE entity_id = ?1", &[n(id)])?,
                self.stmt(
                    &format!(
                        "INSERT INTO store_files (entity_id, path, size, sha256, blob_id, exec, entry_offset, entry_len) SELECT ?1, {}",
                        file_rows_from_json(2, false)
                    ),
                    &[n(id), s(&file_rows_json(&files.files))],
                )?,
                // Numbered after every version kept, rejected ones too.
                self.stmt(
                    "UPDATE store_entities SET entries_key = ?2, updated_at = ?3, root_id = ?4, root_mode = ?5, files_digest = ?6, served_version = ?7, scan_json = ?8, \
                     version = MAX(version, (SELECT COALESCE(MAX(v.version), 0) FROM store_versions v WHERE v.entity_id = ?1)) + 1 WHERE id = ?1",
                    &[n(id), s(&files.entries_key), n(now()), root_id.clone(), root_mode.clone(), s(&files.digest), opt(&files.version), s(&scan_json(files))],
                )?,
            ]);
        }
        batch.push(self.version_row(VersionOf::Id(id), files, (root_id, root_mode), status)?);
        batch.push(self.meta_stmt(id, patch)?);
        self.batch_all(batch).await.map_err(db_err)?;
        Ok(())
    }

    /// Updates the given metadata fields of an entity (others unchanged).
    pub async fn update_entity_meta(&self, id: i64, patch: &MetaPatch) -> StorageResult<()> {
        self.batch_all(vec![self.meta_stmt(id, patch)?])
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The statement applying `patch` to entity `id`.
    fn meta_stmt(&self, id: i64, patch: &MetaPatch) -> StorageResult<worker::D1PreparedStatement> {
        self.stmt(
            "UPDATE store_entities SET title = COALESCE(?2, title), tagline = COALESCE(?3, tagline), description = COALESCE(?4, description), \
             category = COALESCE(?5, category), photo_url = COALESCE(?6, photo_url), video_url = COALESCE(?7, video_url), updated_at = ?8 WHERE id = ?1",
            &[n(id), opt(&patch.title), opt(&patch.tagline), opt(&patch.description), opt(&patch.category), opt(&patch.photo_url), opt(&patch.video_url), n(now())],
        )
    }

    /// Whether a new entity of `owner_id` under `served_name` can be
    /// stored: `Conflict` if the name is taken, `TooManyEntities` if the
    /// owner holds `MAX_ENTITIES_PER_OWNER` already (one round trip, before
    /// anything reaches R2; `create_entity` checks both again atomically).
    pub async fn check_new_entity(&self, owner_id: i64, served_name: &str) -> StorageResult<()> {
        #[derive(Deserialize)]
        struct Check {
            taken: i64,
            owned: i64,
        }
        let row: Option<Check> = self
            .row(
                // A curated plugin's served name (migration 0015) is taken
                // too: a Store plugin must not share a name in any view.
                "SELECT EXISTS (SELECT 1 FROM store_entities WHERE served_name = ?1) \
                   OR EXISTS (SELECT 1 FROM served_names WHERE name = ?1) AS taken, \
                 (SELECT count(*) FROM store_entities WHERE owner_id = ?2) AS owned",
                &[s(served_name), n(owner_id)],
            )
            .await?;
        match row {
            Some(c) if c.taken != 0 => Err(name_taken(served_name)),
            Some(c) if c.owned >= MAX_ENTITIES_PER_OWNER => Err(StorageError::TooManyEntities),
            _ => Ok(()),
        }
    }
}
