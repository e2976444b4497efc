//! Pack segments in R2 (`segments/<tree id>`): each plugin's objects as
//! pack entries (see `catalog::segment`), stored once per distinct plugin
//! tree as the raw bytes followed by the same bytes framed as side-band-64k
//! packets, and their `pack_segments` rows (migration 0019). A miss reads
//! these rows, not the plugins' file rows, and pipes the objects (see
//! `http::segment_pack`).
//!
//! Invariants: a row is written only once its object is whole in R2, and
//! GC removes a row before its object, so a row names a complete segment;
//! an object without a row is never read. A segment's bytes depend only on
//! its tree id, so writing one twice (two misses racing) is harmless.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::view_rows::{files_by_plugin, packed_files, unpack_files, KeyRow};
use super::{db_err, key, n, now, r2_err, s, Storage, StorageResult};
use crate::catalog::names::PluginKey;
use crate::catalog::served::ServedFile;
use crate::git::ObjectId;

/// Where segments live in R2.
pub const SEGMENT_PREFIX: &str = "segments/";

/// R2 key of the segment of the plugin tree `tree`.
pub fn segment_key(tree: &str) -> String {
    format!("{SEGMENT_PREFIX}{tree}")
}

/// A stored segment: its object's two halves and how many objects it holds.
#[derive(Debug, Clone, Deserialize)]
pub struct SegmentRow {
    pub tree_id: String,
    /// Bytes of pack entries (the object's first part).
    pub raw_len: i64,
    /// The same framed (the object's second part).
    pub framed_len: i64,
    pub objects: i64,
}

/// What a miss learns about its plugins in one round trip.
#[derive(Debug, Default)]
pub struct SegmentPlan {
    /// The stored segments among the plugins' trees, by tree id (hex).
    pub segments: HashMap<String, SegmentRow>,
    /// Plugins that hold a blob another part of the view holds too: their
    /// segment would repeat it in the pack, so they are sent object by object.
    pub sharing: HashSet<PluginKey>,
    /// The files of every plugin that is sharing or has no segment yet.
    pub files: HashMap<PluginKey, Vec<ServedFile>>,
}

impl Storage {
    /// For the curated plugins `candidates` (key and stored tree) of a view
    /// whose other objects include the blobs `others`: which segments
    /// exist, which plugins share a blob, and the files of those that
    /// cannot be sent as a segment. One D1 round trip; the blob comparison
    /// runs in SQLite, so only the shared plugins' names come back.
    pub async fn segment_plan(
        &self,
        candidates: &[(&PluginKey, ObjectId)],
        others: &[ObjectId],
    ) -> StorageResult<SegmentPlan> {
        let plugins = serde_json::Value::Array(
            candidates
                .iter()
                .map(|(k, tree)| {
                    serde_json::json!([k.slug.as_str(), k.plugin.as_str(), tree.to_hex()])
                })
                .collect(),
        )
        .to_string();
        let others = serde_json::Value::Array(
            others
                .iter()
                .map(|id| serde_json::Value::String(id.to_hex()))
                .collect(),
        )
        .to_string();
        let args = [s(&plugins), s(&others)];
        // The view's plugins (`v`), their file rows' blobs (`vf`), the blobs
        // two of them hold or one holds with the rest of the view, and the
        // plugins holding one (`sharing`).
        const WITH: &str = "WITH v AS (SELECT json_extract(value, '$[0]') AS marketplace, json_extract(value, '$[1]') AS name, \
               json_extract(value, '$[2]') AS tree FROM json_each(?1)), \
             vf AS (SELECT f.marketplace, f.plugin, f.blob_id FROM v JOIN plugin_files f \
               ON f.marketplace = v.marketplace AND f.plugin = v.name), \
             shared AS (SELECT blob_id FROM vf GROUP BY blob_id HAVING COUNT(DISTINCT marketplace || '/' || plugin) > 1 \
               UNION SELECT value FROM json_each(?2) WHERE value IN (SELECT blob_id FROM vf)), \
             sharing AS (SELECT DISTINCT vf.marketplace, vf.plugin FROM vf JOIN shared ON shared.blob_id = vf.blob_id) ";
        let [segments, sharing, files] = self
            .batch(vec![
                self.stmt(
                    "SELECT s.tree_id, s.raw_len, s.framed_len, s.objects FROM pack_segments s \
                     WHERE s.tree_id IN (SELECT json_extract(value, '$[2]') FROM json_each(?1))",
                    &args[..1],
                )?,
                self.stmt(
                    &format!("{WITH}SELECT marketplace, plugin FROM sharing"),
                    &args,
                )?,
                self.stmt(
                    &packed_files(
                        WITH,
                        "FROM v JOIN plugin_files f ON f.marketplace = v.marketplace AND f.plugin = v.name \
                         WHERE NOT EXISTS (SELECT 1 FROM pack_segments s WHERE s.tree_id = v.tree) \
                         OR EXISTS (SELECT 1 FROM sharing x WHERE x.marketplace = v.marketplace AND x.plugin = v.name)",
                    ),
                    &args,
                )?,
            ])
            .await?;
        let segments = segments
            .results::<SegmentRow>()
            .map_err(db_err)?
            .into_iter()
            .map(|r| (r.tree_id.clone(), r))
            .collect();
        let sharing = sharing
            .results::<KeyRow>()
            .map_err(db_err)?
            .into_iter()
            .map(|r| key(&r.marketplace, &r.plugin))
            .collect::<StorageResult<_>>()?;
        let files = files_by_plugin(unpack_files(&files)?)?;
        Ok(SegmentPlan {
            segments,
            sharing,
            files,
        })
    }

