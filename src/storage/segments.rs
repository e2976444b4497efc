//! Pack segments in R2: each plugin's objects as pack entries (see
//! `catalog::segment`), stored once per distinct plugin tree, and their
//! `pack_segments` rows (migration 0019). Segments written together share
//! one object `segments/<key>`: their raw bytes back to back, then the same
//! framed as side-band-64k packets, each segment framed on its own, in the
//! order views list plugins; so a view's consecutive plugins are one range
//! of each half, read in one request. A miss reads these rows, not the
//! plugins' file rows, and pipes the objects (see `http::segment_pack`).
//!
//! Invariants: rows are written only once their object is whole in R2, and
//! GC removes rows before the objects no row names, so a row names a
//! complete segment; an object no row names is never read. A segment's
//! bytes depend only on its tree id, so writing one twice (two misses
//! racing) is harmless: the first row stays, the other copy is swept.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use worker::web_sys::ReadableStream;

use super::store::StoreFileRow;
use super::view_rows::{files_by_plugin, packed_files, store_file, unpack_files};
use super::{db_err, n, now, r2_err, s, Storage, StorageError, StorageResult};
use crate::catalog::etag::Etag;
use crate::catalog::served::{Origin, ServedFile};
use crate::git::sideband::{frame_into, framed_len, MAX_PAYLOAD_64K};
use crate::git::ObjectId;

/// Where segments live in R2.
pub const SEGMENT_PREFIX: &str = "segments/";

/// A stored segment (or a run of consecutive ones in one object): where
/// its two halves lie and how many objects it holds.
#[derive(Debug, Clone, Deserialize)]
pub struct SegmentRow {
    pub tree_id: String,
    pub object_key: String,
    /// Its pack entries.
    pub raw_offset: i64,
    pub raw_len: i64,
    /// The same, framed.
    pub framed_offset: i64,
    pub framed_len: i64,
    pub objects: i64,
}

impl SegmentRow {
    /// `next` appended, when it directly follows this one in both halves
    /// of the same object (consecutive plugins written together).
    pub fn joined(&self, next: &SegmentRow) -> Option<SegmentRow> {
        let follows = self.object_key == next.object_key
            && self.raw_offset + self.raw_len == next.raw_offset
            && self.framed_offset + self.framed_len == next.framed_offset;
        follows.then(|| SegmentRow {
            raw_len: self.raw_len + next.raw_len,
            framed_len: self.framed_len + next.framed_len,
            objects: self.objects + next.objects,
            ..self.clone()
        })
    }
}

fn missing(seg: &SegmentRow) -> StorageError {
    StorageError::Corrupt(format!("pack segments {} are missing", seg.object_key))
}

/// A segment to store: its plugin's tree, pack entries and object count.
pub struct NewSegment {
    pub tree: ObjectId,
    pub raw: Vec<u8>,
    pub objects: usize,
}

/// What a miss learns about its plugins in one round trip.
#[derive(Debug, Default)]
pub struct SegmentPlan {
    /// The stored segments among the plugins' trees, by tree id (hex).
    pub segments: HashMap<String, SegmentRow>,
    /// The files of every plugin that has no segment yet, or that holds a
    /// blob another part of the view holds too (its segment would repeat
    /// it in the pack, so it is sent object by object): a plugin here
    /// whose segment exists is exactly a sharing one.
    pub files: HashMap<Origin, Vec<ServedFile>>,
    /// Whether the view was served before without a cached pack (its
    /// `snapshots` row exists): a pack assembled from segments is cached
    /// on the view's second miss, not its first (see `http::segment_pack`).
    pub fetched_before: bool,
}

/// The marketplace column `segment_plan` gives Store plugins' blobs (no
/// marketplace slug is empty); their plugin column is the entity id.
const STORE: &str = "";

