//! The rows a view is loaded from: the SQL pieces that select them
//! (granted plugins, memos, packed file rows, a user's installs), their
//! typed forms, and their assembly into served plugins. `view.rs` runs the
//! queries; everything here is how they are written and read.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::store::{EntityRow, StoreFileRow};
use super::{db_err, json_column, key, n, s, served_file, StorageError, StorageResult};
use crate::catalog::names::PluginKey;
use crate::catalog::resolve::Entitlement;
use crate::catalog::served::{Origin, ServedFile, ServedPlugin};
use crate::catalog::store::EntityType;
use crate::catalog::store_view::InstalledEntity;
use crate::git::tree::FileMode;
use crate::git::ObjectId;

/// The viewer's user id: `?1` when it is one, else the owner of the live
/// token whose hash is `?2` (so a git request's token check and its view
/// share one round trip). Every query of a view binds both.
macro_rules! viewer_id {
    () => {
        concat!(
            "COALESCE(?1, (SELECT user_id FROM tokens WHERE token_sha256 = ?2 AND ",
            live_token!(""),
            "))"
        )
    };
}

/// The viewer's user id as SQL (see `viewer_id!`).
pub(super) const VIEWER_ID: &str = viewer_id!();

/// Plugins (`p`) granted to the viewer through any of their groups.
pub(super) const GRANTED_PLUGIN: &str = concat!(
    "EXISTS (SELECT 1 FROM grants g JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = ",
    viewer_id!(),
    " AND g.marketplace = p.marketplace AND g.plugin = p.name)"
);

/// File rows (`f`) of plugins granted to the viewer.
pub(super) const GRANTED_FILE: &str = concat!(
    "EXISTS (SELECT 1 FROM grants g JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = ",
    viewer_id!(),
    " AND g.marketplace = f.marketplace AND g.plugin = f.plugin)"
);

/// Appended to a view's queries: with a memo key (`?3`), they return
/// nothing while the viewer's memoised head under that key is current
/// (same catalog generation, see migration 0007); without one (`?3` NULL)
/// it holds for every row.
pub(super) const UNLESS_MEMO_FRESH: &str = concat!(
    " AND (?3 IS NULL OR NOT EXISTS (SELECT 1 FROM view_heads v WHERE v.user_id = ",
    viewer_id!(),
    " AND v.key = ?3 AND v.generation = (SELECT n FROM catalog_generation WHERE id = 1)))"
);

/// The definition a view is loaded by: `?1` when it is in hand, else the
/// one stored under the ETag `?2`.
pub(super) const DEFINITION: &str =
    "COALESCE(?1, (SELECT definition FROM view_definitions WHERE etag = ?2))";

/// The plugin columns a view is assembled from.
/// With each plugin's served name and the JSON array of its past names
/// (migration 0015; `retire_plugins` keeps both in a retired row).
pub(super) const PLUGIN_COLS: &str =
    "p.marketplace, p.name, p.version, p.entry_json, p.external, p.admin_disabled, p.tree_id, p.files_digest, \
     (SELECT sn.name FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name \
       AND sn.retired_at IS NULL) AS served_name, \
     (SELECT json_group_array(sn.name) FROM served_names sn WHERE sn.marketplace = p.marketplace \
       AND sn.plugin = p.name AND sn.retired_at IS NOT NULL) AS past_names";

/// The file columns a view is assembled from.
pub(super) const FILE_COLS: &str =
    "f.marketplace, f.plugin, f.path, f.size, f.sha256, f.blob_id, f.exec, \
                         f.entry_offset, f.entry_len, f.entries_key";

/// File rows per chunk of `packed_files`: a chunk's JSON stays far below
/// D1's 2 MB limit on any value (a row is ~250 bytes).
pub(super) const FILES_PER_CHUNK: usize = 1000;

/// The file rows of `from` (`FROM … WHERE …` over `plugin_files f`, after
/// an optional `WITH` prefix `with`) as a few rows of JSON arrays of at
/// most `FILES_PER_CHUNK` files each. Thousands of file rows cost D1 and
/// the wasm boundary per row and per column; a few strings parsed in wasm
/// cost a fraction (a medium corpus's cold fetch spent most of its head
/// time there). Chunks are runs of rowids, which bounds each one without
/// a window function (numbering the rows in order made SQLite take three
/// times as long); `unpack_files` puts the rows in order.
pub(super) fn packed_files(with: &str, from: &str) -> String {
    format!(
        "{with}SELECT json_group_array(json_array({FILE_COLS})) AS files {from} \
         GROUP BY f.rowid / {FILES_PER_CHUNK}"
    )
}

