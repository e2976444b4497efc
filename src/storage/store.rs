//! Store entities, their files and docs, and installs in D1; their entries
//! in R2 (content-addressed, like curated plugins).

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use super::store_versions::VersionOf;
use super::{
    db_err, file_rows_from_json, file_rows_json, is_not_null_violation, is_unique_violation,
    json_column, n, now, opt, rows_changed, s, Storage, StorageError, StorageResult,
};
use crate::catalog::ingest::IngestedFiles;
use crate::catalog::store::EntityType;
use crate::catalog::store_view::entity_root;

/// A Store entity as the API shows it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EntityRow {
    pub id: i64,
    pub owner: String,
    pub owner_id: i64,
    #[serde(rename(serialize = "type"))]
    pub entity_type: String,
    pub name: String,
    pub served_name: String,
    pub title: String,
    pub tagline: String,
    pub description: String,
    pub category: String,
    pub photo_url: Option<String>,
    pub video_url: Option<String>,
    pub version: i64,
    /// Where its files are in R2: internal, never in an API response.
    #[serde(skip_serializing)]
    pub entries_key: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub installs: i64,
    /// The entity's root and files digest (see `store_view`), not shown.
    #[serde(default, skip_serializing)]
    pub root_id: Option<String>,
    #[serde(default, skip_serializing)]
    pub root_mode: Option<String>,
    #[serde(default, skip_serializing)]
    pub files_digest: Option<String>,
    /// A plugin's content version (migration 0015).
    #[serde(default)]
    pub served_version: Option<String>,
    /// What its current version can do (`catalog::scan`); `null` where a
    /// query does not read them, or for a version stored before the scan.
    #[serde(default, deserialize_with = "json_column")]
    pub capabilities: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    pub badges: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "json_column")]
    pub findings: Option<serde_json::Value>,
    /// When an admin unpublished it, if they did (then it is in no stack
    /// and not listed).
    #[serde(default)]
    pub unpublished_at: Option<i64>,
}

/// A stored file of an entity.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StoreFileRow {
    pub entity_id: i64,
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub blob_id: String,
    pub exec: i64,
    pub entry_offset: i64,
    pub entry_len: i64,
}

/// Metadata of an upload.
#[derive(Debug, Clone)]
pub struct EntityMeta {
    pub entity_type: EntityType,
    pub name: String,
    pub served_name: String,
    pub title: String,
    pub tagline: String,
    pub description: String,
    pub category: String,
    pub photo_url: Option<String>,
    pub video_url: Option<String>,
}

/// Metadata fields an owner may change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetaPatch {
    pub title: Option<String>,
    pub tagline: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub photo_url: Option<String>,
    pub video_url: Option<String>,
}

/// Filters of the Store listing.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    pub entity_type: Option<String>,
    pub category: Option<String>,
    pub owner: Option<String>,
    pub text: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// Which entities the Store lists (on entity `e`): those not unpublished.
const LISTED: &str = "e.unpublished_at IS NULL";

/// An entity query's `SELECT … FROM`, with `$extra` columns.
macro_rules! entity_select {
    ($extra:literal) => {
        concat!(
            "SELECT e.id, u.username AS owner, e.owner_id, e.type AS entity_type, e.name, e.served_name, e.title, e.tagline, \
             e.description, e.category, e.photo_url, e.video_url, e.version, e.entries_key, e.created_at, e.updated_at, \
             e.root_id, e.root_mode, e.files_digest, e.served_version, e.unpublished_at, ",
            $extra,
            "(SELECT COUNT(*) FROM store_installs i WHERE i.entity_id = e.id) AS installs \
             FROM store_entities e JOIN users u ON u.id = e.owner_id"
        )
    };
}

/// Entities as a view loads them (no scan: git requests never need it).
pub(crate) const ENTITY_SELECT: &str = entity_select!("");

/// Entities as the API shows them, with what their current version can do.
pub(crate) const ENTITY_SELECT_SCANNED: &str = entity_select!(
    "json_extract(e.scan_json, '$.capabilities') AS capabilities, json_extract(e.scan_json, '$.badges') AS badges, \
     json_extract(e.scan_json, '$.findings') AS findings, "
);

/// The `root_id` and `root_mode` arguments of an entity's files (NULLs if
/// they form no tree; the view then computes them from the files).
fn root_args(entity_type: EntityType, files: &IngestedFiles) -> (JsValue, JsValue) {
    match entity_root(entity_type, &files.files) {
        Ok((mode, id)) => (s(&id.to_hex()), s(mode.as_str())),
        Err(_) => (JsValue::NULL, JsValue::NULL),
    }
}

