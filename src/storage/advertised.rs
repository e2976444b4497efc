//! Ref advertisements per user (migration 0010): recorded after each
//! head-answered advertisement, looked up when a fetch wants a commit that
//! is no longer the user's current one, and collected once out of window;
//! and the retired rows that let such a view be rebuilt after its plugins'
//! or Store entities' files were replaced: written by the replacing write
//! in its own batch, kept for the window.

use serde::Deserialize;

use worker::D1PreparedStatement;

use super::view_rows::MemoRow;
use super::{n, now, s, Storage, StorageResult};

/// An advertisement of an unchanged head is recorded again only once its
/// record is this old, so a busy view costs a D1 write per 5 s, not per
/// request; lookups allow for it (see `advertised`).
pub const ADVERTISEMENT_REFRESH_SECS: i64 = 5;

/// Plugins with more files than this are not retired (their JSON would near
/// D1's 2 MB row limit); a view with one is refused once it changed.
const MAX_RETIRED_FILES: i64 = 2000;

/// A head advertised to a user, and the definition of its view if stored.
#[derive(Debug, Clone, Deserialize)]
pub struct Advertised {
    pub etag: String,
    pub commit_id: String,
    pub tree_id: String,
    pub definition: Option<String>,
}

impl Advertised {
    /// The advertised ids.
    pub fn head(&self) -> MemoRow {
        MemoRow {
            etag: self.etag.clone(),
            commit_id: self.commit_id.clone(),
            tree_id: self.tree_id.clone(),
        }
    }
}

/// The condition (on definition `d`, user `?1`) that every plugin of an
/// advertised view is still granted to the user through a group and not
/// disabled, and every Store entity in it still exists and is published.
/// An admin's revocation, disable or unpublish is a brake that holds on
/// the very next request, even for a clone that raced it; the user's own
/// opt-outs and uninstalls are not revocations and do not stop it.
const STILL_RECEIVABLE: &str = "\
    AND NOT EXISTS (SELECT 1 FROM json_each(d.definition, '$.plugins') j \
      WHERE NOT EXISTS (SELECT 1 FROM plugins p \
        JOIN grants g ON g.marketplace = p.marketplace AND g.plugin = p.name \
        JOIN group_members m ON m.group_id = g.group_id AND m.user_id = ?1 \
        WHERE p.admin_disabled = 0 AND p.marketplace || '/' || p.name = json_extract(j.value, '$[0]'))) \
    AND NOT EXISTS (SELECT 1 FROM json_each(d.definition, '$.store') j \
      WHERE NOT EXISTS (SELECT 1 FROM store_entities e \
        WHERE e.id = json_extract(j.value, '$[0]') AND e.unpublished_at IS NULL AND e.status = 'approved'))";

impl Storage {
    /// Records that `user_id` was just shown `head` (refreshing the time
    /// of an earlier showing).
    pub async fn record_advertisement(&self, user_id: i64, head: &MemoRow) -> StorageResult<()> {
        self.exec(
            "INSERT INTO advertisements (user_id, commit_id, etag, tree_id, advertised_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(user_id, commit_id) DO UPDATE SET advertised_at = excluded.advertised_at",
            &[n(user_id), s(&head.commit_id), s(&head.etag), s(&head.tree_id), n(now())],
        )
        .await
    }

    /// The head with `commit_id` if it was advertised to `user_id` within
    /// the last `window_secs`, with its view's stored definition, while
    /// everything in it is still something the user may receive (see
    /// `STILL_RECEIVABLE`). A record may lag its last showing by the
    /// refresh interval, so records that much older count too: the window
    /// is never shorter than promised.
    pub async fn advertised(
        &self,
        user_id: i64,
        commit_id: &str,
        window_secs: i64,
    ) -> StorageResult<Option<Advertised>> {
        self.row(
            &format!(
                "SELECT a.etag, a.commit_id, a.tree_id, d.definition FROM advertisements a \
                 JOIN view_definitions d ON d.etag = a.etag \
                 WHERE a.user_id = ?1 AND a.commit_id = ?2 AND a.advertised_at >= ?3 {STILL_RECEIVABLE}"
            ),
            &[
                n(user_id),
                s(commit_id),
                n(now().saturating_sub(window_secs)),
            ],
        )
        .await
    }