/// The file rows `packed_files` returned, in (marketplace, plugin, path)
/// order (an aggregate's order is SQLite's choice, so it is sorted here).
pub(super) fn unpack_files(result: &worker::D1Result) -> StorageResult<Vec<FileRow>> {
    #[derive(Deserialize)]
    struct Chunk {
        files: String,
    }
    let mut rows = Vec::new();
    for chunk in result.results::<Chunk>().map_err(db_err)? {
        let part: Vec<FileRow> = serde_json::from_str(&chunk.files)
            .map_err(|e| StorageError::Corrupt(format!("packed file rows: {e}")))?;
        rows.extend(part);
    }
    rows.sort_by(|a, b| {
        (&a.marketplace, &a.plugin, &a.path).cmp(&(&b.marketplace, &b.plugin, &b.path))
    });
    Ok(rows)
}

/// Which view definition to load a view by (see migration 0010).
#[derive(Debug, Clone, Copy)]
pub enum Definition<'a> {
    /// One in hand, as `ViewDefinition::to_json` wrote it.
    Json(&'a str),
    /// The one stored for the view with this ETag.
    Stored(&'a str),
}

impl Definition<'_> {
    /// Its arguments `?1` and `?2` (see `DEFINITION`).
    pub(super) fn args(&self) -> [JsValue; 2] {
        match self {
            Definition::Json(json) => [s(json), JsValue::NULL],
            Definition::Stored(etag) => [JsValue::NULL, s(etag)],
        }
    }
}

/// A plugin's or Store entity's rows as a write retired them (migration
/// 0010): its row and its file rows, as JSON.
#[derive(Deserialize)]
pub(super) struct RetiredRow {
    pub(super) row_json: String,
    pub(super) files_json: String,
}

impl RetiredRow {
    pub(super) fn row<T: serde::de::DeserializeOwned>(&self) -> StorageResult<T> {
        serde_json::from_str(&self.row_json)
            .map_err(|e| StorageError::Corrupt(format!("a retired row: {e}")))
    }

    pub(super) fn files<T: serde::de::DeserializeOwned>(&self) -> StorageResult<Vec<T>> {
        serde_json::from_str(&self.files_json)
            .map_err(|e| StorageError::Corrupt(format!("retired file rows: {e}")))
    }
}

/// A memoised view head: the ids a git request is answered from.
#[derive(Debug, Clone, Deserialize)]
pub struct MemoRow {
    pub etag: String,
    pub commit_id: String,
    pub tree_id: String,
}

#[derive(Deserialize)]
pub(super) struct GenerationRow {
    pub(super) generation: i64,
    pub(super) etag: Option<String>,
    pub(super) commit_id: Option<String>,
    pub(super) tree_id: Option<String>,
    pub(super) advertised_at: Option<i64>,
}

/// Whose view to load: a user by id, or the owner of an unrevoked token by
/// its hash (so a git request's token check and view share one round trip).
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    Id(i64),
    TokenHash(&'a str),
}

impl Viewer<'_> {
    /// Its arguments `?1` and `?2` (see `VIEWER_ID`).
    pub(super) fn args(&self) -> [JsValue; 2] {
        match self {
            Viewer::Id(id) => [n(*id), JsValue::NULL],
            Viewer::TokenHash(hash) => [JsValue::NULL, s(hash)],
        }
    }
}

#[derive(Deserialize)]
pub(super) struct GrantRow {
    pub(super) marketplace: String,
    pub(super) plugin: String,
    pub(super) requirement: String,
}

#[derive(Deserialize)]
pub(super) struct KeyRow {
    pub(super) marketplace: String,
    pub(super) plugin: String,
}

