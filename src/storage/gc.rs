//! Garbage collection, as one sequence (`collect_garbage`) that the daily
//! cron and `POST /api/admin/gc` both run, in this order:
//!
//! 1. advertisements, retired rows and view definitions past the
//!    advertisement window (what they drop frees entries);
//! 2. `entries/` objects and staged uploads nothing references, once old
//!    enough, under the GC lock and only while no writer is live (see
//!    `writers.rs`), else deferred to the next run;
//! 3. cached packs and ZIPs idle too long, and cache objects left without
//!    a row; pack segments of plugin trees nothing references any more
//!    (as old as unreferenced entries must be);
//! 4. ended sessions, old failed-authentication windows, and audit entries
//!    past their retention.
//!
//! Invariant: rows go before the R2 objects they name, so a crash between
//! the two leaves only unreferenced objects, which the next run finds.

use super::advertised::ADVERTISEMENT_REFRESH_SECS;
use super::pack_cache::CACHE_PREFIXES;
use super::store_versions::KEPT_VERSIONS;
use super::uploads::UPLOAD_PREFIX;
use super::{n, now, r2_err, Storage, StorageResult};

/// How old or idle things must be before a run removes them.
#[derive(Debug, Clone, Copy)]
pub struct GcSettings {
    /// Unreferenced `entries/` objects younger than this are kept (a write
    /// in progress may not have committed its rows yet).
    pub entries_min_age_secs: i64,
    /// Cached packs not served for this long are dropped.
    pub pack_max_idle_secs: i64,
    /// The advertisement window (`ADVERTISEMENT_WINDOW_SECONDS`).
    pub advertisement_window_secs: i64,
    /// How long audit entries are kept (`AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: i64,
}

impl GcSettings {
    /// Orphaned entries older than an hour, packs idle for 30 days.
    pub const DEFAULT_ENTRIES_MIN_AGE_SECS: i64 = 3600;
    pub const DEFAULT_PACK_MAX_IDLE_SECS: i64 = 30 * 24 * 3600;
}

/// What one run removed.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct GcReport {
    /// `entries/` objects and staged uploads deleted, and kept.
    pub deleted: usize,
    pub kept: usize,
    /// Whether the entries step deferred to a live writer or another GC.
    pub deferred: bool,
    pub deleted_packs: usize,
    /// `segments/` objects deleted (see `segments.rs`).
    pub deleted_segments: usize,
    pub deleted_advertisements: usize,
    pub deleted_definitions: usize,
    pub deleted_sessions: usize,
    pub deleted_auth_failures: usize,
    pub deleted_audit: usize,
}

impl Storage {
    /// Runs the whole sequence (see the module doc); what it removed.
    pub async fn collect_garbage(&self, settings: &GcSettings) -> StorageResult<GcReport> {
        let (deleted_advertisements, deleted_definitions) = self
            .gc_advertisements(settings.advertisement_window_secs)
            .await?;
        let entries = self.gc_entries(settings.entries_min_age_secs).await?;
        let (deleted, kept) = entries.unwrap_or((0, 0));
        Ok(GcReport {
            deleted,
            kept,
            deferred: entries.is_none(),
            deleted_packs: self.gc_packs(settings.pack_max_idle_secs).await?,
            deleted_segments: self.gc_segments(settings.entries_min_age_secs).await?,
            deleted_advertisements,
            deleted_definitions,
            deleted_sessions: self.gc_sessions().await?,
            deleted_auth_failures: self.gc_auth_failures().await?,
            deleted_audit: self.gc_audit(settings.audit_retention_days).await?,
        })
    }

    /// Deletes advertisements and retired rows older than `window_secs`, and the definitions
    /// (stored before that) of views that neither a memoised head nor a
    /// remaining advertisement names; how many of each. A definition stored
    /// with a memo that lost to a newer one is thus kept long enough for
    /// the advertisement recorded after it to name it.
    async fn gc_advertisements(&self, window_secs: i64) -> StorageResult<(usize, usize)> {
        // As old as no lookup would accept (see `advertised`).
        let cutoff = [n(now().saturating_sub(
            window_secs
                .max(0)
                .saturating_add(ADVERTISEMENT_REFRESH_SECS),
        ))];
        let ads = self
            .count_changed(
                "DELETE FROM advertisements WHERE advertised_at < ?1",
                &cutoff,
            )
            .await?;
        // Their `entries/` objects are then unreferenced, for `gc_entries`.
        self.exec("DELETE FROM retired_plugins WHERE retired_at < ?1", &cutoff)
            .await?;
        // Store versions past the newest `KEPT_VERSIONS` (the current one is
        // the entity's own rows, never a candidate), likewise.
        self.exec(
            "DELETE FROM store_versions WHERE version < (SELECT e.version FROM store_entities e WHERE e.id = store_versions.entity_id) \
             AND version NOT IN (SELECT v.version FROM store_versions v WHERE v.entity_id = store_versions.entity_id \
               ORDER BY v.version DESC LIMIT ?1)",
            &[n(KEPT_VERSIONS + 1)],
        )
        .await?;
        self.exec(
            "DELETE FROM retired_entities WHERE retired_at < ?1",
            &cutoff,
        )
        .await?;
        let definitions = self
            .count_changed(
                "DELETE FROM view_definitions WHERE created_at < ?1 AND etag NOT IN (SELECT etag FROM view_heads) \
                 AND etag NOT IN (SELECT etag FROM advertisements)",
                &cutoff,
            )
            .await?;
        Ok((ads, definitions))
    }

