//! Loading what resolution needs: a user's grants, opt-outs and the catalog
//! rows of the plugins granted to them. D1 only — never R2 — so the ref
//! advertisement and an up-to-date pull read nothing from R2.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use super::store::{assemble_installed, EntityRow, StoreFileRow, ENTITY_SELECT};
use super::users::{UserRow, USER_COLS};
use super::{db_err, key, n, now, s, served_file, StorageError, Store, StoreResult};
use crate::catalog::definition::ViewDefinition;
use crate::catalog::names::PluginKey;
use crate::catalog::resolve::{entitlements, Entitlement, Grant, Requirement};
use crate::catalog::snapshot::{Origin, ServedFile, ServedPlugin};
use crate::catalog::store_view::InstalledEntity;
use crate::git::ObjectId;

/// Plugins granted to the user `{uid}` through any of their groups.
const GRANTED: &str = "EXISTS (SELECT 1 FROM grants g JOIN group_members m ON m.group_id = g.group_id \
                       WHERE m.user_id = {uid} AND g.marketplace = {t}.marketplace AND g.plugin = {t}.{col})";

/// True while the viewer's memoised head is current: same key (`?2`),
/// same catalog generation (see migration 0007).
const MEMO_FRESH: &str =
    "EXISTS (SELECT 1 FROM view_heads v WHERE v.user_id = {uid} AND v.key = ?2 \
                          AND v.generation = (SELECT n FROM catalog_generation WHERE id = 1))";

/// The plugin columns a view is assembled from.
const PLUGIN_COLS: &str =
    "p.marketplace, p.name, p.manifest_name, p.version, p.entry_json, p.external, \
                           p.entries_key, p.admin_disabled, p.tree_id, p.files_digest";

/// The file columns a view is assembled from.
const FILE_COLS: &str = "f.marketplace, f.plugin, f.path, f.size, f.sha256, f.blob_id, f.exec, \
                         f.entry_offset, f.entry_len, f.entries_key";

/// File rows per chunk of `packed_files`: a chunk's JSON stays far below
/// D1's 2 MB limit on any value (a row is ~250 bytes).
const FILES_PER_CHUNK: usize = 1000;

/// The file rows of `from` (`FROM … WHERE …` over `plugin_files f`, after
/// an optional `WITH` prefix `with`) as a few rows of JSON arrays of at
/// most `FILES_PER_CHUNK` files each. Thousands of file rows cost D1 and
/// the wasm boundary per row and per column; a few strings parsed in wasm
/// cost a fraction (a medium corpus's cold fetch spent most of its head
/// time there). Chunks are runs of rowids, which bounds each one without
/// a window function (numbering the rows in order made SQLite take three
/// times as long); `unpack_files` puts the rows in order.
fn packed_files(with: &str, from: &str) -> String {
    format!(
        "{with}SELECT json_group_array(json_array({FILE_COLS})) AS files {from} \
         GROUP BY f.rowid / {FILES_PER_CHUNK}"
    )
}

/// The file rows `packed_files` returned, in (marketplace, plugin, path)
/// order (an aggregate's order is SQLite's choice, so it is sorted here).
fn unpack_files(result: &worker::D1Result) -> StoreResult<Vec<FileRow>> {
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
    /// The SQL giving the definition's JSON (binding `?1`), and its argument.
    fn sql(&self) -> (&'static str, wasm_bindgen::JsValue) {
        match self {
            Definition::Json(json) => ("?1", s(json)),
            Definition::Stored(etag) => (
                "(SELECT definition FROM view_definitions WHERE etag = ?1)",
                s(etag),
            ),
        }
    }
}

/// A plugin's or Store entity's rows as a write retired them (migration
/// 0010): its row and its file rows, as JSON.
#[derive(Deserialize)]
struct RetiredRow {
    row_json: String,
    files_json: String,
}

impl RetiredRow {
    fn row<T: serde::de::DeserializeOwned>(&self) -> StoreResult<T> {
        serde_json::from_str(&self.row_json)
            .map_err(|e| StorageError::Corrupt(format!("a retired row: {e}")))
    }