    /// A statement (for the caller's batch, before it deletes or replaces
    /// rows) retiring the plugins of marketplace `slug`, except those whose
    /// files digest stays: `keep` is `[[plugin name, files digest], …]`.
    pub(crate) fn retire_plugins(
        &self,
        slug: &str,
        keep: &str,
    ) -> StorageResult<D1PreparedStatement> {
        self.stmt(
            "INSERT OR REPLACE INTO retired_plugins (marketplace, name, files_digest, plugin_json, files_json, retired_at) \
             SELECT p.marketplace, p.name, p.files_digest, \
               json_object('marketplace', p.marketplace, 'name', p.name, 'manifest_name', p.manifest_name, 'version', p.version, \
                 'entry_json', p.entry_json, 'external', p.external, 'entries_key', p.entries_key, \
                 'admin_disabled', p.admin_disabled, 'tree_id', p.tree_id, 'files_digest', p.files_digest, \
                 'served_name', (SELECT sn.name FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name AND sn.retired_at IS NULL), \
                 'past_names', (SELECT json_group_array(sn.name) FROM served_names sn WHERE sn.marketplace = p.marketplace AND sn.plugin = p.name AND sn.retired_at IS NOT NULL)), \
               (SELECT json_group_array(json_object('marketplace', f.marketplace, 'plugin', f.plugin, 'path', f.path, 'size', f.size, \
                  'sha256', f.sha256, 'blob_id', f.blob_id, 'exec', f.exec, 'entry_offset', f.entry_offset, 'entry_len', f.entry_len, \
                  'entries_key', f.entries_key)) \
                FROM plugin_files f WHERE f.marketplace = p.marketplace AND f.plugin = p.name), \
               ?2 \
             FROM plugins p WHERE p.marketplace = ?1 AND p.files_digest IS NOT NULL \
               AND (SELECT COUNT(*) FROM plugin_files f WHERE f.marketplace = p.marketplace AND f.plugin = p.name) <= ?4 \
               AND NOT EXISTS (SELECT 1 FROM json_each(?3) k \
                 WHERE json_extract(k.value, '$[0]') = p.name AND json_extract(k.value, '$[1]') = p.files_digest)",
            &[s(slug), n(now()), s(keep), n(MAX_RETIRED_FILES)],
        )
    }

    /// A statement (for the caller's batch, before it deletes or replaces
    /// rows) retiring Store entity `id` and its files.
    pub(crate) fn retire_entity(&self, id: i64) -> StorageResult<D1PreparedStatement> {
        self.stmt(
            "INSERT OR REPLACE INTO retired_entities (entity_id, files_digest, entity_json, files_json, retired_at) \
             SELECT e.id, e.files_digest, \
               json_object('id', e.id, 'owner', u.username, 'owner_id', e.owner_id, 'entity_type', e.type, 'name', e.name, \
                 'served_name', e.served_name, 'title', e.title, 'tagline', e.tagline, 'description', e.description, \
                 'category', e.category, 'photo_url', e.photo_url, 'video_url', e.video_url, 'version', e.version, \
                 'entries_key', e.entries_key, 'created_at', e.created_at, 'updated_at', e.updated_at, 'installs', 0, \
                 'root_id', e.root_id, 'root_mode', e.root_mode, 'files_digest', e.files_digest, 'served_version', e.served_version), \
               (SELECT json_group_array(json_object('entity_id', f.entity_id, 'path', f.path, 'size', f.size, 'sha256', f.sha256, \
                  'blob_id', f.blob_id, 'exec', f.exec, 'entry_offset', f.entry_offset, 'entry_len', f.entry_len)) \
                FROM store_files f WHERE f.entity_id = e.id), \
               ?2 \
             FROM store_entities e JOIN users u ON u.id = e.owner_id WHERE e.id = ?1 AND e.files_digest IS NOT NULL",
            &[n(id), n(now())],
        )
    }
}
