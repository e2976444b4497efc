//! Store entities read in D1 (listings, one entity, its files and docs,
//! facets), moderation, deletion and installs; their writes are in
//! `store_writes`, their versions in `store_versions`. Entries live in R2
//! (content-addressed, like curated plugins).

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use super::{db_err, json_column, n, now, opt, rows_changed, Storage, StorageResult};
use crate::catalog::store::EntityType;

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
    /// Members who installed it in the last 30 days (`None` where a query
    /// does not read it).
    #[serde(default)]
    pub installs_30d: Option<i64>,
    /// Members' thumbs up and down (`storage::store` ratings).
    #[serde(default)]
    pub rating_up: Option<i64>,
    #[serde(default)]
    pub rating_down: Option<i64>,
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
    /// Its served state: `approved`, or `pending` / `rejected` for an entry
    /// whose first version waits for review or was refused (then it is in
    /// no stack and listed for no one else).
    #[serde(default = "approved")]
    pub status: String,
    /// Its newest version (`{version, status, reason, reviewed_by,
    /// reviewed_at}`): a version waiting for review shows here.
    #[serde(default, deserialize_with = "json_column")]
    pub latest_version: Option<serde_json::Value>,
    /// When an admin unpublished it, if they did (then it is in no stack
    /// and not listed).
    #[serde(default)]
    pub unpublished_at: Option<i64>,
}

fn approved() -> String {
    "approved".into()
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

/// The Store listing's orders; each breaks ties newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EntitySort {
    #[default]
    Newest,
    /// Most installs first.
    Installs,
    /// Highest up minus down first.
    Rating,
}

impl EntitySort {
    /// The `sort` parameter's value.
    pub fn parse(s: &str) -> Option<EntitySort> {
        match s {
            "newest" => Some(EntitySort::Newest),
            "installs" => Some(EntitySort::Installs),
            "rating" => Some(EntitySort::Rating),
            _ => None,
        }
    }

    /// The `ORDER BY` terms (over `entity_select!`'s columns).
    fn order_by(self) -> &'static str {
        match self {
            EntitySort::Newest => "e.created_at DESC, e.id DESC",
            EntitySort::Installs => "installs DESC, e.created_at DESC, e.id DESC",
            EntitySort::Rating => "rating_up - rating_down DESC, e.created_at DESC, e.id DESC",
        }
    }
}

/// A member's vote on an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    /// The API's `value`: 1 or -1.
    pub fn from_value(v: i64) -> Option<Rating> {
        match v {
            1 => Some(Rating::Up),
            -1 => Some(Rating::Down),
            _ => None,
        }
    }

    /// 1 or -1.
    pub fn value(self) -> i64 {
        match self {
            Rating::Up => 1,
            Rating::Down => -1,
        }
    }
}