    fn files<T: serde::de::DeserializeOwned>(&self) -> StoreResult<Vec<T>> {
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
struct GenerationRow {
    generation: i64,
    etag: Option<String>,
    commit_id: Option<String>,
    tree_id: Option<String>,
    advertised_at: Option<i64>,
}

/// Whose view to load: a user by id, or the owner of an unrevoked token by
/// its hash (so a git request's token check and view share one round trip).
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    Id(i64),
    TokenHash(&'a str),
}

impl Viewer<'_> {
    /// The SQL naming the user id (bound as `?1`) and its argument.
    fn sql(&self) -> (&'static str, wasm_bindgen::JsValue) {
        match self {
            Viewer::Id(id) => ("?1", n(*id)),
            Viewer::TokenHash(hash) => (
                concat!(
                    "(SELECT user_id FROM tokens WHERE token_sha256 = ?1 AND ",
                    live_token!(""),
                    ")"
                ),
                s(hash),
            ),
        }
    }
}

#[derive(Deserialize)]
struct GrantRow {
    marketplace: String,
    plugin: String,
    requirement: String,
}

#[derive(Deserialize)]
struct KeyRow {
    marketplace: String,
    plugin: String,
}

#[derive(Deserialize)]
struct PluginRow {
    marketplace: String,
    name: String,
    manifest_name: String,
    version: Option<String>,
    entry_json: String,
    external: i64,
    entries_key: Option<String>,
    admin_disabled: i64,
    tree_id: Option<String>,
    files_digest: Option<String>,
}

#[derive(Deserialize)]
struct FileRow {
    marketplace: String,
    plugin: String,
    path: String,
    size: i64,
    sha256: String,
    blob_id: String,
    exec: i64,
    entry_offset: i64,
    entry_len: i64,
    entries_key: Option<String>,
}

/// Everything resolution and the snapshot need for one user.
pub struct UserView {
    pub entitlements: Vec<Entitlement>,
    /// Catalog rows of every granted plugin, by key.
    pub plugins: BTreeMap<PluginKey, ServedPlugin>,
    /// Store entities the user installed, as listed and as served.
    pub installed_rows: Vec<EntityRow>,
    pub installed: Vec<InstalledEntity>,
    /// When loaded with a memo key: the catalog generation read, and the
    /// memoised head if it is current (then nothing else was loaded), with
    /// when it was last recorded as advertised to this user.
    pub generation: Option<i64>,
    pub memo: Option<MemoRow>,
    pub memo_advertised_at: Option<i64>,
}

impl Store {
    /// Loads, in one D1 round trip, a user's grants, opt-outs, granted
    /// plugins and Store installs; with `files`, their files too (else only
    /// the files of rows stored without a summary).
    pub async fn user_view(&self, user_id: i64, files: bool) -> StoreResult<UserView> {
        Ok(self.view_of(Viewer::Id(user_id), files, None).await?.1)
    }

    /// As `user_view_by_token` / `user_view`, but answered by the viewer's
    /// memoised head when it is current under `memo_key` (then only the
    /// user row and the memo are read).
    pub async fn memo_view(
        &self,
        viewer: Viewer<'_>,
        memo_key: &str,
    ) -> StoreResult<(Option<UserRow>, UserView)> {
        self.view_of(viewer, false, Some(memo_key)).await
    }

    /// Memoises `user_id`'s head as of catalog `generation` (a newer memo
    /// is never overwritten by an older one), and keeps the definition of
    /// the view with that ETag.
    pub async fn save_memo(
        &self,
        user_id: i64,
        generation: i64,
        memo_key: &str,
        head: &MemoRow,
        definition: &ViewDefinition,
    ) -> StoreResult<()> {
        let statements = vec![
            self.stmt(
                "INSERT INTO view_heads (user_id, generation, key, etag, commit_id, tree_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(user_id) DO UPDATE SET generation = excluded.generation, key = excluded.key, etag = excluded.etag, \
                 commit_id = excluded.commit_id, tree_id = excluded.tree_id WHERE excluded.generation >= view_heads.generation",
                &[n(user_id), n(generation), s(memo_key), s(&head.etag), s(&head.commit_id), s(&head.tree_id)],
            )?,
            self.stmt(
                "INSERT OR IGNORE INTO view_definitions (etag, definition, created_at) VALUES (?1, ?2, ?3)",
                &[s(&head.etag), s(&definition.to_json()), n(now())],
            )?,
        ];
        self.batch_all(statements).await.map_err(db_err)?;
        Ok(())
    }

