//! R2 objects: plugin entries and cached packs.

use std::collections::VecDeque;
use std::pin::Pin;

use futures_util::stream::{self, Stream, StreamExt};

use super::{n, now, r2_err, s, StorageError, Store, StoreResult};
use crate::catalog::etag::Etag;
use crate::catalog::snapshot::EntryRef;

/// A view being cached: its ids and the curated plugins it serves.
pub struct CachedView<'a> {
    pub etag: &'a Etag,
    pub commit: &'a str,
    pub tree: &'a str,
    /// `slug/plugin` of each curated plugin in the view.
    pub plugins: Vec<String>,
}

impl CachedView<'_> {
    fn plugins_json(&self) -> String {
        serde_json::to_string(&self.plugins).unwrap_or_else(|_| "[]".into())
    }
}

/// A cached pack as read from R2. The stored form is the pack in band-1
/// packets of at most 65515 bytes (side-band-64k) followed by a flush:
/// exactly what a side-band-64k client receives after the response head.
pub enum StoredPack {
    /// The stored form, for the runtime to pipe untouched, and its length
    /// when known.
    Pipe(worker::web_sys::ReadableStream, Option<u64>),
    /// The stored form, as chunks (for a client that wants other framing).
    FramedChunks(worker::ByteStream),
    /// A bare pack stored by an older version, as chunks.
    RawChunks(worker::ByteStream),
}

/// Custom metadata naming a cached pack's form.
pub(crate) const PACK_FORMAT_KEY: &str = "format";
pub(crate) const PACK_FORMAT_FRAMED: &str = "side-band-64k";
/// Custom metadata counting a cached pack's objects.
pub(crate) const PACK_OBJECTS_KEY: &str = "objects";

/// R2 key of a view's cached pack.
pub fn pack_key(etag: &Etag) -> String {
    format!("packs/{etag}")
}

/// How many `entries/…` objects a prefetching reader fetches at once: a
/// few, well under the Workers limit of six simultaneous connections, and
/// bounding memory to that many objects.
pub const PREFETCH_DEPTH: usize = 4;

type Fetched<'a> = Pin<Box<dyn Stream<Item = StoreResult<Option<Vec<u8>>>> + 'a>>;

/// Objects an `EntryReader` keeps after use. An import seals entries in
/// archive order, which need not be path order, so a plugin whose files
/// straddle two objects is read from both in turn.
const KEPT_OBJECTS: usize = 3;

/// Reads pack entries out of `entries/…` objects, holding the last few
/// objects used (plus, when prefetching, the next few): callers read
/// entries mostly grouped by object, so each is fetched once.
pub struct EntryReader<'a> {
    store: &'a Store,
    /// Most recently used last.
    kept: VecDeque<(String, Vec<u8>)>,
    /// Objects the prefetch will yield next, in order, and the prefetch.
    pending: VecDeque<String>,
    ahead: Option<Fetched<'a>>,
}

/// The distinct object keys of `keys`, in first-use order: what
/// `EntryReader::prefetching` is given.
pub fn first_use_order<'k>(keys: impl IntoIterator<Item = &'k str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(*k))
        .map(str::to_owned)
        .collect()
}

impl<'a> EntryReader<'a> {
    /// A reader over `store`'s bucket, fetching each object when asked.
    pub fn new(store: &'a Store) -> Self {
        EntryReader {
            store,
            kept: VecDeque::new(),
            pending: VecDeque::new(),
            ahead: None,
        }
    }

    /// A reader that fetches `order` (the objects in the order they will be
    /// asked for) `PREFETCH_DEPTH` at a time, ahead of the caller.
    pub fn prefetching(store: &'a Store, order: Vec<String>) -> Self {
        let fetches = stream::iter(order.clone())
            .map(move |key| async move { store.get_object(&key).await })
            .buffered(PREFETCH_DEPTH);
        EntryReader {
            store,
            kept: VecDeque::new(),
            pending: order.into(),
            ahead: Some(Box::pin(fetches)),
        }
    }

