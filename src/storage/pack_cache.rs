//! The pack cache in R2: each view's finished pack (stored side-band
//! framed, ready to pipe) and ZIP under its ETag, their `snapshots` rows,
//! and purges by view, by plugin or of everything. The edge tier in front
//! of it is `edge.rs`.

use super::{n, now, r2_err, s, Storage, StorageResult};
use crate::catalog::etag::Etag;

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

/// A cached pack as the admin API lists it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct CachedPack {
    /// Where the listing pages from (`before`): newer packs have larger ids.
    pub id: i64,
    pub etag: String,
    pub commit_id: String,
    pub pack_size: i64,
    pub created_at: i64,
    pub last_served_at: i64,
}

/// R2 key of a view's cached ZIP.
pub fn zip_key(etag: &Etag) -> String {
    format!("zips/{etag}")
}

/// Prefixes of everything derived from a view, which a purge may drop.
pub(super) const CACHE_PREFIXES: [&str; 2] = ["packs/", "zips/"];

impl Storage {
    /// The cached pack for `etag`, if any. A framed pack (how packs are
    /// stored now) comes untouched, for the runtime to pipe, when `pipe`;
    /// else as chunks. A raw one (stored by an older version) as chunks.
    /// With it, the number of objects in the pack, when recorded.
    pub async fn cached_pack(
        &self,
        etag: &Etag,
        pipe: bool,
    ) -> StorageResult<Option<(StoredPack, Option<usize>)>> {
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
        // Every pack is stored framed; anything else under the key is not
        // ours to serve, so it counts as a miss and is rebuilt over.
        if !framed {
            return Ok(None);
        }
        let objects = meta.get(PACK_OBJECTS_KEY).and_then(|n| n.parse().ok());
        let size = obj.size();
        let Some(body) = obj.body() else {
            return Ok(None);
        };
        let stored = if pipe {
            match body.response_body().map_err(r2_err)? {
                worker::ResponseBody::Stream(s) => StoredPack::Pipe(s, Some(size)),
                _ => return Ok(None),
            }
        } else {
            StoredPack::FramedChunks(body.stream().map_err(r2_err)?)
        };
        Ok(Some((stored, objects)))
    }

    /// Stores `etag`'s pack in the stored form (see `StoredPack`) from a
    /// stream of known length (R2 keeps nothing unless every byte arrives).
    pub async fn store_framed_pack(
        &self,
        etag: &Etag,
        body: impl Into<worker::Data>,
        objects: usize,
    ) -> StorageResult<()> {
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
    pub async fn record_snapshot(&self, view: &CachedView<'_>, size: i64) -> StorageResult<()> {
        let t = now();
        self.exec(
            "INSERT INTO snapshots (etag, commit_id, tree_id, pack_key, pack_size, created_at, last_served_at, plugins) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) \
             ON CONFLICT(etag) DO UPDATE SET pack_key = excluded.pack_key, pack_size = excluded.pack_size, last_served_at = excluded.last_served_at, plugins = excluded.plugins",
            &[s(view.etag.as_str()), s(view.commit), s(view.tree), s(&pack_key(view.etag)), n(size), n(t), s(&view.plugins_json())],
        )
        .await
    }

    /// Records a view served without caching its pack (its ZIP was just
    /// cached, or its first miss was assembled from segments), so GC ages
    /// it and its next miss knows it was fetched before.
    pub async fn record_view(&self, view: &CachedView<'_>) -> StorageResult<()> {
        let t = now();
        self.exec(
            "INSERT INTO snapshots (etag, commit_id, tree_id, created_at, last_served_at, plugins) VALUES (?1, ?2, ?3, ?4, ?4, ?5) \
             ON CONFLICT(etag) DO UPDATE SET last_served_at = excluded.last_served_at, plugins = excluded.plugins",
            &[s(view.etag.as_str()), s(view.commit), s(view.tree), n(t), s(&view.plugins_json())],
        )
        .await
    }

    /// Drops the cached pack and ZIP of one view; how many objects went.
    pub async fn purge_etag(&self, etag: &Etag) -> StorageResult<usize> {
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
    pub async fn views_serving(&self, key: &str) -> StorageResult<Vec<Etag>> {
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

    /// Notes that the cached pack of `etag` was just served.
    pub async fn touch_snapshot(&self, etag: &Etag) -> StorageResult<()> {
        self.exec(
            "UPDATE snapshots SET last_served_at = ?2 WHERE etag = ?1",
            &[s(etag.as_str()), n(now())],
        )
        .await
    }

    /// A page of the snapshots whose pack is cached, newest first: at most
    /// `limit`, older than id `before` if given.
    pub async fn cached_packs(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> StorageResult<Vec<CachedPack>> {
        self.rows(
            "SELECT rowid AS id, etag, commit_id, pack_size, created_at, last_served_at FROM snapshots \
             WHERE pack_key IS NOT NULL AND (?1 IS NULL OR rowid < ?1) ORDER BY rowid DESC LIMIT ?2",
            &[before.map(n).unwrap_or(wasm_bindgen::JsValue::NULL), n(limit)],
        ).await
    }

    /// Deletes every cached pack and ZIP; returns how many objects went.
    pub async fn purge_all_packs(&self) -> StorageResult<(usize, Vec<Etag>)> {
        let mut deleted = 0;
        let mut views = Vec::new();
        let mut seen = std::collections::HashSet::new();
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
                // A view's edge copies go with its pack or its ZIP: a view
                // only ever downloaded as a ZIP (or whose pack was never
                // cached) has no pack in R2, but may have an edge copy.
                for etag in keys
                    .iter()
                    .filter_map(|k| k.strip_prefix(prefix))
                    .filter_map(Etag::parse)
                {
                    if seen.insert(etag.to_string()) {
                        self.purge_edge(&etag).await?;
                        views.push(etag);
                    }
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