    /// The view `definition` names, in one D1 round trip: each plugin and
    /// Store entity from its current rows while they have the defined files
    /// digest, else from the rows a later write retired (migration 0010);
    /// `None` when no definition is stored under the ETag asked for. The
    /// caller checks that it makes the view it expects.
    pub async fn defined_view(&self, definition: Definition<'_>) -> StoreResult<Option<UserView>> {
        let (def, arg) = definition.sql();
        // The defined plugins and entities as tables; `json_each` drives
        // the joins, so the key indexes are used.
        let plugins = format!(
            "WITH d AS (SELECT substr(k, 1, instr(k, '/') - 1) AS marketplace, substr(k, instr(k, '/') + 1) AS name, digest \
             FROM (SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS digest FROM json_each({def}, '$.plugins'))) "
        );
        let entities = format!(
            "WITH d AS (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS digest FROM json_each({def}, '$.store')) "
        );
        // A current row serves while its digest is the defined one (or
        // either is unknown, for rows stored before digests: the caller's
        // id check decides); otherwise the retired row with that digest.
        const SAME_PLUGIN: &str = "p.marketplace = d.marketplace AND p.name = d.name \
                                   AND (d.digest IS NULL OR p.files_digest IS NULL OR p.files_digest = d.digest)";
        const SAME_ENTITY: &str =
            "e.id = d.id AND (d.digest IS NULL OR e.files_digest IS NULL OR e.files_digest = d.digest)";
        let arg = [arg];
        let [definition, plugin_rows, file_rows, retired_plugins, installed_rows, installed_files, retired_entities] = self
            .batch(vec![
                self.stmt(&format!("SELECT {def} AS definition"), &arg)?,
                self.stmt(&format!("{plugins}SELECT {PLUGIN_COLS} FROM d JOIN plugins p ON {SAME_PLUGIN}"), &arg)?,
                self.stmt(
                    &packed_files(
                        &plugins,
                        &format!(
                            "FROM d JOIN plugins p ON {SAME_PLUGIN} \
                             JOIN plugin_files f ON f.marketplace = p.marketplace AND f.plugin = p.name"
                        ),
                    ),
                    &arg,
                )?,
                self.stmt(
                    &format!(
                        "{plugins}SELECT r.plugin_json AS row_json, r.files_json FROM d JOIN retired_plugins r \
                         ON r.marketplace = d.marketplace AND r.name = d.name AND r.files_digest = d.digest \
                         WHERE NOT EXISTS (SELECT 1 FROM plugins p WHERE {SAME_PLUGIN})"
                    ),
                    &arg,
                )?,
                self.stmt(
                    &format!("{entities}{ENTITY_SELECT} JOIN d ON {SAME_ENTITY} ORDER BY e.id"),
                    &arg,
                )?,
                self.stmt(
                    &format!(
                        "{entities}SELECT f.* FROM d JOIN store_entities e ON {SAME_ENTITY} JOIN store_files f ON f.entity_id = e.id \
                         ORDER BY f.entity_id, f.path"
                    ),
                    &arg,
                )?,
                self.stmt(
                    &format!(
                        "{entities}SELECT r.entity_json AS row_json, r.files_json FROM d JOIN retired_entities r \
                         ON r.entity_id = d.id AND r.files_digest = d.digest \
                         WHERE NOT EXISTS (SELECT 1 FROM store_entities e WHERE {SAME_ENTITY})"
                    ),
                    &arg,
                )?,
            ])
            .await?;
        #[derive(Deserialize)]
        struct DefinitionRow {
            definition: Option<String>,
        }
        let stored: Option<DefinitionRow> =
            definition.results().map_err(db_err)?.into_iter().next();
        let Some(json) = stored.and_then(|d| d.definition) else {
            return Ok(None);
        };
        let definition: ViewDefinition = serde_json::from_str(&json)
            .map_err(|e| StorageError::Corrupt(format!("a view definition: {e}")))?;
        let mut plugin_rows: Vec<PluginRow> = plugin_rows.results().map_err(db_err)?;
        let mut file_rows = unpack_files(&file_rows)?;
        for r in retired_plugins.results::<RetiredRow>().map_err(db_err)? {
            plugin_rows.push(r.row()?);
            file_rows.extend(r.files()?);
        }
        let mut installed_rows: Vec<EntityRow> = installed_rows.results().map_err(db_err)?;
        let mut installed_files: Vec<StoreFileRow> = installed_files.results().map_err(db_err)?;
        for r in retired_entities.results::<RetiredRow>().map_err(db_err)? {
            installed_rows.push(r.row()?);
            installed_files.extend(r.files()?);
        }
        // Retired rows join in the order the current ones come in.
        file_rows.sort_by(|a, b| {
            (&a.marketplace, &a.plugin, &a.path).cmp(&(&b.marketplace, &b.plugin, &b.path))
        });
        installed_files.sort_by(|a, b| (a.entity_id, &a.path).cmp(&(b.entity_id, &b.path)));
        // Served in the definition's order, as when it was stored.
        let order: HashMap<i64, usize> = definition
            .store
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        installed_rows.sort_by_key(|e| order.get(&e.id).copied());
        let installed = assemble_installed(&installed_rows, &installed_files)?;
        let (plugins, _) = assemble_plugins(plugin_rows, file_rows)?;
        Ok(Some(UserView {
            entitlements: definition.entitlements(),
            plugins,
            installed_rows,
            installed,
            generation: None,
            memo: None,
            memo_advertised_at: None,
        }))
    }