/// An upload's scan as stored with the entity and its version.
pub(super) fn scan_json(files: &IngestedFiles) -> String {
    serde_json::to_string(&files.scan).unwrap_or_else(|_| "null".into())
}

/// The conflict of a served name someone already published under.
fn name_taken(served_name: &str) -> StorageError {
    StorageError::Conflict(format!("Store entity `{served_name}`"))
}

/// Store entities one user may own: a bound on what one member's uploads
/// can put in R2 (each at most the Store's archive limit).
pub const MAX_ENTITIES_PER_OWNER: i64 = 200;

impl Storage {
    /// Stores a new entity (entries in R2 first, then one D1 batch).
    pub async fn create_entity(
        &self,
        owner_id: i64,
        meta: &EntityMeta,
        mut files: IngestedFiles,
        docs: &[(String, Vec<u8>)],
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
                "INSERT INTO store_entities (owner_id, type, name, served_name, title, tagline, description, category, photo_url, video_url, version, entries_key, created_at, updated_at, root_id, root_mode, files_digest, served_version, scan_json) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?12, ?13, ?14, ?15, ?17, ?18 \
                 WHERE (SELECT count(*) FROM store_entities WHERE owner_id = ?1) < ?16",
                &[n(owner_id), s(meta.entity_type.as_str()), s(&meta.name), s(&meta.served_name), s(&meta.title), s(&meta.tagline), s(&meta.description), s(&meta.category), opt(&meta.photo_url), opt(&meta.video_url), s(&files.entries_key), n(t), root_id.clone(), root_mode.clone(), s(&files.digest), n(MAX_ENTITIES_PER_OWNER), opt(&files.version), s(&scan_json(files))],
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

    /// Replaces an entity's files with a new version (version + 1) and
    /// applies `patch` to its details, in one D1 batch (the files' R2
    /// object first; the old rows are retired for racing clones).
    pub async fn replace_entity_version(
        &self,
        id: i64,
        entity_type: EntityType,
        mut files: IngestedFiles,
        patch: &MetaPatch,
    ) -> StorageResult<()> {
        let files = &mut files;
        // Moved into the runtime's buffer, not copied within the isolate.
        self.put_object(&files.entries_key, std::mem::take(&mut files.entries))
            .await?;
        let (root_id, root_mode) = root_args(entity_type, files);
        self.batch_all(vec![
                self.retire_entity(id)?,
                self.stmt("DELETE FROM store_files WHERE entity_id = ?1", &[n(id)])?,
                self.stmt(
                    &format!(
                        "INSERT INTO store_files (entity_id, path, size, sha256, blob_id, exec, entry_offset, entry_len) SELECT ?1, {}",
                        file_rows_from_json(2, false)
                    ),
                    &[n(id), s(&file_rows_json(&files.files))],
                )?,
                self.stmt(
                    "UPDATE store_entities SET entries_key = ?2, version = version + 1, updated_at = ?3, root_id = ?4, root_mode = ?5, files_digest = ?6, served_version = ?7, scan_json = ?8 WHERE id = ?1",
                    &[n(id), s(&files.entries_key), n(now()), root_id.clone(), root_mode.clone(), s(&files.digest), opt(&files.version), s(&scan_json(files))],
                )?,
                self.version_row(VersionOf::Id(id), files, (root_id, root_mode))?,
                self.meta_stmt(id, patch)?,
            ])
            .await
            .map_err(db_err)?;
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

    /// One entity.
    pub async fn entity(&self, id: i64) -> StorageResult<Option<EntityRow>> {
        self.row(
            &format!("{ENTITY_SELECT_SCANNED} WHERE e.id = ?1"),
            &[n(id)],
        )
        .await
    }

    /// An entity's files, by path.
    pub async fn entity_files(&self, id: i64) -> StorageResult<Vec<StoreFileRow>> {
        self.rows(
            "SELECT * FROM store_files WHERE entity_id = ?1 ORDER BY path",
            &[n(id)],
        )
        .await
    }

    /// An entity's docs: (name, content), by name.
    pub async fn entity_docs(&self, id: i64) -> StorageResult<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Doc {
            name: String,
            content: String,
        }
        let docs: Vec<Doc> = self
            .rows(
                "SELECT name, content FROM store_docs WHERE entity_id = ?1 ORDER BY name",
                &[n(id)],
            )
            .await?;
        Ok(docs.into_iter().map(|d| (d.name, d.content)).collect())
    }

    /// A filtered, paginated listing in a stable order (newest first, then id).
    pub async fn list_entities(&self, q: &EntityQuery) -> StorageResult<(i64, Vec<EntityRow>)> {
        let filter = format!(
            "WHERE {LISTED} AND (?1 IS NULL OR e.type = ?1) AND (?2 IS NULL OR e.category = ?2) AND (?3 IS NULL OR u.username = ?3) \
             AND (?4 IS NULL OR instr(lower(e.title || ' ' || e.tagline || ' ' || e.description), lower(?4)) > 0)"
        );
        let args = [
            opt(&q.entity_type),
            opt(&q.category),
            opt(&q.owner),
            opt(&q.text),
        ];
        #[derive(Deserialize)]
        struct Count {
            total: i64,
        }
        let total: Option<Count> = self.row(&format!("SELECT COUNT(*) AS total FROM store_entities e JOIN users u ON u.id = e.owner_id {filter}"), &args).await?;
        let mut page_args = args.to_vec();
        page_args.push(n(q.per_page));
        page_args.push(n((q.page - 1) * q.per_page));
        let rows = self.rows(&format!("{ENTITY_SELECT_SCANNED} {filter} ORDER BY e.created_at DESC, e.id DESC LIMIT ?5 OFFSET ?6"), &page_args).await?;
        Ok((total.map(|c| c.total).unwrap_or(0), rows))
    }

    /// The categories and owners that have at least one listed entity,
    /// sorted: the Store's filter choices (an unpublished entity's category
    /// and owner are not shown to anyone through them).
    pub async fn store_facets(&self) -> StorageResult<(Vec<String>, Vec<String>)> {
        #[derive(Deserialize)]
        struct Facet {
            kind: String,
            value: String,
        }
        let rows: Vec<Facet> = self
            .rows(
                &format!(
                    "SELECT DISTINCT 'category' AS kind, e.category AS value FROM store_entities e WHERE {LISTED} \
                     UNION SELECT DISTINCT 'owner', u.username FROM store_entities e JOIN users u ON u.id = e.owner_id WHERE {LISTED} \
                     ORDER BY kind, value"
                ),
                &[],
            )
            .await?;
        let (categories, owners): (Vec<Facet>, Vec<Facet>) =
            rows.into_iter().partition(|f| f.kind == "category");
        Ok((
            categories.into_iter().map(|f| f.value).collect(),
            owners.into_iter().map(|f| f.value).collect(),
        ))
    }

    /// A page of the entities admins have unpublished, newest entity
    /// first: at most `limit`, with ids below `before` if given.
    pub async fn unpublished_entities(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> StorageResult<Vec<EntityRow>> {
        self.rows(
            &format!(
                "{ENTITY_SELECT_SCANNED} WHERE e.unpublished_at IS NOT NULL AND (?1 IS NULL OR e.id < ?1) ORDER BY e.id DESC LIMIT ?2"
            ),
            &[before.map(n).unwrap_or(JsValue::NULL), n(limit)],
        )
        .await
    }

    /// Unpublishes (or restores) an entity; whether it exists.
    pub async fn set_unpublished(&self, id: i64, unpublished: bool) -> StorageResult<bool> {
        self.changed(
            "UPDATE store_entities SET unpublished_at = CASE WHEN ?2 THEN COALESCE(unpublished_at, ?3) ELSE NULL END WHERE id = ?1",
            &[n(id), n(unpublished as i64), n(now())],
        )
        .await
    }

    /// Deletes an entity (and its installs); whether it existed.
    pub async fn delete_entity(&self, id: i64) -> StorageResult<bool> {
        let results = self
            .batch_all(vec![
                self.retire_entity(id)?,
                self.stmt("DELETE FROM store_entities WHERE id = ?1", &[n(id)])?,
            ])
            .await
            .map_err(db_err)?;
        Ok(rows_changed(results.last()) > 0)
    }

    /// Installs an entity for a user (idempotent).
    pub async fn install(&self, user_id: i64, id: i64) -> StorageResult<()> {
        self.exec("INSERT OR IGNORE INTO store_installs (user_id, entity_id, installed_at) VALUES (?1, ?2, ?3)", &[n(user_id), n(id), n(now())]).await
    }

    /// Uninstalls (idempotent).
    pub async fn uninstall(&self, user_id: i64, id: i64) -> StorageResult<()> {
        self.exec(
            "DELETE FROM store_installs WHERE user_id = ?1 AND entity_id = ?2",
            &[n(user_id), n(id)],
        )
        .await
    }
}