/// Filters of the Store listing.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    pub entity_type: Option<String>,
    pub category: Option<String>,
    pub owner: Option<String>,
    pub text: Option<String>,
    pub sort: EntitySort,
    /// The member asking: their own entries waiting for review are listed
    /// for them.
    pub viewer: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Which entities the Store lists (on entity `e`): approved (reviewed, or
/// not needing review) and not unpublished.
const LISTED: &str = "e.unpublished_at IS NULL AND e.status = 'approved'";

/// An entity query's `SELECT … FROM`, with `$extra` columns.
macro_rules! entity_select {
    ($extra:literal) => {
        concat!(
            "SELECT e.id, u.username AS owner, e.owner_id, e.type AS entity_type, e.name, e.served_name, e.title, e.tagline, \
             e.description, e.category, e.photo_url, e.video_url, e.version, e.entries_key, e.created_at, e.updated_at, \
             e.root_id, e.root_mode, e.files_digest, e.served_version, e.unpublished_at, e.status, ",
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
     json_extract(e.scan_json, '$.findings') AS findings, \
     (SELECT json_object('version', v.version, 'status', v.status, 'reason', v.reason, 'reviewed_by', v.reviewed_by, 'reviewed_at', v.reviewed_at) \
        FROM store_versions v WHERE v.entity_id = e.id ORDER BY v.version DESC LIMIT 1) AS latest_version, \
     (SELECT COUNT(*) FROM store_installs i WHERE i.entity_id = e.id AND i.installed_at >= unixepoch() - 30 * 86400) AS installs_30d, \
     (SELECT COUNT(*) FROM store_ratings r WHERE r.entity_id = e.id AND r.value = 1) AS rating_up, \
     (SELECT COUNT(*) FROM store_ratings r WHERE r.entity_id = e.id AND r.value = -1) AS rating_down, "
);

/// Store entities one user may own: a bound on what one member's uploads
/// can put in R2 (each at most the Store's archive limit).
pub const MAX_ENTITIES_PER_OWNER: i64 = 200;

impl Storage {
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

    /// A filtered, paginated listing in a stable order (`q.sort`, then
    /// newest first, then id).
    pub async fn list_entities(&self, q: &EntityQuery) -> StorageResult<(i64, Vec<EntityRow>)> {
        // Its owner also finds an entry waiting for review, or refused.
        let filter = format!(
            "WHERE ({LISTED} OR (e.owner_id = ?5 AND e.unpublished_at IS NULL)) AND (?1 IS NULL OR e.type = ?1) AND (?2 IS NULL OR e.category = ?2) AND (?3 IS NULL OR u.username = ?3) \
             AND (?4 IS NULL OR instr(lower(e.title || ' ' || e.tagline || ' ' || e.description), lower(?4)) > 0)"
        );
        let args = [
            opt(&q.entity_type),
            opt(&q.category),
            opt(&q.owner),
            opt(&q.text),
            n(q.viewer),
        ];
        #[derive(Deserialize)]
        struct Count {
            total: i64,
        }
        let total: Option<Count> = self.row(&format!("SELECT COUNT(*) AS total FROM store_entities e JOIN users u ON u.id = e.owner_id {filter}"), &args).await?;
        let mut page_args = args.to_vec();
        page_args.push(n(q.per_page));
        page_args.push(n((q.page - 1) * q.per_page));
        let rows = self
            .rows(
                &format!(
                    "{ENTITY_SELECT_SCANNED} {filter} ORDER BY {} LIMIT ?6 OFFSET ?7",
                    q.sort.order_by()
                ),
                &page_args,
            )
            .await?;
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

    /// The entities `user_id` installed that are served to them, with what
    /// each can do (My AI Stack), by id.
    pub async fn installed_entities(&self, user_id: i64) -> StorageResult<Vec<EntityRow>> {
        self.rows(
            &format!(
                "{ENTITY_SELECT_SCANNED} WHERE {LISTED} AND e.id IN (SELECT entity_id FROM store_installs WHERE user_id = ?1) ORDER BY e.id"
            ),
            &[n(user_id)],
        )
        .await
    }

    /// Installs an entity for a user (idempotent).
    pub async fn install(&self, user_id: i64, id: i64) -> StorageResult<()> {
        self.exec("INSERT OR IGNORE INTO store_installs (user_id, entity_id, installed_at) VALUES (?1, ?2, ?3)", &[n(user_id), n(id), n(now())]).await
    }

    /// Records `user_id`'s vote on entity `id`, replacing an earlier one.
    pub async fn rate(&self, user_id: i64, id: i64, rating: Rating) -> StorageResult<()> {
        self.exec(
            "INSERT INTO store_ratings (user_id, entity_id, value, rated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (user_id, entity_id) DO UPDATE SET value = excluded.value, rated_at = excluded.rated_at",
            &[n(user_id), n(id), n(rating.value()), n(now())],
        )
        .await
    }

    /// Withdraws `user_id`'s vote on entity `id` (idempotent).
    pub async fn unrate(&self, user_id: i64, id: i64) -> StorageResult<()> {
        self.exec(
            "DELETE FROM store_ratings WHERE user_id = ?1 AND entity_id = ?2",
            &[n(user_id), n(id)],
        )
        .await
    }

    /// `user_id`'s vote on entity `id`, if any.
    pub async fn my_rating(&self, user_id: i64, id: i64) -> StorageResult<Option<Rating>> {
        #[derive(Deserialize)]
        struct Row {
            value: i64,
        }
        let row: Option<Row> = self
            .row(
                "SELECT value FROM store_ratings WHERE user_id = ?1 AND entity_id = ?2",
                &[n(user_id), n(id)],
            )
            .await?;
        Ok(row.and_then(|r| Rating::from_value(r.value)))
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