    /// The owner of an unrevoked token and their view, in one D1 round
    /// trip; `None` when the token matches nobody.
    pub async fn user_view_by_token(
        &self,
        hash: &str,
        files: bool,
    ) -> StoreResult<Option<(UserRow, UserView)>> {
        let (user, view) = self.view_of(Viewer::TokenHash(hash), files, None).await?;
        Ok(user.map(|u| (u, view)))
    }

    /// The viewer's user row (if any) and view, in one batch.
    async fn view_of(
        &self,
        viewer: Viewer<'_>,
        files: bool,
        memo_key: Option<&str>,
    ) -> StoreResult<(Option<UserRow>, UserView)> {
        let (uid_sql, arg) = viewer.sql();
        let uid = [arg];
        // With a memo key, every statement but the user's row returns
        // nothing while the memo is current.
        let (skip, args) = match memo_key {
            Some(k) => (
                format!(" AND NOT {}", MEMO_FRESH.replace("{uid}", uid_sql)),
                vec![uid[0].clone(), s(k)],
            ),
            None => (String::new(), uid.to_vec()),
        };
        let memo_sql = match memo_key {
            Some(_) => format!(
                "SELECT c.n AS generation, v.etag, v.commit_id, v.tree_id, a.advertised_at FROM catalog_generation c \
                 LEFT JOIN view_heads v ON v.user_id = {uid_sql} AND v.key = ?2 AND v.generation = c.n \
                 LEFT JOIN advertisements a ON a.user_id = v.user_id AND a.commit_id = v.commit_id WHERE c.id = 1"
            ),
            None => "SELECT NULL AS generation, NULL AS etag, NULL AS commit_id, NULL AS tree_id, NULL AS advertised_at WHERE 0"
                .to_string(),
        };
        let memo_args = if memo_key.is_some() { &args[..] } else { &[] };
        let granted = |t: &str, col: &str| {
            GRANTED
                .replace("{uid}", uid_sql)
                .replace("{t}", t)
                .replace("{col}", col)
        };
        let plugin_sql = format!(
            "SELECT {PLUGIN_COLS} FROM plugins p WHERE {}{skip}",
            granted("p", "name")
        );
        // Without `files`, only rows stored before summaries existed need theirs.
        let legacy_only = if files {
            ""
        } else {
            " AND EXISTS (SELECT 1 FROM plugins p WHERE p.marketplace = f.marketplace AND p.name = f.plugin \
              AND (p.tree_id IS NULL OR p.files_digest IS NULL))"
        };
        let file_sql = packed_files(
            "",
            &format!(
                "FROM plugin_files f WHERE {}{legacy_only}{skip}",
                granted("f", "plugin")
            ),
        );
        let [installed_sql, installed_files_sql] =
            self.installed_statements(uid_sql, &args, files, &skip)?;
        // One round trip for the whole view: D1 runs a batch as one request.
        let [user, memo, grants, optouts, plugin_rows, file_rows, installed_rows, installed_files] = self
            .batch(vec![
                self.stmt(&format!("SELECT {USER_COLS} FROM users WHERE id = {uid_sql}"), &uid)?,
                self.stmt(&memo_sql, memo_args)?,
                self.stmt(&format!("SELECT g.marketplace, g.plugin, g.requirement FROM grants g JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = {uid_sql}{skip}"), &args)?,
                self.stmt(&format!("SELECT marketplace, plugin FROM optouts WHERE user_id = {uid_sql}{skip}"), &args)?,
                self.stmt(&plugin_sql, &args)?,
                self.stmt(&file_sql, &args)?,
                installed_sql,
                installed_files_sql,
            ])
            .await?;
        let memo: Option<GenerationRow> = memo.results().map_err(db_err)?.into_iter().next();
        let generation = memo.as_ref().map(|m| m.generation);
        let advertised_at = memo.as_ref().and_then(|m| m.advertised_at);
        let memo = memo.and_then(|m| {
            Some(MemoRow {
                etag: m.etag?,
                commit_id: m.commit_id?,
                tree_id: m.tree_id?,
            })
        });
        let user: Option<UserRow> = user.results().map_err(db_err)?.into_iter().next();
        let grants: Vec<GrantRow> = grants.results().map_err(db_err)?;
        let optouts: Vec<KeyRow> = optouts.results().map_err(db_err)?;
        let plugin_rows: Vec<PluginRow> = plugin_rows.results().map_err(db_err)?;
        let file_rows = unpack_files(&file_rows)?;
        let installed_rows: Vec<EntityRow> = installed_rows.results().map_err(db_err)?;
        let installed_files: Vec<StoreFileRow> = installed_files.results().map_err(db_err)?;
        let installed = assemble_installed(&installed_rows, &installed_files)?;

        let grants: Vec<Grant> = grants
            .into_iter()
            .filter_map(|g| {
                Some(Grant {
                    key: key(&g.marketplace, &g.plugin).ok()?,
                    requirement: Requirement::parse(&g.requirement)?,
                })
            })
            .collect();
        let optouts: HashSet<PluginKey> = optouts
            .into_iter()
            .filter_map(|o| key(&o.marketplace, &o.plugin).ok())
            .collect();
        let (plugins, disabled) = assemble_plugins(plugin_rows, file_rows)?;
        Ok((
            user,
            UserView {
                entitlements: entitlements(&grants, &optouts, &disabled),
                plugins,
                installed_rows,
                installed,
                generation,
                memo,
                memo_advertised_at: advertised_at,
            },
        ))
    }
}

/// Served plugins (by key) and their disabled flags, from plugin rows and
/// the file rows loaded with them.
fn assemble_plugins(
    plugin_rows: Vec<PluginRow>,
    file_rows: Vec<FileRow>,
) -> StoreResult<(BTreeMap<PluginKey, ServedPlugin>, BTreeMap<PluginKey, bool>)> {
    let objects: HashMap<(String, String), String> = plugin_rows
        .iter()
        .filter_map(|p| {
            Some((
                (p.marketplace.clone(), p.name.clone()),
                p.entries_key.clone()?,
            ))
        })
        .collect();
    let mut files: HashMap<PluginKey, Vec<ServedFile>> = HashMap::new();
    for f in file_rows {
        let k = key(&f.marketplace, &f.plugin)?;
        let corrupt = |what: &str| StorageError::Corrupt(format!("{what} of {k}/{}", f.path));
        // Rows written before migration 0006 use their plugin's object.
        let object = match &f.entries_key {
            Some(own) => own.clone(),
            None => objects
                .get(&(f.marketplace.clone(), f.plugin.clone()))
                .cloned()
                .ok_or_else(|| corrupt("entries object"))?,
        };
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
        plugins.insert(
            k.clone(),
            ServedPlugin {
                files: files.remove(&k).unwrap_or_default(),
                dir: k.served_dir(),
                origin: Origin::Curated(k),
                manifest_name: p.manifest_name,
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
