//! Served names in D1 (migration 0015): the names curated plugins hold,
//! the statements an import adds to its batch to name new plugins, and an
//! admin's rename. The rules are `catalog::served_names`'; this file only
//! reads and writes them.
//!
//! Invariant: every change of a name is one D1 batch whose statements are
//! conditioned on the same facts, so a refused rename changes nothing and
//! two imports racing for a name cannot both take it (the primary key on
//! `name` refuses the second batch whole; its import tries again).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use super::{n, now, s, Storage, StorageResult};
use crate::catalog::names::{PluginKey, PluginName, Slug};
use crate::catalog::served_names::{assign_names, HeldName, NewServedName};

/// A plugin's served names as the admin API lists them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginNames {
    pub name: String,
    pub served_name: Option<String>,
    /// Names it was renamed from (JSON array text, as D1 returns it).
    #[serde(skip_serializing)]
    pub past: String,
}

/// What an admin's rename did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renamed {
    /// The plugin is now served as the name asked for (from `from`; `None`
    /// for a plugin that had no served name yet).
    Done { from: Option<String> },
    /// Another plugin holds the name, now or as a past name.
    Taken { holder: String },
    /// No such plugin.
    NoPlugin,
}

impl Storage {
    /// Every name held catalog-wide, and the Store plugins' served names
    /// (which a curated plugin must not take either).
    pub(super) async fn name_book(&self) -> StorageResult<(Vec<HeldName>, HashSet<String>)> {
        #[derive(Deserialize)]
        struct Row {
            name: String,
            marketplace: String,
            plugin: String,
            current: i64,
        }
        #[derive(Deserialize)]
        struct StoreRow {
            served_name: String,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT name, marketplace, plugin, retired_at IS NULL AS current FROM served_names",
                &[],
            )
            .await?;
        let held = rows
            .into_iter()
            .filter_map(|r| {
                Some(HeldName {
                    key: PluginKey::parse(&r.marketplace, &r.plugin).ok()?,
                    name: r.name,
                    current: r.current != 0,
                })
            })
            .collect();
        let store: Vec<StoreRow> = self
            .rows(
                "SELECT served_name FROM store_entities WHERE type = 'plugin'",
                &[],
            )
            .await?;
        Ok((held, store.into_iter().map(|r| r.served_name).collect()))
    }

    /// Statements (for an import's batch) giving each of `plugins` (name,
    /// the name it asks for) that holds no served name yet its name.
    pub(super) async fn naming_statements(
        &self,
        market: &Slug,
        plugins: &[(PluginName, String)],
    ) -> StorageResult<Vec<D1PreparedStatement>> {
        let (held, reserved) = self.name_book().await?;
        assign_names(&held, &reserved, market, plugins)
            .into_iter()
            .map(|(plugin, name)| {
                self.stmt(
                    "INSERT INTO served_names (name, marketplace, plugin) VALUES (?1, ?2, ?3)",
                    &[s(&name), s(market.as_str()), s(plugin.as_str())],
                )
            })
            .collect()
    }

    /// The served names of marketplace `slug`'s plugins.
    pub async fn plugin_names(&self, slug: &str) -> StorageResult<Vec<PluginNames>> {
        self.rows(
            "SELECT p.name, \
               (SELECT sn.name FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name AND sn.retired_at IS NULL) AS served_name, \
               (SELECT json_group_array(sn.name) FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name AND sn.retired_at IS NOT NULL) AS past \
             FROM plugins p WHERE p.marketplace = ?1",
            &[s(slug)],
        )
        .await
    }

    /// Serves plugin `slug/plugin` as `name` from now on, keeping its
    /// current name as a past one (or reviving one of its own past names).
    pub async fn rename_plugin(
        &self,
        slug: &str,
        plugin: &str,
        name: &NewServedName,
    ) -> StorageResult<Renamed> {
        let read = || self.rename_facts(slug, plugin, name.as_str());
        let Some(before) = read().await? else {
            return Ok(Renamed::NoPlugin);
        };
        if before.found == 0 {
            return Ok(Renamed::NoPlugin);
        }
        if let Some(holder) = before.holder {
            return Ok(Renamed::Taken { holder });
        }
        if before.name.as_deref() == Some(name.as_str()) {
            return Ok(Renamed::Done { from: before.name });
        }
        // Both statements hold only while nobody else holds the name, so
        // a rename that lost a race changes nothing.
        let free = "NOT EXISTS (SELECT 1 FROM served_names o WHERE o.name = ?3 AND NOT (o.marketplace = ?1 AND o.plugin = ?2)) \
                    AND EXISTS (SELECT 1 FROM plugins WHERE marketplace = ?1 AND name = ?2)";
        self.batch_all(vec![
            self.stmt(
                &format!(
                    "UPDATE served_names SET retired_at = ?4 WHERE marketplace = ?1 AND plugin = ?2 \
                     AND retired_at IS NULL AND name <> ?3 AND {free}"
                ),
                &[s(slug), s(plugin), s(name.as_str()), n(now())],
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO served_names (name, marketplace, plugin) SELECT ?3, ?1, ?2 WHERE {free} \
                     ON CONFLICT(name) DO UPDATE SET retired_at = NULL \
                     WHERE served_names.marketplace = excluded.marketplace AND served_names.plugin = excluded.plugin"
                ),
                &[s(slug), s(plugin), s(name.as_str())],
            )?,
        ])
        .await
        .map_err(super::db_err)?;
        let after = read().await?;
        match after {
            Some(a) if a.name.as_deref() == Some(name.as_str()) => {
                Ok(Renamed::Done { from: before.name })
            }
            Some(RenameFacts {
                holder: Some(holder),
                ..
            }) => Ok(Renamed::Taken { holder }),
            _ => Ok(Renamed::NoPlugin),
        }
    }

    /// A plugin's current name, who else holds `name`, and whether the
    /// plugin exists.
    async fn rename_facts(
        &self,
        slug: &str,
        plugin: &str,
        name: &str,
    ) -> StorageResult<Option<RenameFacts>> {
        self.row(
            "SELECT (SELECT name FROM served_names WHERE marketplace = ?1 AND plugin = ?2 AND retired_at IS NULL) AS name, \
               (SELECT marketplace || '/' || plugin FROM served_names WHERE name = ?3 \
                 AND NOT (marketplace = ?1 AND plugin = ?2)) AS holder, \
               EXISTS (SELECT 1 FROM plugins WHERE marketplace = ?1 AND name = ?2) AS found",
            &[s(slug), s(plugin), s(name)],
        )
        .await
    }
}

#[derive(Deserialize)]
struct RenameFacts {
    name: Option<String>,
    holder: Option<String>,
    found: i64,
}