impl Storage {
    /// For the curated and Store plugins `candidates` (origin and stored
    /// tree) of a view whose other objects include the blobs `others`:
    /// which segments exist, which plugins share a blob, and the files of
    /// those that cannot be sent as a segment; and whether the view `etag`
    /// was served before. One D1 round trip; the blob comparison runs in
    /// SQLite, so only the files of plugins that need them come back.
    pub async fn segment_plan(
        &self,
        candidates: &[(&Origin, ObjectId)],
        others: &[ObjectId],
        etag: &Etag,
    ) -> StorageResult<SegmentPlan> {
        let json = |v: Vec<serde_json::Value>| serde_json::Value::Array(v).to_string();
        let curated = json(
            candidates
                .iter()
                .filter_map(|(o, tree)| match o {
                    Origin::Curated(k) => Some(serde_json::json!([
                        k.slug.as_str(),
                        k.plugin.as_str(),
                        tree.to_hex()
                    ])),
                    _ => None,
                })
                .collect(),
        );
        let store = json(
            candidates
                .iter()
                .filter_map(|(o, tree)| match o {
                    Origin::Store { id } => Some(serde_json::json!([id, tree.to_hex()])),
                    _ => None,
                })
                .collect(),
        );
        let others = json(
            others
                .iter()
                .map(|id| serde_json::Value::String(id.to_hex()))
                .collect(),
        );
        let args = [s(&curated), s(&others), s(&store)];
        // The view's curated plugins (`v`) and Store plugins (`vs`), their
        // files' blobs (`vf`), the blobs two of them hold or one holds with
        // the rest of the view, and the plugins holding one (`sharing`).
        let with = format!(
            "WITH v AS (SELECT json_extract(value, '$[0]') AS marketplace, json_extract(value, '$[1]') AS name, \
               json_extract(value, '$[2]') AS tree FROM json_each(?1)), \
             vs AS (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS tree FROM json_each(?3)), \
             vf AS (SELECT f.marketplace, f.plugin, f.blob_id FROM v JOIN plugin_files f \
               ON f.marketplace = v.marketplace AND f.plugin = v.name \
               UNION ALL SELECT '{STORE}', CAST(f.entity_id AS TEXT), f.blob_id FROM vs JOIN store_files f ON f.entity_id = vs.id), \
             shared AS (SELECT blob_id FROM vf GROUP BY blob_id HAVING COUNT(DISTINCT marketplace || '/' || plugin) > 1 \
               UNION SELECT value FROM json_each(?2) WHERE value IN (SELECT blob_id FROM vf)), \
             sharing AS (SELECT DISTINCT vf.marketplace, vf.plugin FROM vf JOIN shared ON shared.blob_id = vf.blob_id) "
        );
        // A plugin sent from its files: no segment, or one sharing a blob.
        let from_files = |tree: &str, marketplace: &str, plugin: &str| {
            format!(
                "(NOT EXISTS (SELECT 1 FROM pack_segments s WHERE s.tree_id = {tree}) \
                 OR EXISTS (SELECT 1 FROM sharing x WHERE x.marketplace = {marketplace} AND x.plugin = {plugin}))"
            )
        };
        // The sharing blobs are computed once per statement that needs
        // them (SQLite's work, most of the plan's time): the Store files'
        // statement is left out when the view has no Store candidate.
        let store_files = if candidates
            .iter()
            .any(|(o, _)| matches!(o, Origin::Store { .. }))
        {
            self.stmt(
                &format!(
                    "{with}SELECT f.*, e.entries_key FROM vs JOIN store_files f ON f.entity_id = vs.id \
                     JOIN store_entities e ON e.id = vs.id WHERE {} ORDER BY f.entity_id, f.path",
                    from_files("vs.tree", &format!("'{STORE}'"), "CAST(vs.id AS TEXT)")
                ),
                &args,
            )?
        } else {
            self.stmt("SELECT 1 WHERE 0", &[])?
        };
        let [segments, files, store_files, fetched_before] = self
            .batch(vec![
                self.stmt(
                    &format!(
                        "{with}SELECT s.tree_id, s.object_key, s.raw_offset, s.raw_len, s.framed_offset, s.framed_len, s.objects \
                         FROM pack_segments s WHERE s.tree_id IN (SELECT tree FROM v UNION SELECT tree FROM vs)"
                    ),
                    &args,
                )?,
                self.stmt(
                    &packed_files(
                        &with,
                        &format!(
                            "FROM v JOIN plugin_files f ON f.marketplace = v.marketplace AND f.plugin = v.name WHERE {}",
                            from_files("v.tree", "v.marketplace", "v.name")
                        ),
                    ),
                    &args,
                )?,
                store_files,
                self.stmt(
                    "SELECT EXISTS (SELECT 1 FROM snapshots WHERE etag = ?1) AS seen",
                    &[s(etag.as_str())],
                )?,
            ])
            .await?;
        #[derive(Deserialize)]
        struct Seen {
            seen: i64,
        }
        let fetched_before = fetched_before
            .results::<Seen>()
            .map_err(db_err)?
            .first()
            .is_some_and(|r| r.seen != 0);
        let segments = segments
            .results::<SegmentRow>()
            .map_err(db_err)?
            .into_iter()
            .map(|r| (r.tree_id.clone(), r))
            .collect();
        let mut files: HashMap<Origin, Vec<ServedFile>> = files_by_plugin(unpack_files(&files)?)?
            .into_iter()
            .map(|(k, f)| (Origin::Curated(k), f))
            .collect();
        #[derive(Deserialize)]
        struct StoreFile {
            #[serde(flatten)]
            row: StoreFileRow,
            entries_key: String,
        }
        for f in store_files.results::<StoreFile>().map_err(db_err)? {
            files
                .entry(Origin::Store {
                    id: f.row.entity_id,
                })
                .or_default()
                .push(store_file(&f.row, &f.entries_key)?);
        }
        Ok(SegmentPlan {
            segments,
            files,
            fetched_before,
        })
    }

