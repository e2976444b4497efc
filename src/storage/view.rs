//! Loading what resolution needs: a user's grants, opt-outs and the catalog
//! rows of the plugins granted to them. D1 only — never R2 — so the ref
//! advertisement and an up-to-date pull read nothing from R2.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::store::{EntityRow, StoreFileRow, ENTITY_SELECT};
use super::users::{UserRow, USER_COLS};
use super::view_rows::{
    assemble_installed, assemble_plugins, packed_files, unpack_files, Definition, GenerationRow,
    GrantRow, KeyRow, MemoRow, PluginRow, RetiredRow, UserView, Viewer, DEFINITION, GRANTED_FILE,
    GRANTED_PLUGIN, PLUGIN_COLS, UNLESS_MEMO_FRESH, VIEWER_ID,
};
use super::{db_err, key, n, now, s, Storage, StorageError, StorageResult};
use crate::catalog::definition::ViewDefinition;
use crate::catalog::names::PluginKey;
use crate::catalog::resolve::{entitlements, Grant, Requirement};

impl Storage {
    /// Loads, in one D1 round trip, a user's grants, opt-outs, granted
    /// plugins and Store installs; with `files`, their files too (else only
    /// the files of rows stored without a summary).
    pub async fn user_view(&self, user_id: i64, files: bool) -> StorageResult<UserView> {
        Ok(self.view_of(Viewer::Id(user_id), files, None).await?.1)
    }

    /// As `user_view_by_token` / `user_view`, but answered by the viewer's
    /// memoised head when it is current under `memo_key` (then only the
    /// user row and the memo are read).
    pub async fn memo_view(
        &self,
        viewer: Viewer<'_>,
        memo_key: &str,
    ) -> StorageResult<(Option<UserRow>, UserView)> {
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
    ) -> StorageResult<()> {
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
    /// caller checks that it makes the view it expects. Without
    /// `all_files`, current curated plugins and Store plugins come without
    /// their files (their stored tree and digest stand in; see
    /// `segment_plan`).
    pub async fn defined_view(
        &self,
        definition: Definition<'_>,
        all_files: bool,
    ) -> StorageResult<Option<UserView>> {
        let def = DEFINITION;
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
        let arg = definition.args();
        let [definition, plugin_rows, file_rows, retired_plugins, installed_rows, installed_files, retired_entities] = self
            .batch(vec![
                self.stmt(&format!("SELECT {def} AS definition"), &arg)?,
                self.stmt(&format!("{plugins}SELECT {PLUGIN_COLS} FROM d JOIN plugins p ON {SAME_PLUGIN}"), &arg)?,
                self.stmt(
                    &packed_files(
                        &plugins,
                        &format!(
                            "FROM d JOIN plugins p ON {SAME_PLUGIN} \
                             JOIN plugin_files f ON f.marketplace = p.marketplace AND f.plugin = p.name{}",
                            if all_files { "" } else { " WHERE p.tree_id IS NULL OR p.files_digest IS NULL" }
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
                        "{entities}SELECT f.* FROM d JOIN store_entities e ON {SAME_ENTITY} JOIN store_files f ON f.entity_id = e.id{} \
                         ORDER BY f.entity_id, f.path",
                        if all_files { "" } else { " WHERE e.type <> 'plugin' OR e.root_id IS NULL OR e.files_digest IS NULL" }
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
    ) -> StorageResult<Option<(UserRow, UserView)>> {
        let (user, view) = self.view_of(Viewer::TokenHash(hash), files, None).await?;
        Ok(user.map(|u| (u, view)))
    }

    /// The viewer's user row (if any) and view, in one batch.
    async fn view_of(
        &self,
        viewer: Viewer<'_>,
        files: bool,
        memo_key: Option<&str>,
    ) -> StorageResult<(Option<UserRow>, UserView)> {
        // Every statement binds the viewer (`?1`, `?2`), most the memo key
        // (`?3`), and the file queries whether files are wanted (`?4`);
        // each takes as many arguments as the highest it names.
        let [id, token] = viewer.args();
        let args = [
            id,
            token,
            memo_key.map(s).unwrap_or(wasm_bindgen::JsValue::NULL),
            n(files as i64),
        ];
        let (viewer_args, memo_args) = (&args[..2], &args[..3]);
        // One round trip for the whole view: D1 runs a batch as one request.
        let [user, memo, grants, optouts, plugin_rows, file_rows, installed_rows, installed_files] = self
            .batch(vec![
                self.stmt(&format!("SELECT {USER_COLS} FROM users WHERE id = {VIEWER_ID}"), viewer_args)?,
                self.stmt(
                    &format!(
                        "SELECT c.n AS generation, v.etag, v.commit_id, v.tree_id, a.advertised_at FROM catalog_generation c \
                         LEFT JOIN view_heads v ON v.user_id = {VIEWER_ID} AND v.key = ?3 AND v.generation = c.n \
                         LEFT JOIN advertisements a ON a.user_id = v.user_id AND a.commit_id = v.commit_id \
                         WHERE c.id = 1 AND ?3 IS NOT NULL"
                    ),
                    memo_args,
                )?,
                self.stmt(&format!("SELECT g.marketplace, g.plugin, g.requirement FROM grants g JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = {VIEWER_ID}{UNLESS_MEMO_FRESH}"), memo_args)?,
                self.stmt(&format!("SELECT marketplace, plugin FROM optouts WHERE user_id = {VIEWER_ID}{UNLESS_MEMO_FRESH}"), memo_args)?,
                self.stmt(&format!("SELECT {PLUGIN_COLS} FROM plugins p WHERE {GRANTED_PLUGIN}{UNLESS_MEMO_FRESH}"), memo_args)?,
                // Without files (`?4` false) the head is built from stored summaries alone.
                self.stmt(&packed_files("", &format!("FROM plugin_files f WHERE {GRANTED_FILE} AND ?4{UNLESS_MEMO_FRESH}")), &args)?,
                self.stmt(&format!("{ENTITY_SELECT} WHERE e.unpublished_at IS NULL AND e.status = 'approved' AND e.id IN (SELECT entity_id FROM store_installs WHERE user_id = {VIEWER_ID}){UNLESS_MEMO_FRESH} ORDER BY e.id"), memo_args)?,
                self.stmt(
                    &format!(
                        "SELECT f.* FROM store_files f JOIN store_installs i ON i.entity_id = f.entity_id \
                         JOIN store_entities pe ON pe.id = f.entity_id AND pe.unpublished_at IS NULL AND pe.status = 'approved' \
                         WHERE i.user_id = {VIEWER_ID} AND ?4{UNLESS_MEMO_FRESH} ORDER BY f.entity_id, f.path"
                    ),
                    &args,
                )?,
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
                installed,
                generation,
                memo,
                memo_advertised_at: advertised_at,
            },
        ))
    }
}