    /// Stores the segment of tree `tree`: the object (raw then framed),
    /// then its row.
    pub async fn put_segment(
        &self,
        tree: &ObjectId,
        raw: &[u8],
        framed: &[u8],
        objects: usize,
    ) -> StorageResult<SegmentRow> {
        let tree = tree.to_hex();
        let mut body = Vec::with_capacity(raw.len() + framed.len());
        body.extend_from_slice(raw);
        body.extend_from_slice(framed);
        self.put_object(&segment_key(&tree), body).await?;
        // Crash tests stop here: an object without its row, never read.
        self.failpoint("segment-row").await;
        let row = SegmentRow {
            tree_id: tree,
            raw_len: raw.len() as i64,
            framed_len: framed.len() as i64,
            objects: objects as i64,
        };
        self.exec(
            "INSERT INTO pack_segments (tree_id, raw_len, framed_len, objects, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(tree_id) DO NOTHING",
            &[s(&row.tree_id), n(row.raw_len), n(row.framed_len), n(row.objects), n(now())],
        )
        .await?;
        Ok(row)
    }

    /// Which of `trees` have a stored segment (hex ids).
    pub async fn segments_present(&self, trees: &[ObjectId]) -> StorageResult<HashSet<String>> {
        #[derive(Deserialize)]
        struct Tree {
            tree_id: String,
        }
        let ids = serde_json::Value::Array(
            trees
                .iter()
                .map(|t| serde_json::Value::String(t.to_hex()))
                .collect(),
        )
        .to_string();
        Ok(self
            .rows::<Tree>(
                "SELECT tree_id FROM pack_segments WHERE tree_id IN (SELECT value FROM json_each(?1))",
                &[s(&ids)],
            )
            .await?
            .into_iter()
            .map(|t| t.tree_id)
            .collect())
    }

    /// Bytes `offset..offset + len` of segment `tree`'s object, for the
    /// runtime to pipe; `None` if the object is gone.
    pub async fn segment_range(
        &self,
        tree: &str,
        offset: u64,
        len: u64,
    ) -> StorageResult<Option<worker::web_sys::ReadableStream>> {
        let get = self
            .bucket
            .get(segment_key(tree))
            .range(worker::Range::OffsetWithLength {
                offset,
                length: len,
            })
            .execute();
        let Some(obj) = self.r2(get).await.map_err(r2_err)? else {
            return Ok(None);
        };
        match obj.body().map(|b| b.response_body()).transpose() {
            Ok(Some(worker::ResponseBody::Stream(s))) => Ok(Some(s)),
            Ok(_) => Ok(None),
            Err(e) => Err(r2_err(e)),
        }
    }

    /// Forgets segment `tree` (its object was found missing), so the next
    /// miss builds it again.
    pub async fn forget_segment(&self, tree: &str) -> StorageResult<()> {
        self.exec("DELETE FROM pack_segments WHERE tree_id = ?1", &[s(tree)])
            .await
    }

    /// Deletes segments no plugin tree references (current, or retired
    /// within the advertisement window) once older than `min_age_secs`:
    /// rows first, then their objects, then objects left without a row
    /// (a GC or a write that died halfway); how many objects went.
    pub(super) async fn gc_segments(&self, min_age_secs: i64) -> StorageResult<usize> {
        #[derive(Deserialize)]
        struct Tree {
            tree_id: String,
        }
        const REFERENCED: &str = "SELECT tree_id FROM plugins WHERE tree_id IS NOT NULL \
             UNION SELECT json_extract(plugin_json, '$.tree_id') FROM retired_plugins";
        let cutoff = now().saturating_sub(min_age_secs.max(0));
        let gone: Vec<Tree> = self
            .rows(
                &format!(
                    "DELETE FROM pack_segments WHERE created_at <= ?1 AND tree_id NOT IN ({REFERENCED}) RETURNING tree_id"
                ),
                &[n(cutoff)],
            )
            .await?;
        self.failpoint("gc-segments").await;
        let mut doomed: Vec<String> = gone.iter().map(|t| segment_key(&t.tree_id)).collect();
        let rows: HashSet<String> = self
            .rows::<Tree>("SELECT tree_id FROM pack_segments", &[])
            .await?
            .into_iter()
            .map(|t| t.tree_id)
            .collect();
        let cutoff_ms = (cutoff.max(0) as u64).saturating_mul(1000);
        for (key, uploaded_ms) in self.list_keys(SEGMENT_PREFIX).await? {
            let tree = key.strip_prefix(SEGMENT_PREFIX).unwrap_or_default();
            if uploaded_ms <= cutoff_ms && !rows.contains(tree) && !doomed.contains(&key) {
                doomed.push(key);
            }
        }
        for chunk in doomed.chunks(500) {
            self.r2(self.bucket.delete_multiple(chunk.to_vec()))
                .await
                .map_err(r2_err)?;
        }
        Ok(doomed.len())
    }
}