    /// Stores `segments` (in the order views list their plugins) as one
    /// object, then their rows.
    pub async fn put_segments(&self, segments: Vec<NewSegment>) -> StorageResult<()> {
        if segments.is_empty() {
            return Ok(());
        }
        let name: Vec<String> = segments.iter().map(|g| g.tree.to_hex()).collect();
        let key = format!(
            "{SEGMENT_PREFIX}{}",
            crate::catalog::served::sha256_hex(name.concat().as_bytes())
        );
        // Sized up front: grown by doubling, the buffer held up to twice
        // the object (a medium sync's wasm memory rose by 25 MiB).
        let raw_total: usize = segments.iter().map(|g| g.raw.len()).sum();
        let framed_total: u64 = segments
            .iter()
            .map(|g| framed_len(g.raw.len() as u64, MAX_PAYLOAD_64K))
            .sum();
        let mut body = Vec::with_capacity(raw_total + framed_total as usize);
        let mut rows: Vec<SegmentRow> = Vec::with_capacity(segments.len());
        for g in &segments {
            rows.push(SegmentRow {
                tree_id: g.tree.to_hex(),
                object_key: key.clone(),
                raw_offset: body.len() as i64,
                raw_len: g.raw.len() as i64,
                framed_offset: 0,
                framed_len: 0,
                objects: g.objects as i64,
            });
            body.extend_from_slice(&g.raw);
        }
        for (r, g) in rows.iter_mut().zip(&segments) {
            r.framed_offset = body.len() as i64;
            frame_into(&mut body, &g.raw);
            r.framed_len = body.len() as i64 - r.framed_offset;
        }
        drop(segments);
        self.put_object(&key, body).await?;
        // Crash tests stop here: an object no row names, never read.
        self.failpoint("segment-row").await;
        let t = now();
        let statements = rows
            .iter()
            .map(|r| {
                self.stmt(
                    "INSERT INTO pack_segments (tree_id, object_key, raw_offset, raw_len, framed_offset, framed_len, objects, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(tree_id) DO NOTHING",
                    &[s(&r.tree_id), s(&r.object_key), n(r.raw_offset), n(r.raw_len), n(r.framed_offset), n(r.framed_len), n(r.objects), n(t)],
                )
            })
            .collect::<StorageResult<Vec<_>>>()?;
        self.batch_all(statements).await.map_err(db_err)?;
        Ok(())
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

    /// Segment `seg`'s raw half and framed half, both read at once, for
    /// the runtime to pipe. An object gone under its rows (a GC racing a
    /// rebuild) fails this, and its rows are forgotten so the next miss
    /// builds them again.
    pub async fn segment_halves(
        &self,
        seg: &SegmentRow,
    ) -> StorageResult<(ReadableStream, ReadableStream)> {
        let (raw, framed) = futures_util::future::join(
            self.segment_range(&seg.object_key, seg.raw_offset as u64, seg.raw_len as u64),
            self.segment_range(
                &seg.object_key,
                seg.framed_offset as u64,
                seg.framed_len as u64,
            ),
        )
        .await;
        match (raw?, framed?) {
            (Some(raw), Some(framed)) => Ok((raw, framed)),
            _ => {
                let _ = self.forget_segments(&seg.object_key).await;
                Err(missing(seg))
            }
        }
    }

    /// Segment `seg`'s framed half alone, for the runtime to pipe.
    pub async fn segment_framed(&self, seg: &SegmentRow) -> StorageResult<ReadableStream> {
        self.segment_range(
            &seg.object_key,
            seg.framed_offset as u64,
            seg.framed_len as u64,
        )
        .await?
        .ok_or_else(|| missing(seg))
    }

    /// Bytes `offset..offset + len` of segments object `key`; `None` if
    /// the object is gone.
    async fn segment_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> StorageResult<Option<ReadableStream>> {
        let get = self
            .bucket
            .get(key)
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

    /// Forgets the segments in object `key` (found missing), so the next
    /// miss builds them again.
    pub async fn forget_segments(&self, key: &str) -> StorageResult<()> {
        self.exec("DELETE FROM pack_segments WHERE object_key = ?1", &[s(key)])
            .await
    }

    /// Deletes the rows of segments no plugin tree references (current, or
    /// retired within the advertisement window) once older than
    /// `min_age_secs`, then the objects no row names once as old (those
    /// rows' objects, and any a GC or a write that died halfway left); how
    /// many objects went. An object keeps all its segments while any of
    /// them is in use.
    pub(super) async fn gc_segments(&self, min_age_secs: i64) -> StorageResult<usize> {
        #[derive(Deserialize)]
        struct Key {
            object_key: String,
        }
        const REFERENCED: &str = "SELECT tree_id FROM plugins WHERE tree_id IS NOT NULL \
             UNION SELECT json_extract(plugin_json, '$.tree_id') FROM retired_plugins \
             UNION SELECT root_id FROM store_entities WHERE root_id IS NOT NULL \
             UNION SELECT json_extract(entity_json, '$.root_id') FROM retired_entities";
        let cutoff = now().saturating_sub(min_age_secs.max(0));
        self.exec(
            &format!("DELETE FROM pack_segments WHERE created_at <= ?1 AND tree_id NOT IN ({REFERENCED})"),
            &[n(cutoff)],
        )
        .await?;
        self.failpoint("gc-segments").await;
        let named: HashSet<String> = self
            .rows::<Key>("SELECT DISTINCT object_key FROM pack_segments", &[])
            .await?
            .into_iter()
            .map(|k| k.object_key)
            .collect();
        let cutoff_ms = (cutoff.max(0) as u64).saturating_mul(1000);
        let doomed: Vec<String> = self
            .list_keys(SEGMENT_PREFIX)
            .await?
            .into_iter()
            .filter(|(key, uploaded_ms)| *uploaded_ms <= cutoff_ms && !named.contains(key))
            .map(|(key, _)| key)
            .collect();
        for chunk in doomed.chunks(500) {
            self.r2(self.bucket.delete_multiple(chunk.to_vec()))
                .await
                .map_err(r2_err)?;
        }
        Ok(doomed.len())
    }
}