    async fn load(&mut self, object: &str) -> StoreResult<Vec<u8>> {
        let missing = || StorageError::Corrupt(format!("R2 object {object} is missing"));
        if self.pending.front().map(String::as_str) == Some(object) {
            self.pending.pop_front();
            if let Some(ahead) = self.ahead.as_mut() {
                if let Some(fetched) = ahead.next().await {
                    return fetched?.ok_or_else(missing);
                }
            }
        }
        // Not where the prefetch is: fetch it alone.
        self.store.get_object(object).await?.ok_or_else(missing)
    }

    /// The bytes of `entry` inside R2 object `object`.
    pub async fn slice(&mut self, object: &str, entry: EntryRef) -> StoreResult<&[u8]> {
        match self.kept.iter().position(|(k, _)| k == object) {
            Some(i) => {
                let hit = self.kept.remove(i).expect("position is in range");
                self.kept.push_back(hit);
            }
            None => {
                let bytes = self.load(object).await?;
                if self.kept.len() == KEPT_OBJECTS {
                    self.kept.pop_front();
                }
                self.kept.push_back((object.to_string(), bytes));
            }
        }
        let bytes = self
            .kept
            .back()
            .map(|(_, b)| b.as_slice())
            .unwrap_or_default();
        bytes
            .get(entry.offset as usize..(entry.offset + entry.len) as usize)
            .ok_or_else(|| {
                StorageError::Corrupt(format!("a pack entry lies outside R2 object {object}"))
            })
    }
}

/// A cached pack as the admin API lists it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct CachedPack {
    pub etag: String,
    pub commit_id: String,
    pub pack_size: i64,
    pub created_at: i64,
    pub last_served_at: i64,
}

/// Where archives being imported are staged (see `stage_upload`).
pub const UPLOAD_PREFIX: &str = "uploads/";

/// R2 key of a view's cached ZIP.
pub fn zip_key(etag: &Etag) -> String {
    format!("zips/{etag}")
}

/// Prefixes of everything derived from a view, which a purge may drop.
const CACHE_PREFIXES: [&str; 2] = ["packs/", "zips/"];

