//! Marketplaces, plugins, grants, opt-outs and disabled flags in D1; plugin
//! entries in R2.
//!
//! Import is atomic: the import writes its R2 objects first, while it reads
//! the archive (content-addressed, so a failed import leaves only
//! unreferenced objects that GC can find by key), then one D1 batch — a
//! transaction — replaces the marketplace's rows.

use serde::{Deserialize, Serialize};

use super::{
    db_err, file_rows_from_json, file_rows_json, is_unique_violation, json_column, n, now,
    rows_changed, s, Storage, StorageError, StorageResult,
};
use crate::catalog::ingest::PluginFiles;
use crate::catalog::marketplace::ImportedPlugin;
use crate::catalog::names::{PluginKey, Slug};
use crate::catalog::resolve::Requirement;

/// A marketplace row with its plugin count.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MarketplaceRow {
    pub slug: String,
    pub name: String,
    pub imported_at: i64,
    pub plugins: i64,
}

/// A plugin row as listed by the admin API.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PluginRow {
    pub marketplace: String,
    pub name: String,
    pub manifest_name: String,
    /// The name it is served under (`served_names`), and the names it was
    /// renamed from.
    pub served_name: Option<String>,
    #[serde(default, deserialize_with = "json_column")]
    pub past_names: Vec<String>,
    pub version: Option<String>,
    pub external: i64,
    pub admin_disabled: i64,
    pub files: i64,
}