    /// Drops the cached pack and ZIP of every view not served for
    /// `max_idle_secs`, and cached objects left without a row; how many
    /// views and objects went.
    ///
    /// The rows go first, in one statement that returns what it removed,
    /// then the R2 objects of exactly those: a view served or rebuilt in
    /// between either kept its row (not selected) or re-creates it, and an
    /// object deleted under a fresh row is only a future miss, rebuilt
    /// identically. So no row is ever left pointing nowhere forever, and
    /// views only ever downloaded as ZIPs are collected too.
    async fn gc_packs(&self, max_idle_secs: i64) -> StorageResult<usize> {
        #[derive(serde::Deserialize)]
        struct Row {
            etag: String,
        }
        let cutoff = now().saturating_sub(max_idle_secs.max(0));
        let gone: Vec<Row> = self
            .rows(
                "DELETE FROM snapshots WHERE last_served_at <= ?1 RETURNING etag",
                &[n(cutoff)],
            )
            .await?;
        self.failpoint("gc-packs").await;
        for chunk in gone.chunks(250) {
            let keys: Vec<String> = chunk
                .iter()
                .flat_map(|r| CACHE_PREFIXES.map(|p| format!("{p}{}", r.etag)))
                .collect();
            self.r2(self.bucket.delete_multiple(keys))
                .await
                .map_err(r2_err)?;
        }
        // Objects left without a row (a GC that died between its two
        // steps) are swept once as old as the idle limit, so nothing stays
        // out of GC's reach. A pack written since has its row recorded just
        // after its upload; swept in between, it is only a future miss.
        let rows: std::collections::HashSet<String> = self
            .rows::<Row>("SELECT etag FROM snapshots", &[])
            .await?
            .into_iter()
            .map(|r| r.etag)
            .collect();
        let mut orphans = Vec::new();
        for prefix in CACHE_PREFIXES {
            for (key, uploaded_ms) in self.list_keys(prefix).await? {
                let etag = key.strip_prefix(prefix).unwrap_or_default();
                let old = (uploaded_ms / 1000) as i64 <= cutoff;
                if old && !rows.contains(etag) {
                    orphans.push(key);
                }
            }
        }
        for chunk in orphans.chunks(500) {
            self.r2(self.bucket.delete_multiple(chunk.to_vec()))
                .await
                .map_err(r2_err)?;
        }
        Ok(gone.len() + orphans.len())
    }

    /// Deletes `entries/` objects that no plugin or Store entity references
    /// (current or retired within the advertisement window), and staged
    /// uploads, once older than `min_age_secs`; `None` when it
    /// deferred to a live writer or another GC (see `storage::writers`),
    /// else (deleted, kept).
    async fn gc_entries(&self, min_age_secs: i64) -> StorageResult<Option<(usize, usize)>> {
        let run = async {
            if self.writers_active().await? {
                return Ok(None);
            }
            self.gc_entries_locked(min_age_secs).await.map(Some)
        };
        Ok(self.holding_gc_lock(run).await?.flatten())
    }

    async fn gc_entries_locked(&self, min_age_secs: i64) -> StorageResult<(usize, usize)> {
        #[derive(serde::Deserialize)]
        struct Key {
            entries_key: String,
        }
        // D1 allows five terms per compound SELECT: the Store's two tables
        // share one, through a subquery.
        let referenced: std::collections::HashSet<String> = self
            .rows::<Key>(
                "SELECT entries_key FROM plugins WHERE entries_key IS NOT NULL \
                 UNION SELECT entries_key FROM plugin_files WHERE entries_key IS NOT NULL \
                 UNION SELECT k FROM (SELECT entries_key AS k FROM store_entities \
                   UNION ALL SELECT entries_key FROM store_versions) \
                 UNION SELECT k FROM (SELECT json_extract(j.value, '$.entries_key') AS k \
                   FROM retired_plugins r, json_each(r.files_json) j) WHERE k IS NOT NULL \
                 UNION SELECT k FROM (SELECT json_extract(entity_json, '$.entries_key') AS k \
                   FROM retired_entities) WHERE k IS NOT NULL",
                &[],
            )
            .await?
            .into_iter()
            .map(|k| k.entries_key)
            .collect();
        let cutoff_ms = worker::Date::now()
            .as_millis()
            .saturating_sub((min_age_secs.max(0) as u64).saturating_mul(1000));
        let (mut doomed, mut kept) = (Vec::new(), 0);
        // Staged uploads are never referenced: an import deletes its own, so
        // one still here was left by an import that died.
        for prefix in ["entries/", UPLOAD_PREFIX] {
            for (key, uploaded_ms) in self.list_keys(prefix).await? {
                if !referenced.contains(&key) && uploaded_ms <= cutoff_ms {
                    doomed.push(key);
                } else {
                    kept += 1;
                }
            }
        }
        let deleted = doomed.len();
        self.failpoint("gc-entries").await;
        for chunk in doomed.chunks(500) {
            self.bucket
                .delete_multiple(chunk.to_vec())
                .await
                .map_err(r2_err)?;
        }
        Ok((deleted, kept))
    }

    /// Drops expired sessions and those of revoked tokens; how many.
    async fn gc_sessions(&self) -> StorageResult<usize> {
        self.count_changed(
            "DELETE FROM sessions WHERE expires_at <= ?1 OR token_id IN (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)",
            &[n(now())],
        )
        .await
    }

    /// Forgets windows that ended over an hour ago; how many.
    async fn gc_auth_failures(&self) -> StorageResult<usize> {
        self.count_changed(
            "DELETE FROM auth_failures WHERE window_start < ?1",
            &[n(now() - 3600)],
        )
        .await
    }

    /// Deletes entries older than `days` days; how many.
    async fn gc_audit(&self, days: i64) -> StorageResult<usize> {
        self.count_changed(
            "DELETE FROM audit_log WHERE at < ?1",
            &[n(now().saturating_sub(days.saturating_mul(86_400)))],
        )
        .await
    }
}