#[derive(Deserialize)]
pub(super) struct PluginRow {
    pub(super) marketplace: String,
    pub(super) name: String,
    pub(super) version: Option<String>,
    pub(super) entry_json: String,
    pub(super) external: i64,
    pub(super) admin_disabled: i64,
    pub(super) tree_id: Option<String>,
    pub(super) files_digest: Option<String>,
    /// Absent from rows retired before migration 0015.
    #[serde(default)]
    pub(super) served_name: Option<String>,
    /// A JSON array (text from a query, JSON inside a retired row).
    #[serde(default, deserialize_with = "json_column")]
    pub(super) past_names: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct FileRow {
    pub(super) marketplace: String,
    pub(super) plugin: String,
    pub(super) path: String,
    pub(super) size: i64,
    pub(super) sha256: String,
    pub(super) blob_id: String,
    pub(super) exec: i64,
    pub(super) entry_offset: i64,
    pub(super) entry_len: i64,
    pub(super) entries_key: Option<String>,
}

/// Everything resolution and the snapshot need for one user.
pub struct UserView {
    pub entitlements: Vec<Entitlement>,
    /// Catalog rows of every granted plugin, by key.
    pub plugins: BTreeMap<PluginKey, ServedPlugin>,
    /// Store entities the user installed, as served.
    pub installed: Vec<InstalledEntity>,
    /// When loaded with a memo key: the catalog generation read, and the
    /// memoised head if it is current (then nothing else was loaded), with
    /// when it was last recorded as advertised to this user.
    pub generation: Option<i64>,
    pub memo: Option<MemoRow>,
    pub memo_advertised_at: Option<i64>,
}

/// File rows as served files, by plugin (in the rows' order).
pub(super) fn files_by_plugin(
    file_rows: Vec<FileRow>,
) -> StorageResult<HashMap<PluginKey, Vec<ServedFile>>> {
    let mut files: HashMap<PluginKey, Vec<ServedFile>> = HashMap::new();
    for f in file_rows {
        let k = key(&f.marketplace, &f.plugin)?;
        let corrupt = |what: &str| StorageError::Corrupt(format!("{what} of {k}/{}", f.path));
        let object = f
            .entries_key
            .clone()
            .ok_or_else(|| corrupt("entries object"))?;
        files.entry(k.clone()).or_default().push(served_file(
            &f.path,
            f.size,
            &f.sha256,
            &f.blob_id,
            f.exec,
            f.entry_offset,
            f.entry_len,
            &object,
        )?);
    }
    Ok(files)
}

/// Served plugins (by key) and their disabled flags, from plugin rows and
/// the file rows loaded with them.
pub(super) fn assemble_plugins(
    plugin_rows: Vec<PluginRow>,
    file_rows: Vec<FileRow>,
) -> StorageResult<(BTreeMap<PluginKey, ServedPlugin>, BTreeMap<PluginKey, bool>)> {
    let mut files = files_by_plugin(file_rows)?;
    let mut plugins = BTreeMap::new();
    let mut disabled = BTreeMap::new();
    for p in plugin_rows {
        let k = key(&p.marketplace, &p.name)?;
        let entry = serde_json::from_str(&p.entry_json)
            .map_err(|e| StorageError::Corrupt(format!("entry of {k}: {e}")))?;
        let tree = match &p.tree_id {
            Some(hex) => Some(
                ObjectId::from_hex(hex.as_bytes())
                    .map_err(|_| StorageError::Corrupt(format!("tree id of {k}")))?,
            ),
            None => None,
        };
        disabled.insert(k.clone(), p.admin_disabled != 0);
        let mut past_names = p.past_names;
        past_names.sort();
        plugins.insert(
            k.clone(),
            ServedPlugin {
                files: files.remove(&k).unwrap_or_default(),
                dir: k.served_dir(),
                // A plugin stored before served names and never named since
                // (migration 0015) is served under its directory's name.
                manifest_name: p.served_name.unwrap_or_else(|| k.served_dir()),
                past_names,
                origin: Origin::Curated(k),
                version: p.version,
                entry,
                external: p.external != 0,
                tree,
                digest: p.files_digest,
            },
        );
    }
    Ok((plugins, disabled))
}

/// Installed entities from the rows `installed_statements` returned.
pub(crate) fn assemble_installed(
    rows: &[EntityRow],
    files: &[StoreFileRow],
) -> StorageResult<Vec<InstalledEntity>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let entity_type = EntityType::parse(&r.entity_type)
            .ok_or_else(|| StorageError::Corrupt(format!("entity {} type", r.id)))?;
        let served = files
            .iter()
            .filter(|f| f.entity_id == r.id)
            .map(|f| store_file(f, &r.entries_key))
            .collect::<StorageResult<Vec<_>>>()?;
        let corrupt =
            |what: &str| StorageError::Corrupt(format!("entity {} has no stored {what}", r.id));
        let root = match (&r.root_id, r.root_mode.as_deref()) {
            (Some(id), Some(mode)) => (
                match mode {
                    "40000" => FileMode::Tree,
                    "100755" => FileMode::Executable,
                    _ => FileMode::Regular,
                },
                ObjectId::from_hex(id.as_bytes())
                    .map_err(|_| StorageError::Corrupt(format!("entity {} root", r.id)))?,
            ),
            _ => return Err(corrupt("root")),
        };
        out.push(InstalledEntity {
            id: r.id,
            entity_type,
            served_name: r.served_name.clone(),
            served_version: r.served_version.clone(),
            description: r.tagline.clone(),
            files: served,
            root,
            digest: r.files_digest.clone().ok_or_else(|| corrupt("digest"))?,
        });
    }
    Ok(out)
}

/// A stored file row as a served file.
pub fn store_file(f: &StoreFileRow, entries_key: &str) -> StorageResult<ServedFile> {
    served_file(
        &f.path,
        f.size,
        &f.sha256,
        &f.blob_id,
        f.exec,
        f.entry_offset,
        f.entry_len,
        entries_key,
    )
}