impl Store {
    /// Writes an R2 object.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> StoreResult<()> {
        self.r2(self.bucket.put(key, bytes).execute())
            .await
            .map_err(r2_err)?;
        Ok(())
    }

    /// Writes an R2 object from a stream of known length.
    pub async fn put_stream(&self, key: &str, body: worker::FixedLengthStream) -> StoreResult<()> {
        self.r2(self.bucket.put(key, body).execute())
            .await
            .map_err(r2_err)?;
        Ok(())
    }

    /// A whole R2 object, if present.
    pub async fn get_object(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        // One round trip: the body streams in on the same request.
        self.r2(async {
            match self.bucket.get(key).execute().await.map_err(r2_err)? {
                None => Ok(None),
                Some(obj) => match obj.body() {
                    Some(body) => Ok(Some(body.bytes().await.map_err(r2_err)?)),
                    None => Ok(Some(Vec::new())),
                },
            }
        })
        .await
    }

    /// Object `key`'s body, untouched for the runtime to pipe, and its size.
    pub async fn object_body(
        &self,
        key: &str,
    ) -> StoreResult<Option<(worker::web_sys::ReadableStream, u64)>> {
        let Some(obj) = self
            .r2(self.bucket.get(key).execute())
            .await
            .map_err(r2_err)?
        else {
            return Ok(None);
        };
        let size = obj.size();
        match obj.body().map(|b| b.response_body()).transpose() {
            Ok(Some(worker::ResponseBody::Stream(s))) => Ok(Some((s, size))),
            Ok(_) => Ok(None),
            Err(e) => Err(r2_err(e)),
        }
    }

    /// The cached pack for `etag`, if any. A framed pack (how packs are
    /// stored now) comes untouched, for the runtime to pipe, when `pipe`;
    /// else as chunks. A raw one (stored by an older version) as chunks.
    /// With it, the number of objects in the pack, when recorded.
    pub async fn cached_pack(
        &self,
        etag: &Etag,
        pipe: bool,
    ) -> StoreResult<Option<(StoredPack, Option<usize>)>> {
        let Some(obj) = self
            .r2(self.bucket.get(pack_key(etag)).execute())
            .await
            .map_err(r2_err)?
        else {
            return Ok(None);
        };
        let meta = obj.custom_metadata().map_err(r2_err)?;
        let framed = meta
            .get(PACK_FORMAT_KEY)
            .is_some_and(|f| f == PACK_FORMAT_FRAMED);
        let objects = meta.get(PACK_OBJECTS_KEY).and_then(|n| n.parse().ok());
        let size = obj.size();
        let Some(body) = obj.body() else {
            return Ok(None);
        };
        let stored = match (framed, pipe) {
            (true, true) => match body.response_body().map_err(r2_err)? {
                worker::ResponseBody::Stream(s) => StoredPack::Pipe(s, Some(size)),
                _ => return Ok(None),
            },
            (true, false) => StoredPack::FramedChunks(body.stream().map_err(r2_err)?),
            (false, _) => StoredPack::RawChunks(body.stream().map_err(r2_err)?),
        };
        Ok(Some((stored, objects)))
    }

    /// Stores `etag`'s pack in the stored form (see `StoredPack`) from a
    /// stream of known length (R2 keeps nothing unless every byte arrives).
    pub async fn store_framed_pack(
        &self,
        etag: &Etag,
        body: worker::FixedLengthStream,
        objects: usize,
    ) -> StoreResult<()> {
        let meta = std::collections::HashMap::from([
            (PACK_FORMAT_KEY.to_string(), PACK_FORMAT_FRAMED.to_string()),
            (PACK_OBJECTS_KEY.to_string(), objects.to_string()),
        ]);
        self.r2(self
            .bucket
            .put(pack_key(etag), body)
            .custom_metadata(meta)
            .execute())
            .await
            .map_err(r2_err)?;
        Ok(())
    }

    /// Records that `packs/<etag>` now holds the pack of this snapshot.
    pub async fn record_snapshot(&self, view: &CachedView<'_>, size: i64) -> StoreResult<()> {
        let t = now();
        self.exec(
            "INSERT INTO snapshots (etag, commit_id, tree_id, pack_key, pack_size, created_at, last_served_at, plugins) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) \
             ON CONFLICT(etag) DO UPDATE SET pack_key = excluded.pack_key, pack_size = excluded.pack_size, last_served_at = excluded.last_served_at, plugins = excluded.plugins",
            &[s(view.etag.as_str()), s(view.commit), s(view.tree), s(&pack_key(view.etag)), n(size), n(t), s(&view.plugins_json())],
        )
        .await
    }

    /// Records a view whose ZIP was just cached (its pack may not be).
    pub async fn record_zip(&self, view: &CachedView<'_>) -> StoreResult<()> {
        let t = now();
        self.exec(
            "INSERT INTO snapshots (etag, commit_id, tree_id, created_at, last_served_at, plugins) VALUES (?1, ?2, ?3, ?4, ?4, ?5) \
             ON CONFLICT(etag) DO UPDATE SET last_served_at = excluded.last_served_at, plugins = excluded.plugins",
            &[s(view.etag.as_str()), s(view.commit), s(view.tree), n(t), s(&view.plugins_json())],
        )
        .await
    }

    /// Drops the cached pack and ZIP of one view; how many objects went.
    pub async fn purge_etag(&self, etag: &Etag) -> StoreResult<usize> {
        let keys = [pack_key(etag), zip_key(etag)];
        let mut present = 0;
        for key in &keys {
            if self
                .r2(self.bucket.head(key))
                .await
                .map_err(r2_err)?
                .is_some()
            {
                present += 1;
            }
        }
        self.r2(self.bucket.delete_multiple(keys.to_vec()))
            .await
            .map_err(r2_err)?;
        self.purge_edge(etag).await?;
        self.exec(
            "UPDATE snapshots SET pack_key = NULL, pack_size = NULL WHERE etag = ?1",
            &[s(etag.as_str())],
        )
        .await?;
        Ok(present)
    }

    /// The cached views that serve curated plugin `key` (`slug/plugin`).
    pub async fn views_serving(&self, key: &str) -> StoreResult<Vec<Etag>> {
        #[derive(serde::Deserialize)]
        struct Row {
            etag: String,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT etag FROM snapshots WHERE plugins IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM json_each(snapshots.plugins) WHERE value = ?1)",
                &[s(key)],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Etag::parse(&r.etag))
            .collect())
    }

    /// Every object under `prefix`, with its upload time (ms), page by page.
    async fn list_keys(&self, prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = self.bucket.list().prefix(prefix).limit(1000);
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = self.r2(list.execute()).await.map_err(r2_err)?;
            out.extend(
                page.objects()
                    .iter()
                    .map(|o| (o.key(), o.uploaded().as_millis())),
            );
            match (page.truncated(), page.cursor()) {
                (true, Some(c)) => cursor = Some(c),
                _ => return Ok(out),
            }
        }
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
    pub async fn gc_packs(&self, max_idle_secs: i64) -> StoreResult<usize> {
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

    /// Notes that the cached pack of `etag` was just served.
    pub async fn touch_snapshot(&self, etag: &Etag) -> StoreResult<()> {
        self.exec(
            "UPDATE snapshots SET last_served_at = ?2 WHERE etag = ?1",
            &[s(etag.as_str()), n(now())],
        )
        .await
    }

    /// The snapshots whose pack is cached, newest first.
    pub async fn cached_packs(&self) -> StoreResult<Vec<CachedPack>> {
        self.rows(
            "SELECT etag, commit_id, pack_size, created_at, last_served_at FROM snapshots WHERE pack_key IS NOT NULL ORDER BY created_at DESC, etag",
            &[],
        ).await
    }

    /// Deletes `entries/` objects that no plugin or Store entity references
    /// (current or retired within the advertisement window), and staged
    /// uploads, once older than `min_age_secs`; `None` when it
    /// deferred to a live writer or another GC (see `storage::writers`),
    /// else (deleted, kept).
    pub async fn gc_entries(&self, min_age_secs: i64) -> StoreResult<Option<(usize, usize)>> {
        if !self.take_gc_lock().await? {
            return Ok(None);
        }
        let result = match self.writers_active().await {
            Ok(true) => Ok(None),
            Ok(false) => self.gc_entries_locked(min_age_secs).await.map(Some),
            Err(e) => Err(e),
        };
        let released = self.release_gc_lock().await;
        let out = result?;
        released?;
        Ok(out)
    }

    async fn gc_entries_locked(&self, min_age_secs: i64) -> StoreResult<(usize, usize)> {
        #[derive(serde::Deserialize)]
        struct Key {
            entries_key: String,
        }
        let referenced: std::collections::HashSet<String> = self
            .rows::<Key>(
                "SELECT entries_key FROM plugins WHERE entries_key IS NOT NULL \
                 UNION SELECT entries_key FROM plugin_files WHERE entries_key IS NOT NULL \
                 UNION SELECT entries_key FROM store_entities \
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

    /// Deletes every cached pack and ZIP; returns how many objects went.
    pub async fn purge_all_packs(&self) -> StoreResult<(usize, Vec<Etag>)> {
        let mut deleted = 0;
        let mut views = Vec::new();
        for prefix in CACHE_PREFIXES {
            loop {
                let listing = self
                    .bucket
                    .list()
                    .prefix(prefix)
                    .limit(500)
                    .execute()
                    .await
                    .map_err(r2_err)?;
                let keys: Vec<String> = listing.objects().iter().map(|o| o.key()).collect();
                if keys.is_empty() {
                    break;
                }
                for etag in keys
                    .iter()
                    .filter_map(|k| k.strip_prefix("packs/"))
                    .filter_map(Etag::parse)
                {
                    self.purge_edge(&etag).await?;
                    views.push(etag);
                }
                deleted += keys.len();
                self.bucket.delete_multiple(keys).await.map_err(r2_err)?;
                if !listing.truncated() {
                    break;
                }
            }
        }
        self.exec(
            "UPDATE snapshots SET pack_key = NULL, pack_size = NULL",
            &[],
        )
        .await?;
        Ok((deleted, views))
    }
}
