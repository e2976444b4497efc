//! What admins read about access: a user's grants with their groups, group
//! memberships, and the group × plugin grant matrix; and the writes that
//! change many grants at once.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{db_err, key, n, rows_changed, s, Storage, StorageResult};
use crate::catalog::access::GroupGrant;
use crate::catalog::names::PluginKey;
use crate::catalog::resolve::Requirement;

/// A grant as the matrix shows it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GrantRow {
    pub group: String,
    pub marketplace: String,
    pub plugin: String,
    pub requirement: String,
}

/// A curated plugin as the matrix lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MatrixPlugin {
    pub marketplace: String,
    pub plugin: String,
    pub name: String,
    pub disabled: i64,
}

/// A Store install as effective access lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InstallSummary {
    pub id: i64,
    pub title: String,
    pub served_name: String,
    #[serde(rename(serialize = "type"))]
    pub entity_type: String,
    pub owner: String,
}

/// A user's access inputs, for `catalog::access::explain`.
pub struct UserAccess {
    pub grants: Vec<GroupGrant>,
    pub optouts: HashSet<PluginKey>,
    /// Every granted plugin that exists, with its disabled flag.
    pub existing: BTreeMap<PluginKey, bool>,
    /// Manifest names of those plugins.
    pub names: BTreeMap<PluginKey, String>,
    pub groups: Vec<String>,
    pub installs: Vec<InstallSummary>,
}

#[derive(Deserialize)]
struct KeyRow {
    marketplace: String,
    plugin: String,
}

#[derive(Deserialize)]
struct NamedRow {
    name: String,
}

impl Storage {
    /// Everything that decides a user's curated access, in one round trip.
    pub async fn user_access(&self, user_id: i64) -> StorageResult<UserAccess> {
        let uid = [n(user_id)];
        let [grants, optouts, plugins, groups, installs] = self
            .batch(vec![
                self.stmt(
                    "SELECT gr.name AS \"group\", g.marketplace, g.plugin, g.requirement FROM grants g \
                     JOIN groups gr ON gr.id = g.group_id JOIN group_members m ON m.group_id = g.group_id \
                     WHERE m.user_id = ?1",
                    &uid,
                )?,
                self.stmt("SELECT marketplace, plugin FROM optouts WHERE user_id = ?1", &uid)?,
                self.stmt(
                    "SELECT p.marketplace, p.name AS plugin, p.manifest_name AS name, p.admin_disabled AS disabled FROM plugins p \
                     WHERE EXISTS (SELECT 1 FROM grants g JOIN group_members m ON m.group_id = g.group_id \
                     WHERE m.user_id = ?1 AND g.marketplace = p.marketplace AND g.plugin = p.name)",
                    &uid,
                )?,
                self.stmt(
                    "SELECT gr.name FROM groups gr JOIN group_members m ON m.group_id = gr.id WHERE m.user_id = ?1 ORDER BY gr.name",
                    &uid,
                )?,
                self.stmt(
                    "SELECT e.id, e.title, e.served_name, e.type AS entity_type, u.username AS owner FROM store_installs i \
                     JOIN store_entities e ON e.id = i.entity_id JOIN users u ON u.id = e.owner_id \
                     WHERE i.user_id = ?1 ORDER BY e.served_name",
                    &uid,
                )?,
            ])
            .await?;
        let grants: Vec<GrantRow> = grants.results().map_err(db_err)?;
        let optouts: Vec<KeyRow> = optouts.results().map_err(db_err)?;
        let plugins: Vec<MatrixPlugin> = plugins.results().map_err(db_err)?;
        let groups: Vec<NamedRow> = groups.results().map_err(db_err)?;
        let mut existing = BTreeMap::new();
        let mut names = BTreeMap::new();
        for p in plugins {
            let k = key(&p.marketplace, &p.plugin)?;
            existing.insert(k.clone(), p.disabled != 0);
            names.insert(k, p.name);
        }
        Ok(UserAccess {
            grants: grants
                .into_iter()
                .filter_map(|g| {
                    Some(GroupGrant {
                        key: key(&g.marketplace, &g.plugin).ok()?,
                        requirement: Requirement::parse(&g.requirement)?,
                        group: g.group,
                    })
                })
                .collect(),
            optouts: optouts
                .into_iter()
                .filter_map(|o| key(&o.marketplace, &o.plugin).ok())
                .collect(),
            existing,
            names,
            groups: groups.into_iter().map(|g| g.name).collect(),
            installs: installs.results().map_err(db_err)?,
        })
    }

    /// Every group's member usernames, by group name.
    pub async fn group_members(&self) -> StorageResult<BTreeMap<String, Vec<String>>> {
        #[derive(Deserialize)]
        struct Row {
            group: String,
            username: String,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT gr.name AS \"group\", u.username FROM group_members m JOIN groups gr ON gr.id = m.group_id \
                 JOIN users u ON u.id = m.user_id ORDER BY gr.name, u.username",
                &[],
            )
            .await?;
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in rows {
            out.entry(r.group).or_default().push(r.username);
        }
        Ok(out)
    }

    /// The access matrix: every curated plugin and every grant.
    pub async fn access_matrix(&self) -> StorageResult<(Vec<MatrixPlugin>, Vec<GrantRow>)> {
        let [plugins, grants] = self
            .batch(vec![
                self.stmt(
                    "SELECT marketplace, name AS plugin, manifest_name AS name, admin_disabled AS disabled FROM plugins ORDER BY marketplace, position",
                    &[],
                )?,
                self.stmt(
                    "SELECT gr.name AS \"group\", g.marketplace, g.plugin, g.requirement FROM grants g JOIN groups gr ON gr.id = g.group_id \
                     ORDER BY gr.name, g.marketplace, g.plugin",
                    &[],
                )?,
            ])
            .await?;
        Ok((
            plugins.results().map_err(db_err)?,
            grants.results().map_err(db_err)?,
        ))
    }

    /// Sets a user's admin flag; whether the user exists.
    pub async fn set_admin(&self, username: &str, admin: bool) -> StorageResult<bool> {
        self.changed(
            "UPDATE users SET is_admin = ?2 WHERE username = ?1",
            &[s(username), n(admin as i64)],
        )
        .await
    }

    /// Grants every plugin of a marketplace to a group; how many plugins.
    pub async fn grant_marketplace(
        &self,
        group_id: i64,
        slug: &str,
        req: Requirement,
    ) -> StorageResult<usize> {
        self.count_changed(
            "INSERT INTO grants (group_id, marketplace, plugin, requirement) SELECT ?1, marketplace, name, ?3 FROM plugins WHERE marketplace = ?2 \
             ON CONFLICT(group_id, marketplace, plugin) DO UPDATE SET requirement = excluded.requirement",
            &[n(group_id), s(slug), s(req.as_str())],
        )
        .await
    }

    /// Revokes every grant of a marketplace's plugins to a group (dropping
    /// opt-outs of plugins no group grants any more, as `delete_grant`
    /// does); how many grants went.
    pub async fn revoke_marketplace(&self, group_id: i64, slug: &str) -> StorageResult<usize> {
        let results = self
            .batch_all(vec![
                self.stmt(
                    "DELETE FROM grants WHERE group_id = ?1 AND marketplace = ?2",
                    &[n(group_id), s(slug)],
                )?,
                self.stmt(
                    "DELETE FROM optouts WHERE marketplace = ?1 \
                     AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.marketplace = ?1 AND g.plugin = optouts.plugin)",
                    &[s(slug)],
                )?,
            ])
            .await
            .map_err(db_err)?;
        Ok(rows_changed(results.first()))
    }
}