impl Storage {
    /// Replaces marketplace `slug` with `plugins` atomically (their entries
    /// objects are already in R2); disabled flags of plugins that survive
    /// the re-import are kept.
    /// A plugin whose served directory another marketplace's plugin holds
    /// is refused (`DirectoryTaken`), and nothing changes.
    pub async fn replace_marketplace(
        &self,
        market: &Slug,
        name: &str,
        plugins: &[(ImportedPlugin, Option<PluginFiles>)],
    ) -> StorageResult<()> {
        let slug = market.as_str();
        let dir_of = |p: &ImportedPlugin| {
            PluginKey {
                slug: market.clone(),
                plugin: p.name.clone(),
            }
            .served_dir()
        };
        // Plugins whose files change are retired first (migration 0010).
        let keep: Vec<(&str, &str)> = plugins
            .iter()
            .filter_map(|(p, i)| Some((p.name.as_str(), i.as_ref()?.digest.as_str())))
            .collect();
        let keep = serde_json::to_string(&keep).unwrap_or_else(|_| "[]".into());
        self.failpoint(&format!("catalog-commit:{name}")).await;
        // Plugins that stay are updated in place, so their admin-disabled
        // flag is whatever it is when this batch runs (a disable that lands
        // while the archive is read is kept); plugins gone are deleted.
        let names: Vec<&str> = plugins.iter().map(|(p, _)| p.name.as_str()).collect();
        let names = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
        let mut batch = vec![
            self.retire_plugins(slug, &keep)?,
            self.stmt("DELETE FROM plugin_files WHERE marketplace = ?1", &[s(slug)])?,
            self.stmt(
                "DELETE FROM plugins WHERE marketplace = ?1 AND name NOT IN (SELECT value FROM json_each(?2))",
                &[s(slug), s(&names)],
            )?,
            self.stmt(
                "INSERT INTO marketplaces (slug, name, imported_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(slug) DO UPDATE SET name = excluded.name, imported_at = excluded.imported_at",
                &[s(slug), s(name), n(now())],
            )?,
        ];
        for (pos, (p, ingested)) in plugins.iter().enumerate() {
            let entry_json = serde_json::to_string(&p.entry).unwrap_or_else(|_| "{}".into());
            let version = p
                .version
                .as_deref()
                .map(s)
                .unwrap_or(wasm_bindgen::JsValue::NULL);
            // Each file row names its own object (see migration 0006).
            let entries_key = wasm_bindgen::JsValue::NULL;
            let tree = ingested
                .as_ref()
                .and_then(|i| i.tree)
                .map(|t| s(&t.to_hex()))
                .unwrap_or(wasm_bindgen::JsValue::NULL);
            let digest = ingested
                .as_ref()
                .map(|i| s(&i.digest))
                .unwrap_or(wasm_bindgen::JsValue::NULL);
            // The unique index on `served_dir` (migration 0014) refuses a
            // directory another marketplace's plugin holds.
            batch.push(self.stmt(
                "INSERT INTO plugins (marketplace, name, position, manifest_name, version, entry_json, external, entries_key, admin_disabled, tree_id, files_digest, served_dir) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11) \
                 ON CONFLICT(marketplace, name) DO UPDATE SET position = excluded.position, manifest_name = excluded.manifest_name, \
                 version = excluded.version, entry_json = excluded.entry_json, external = excluded.external, \
                 entries_key = excluded.entries_key, tree_id = excluded.tree_id, files_digest = excluded.files_digest, \
                 served_dir = excluded.served_dir",
                &[s(slug), s(p.name.as_str()), n(pos as i64), s(&p.manifest_name), version, s(&entry_json), n(p.external as i64), entries_key, tree, digest, s(&dir_of(p))],
            )?);
            if let Some(i) = ingested {
                let sql = format!(
                    "INSERT INTO plugin_files (marketplace, plugin, path, size, sha256, blob_id, exec, entry_offset, entry_len, entries_key) SELECT ?1, ?2, {}",
                    file_rows_from_json(3, true)
                );
                batch.push(self.stmt(
                    &sql,
                    &[s(slug), s(p.name.as_str()), s(&file_rows_json(&i.files))],
                )?);
            }
        }
        // New plugins get their served names in the same batch; an import
        // that raced another for a name is refused whole and tries again.
        let wanted: Vec<_> = plugins
            .iter()
            .map(|(p, _)| (p.name.clone(), p.manifest_name.clone()))
            .collect();
        let mut tries = 0;
        let result = loop {
            let mut all = batch.clone();
            all.extend(self.naming_statements(market, &wanted).await?);
            match self.batch_all(all).await {
                Err(e) if e.to_string().contains("served_names.name") && tries < 3 => tries += 1,
                other => break other,
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                let dirs: Vec<String> = plugins.iter().map(|(p, _)| dir_of(p)).collect();
                Err(self.directory_holder(slug, &dirs).await)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    /// Why an import of `slug` serving `dirs` was refused: which plugin of
    /// another marketplace holds one of them.
    async fn directory_holder(&self, slug: &str, dirs: &[String]) -> StorageError {
        #[derive(Deserialize)]
        struct Holder {
            marketplace: String,
            name: String,
            served_dir: String,
        }
        let dirs = serde_json::to_string(dirs).unwrap_or_else(|_| "[]".into());
        let found: StorageResult<Option<Holder>> = self
            .row(
                "SELECT marketplace, name, served_dir FROM plugins WHERE marketplace <> ?1 \
                 AND served_dir IN (SELECT value FROM json_each(?2)) ORDER BY served_dir LIMIT 1",
                &[s(slug), s(&dirs)],
            )
            .await;
        match found {
            Ok(Some(h)) => StorageError::DirectoryTaken(format!(
                "`{slug}` would serve a plugin at plugins/{}/, where `{}/{}` is already served; \
                 rename the marketplace or the plugin",
                h.served_dir, h.marketplace, h.name
            )),
            // Taken and released again between the two reads.
            Ok(None) => StorageError::DirectoryTaken(format!(
                "another marketplace's plugin held one of `{slug}`'s directories; try again"
            )),
            Err(e) => e,
        }
    }

    /// Whether marketplace `slug` has been imported (or synced).
    pub async fn marketplace_exists(&self, slug: &str) -> StorageResult<bool> {
        let row: Option<NameOnly> = self
            .row(
                "SELECT slug AS name FROM marketplaces WHERE slug = ?1",
                &[s(slug)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// All marketplaces with plugin counts.
    pub async fn list_marketplaces(&self) -> StorageResult<Vec<MarketplaceRow>> {
        let sql = "SELECT m.slug, m.name, m.imported_at, \
                   (SELECT COUNT(*) FROM plugins p WHERE p.marketplace = m.slug) AS plugins \
                   FROM marketplaces m ORDER BY m.slug";
        self.rows(sql, &[]).await
    }

    /// The plugins of one marketplace, in upstream order (`None` if absent).
    pub async fn marketplace_plugins(&self, slug: &str) -> StorageResult<Option<Vec<PluginRow>>> {
        if !self.marketplace_exists(slug).await? {
            return Ok(None);
        }
        let sql = "SELECT p.marketplace, p.name, p.manifest_name, p.version, p.external, p.admin_disabled, \
                   (SELECT sn.name FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name AND sn.retired_at IS NULL) AS served_name, \
                   (SELECT json_group_array(sn.name) FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name AND sn.retired_at IS NOT NULL) AS past_names, \
                   (SELECT COUNT(*) FROM plugin_files f WHERE f.marketplace = p.marketplace AND f.plugin = p.name) AS files \
                   FROM plugins p WHERE p.marketplace = ?1 ORDER BY p.position";
        let mut rows: Vec<PluginRow> = self.rows(sql, &[s(slug)]).await?;
        for r in &mut rows {
            r.past_names.sort(); // an aggregate's order is SQLite's choice
        }
        Ok(Some(rows))
    }

    /// Deletes a marketplace and its plugins; whether it existed.
    pub async fn delete_marketplace(&self, slug: &str) -> StorageResult<bool> {
        let results = self
            .batch_all(vec![
                self.retire_plugins(slug, "[]")?,
                self.stmt(
                    "DELETE FROM plugin_files WHERE marketplace = ?1",
                    &[s(slug)],
                )?,
                self.stmt("DELETE FROM plugins WHERE marketplace = ?1", &[s(slug)])?,
                // Its plugins' served names, current and past, are free again.
                self.stmt(
                    "DELETE FROM served_names WHERE marketplace = ?1",
                    &[s(slug)],
                )?,
                self.stmt("DELETE FROM marketplaces WHERE slug = ?1", &[s(slug)])?,
            ])
            .await
            .map_err(db_err)?;
        Ok(rows_changed(results.last()) > 0)
    }

    /// Whether plugin `slug/plugin` exists.
    pub async fn plugin_exists(&self, slug: &str, plugin: &str) -> StorageResult<bool> {
        let row: Option<NameOnly> = self
            .row(
                "SELECT name FROM plugins WHERE marketplace = ?1 AND name = ?2",
                &[s(slug), s(plugin)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Sets a plugin's admin-disabled flag; whether the plugin exists.
    pub async fn set_disabled(
        &self,
        slug: &str,
        plugin: &str,
        disabled: bool,
    ) -> StorageResult<bool> {
        let sql = "UPDATE plugins SET admin_disabled = ?3 WHERE marketplace = ?1 AND name = ?2";
        self.changed(sql, &[s(slug), s(plugin), n(disabled as i64)])
            .await
    }

    /// Grants a plugin to a group (or changes the requirement).
    pub async fn put_grant(
        &self,
        group_id: i64,
        slug: &str,
        plugin: &str,
        req: Requirement,
    ) -> StorageResult<()> {
        let sql = "INSERT INTO grants (group_id, marketplace, plugin, requirement) VALUES (?1, ?2, ?3, ?4) \
                   ON CONFLICT(group_id, marketplace, plugin) DO UPDATE SET requirement = excluded.requirement";
        self.exec(sql, &[n(group_id), s(slug), s(plugin), s(req.as_str())])
            .await
    }

    /// Revokes a grant; whether it existed. When no group grants the plugin
    /// any more, every opt-out of it goes too, so a re-grant starts enabled.
    pub async fn delete_grant(
        &self,
        group_id: i64,
        slug: &str,
        plugin: &str,
    ) -> StorageResult<bool> {
        let results = self
            .batch_all(vec![
                self.stmt(
                    "DELETE FROM grants WHERE group_id = ?1 AND marketplace = ?2 AND plugin = ?3",
                    &[n(group_id), s(slug), s(plugin)],
                )?,
                self.stmt(
                    "DELETE FROM optouts WHERE marketplace = ?1 AND plugin = ?2 \
                     AND NOT EXISTS (SELECT 1 FROM grants WHERE marketplace = ?1 AND plugin = ?2)",
                    &[s(slug), s(plugin)],
                )?,
            ])
            .await
            .map_err(db_err)?;
        Ok(rows_changed(results.first()) > 0)
    }

    /// Records a user's opt-out (idempotent).
    pub async fn put_optout(&self, user_id: i64, slug: &str, plugin: &str) -> StorageResult<()> {
        let sql =
            "INSERT OR IGNORE INTO optouts (user_id, marketplace, plugin) VALUES (?1, ?2, ?3)";
        self.exec(sql, &[n(user_id), s(slug), s(plugin)]).await
    }

    /// Removes a user's opt-out (idempotent).
    pub async fn delete_optout(&self, user_id: i64, slug: &str, plugin: &str) -> StorageResult<()> {
        let sql = "DELETE FROM optouts WHERE user_id = ?1 AND marketplace = ?2 AND plugin = ?3";
        self.exec(sql, &[n(user_id), s(slug), s(plugin)]).await
    }
}

/// A row whose presence is the answer (its one column is not read).
#[derive(Deserialize)]
struct NameOnly {}
